"""The review routes (issue 14): reviewers go through a file of drafted answers, edit them, fix their
citations, re-check them against the sources and sign them off, with every change in an audit log.

    POST  /api/reviews                             multipart `file` (a questions file, as /api/batch),
                                                   optional `name`, `collections` (comma-separated or
                                                   repeated; `collection` too): drafts every answer
    GET   /api/reviews                             the caller's reviews, each with its items
    GET   /api/reviews/{id}                        one review with its items
    PATCH /api/reviews/{id}/items/{item_id}        JSON with any of answer, citations (paragraph ids),
                                                   status, comment, override, expected_version, redraft
    GET   /api/reviews/{id}/audit[?format=csv|jsonl]   the audit log (JSON list, or a download)
    GET   /api/reviews/{id}/export?format=docx|xlsx    the signed-off document
    GET   /api/paragraphs/search?q=...             paragraphs to cite, from the caller's collections

Every route is scoped by the caller (`caller_scope`, the server's auth policy): a review made over
collections outside the caller's scope is a 404, the same as a missing one, and a requested
collection outside it a 403. The reviewer recorded in the audit log is the caller's name (the SSO user
or the token's name); only when the server has no auth at all (local single-user mode) is it taken
from the `X-Reviewer` header or a `reviewer` field, else "local user".

Errors: ReviewNotFound -> 404, ReviewConflict -> 409 (approving an item with unsupported sentences
without `override`, or `expected_version` older than the item), ReviewError -> 400, a bad upload ->
413/422 (the batch API's upload handling, `assistant.batch.api.receive_upload`).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time.
import threading
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from assistant.auth import Caller
from assistant.downloads import safe_stem
from assistant.http.shared import caller_scope
from assistant.review.records import LOCAL_REVIEWER, clean_name

REVIEWER_HEADER = "x-reviewer"
MAX_SEARCH_RESULTS = 25

EXPORT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
AUDIT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}

# The keys every item of the API has (the service's ReviewItem.to_dict() may add more).
ITEM_KEYS = ("id", "question", "answer", "citations", "status", "unsupported", "contradicted", "stale", "reviewer", "approved_at")


class ItemChange(BaseModel):
    """The body of PATCH /api/reviews/{id}/items/{item_id}: only what is given changes."""

    model_config = ConfigDict(extra="forbid")

    answer: Optional[str] = Field(default=None, description="the new answer text, with [n] markers")
    citations: Optional[list[str]] = Field(
        default=None, description="the paragraph ids the answer cites, in marker order ([1] is the first)")
    status: Optional[str] = Field(default=None, description="draft, approved, needs-work or rejected")
    comment: Optional[str] = Field(default=None, description="a comment to add to the item")
    override: bool = Field(default=False, description="approve although some sentences are not supported")
    expected_version: Optional[int] = Field(
        default=None, description="the item's version this change was made on; 409 when it has changed since")
    redraft: bool = Field(default=False, description="draft the answer again from the sources")
    reviewer: Optional[str] = Field(default=None, description="who is reviewing (local single-user mode only)")


# --- the review service, opened once on first use ------------------------------------------------------


class ReviewServiceHolder:
    """Opens `ReviewService` on first use (so a server that never reviews never touches the
    database) and shares it between requests."""

    def __init__(self, config):
        self.config = config
        self._service = None
        self._lock = threading.Lock()

    def get(self):
        service = self._service
        if service is not None:
            return service
        with self._lock:
            if self._service is None:
                from assistant.review.service import ReviewService

                self._service = ReviewService.open(self.config)
            return self._service


# --- who is reviewing ---------------------------------------------------------------------------------


def reviewer_caller(request: Request, caller: Caller, given: str | None = None) -> Caller:
    """The caller to act as. With auth configured it is the authenticated caller, whatever the
    request says; in local single-user mode (no auth) the name comes from the `X-Reviewer` header or
    `given` (a form or body field), else "local user", with the caller's (unrestricted) scope."""
    if not isinstance(caller, Caller):
        from assistant.auth import Forbidden

        raise Forbidden("no caller: reviews are open only to an authenticated caller")
    policy = getattr(request.app.state, "auth_policy", None)
    if policy is None or policy.enabled:
        return caller
    name = clean_name(request.headers.get(REVIEWER_HEADER)) or clean_name(given) or LOCAL_REVIEWER
    return Caller(name, caller.collections)


# --- errors and JSON ------------------------------------------------------------------------------------


def review_http_error(exc: Exception) -> HTTPException | None:
    """The HTTPException for an error of the review service, or None when it is not one."""
    from assistant.review.records import ReviewConflict, ReviewError, ReviewNotFound

    if isinstance(exc, ReviewNotFound):
        return HTTPException(404, str(exc) or "no such review")
    if isinstance(exc, ReviewConflict):
        return HTTPException(409, str(exc) or "the item has changed")
    if isinstance(exc, ReviewError):
        return HTTPException(400, str(exc) or "the change cannot be made")
    return None


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        http = review_http_error(exc)
        if http is not None:
            raise http from None
        raise


def item_json(item) -> dict:
    data = item.to_dict()
    for key in ITEM_KEYS:
        data.setdefault(key, None)
    return data


def review_json(review) -> dict:
    """The review's JSON with its items, and `counts`: items per status and how many are stale."""
    data = review.to_dict()
    data["items"] = [item_json(i) for i in review.items]
    data["counts"] = review.counts()
    return data


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(content=content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _requested_collections(values: list) -> list[str] | None:
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found += [c.strip() for c in value.split(",") if c.strip()]
    return found or None


def paragraph_json(paragraph, document, root_path: str) -> dict:
    from assistant.ui import source_href

    return {
        "paragraph_id": paragraph.id, "document_id": document.id, "title": document.title,
        "publisher": document.publisher, "date": document.date, "url": document.url,
        "paragraph": paragraph.number, "section": paragraph.section, "collection": document.collection,
        "text": paragraph.text, "view": source_href(root_path, document.id, paragraph.number),
    }


def search_paragraphs(assistant, caller: Caller, query: str, k: int = 10, root_path: str = "") -> list[dict]:
    """Paragraphs for `query` within the caller's collections, best first: a paragraph id
    (`<document-id>#p<N>`) finds that paragraph, anything else is searched like a question."""
    from assistant.records import split_paragraph_id

    collections = caller.restrict(None)
    query = (query or "").strip()
    if not query:
        return []
    k = max(1, min(int(k), MAX_SEARCH_RESULTS))
    results: list[dict] = []
    seen: set[str] = set()
    try:
        document_id, _ = split_paragraph_id(query)
    except ValueError:
        document_id = None
    if document_id:
        paragraph = assistant.index.paragraphs([query]).get(query)
        document = assistant.index.document(document_id) if paragraph else None
        if paragraph and document and caller.allows(document.collection):
            results.append(paragraph_json(paragraph, document, root_path))
            seen.add(paragraph.id)
    retrieval = assistant.retriever.search(query, k=k, collections=collections)
    for passage in retrieval.passages:
        if passage.paragraph.id in seen or not caller.allows(passage.document.collection):
            continue
        seen.add(passage.paragraph.id)
        data = paragraph_json(passage.paragraph, passage.document, root_path)
        data["score"] = round(float(passage.score), 4)
        results.append(data)
    return results[:k]


# --- the router ---------------------------------------------------------------------------------------


def router(get_service, get_assistant, config=None) -> APIRouter:
    """The review routes. `get_service()` returns the ReviewService, `get_assistant()` the shared
    Assistant (IndexNotReady -> 503)."""
    from assistant.batch.api import read_uploaded_questions, receive_upload
    from assistant.batch.readers import DEFAULT_MAX_ROWS

    routes = APIRouter(tags=["reviews"])
    errors = {404: {"description": "no such review (or not in the caller's collections)"},
              403: {"description": "collection outside the caller's scope"}}

    def settings(request: Request):
        return config or request.app.state.config

    @routes.post("/api/reviews", summary="Draft the answers to a file of questions for review",
                 responses={**errors, 413: {"description": "upload too large"}, 422: {"description": "bad questions file"}})
    async def create_review(request: Request, caller: Caller = Depends(caller_scope)):
        cfg = settings(request)
        limit = int(getattr(cfg, "max_upload_bytes", 25 * 1024 * 1024))
        rows_limit = int(getattr(cfg, "batch_max_rows", DEFAULT_MAX_ROWS))
        form, filename, suffix, data = await receive_upload(request, limit)
        given = form.get("reviewer") if isinstance(form.get("reviewer"), str) else None
        actor = reviewer_caller(request, caller, given)
        name = form.get("name") if isinstance(form.get("name"), str) else ""
        name = clean_name(name) or clean_name(Path(filename).stem) or "review"
        requested = _requested_collections(
            form.getlist("collections") + form.getlist("collection")
            + request.query_params.getlist("collections") + request.query_params.getlist("collection"))

        def work():
            collections = actor.restrict(requested)  # Forbidden -> 403
            questions = read_uploaded_questions(data, filename, suffix, rows_limit)
            assistant = get_assistant()
            if requested:
                known = {d.collection for d in assistant.index.documents()}
                unknown = [c for c in requested if c not in known]
                if unknown:
                    raise HTTPException(422, f"no collection {', '.join(map(repr, unknown))} in the index")
            review = _call(get_service().create, name, questions, assistant, actor, collections=collections)
            return review_json(review)

        return await run_in_threadpool(work)

    @routes.get("/api/reviews", summary="The caller's reviews, with their items")
    def list_reviews(request: Request, caller: Caller = Depends(caller_scope)):
        actor = reviewer_caller(request, caller)
        service = get_service()
        # the listing comes without items; each review is read whole (reviews are a few hundred items)
        return [review_json(_call(service.get, r.id, actor)) for r in _call(service.list_reviews, actor)]

    @routes.get("/api/reviews/{review_id}", summary="One review with its items", responses=errors)
    def get_review(review_id: int, request: Request, caller: Caller = Depends(caller_scope)):
        actor = reviewer_caller(request, caller)
        return review_json(_call(get_service().get, review_id, actor))

    @routes.patch(
        "/api/reviews/{review_id}/items/{item_id}", summary="Edit, re-check, re-draft, comment on or sign off an item",
        responses={**errors, 409: {"description": "unsupported sentences and no override, or expected_version is stale"},
                   400: {"description": "a change that cannot be made (unknown status or paragraph)"}},
    )
    def change_item(review_id: int, item_id: int, change: ItemChange, request: Request,
                    caller: Caller = Depends(caller_scope)):
        actor = reviewer_caller(request, caller, change.reviewer)
        assistant = get_assistant() if (change.redraft or change.answer is not None or change.citations is not None) else None
        kwargs = dict(
            answer=change.answer, citations=change.citations, status=change.status, comment=change.comment,
            override=change.override, redraft=change.redraft, expected_version=change.expected_version,
        )
        if assistant is not None:
            kwargs.update(assistant=assistant, embedder=getattr(assistant, "embedder", None))
        item = _call(get_service().update_item, review_id, item_id, actor, **kwargs)
        return item_json(item)

    @routes.get("/api/reviews/{review_id}/audit", summary="The audit log: who changed what, when",
                responses=errors)
    def audit(review_id: int, request: Request, caller: Caller = Depends(caller_scope),
              format: Optional[str] = Query(default=None, description="csv or jsonl for a download; JSON by default")):
        actor = reviewer_caller(request, caller)
        service = get_service()
        if not format or format.lower() == "json":
            return [entry.to_dict() for entry in _call(service.audit, review_id, actor)]
        fmt = format.lower().lstrip(".")
        if fmt not in AUDIT_TYPES:
            raise HTTPException(422, "format must be csv or jsonl (or none, for JSON)")
        content = _call(service.export_audit, review_id, actor, fmt)
        return _download(content, AUDIT_TYPES[fmt], f"{_review_stem(service, review_id, actor)}-audit.{fmt}")

    @routes.get("/api/reviews/{review_id}/export", summary="The reviewed answers as a Word document or a spreadsheet",
                responses=errors)
    def export(review_id: int, request: Request, caller: Caller = Depends(caller_scope),
               format: str = Query(default="docx", description="docx or xlsx")):
        actor = reviewer_caller(request, caller)
        fmt = (format or "docx").lower().lstrip(".")
        if fmt not in EXPORT_TYPES:
            raise HTTPException(422, "format must be docx or xlsx")
        service = get_service()
        content = _call(service.export, review_id, actor, fmt)
        return _download(content, EXPORT_TYPES[fmt], f"{_review_stem(service, review_id, actor)}.{fmt}")

    @routes.get("/api/paragraphs/search", summary="Paragraphs to cite, from the caller's collections")
    def paragraph_search(request: Request, caller: Caller = Depends(caller_scope),
                         q: str = Query(min_length=1, max_length=1000, description="words, a question or a paragraph id"),
                         k: int = Query(default=10, ge=1, le=MAX_SEARCH_RESULTS)):
        assistant = get_assistant()
        return search_paragraphs(assistant, caller, q, k, request.scope.get("root_path", ""))

    return routes


def _review_stem(service, review_id: int, caller: Caller) -> str:
    review = _call(service.get, review_id, caller)
    return safe_stem(getattr(review, "name", "") or "", "review")
