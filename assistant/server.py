"""The HTTP service: a FastAPI app with the Gradio chat mounted on it, and `assistant serve`.

    create_app(config, assistant=None) -> FastAPI     the ASGI app (one shared Assistant)
    run(args) -> int                                  `assistant serve` (and app.py)

Routes (all answers are the shared Answer JSON, `Answer.to_dict()`):
    POST /api/ask               {question, history?, collections?, documents?, id?} -> Answer
    POST /api/ask/stream        the same as server-sent events: `delta` pieces (checked sentences), then `answer`
    POST /api/chat              {messages, collections?, documents?} -> Answer for the last user message
    GET  /api/sources           the documents the caller may see
    GET  /api/sources/{id}      one document with its paragraphs
    GET  /sources/{id}          the source view (HTML); `#p<N>` highlights a paragraph
    POST /v1/chat/completions   OpenAI-compatible (streaming too): citations as footnotes + `citations`
    GET  /v1/models             the one model, for OpenAI-compatible front-ends
    GET  /healthz, /readyz      alive; index open (503 until it is)
    GET  /docs                  OpenAPI docs, served from the local swagger-ui-bundle (no CDN)
    GET|POST /login, /logout    token login for browsers (when ASSISTANT_API_TOKENS is set)
    /                           the chat (Gradio)

Errors are JSON `{"error": {"message", "type", "status"}}` (OpenAI's shape, so OpenAI clients show
the message): 401/403 auth, 404, 413 body too large, 422 bad input, 429 too many failed logins
(`Retry-After`), 503 index not ready. Pure ASGI middlewares (streaming-safe) add: auth (every route
but health, login and docs), the body-size limit, CORS for the configured origins, and
`Content-Security-Policy: frame-ancestors ...`.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.answer import Answer
from assistant.auth import (
    TOKEN_COOKIE,
    AuthError,
    AuthPolicy,
    Caller,
    Forbidden,
    LoginThrottle,
    caller_scope,
    is_loopback,
)
from assistant.config import Config
from assistant.errors import AssistantError, BadQuestion, IndexNotReady

log = logging.getLogger("assistant.server")

MODEL_NAME = "cited-assistant"
PUBLIC_PATHS = {"/healthz", "/readyz", "/login", "/logout", "/docs", "/openapi.json"}
PUBLIC_PREFIXES = ("/docs-static/",)
UPLOAD_PREFIXES = ("/api/batch", "/gradio_api/upload")
MULTIPART_SLACK = 64 * 1024

ERROR_TYPES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 422: "invalid_request", 429: "too_many_requests", 500: "internal_error", 503: "not_ready",
}


def error_body(status: int, message: str) -> dict:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "error"), "status": status}}


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


# --- the shared Assistant ------------------------------------------------------------------------


class AssistantHolder:
    """Opens the Assistant once and shares it between all requests (models load once). While the
    index is missing it retries at most every `retry_s` seconds, so an ingest run after the server
    started is picked up without a restart."""

    def __init__(self, config: Config, assistant=None, retry_s: float = 2.0):
        self.config = config
        self.retry_s = retry_s
        self._assistant = assistant
        self._lock = threading.Lock()
        self._last_try = float("-inf")
        self._error = "the index is being opened"
        self.warm = False

    def get(self):
        assistant = self._assistant
        if assistant is not None:
            return assistant
        with self._lock:
            if self._assistant is None and time.monotonic() - self._last_try >= self.retry_s:
                self._open()
            if self._assistant is None:
                raise IndexNotReady(self._error)
            return self._assistant

    def _open(self) -> None:
        from assistant.core import Assistant

        self._last_try = time.monotonic()
        try:
            self._assistant = Assistant.open(config=self.config)
        except IndexNotReady as exc:
            self._error = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported by /readyz and as 503s, never a crash
            log.exception("opening the index failed")
            self._error = f"the index could not be opened ({exc.__class__.__name__}: {exc})"

    def warm_up_in_background(self) -> None:
        def work():
            try:
                assistant = self.get()
                assistant.warm_up()
                self.warm = True
            except IndexNotReady as exc:
                log.warning("not ready: %s", exc)
            except Exception:  # noqa: BLE001
                log.exception("warm-up failed")

        threading.Thread(target=work, name="assistant-warm-up", daemon=True).start()


def current_assistant(request: Request):
    """FastAPI dependency: the shared Assistant (IndexNotReady -> 503)."""
    return request.app.state.assistants.get()


# --- request bodies ---------------------------------------------------------------------------------


class Message(BaseModel):
    role: str = Field(description="user, assistant (system messages are ignored)")
    content: str | list[dict[str, Any]] | None = Field(default="", description="text, or OpenAI content parts")

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type", "text") == "text")
        return self.content or ""


class AskRequest(BaseModel):
    question: str = Field(description="the question (1 to ASSISTANT max question characters)")
    history: list[Message] = Field(default_factory=list, description="the conversation so far, oldest first")
    collections: list[str] | None = Field(default=None, description="search only these collections")
    documents: list[str] | None = Field(default=None, description="search only these document ids")
    id: str | None = Field(default=None, description="echoed back in the Answer")


class ChatRequest(BaseModel):
    messages: list[Message] = Field(min_length=1, description="the conversation; the last one is the user's question")
    collections: list[str] | None = None
    documents: list[str] | None = None
    id: str | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ... are accepted and ignored

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    collections: list[str] | None = Field(default=None, description="extension: search only these collections")
    documents: list[str] | None = Field(default=None, description="extension: search only these documents")


class CitationOut(BaseModel):
    marker: int
    paragraph_id: str
    document_id: str
    title: str
    publisher: str
    date: str
    url: str
    paragraph: int
    text: str
    quote: str
    section: str = ""
    comment_by: str = ""


class NearOut(BaseModel):
    paragraph_id: str
    title: str
    text: str


class AnswerOut(BaseModel):
    id: str | None
    question: str
    answer: str
    status: Literal["answered", "abstained", "failed"] = Field(
        description="answered; abstained (the sources do not answer it); failed (see `error`)")
    abstained: bool = Field(description="kept for compatibility: true when the answer asserts nothing (abstained or failed)")
    citations: list[CitationOut]
    searched_for: str
    timings_ms: dict[str, float]
    notice: str | None = None
    nearest: list[NearOut] | None = None
    confidence: float | None = None
    error: str | None = Field(default=None, description="why answering failed (status failed only)")


def _history(messages: list[Message]) -> list[dict]:
    return [{"role": m.role, "content": m.text()} for m in messages if m.role in ("user", "assistant")]


def _split_chat(messages: list[Message]) -> tuple[str, list[dict]]:
    """(question, history) from a message list: the last message must be the user's."""
    last = messages[-1]
    if last.role != "user":
        raise BadQuestion("the last message must be the user's question (role 'user')")
    return last.text(), _history(messages[:-1])


# --- middlewares (pure ASGI: they never buffer a streamed response) ---------------------------------


def _route_path(scope) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):] or "/"
    return path


async def _send_json(send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(error_body(status, message)).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())] + (headers or []),
    })
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Refuses unauthenticated requests (401, or a redirect to /login for a browser page) and callers
    given no collection (403), and puts the Caller in the request's state for `caller_scope`."""

    def __init__(self, app, policy: AuthPolicy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        from starlette.requests import HTTPConnection

        path = _route_path(scope)
        connection = HTTPConnection(scope)
        try:
            caller = self.policy.resolve(
                connection.headers, connection.client.host if connection.client else None, connection.cookies
            )
        except Forbidden as exc:
            if scope["type"] != "http":
                return await send({"type": "websocket.close", "code": 1008})
            if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
                return await self.app(scope, receive, send)
            return await _send_json(send, 403, str(exc))
        except AuthError as exc:
            if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or scope["type"] != "http":
                if scope["type"] != "http":
                    return await send({"type": "websocket.close", "code": 1008})
                return await self.app(scope, receive, send)
            accepts_html = "text/html" in connection.headers.get("accept", "")
            if scope["method"] == "GET" and accepts_html and self.policy.tokens:
                from urllib.parse import quote

                root = scope.get("root_path", "")
                target = f"{root}/login?next={quote(path, safe='/')}"
                await send({"type": "http.response.start", "status": 303, "headers": [(b"location", target.encode())]})
                return await send({"type": "http.response.body", "body": b""})
            return await _send_json(send, 401, str(exc), [(b"www-authenticate", b"Bearer")])
        scope.setdefault("state", {})["caller"] = caller
        return await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for bodies over the limit: at once from Content-Length, or while a chunked body streams in."""

    def __init__(self, app, limit: int, upload_limit: int):
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # uploads get multipart framing on top of the file itself
        limit = self.upload_limit + MULTIPART_SLACK if _route_path(scope).startswith(UPLOAD_PREFIXES) else self.limit
        message = f"the request body is larger than the {limit:,}-byte limit"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        return await _send_json(send, 413, message, [(b"connection", b"close")])
                except ValueError:
                    return await _send_json(send, 400, "Content-Length is not a number")
        received = 0
        started = False
        rejected = False

        async def counting_receive():
            # Past the limit: answer 413 now and tell the app the client went away, so it stops
            # reading (raising instead would be turned into a 400 by the body parser).
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    rejected = True
                    if not started:
                        await _send_json(send, 413, message, [(b"connection", b"close")])
                    return {"type": "http.disconnect"}
            return event

        async def tracking_send(event):
            nonlocal started
            if rejected:
                return  # the 413 is already on its way; whatever the app says now is dropped
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not rejected:
                raise


class SecurityHeadersMiddleware:
    """`Content-Security-Policy: frame-ancestors ...` (unless a page sets its own CSP), nosniff, referrer."""

    def __init__(self, app, frame_ancestors: str):
        self.app = app
        self.csp = f"frame-ancestors {frame_ancestors}".encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(event):
            if event["type"] == "http.response.start":
                headers = [(k, v) for k, v in event.get("headers", []) if k.lower() != b"x-frame-options"]
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", self.csp))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"same-origin"))
                event = {**event, "headers": headers}
            await send(event)

        await self.app(scope, receive, with_headers)


def _check_frame_ancestors(value: str) -> str:
    value = (value or "").strip() or "'self'"
    if any(ch in value for ch in ";,\r\n"):
        raise ValueError(f"ASSISTANT_FRAME_ANCESTORS must be a space-separated list of sources, got {value!r}")
    return value


# --- server-sent events --------------------------------------------------------------------------------


def _sse(data: Any, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def _started(events: Iterator) -> tuple[Any, Iterator]:
    """Run a stream to its first event now, so a bad question is a 422 rather than a broken stream."""
    first = next(events)
    return first, events


def _error_status(exc: Exception) -> int:
    if isinstance(exc, BadQuestion):
        return 422
    return 503


# --- the app -------------------------------------------------------------------------------------------


def create_app(config: Config, assistant=None) -> FastAPI:
    """The whole service. `assistant` (optional) is an already open Assistant to share; without one
    the index is opened in the background at startup and on demand until it exists."""
    from contextlib import asynccontextmanager

    policy = AuthPolicy.from_config(config)
    frame_ancestors = _check_frame_ancestors(config.frame_ancestors)
    holder = AssistantHolder(config, assistant)
    root_path = config.root_path.rstrip("/")

    @asynccontextmanager
    async def lifespan(app):
        holder.warm_up_in_background()
        yield

    app = FastAPI(
        title="Cited assistant",
        version="1.0",
        description=(
            "Answers questions from the indexed documents, citing the exact paragraphs "
            "(`<document-id>#p<N>`), and says so when the sources do not answer. "
            "Authenticate with `Authorization: Bearer <token>` when tokens are configured."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,  # the root path comes from the server (uvicorn --root-path), per request
    )
    app.state.assistants = holder
    app.state.auth_policy = policy
    app.state.config = config

    # --- errors as JSON ---
    @app.exception_handler(BadQuestion)
    async def bad_question(request, exc):
        return error_response(422, str(exc))

    @app.exception_handler(IndexNotReady)
    async def not_ready(request, exc):
        return error_response(503, str(exc), {"Retry-After": "5"})

    @app.exception_handler(AssistantError)
    async def assistant_error(request, exc):
        return error_response(503, str(exc) or exc.__class__.__name__, {"Retry-After": "5"})

    @app.exception_handler(Forbidden)
    async def forbidden(request, exc):
        return error_response(403, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc):
        problems = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", []) if p != "body")
            problems.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
        body = error_body(422, "invalid request: " + "; ".join(problems))
        body["error"]["details"] = json.loads(json.dumps(exc.errors(), default=str))
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc):
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request, exc):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, "internal error; the server log has the details")

    # --- health ---
    @app.get("/healthz", tags=["health"], summary="The process is alive")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="The index is open and questions can be answered")
    def readyz():
        assistant = holder.get()
        documents = assistant.index.documents()
        return {
            "status": "ready", "documents": len(documents),
            "paragraphs": sum(d.paragraph_count for d in documents), "warm": holder.warm,
        }

    # --- answering ---
    answer_responses = {
        401: {"description": "no or bad credentials"}, 403: {"description": "collection outside the caller's scope"},
        413: {"description": "body too large"}, 422: {"description": "empty or over-long question, bad body"},
        503: {"description": "index not ready"},
    }

    @app.post("/api/ask", response_model=AnswerOut, tags=["answers"], responses=answer_responses,
              summary="Answer one question, citing paragraphs")
    def ask(body: AskRequest, caller: Caller = Depends(caller_scope)):
        assistant = holder.get()
        answer = assistant.ask(
            body.question, history=_history(body.history), collections=caller.restrict(body.collections),
            documents=body.documents, id=body.id,
        )
        return JSONResponse(answer.to_dict())

    @app.post("/api/ask/stream", tags=["answers"], responses=answer_responses,
              summary="Answer one question as server-sent events: `delta` {text} pieces, then `answer` (the Answer)")
    def ask_stream(body: AskRequest, caller: Caller = Depends(caller_scope)):
        assistant = holder.get()
        events = assistant.stream(
            body.question, history=_history(body.history), collections=caller.restrict(body.collections),
            documents=body.documents, id=body.id,
        )
        first, events = _started(events)

        def generate():
            try:
                for event in _chain(first, events):
                    if isinstance(event, Answer):
                        yield _sse(event.to_dict(), "answer")
                    else:
                        yield _sse({"text": event}, "delta")
            except AssistantError as exc:
                yield _sse(error_body(_error_status(exc), str(exc)), "error")

        return StreamingResponse(generate(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/api/chat", response_model=AnswerOut, tags=["answers"], responses=answer_responses,
              summary="Answer the last user message of a conversation")
    def chat(body: ChatRequest, caller: Caller = Depends(caller_scope)):
        question, history = _split_chat(body.messages)
        answer = holder.get().ask(
            question, history=history, collections=caller.restrict(body.collections), documents=body.documents, id=body.id
        )
        return JSONResponse(answer.to_dict())

    # --- sources ---
    def visible_document(document_id: str, caller: Caller):
        document = holder.get().index.document(document_id)
        if document is None or not caller.allows(document.collection):
            # the same answer for "does not exist" and "not yours": existence is not leaked
            raise StarletteHTTPException(404, f"no document {document_id!r}")
        return document

    @app.get("/api/sources", tags=["sources"], summary="The documents the caller may see")
    def list_sources(caller: Caller = Depends(caller_scope)):
        documents = holder.get().index.documents(caller.restrict(None))
        return [_document_dict(d) for d in documents]

    @app.get("/api/sources/{document_id}", tags=["sources"], summary="One document and its paragraphs")
    def get_source(document_id: str, caller: Caller = Depends(caller_scope)):
        document = visible_document(document_id, caller)
        paragraphs = holder.get().index.paragraphs_of(document.id)
        data = _document_dict(document)
        data["paragraphs"] = [
            {
                "id": p.id, "number": p.number, "text": p.text, "section": p.section, "kind": p.kind,
                "comment": p.comment.__dict__ if p.comment else None,
                "view": f"{root_path}/sources/{document.id}#p{p.number}",
            }
            for p in paragraphs
        ]
        return data

    @app.get("/sources/{document_id}", response_class=HTMLResponse, tags=["sources"],
             summary="The source view (HTML); #p<N> highlights paragraph N")
    def source_view(document_id: str, request: Request, caller: Caller = Depends(caller_scope)):
        from assistant.ui import source_page

        document = visible_document(document_id, caller)
        page = source_page(document, holder.get().index.paragraphs_of(document.id), request.scope.get("root_path", ""))
        csp = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
            f"form-action 'none'; frame-ancestors {frame_ancestors}"
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": csp})

    # --- OpenAI-compatible ---
    @app.get("/v1/models", tags=["openai"], summary="The model list, for OpenAI-compatible front-ends")
    def models():
        return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "local"}]}

    @app.post("/v1/chat/completions", tags=["openai"], responses=answer_responses,
              summary="OpenAI-compatible chat completion; citations as footnotes and in `citations`")
    def chat_completions(body: ChatCompletionRequest, caller: Caller = Depends(caller_scope)):
        question, history = _split_chat(body.messages)
        assistant = holder.get()
        collections = caller.restrict(body.collections)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = body.model or MODEL_NAME
        if not body.stream:
            answer = assistant.ask(question, history=history, collections=collections, documents=body.documents)
            return JSONResponse({
                "id": completion_id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{
                    "index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": answer.with_footnotes()},
                }],
                "citations": [c.to_dict() for c in answer.citations],
                "abstained": answer.abstained,
                "searched_for": answer.searched_for,
            })
        events = assistant.stream(question, history=history, collections=collections, documents=body.documents)
        first, events = _started(events)

        def chunk(delta: dict, finish: str | None = None, **extra) -> str:
            return _sse({
                "id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
            })

        def generate():
            # The text events are checked sentences (assistant/llm_answer.py) and join to the final
            # Answer's text, so the footnotes are all that follows them.
            yield chunk({"role": "assistant", "content": ""})
            try:
                for event in _chain(first, events):
                    if isinstance(event, Answer):
                        footnotes = event.with_footnotes()[len(event.answer):]
                        if footnotes:
                            yield chunk({"content": footnotes})
                        yield chunk({}, "stop", citations=[c.to_dict() for c in event.citations],
                                    abstained=event.abstained, searched_for=event.searched_for)
                    else:
                        yield chunk({"content": event})
            except AssistantError as exc:
                yield _sse(error_body(_error_status(exc), str(exc)))
            yield "data: [DONE]\n\n"

        return StreamingResponse(generate(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    # --- login for browsers (token in an HttpOnly cookie) ---
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/"):
        from assistant.ui import login_page

        return HTMLResponse(login_page(request.scope.get("root_path", ""), _safe_next(next)))

    throttle = LoginThrottle(config.login_max_failures, window_s=60.0)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        """Check a token and keep it in a cookie; a client address past its failures is refused (429)."""
        from urllib.parse import parse_qs

        from assistant.ui import login_page

        peer = request.client.host if request.client else None
        address = policy.client_address(request.headers, peer)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        next_path = _safe_next((form.get("next") or ["/"])[0])
        root = request.scope.get("root_path", "")
        wait = throttle.retry_after(address)
        if wait:
            message = f"Too many failed logins from this address: try again in {wait} seconds."
            return HTMLResponse(login_page(root, next_path, message), status_code=429, headers={"Retry-After": str(wait)})
        token = (form.get("token") or [""])[0].strip()
        try:
            caller = policy.resolve({"authorization": f"Bearer {token}"}, None)
        except AuthError:
            caller = None
        if caller is None or not policy.tokens:
            throttle.failed(address)
            return HTMLResponse(login_page(root, next_path, "That token is not valid."), status_code=401)
        response = RedirectResponse(f"{root}{next_path}", status_code=303)
        secure = policy.is_https(request.url.scheme, request.headers, peer)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="lax", secure=secure, path=(root or "/"))
        return response

    @app.get("/logout", include_in_schema=False)
    def logout(request: Request):
        root = request.scope.get("root_path", "")
        response = RedirectResponse(f"{root}/login", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path=(root or "/"))
        return response

    # --- API docs without a CDN ---
    _mount_docs(app)

    # --- batch answering: the router and the tab are always scoped by this server's auth policy ---
    from assistant.batch import api as batch_api
    from assistant.batch.ui import build_batch_tab

    app.state.get_assistant = holder.get
    batch_router = batch_api.make_router(
        scope_dependency=caller_scope, get_assistant=lambda request: holder.get(), config=config
    )
    app.include_router(batch_router, dependencies=[Depends(caller_scope)])

    # --- middlewares (the last added runs first) ---
    from starlette.middleware.cors import CORSMiddleware

    app.add_middleware(BodyLimitMiddleware, limit=config.max_body_bytes, upload_limit=config.max_upload_bytes)
    app.add_middleware(AuthMiddleware, policy=policy)
    app.add_middleware(
        CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"], allow_credentials=False, max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=frame_ancestors)

    # --- the chat, last: it is mounted at "/" and takes every path not matched above ---
    import gradio as gr

    from assistant.ui import CHAT_CSS, build_chat

    def batch_tab():
        build_batch_tab(holder.get, config, policy)

    blocks = build_chat(holder.get, config, policy, batch_tab)
    blocks.queue(default_concurrency_limit=8)
    gr.mount_gradio_app(
        app, blocks, path="/", root_path=root_path or None, footer_links=[], run_history=False,
        max_file_size=config.max_upload_bytes, ssr_mode=False, enable_monitoring=False, mcp_server=False,
        show_error=False, css=CHAT_CSS, server_name=config.host, server_port=config.port,
    )
    return app


def _chain(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _document_dict(d) -> dict:
    return {
        "id": d.id, "title": d.title, "publisher": d.publisher, "author": d.author, "date": d.date, "url": d.url,
        "collection": d.collection, "paragraphs": d.paragraph_count,
    }


def _safe_next(path: str) -> str:
    """Only same-site paths after login (no open redirect)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def _mount_docs(app: FastAPI) -> None:
    from fastapi.openapi.docs import get_swagger_ui_html

    try:
        import swagger_ui_bundle
        from starlette.staticfiles import StaticFiles

        app.mount("/docs-static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-static")
        local = True
    except ImportError:  # the CDN copy, if the bundle is not installed
        local = False

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request):
        root = request.scope.get("root_path", "")
        kwargs = {}
        if local:
            kwargs = {
                "swagger_js_url": f"{root}/docs-static/swagger-ui-bundle.js",
                "swagger_css_url": f"{root}/docs-static/swagger-ui.css",
                "swagger_favicon_url": f"{root}/docs-static/favicon-32x32.png",
            }
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="Cited assistant: HTTP API", **kwargs)


# --- `assistant serve` -------------------------------------------------------------------------------------


def ingest_sources(config: Config, sources: Path = Path("sources")) -> None:
    """Bring the index up to date with `sources/` (incremental: unchanged files cost a hash)."""
    from ingest.pipeline import IngestError, run_ingest

    if not sources.is_dir():
        print(f"no {sources}/ folder here: serving the index in {config.data_dir}/ as it is", file=sys.stderr)
        return
    print(f"checking the index in {config.data_dir}/ against {sources}/ ...", file=sys.stderr, flush=True)
    try:
        report = run_ingest([sources], config, progress=True)
    except IngestError as exc:
        print(f"ingest skipped: {exc}", file=sys.stderr)
        return
    print(report.summary(), file=sys.stderr, flush=True)


def run(args, sources: Path = Path("sources")) -> int:
    """`assistant serve` (and app.py): refuse an exposed bind without auth, bring the index up to
    date with `sources/` unless --no-ingest, then serve."""
    config = Config.from_env(
        data_dir=getattr(args, "data_dir", None), host=getattr(args, "host", None),
        port=getattr(args, "port", None), root_path=getattr(args, "root_path", None),
    )
    if config.root_path and not config.root_path.startswith("/"):
        config = config.replace(root_path="/" + config.root_path)
    config = config.replace(root_path=config.root_path.rstrip("/"))
    try:
        policy = AuthPolicy.from_config(config)
        _check_frame_ancestors(config.frame_ancestors)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if policy.user_header and not policy.proxies:
        print(f"warning: ASSISTANT_TRUSTED_USER_HEADER is set but ASSISTANT_TRUSTED_PROXIES is empty: the "
              f"{policy.user_header} header will be refused (401) until the proxy's address is listed", file=sys.stderr)
    if not is_loopback(config.host) and not policy.enabled and not getattr(args, "insecure", False):
        print(
            f"error: refusing to serve on {config.host} without authentication: anyone who can reach this "
            "machine could read every document. Set ASSISTANT_API_TOKENS and/or ASSISTANT_TRUSTED_USER_HEADER "
            "(see docs/deploy.md), bind 127.0.0.1, or pass --insecure if the network is already closed.",
            file=sys.stderr,
        )
        return 2
    from assistant.reader import ReaderError, get_reader

    try:
        get_reader(config.reader_model_path, config.reader_int8)  # a missing or broken reader stops the start, with its reason
    except ReaderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not getattr(args, "no_ingest", False):
        ingest_sources(config, sources)
    return serve(config)


def serve(config: Config) -> int:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(config)
    shown_host = f"[{config.host}]" if ":" in config.host else config.host
    print(f"serving the chat at http://{shown_host}:{config.port}{config.root_path}/ "
          f"(API docs at {config.root_path}/docs)", file=sys.stderr, flush=True)
    uvicorn.run(
        app, host=config.host, port=config.port, root_path=config.root_path, proxy_headers=False,
        log_level="warning", timeout_graceful_shutdown=5,
    )
    return 0
