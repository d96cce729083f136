"""`POST /api/batch`: upload a questions file, get the answers file back.

    curl -F file=@questions.xlsx -F format=docx [-F collection=policy] \\
         -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7860/api/batch -o answers.docx

Multipart form fields (each may also be given as a query parameter): `file` (required: .csv .xlsx
.txt .jsonl .docx), `format` (jsonl, xlsx, docx, csv or md; default xlsx), `collection` (repeatable),
`workers` (1-8). The body is refused with 413 past `config.max_upload_bytes` (counted while it
streams in, whatever Content-Length says). Bad input -> 422, a collection outside the caller's scope
-> 403, no index -> 503. The counts come back in headers: X-Batch-Questions, X-Batch-Answered,
X-Batch-Abstained, X-Batch-Failed, X-Batch-Duplicates, X-Batch-Blank.

Auth and scoping are the server's, and there is no unscoped way in: `make_router(scope_dependency)`
requires the FastAPI dependency returning the caller (the server passes `assistant.auth.caller_scope`),
and every run searches `caller.restrict(requested)`, the requested collections within the caller's
(a missing caller is refused, never read as "everything"). The Assistant comes from
`get_assistant(request)` (default: `request.app.state.get_assistant()`).
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoint's annotations at run time,
# and `Request` is imported inside make_router (fastapi stays out of `import assistant`).
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from assistant.batch.readers import DEFAULT_MAX_ROWS, INPUT_SUFFIXES
from assistant.downloads import safe_stem
from assistant.batch.writers import MEDIA_TYPES

FORMATS = tuple(s.lstrip(".") for s in MEDIA_TYPES)
MULTIPART_SLACK = 64 * 1024  # boundaries and the other form fields, on top of the file itself
MAX_WORKERS = 8


def _default_get_assistant(request):
    return request.app.state.get_assistant()


def restrict(caller, requested: list[str] | None) -> list[str] | None:
    """The collections to search: `caller.restrict(requested)`. Fails closed: anything that is not a
    Caller (None included) raises Forbidden."""
    from assistant.auth import Caller, Forbidden

    if not isinstance(caller, Caller):
        raise Forbidden("no caller: batch answering runs only for an authenticated caller")
    return caller.restrict(requested)


async def receive_upload(request, limit: int, max_fields: int = 32) -> tuple:
    """Read a multipart upload with one questions file in the field `file`: the body is refused
    with 413 past `limit` bytes (plus the multipart framing), counted while it streams in whatever
    Content-Length says; no file, a malformed body or a file type `read_questions` cannot read is a
    422. Returns (form, filename, suffix, data). Shared by /api/batch and /api/reviews."""
    from fastapi import HTTPException, Request

    too_large = HTTPException(413, f"the upload is larger than the limit of {limit:,} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit + MULTIPART_SLACK:
            raise too_large
        chunks.append(chunk)
    body = b"".join(chunks)

    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(422, "send the questions file as multipart/form-data in the field 'file'")
    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=max_fields)
    except Exception as exc:  # malformed multipart
        raise HTTPException(422, f"could not read the upload: {exc}") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(422, "no file: send the questions file in the multipart field 'file'")
    filename = Path(upload.filename or "questions").name
    suffix = Path(filename).suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise HTTPException(422, f"{filename}: unsupported questions file type; use one of {', '.join(INPUT_SUFFIXES)}")
    data = await upload.read()
    if len(data) > limit:
        raise too_large
    return form, filename, suffix, data


def read_uploaded_questions(data: bytes, filename: str, suffix: str, max_rows: int):
    """The QuestionSet of an uploaded file (written to a temporary folder, removed after); a file
    that cannot be read raises HTTPException 422 with the reader's message."""
    from fastapi import HTTPException

    from assistant.batch.readers import read_questions
    from assistant.batch.records import BadInput

    work = Path(tempfile.mkdtemp(prefix="assistant-upload-"))
    try:
        source = work / f"questions{suffix}"
        source.write_bytes(data)
        try:
            return read_questions(source, max_rows=max_rows, name=filename)
        except BadInput as exc:
            raise HTTPException(422, str(exc)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def make_router(
    scope_dependency: Callable,
    get_assistant: Callable | None = None,
    config=None,
    max_rows: int | None = None,
):
    """The APIRouter with POST /api/batch. See the module docstring for the arguments."""
    from fastapi import APIRouter, Depends, HTTPException, Request
    from fastapi.responses import Response
    from starlette.concurrency import run_in_threadpool

    if not callable(scope_dependency):
        raise TypeError("make_router needs the caller dependency (scope_dependency), e.g. assistant.auth.caller_scope")
    get_assistant = get_assistant or _default_get_assistant
    router = APIRouter(tags=["batch"])

    def settings(request: Request):
        found = config or getattr(request.app.state, "config", None)
        if found is None:
            from assistant.config import Config

            found = Config.from_env()
        return found

    def field(form, query, name: str) -> str | None:
        """A form field, else the query parameter of that name (files sent in text fields are ignored)."""
        for value in (form.get(name), query.get(name)):
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    @router.post(
        "/api/batch",
        summary="Answer a file of questions",
        response_description="the answers file in the chosen format",
        responses={413: {"description": "upload too large"}, 422: {"description": "bad questions file"},
                   403: {"description": "collection outside the caller's scope"}, 503: {"description": "no index"}},
    )
    async def batch(request: Request, caller=Depends(scope_dependency)):
        cfg = settings(request)
        limit = int(getattr(cfg, "max_upload_bytes", 25 * 1024 * 1024))
        rows_limit = max_rows or int(getattr(cfg, "batch_max_rows", DEFAULT_MAX_ROWS))
        form, filename, suffix, data = await receive_upload(request, limit)
        fmt = (field(form, request.query_params, "format") or "xlsx").lower().lstrip(".")
        if fmt not in FORMATS:
            raise HTTPException(422, f"format must be one of {', '.join(FORMATS)}")
        requested = [c for c in form.getlist("collection") if isinstance(c, str)] + request.query_params.getlist("collection")
        workers_raw = field(form, request.query_params, "workers") or "1"
        if not str(workers_raw).isdigit() or not 1 <= int(workers_raw) <= MAX_WORKERS:
            raise HTTPException(422, f"workers must be a whole number from 1 to {MAX_WORKERS}")

        work = Path(tempfile.mkdtemp(prefix="assistant-batch-api-"))
        try:
            source = work / f"questions{suffix}"
            source.write_bytes(data)
            result, output = await run_in_threadpool(
                _answer, request, caller, get_assistant, source, filename, requested, fmt, int(workers_raw), rows_limit, work
            )
            content = output.read_bytes()
        finally:
            shutil.rmtree(work, ignore_errors=True)
        counts = result.counts()
        headers = {
            "Content-Disposition": f'attachment; filename="{safe_stem(Path(filename).stem, "questions")}-answers.{fmt}"',
            "X-Batch-Questions": str(len(result.rows)),
            "X-Batch-Answered": str(counts["answered"]),
            "X-Batch-Abstained": str(counts["abstained"]),
            "X-Batch-Failed": str(counts["failed"]),
            "X-Batch-Duplicates": str(result.duplicates),
            "X-Batch-Blank": str(result.blank),
        }
        return Response(content=content, media_type=MEDIA_TYPES["." + fmt], headers=headers)

    def _answer(request, caller, get_assistant, source, filename, requested, fmt, workers, rows_limit, work):
        from assistant.auth import Forbidden
        from assistant.batch.readers import read_questions
        from assistant.batch.records import BadInput
        from assistant.batch.runner import run_batch
        from assistant.batch.writers import write_output
        from assistant.errors import IndexNotReady

        try:
            collections = restrict(caller, requested)
        except Forbidden as exc:
            raise HTTPException(403, str(exc)) from None
        try:
            questions = read_questions(source, max_rows=rows_limit, name=filename)
        except BadInput as exc:
            raise HTTPException(422, str(exc)) from None
        try:
            assistant = get_assistant(request)
        except IndexNotReady as exc:
            raise HTTPException(503, str(exc)) from None
        if requested:
            known = {d.collection for d in assistant.index.documents()}
            unknown = [c for c in requested if c not in known]
            if unknown:
                raise HTTPException(422, f"no collection {', '.join(map(repr, unknown))} in the index")
        output = work / f"answers.{fmt}"
        result = run_batch(assistant, questions, work / "answers.checkpoint.jsonl", collections=collections,
                           workers=workers, force=True)
        write_output(result, output)
        return result, output

    return router

