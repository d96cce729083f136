"""`create_app`: the whole service assembled from its parts (see assistant/http/__init__.py) — JSON
error handlers, health, the API docs without a CDN, the routers, batch answering, the middlewares,
and the Gradio chat mounted at "/" last."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.auth import AuthPolicy, Forbidden, LoginThrottle
from assistant import widget
from assistant.config import Config
from assistant.errors import AssistantError, BadQuestion, IndexNotReady
from assistant.http import answers, auth_routes, openai, sources, verify
from assistant.http.middleware import AuthMiddleware, BodyLimitMiddleware, SecurityHeadersMiddleware, check_frame_ancestors
from assistant.http.shared import AssistantHolder, caller_scope, current_assistant, error_body, error_response, log

DESCRIPTION = (
    "Answers questions from the indexed documents, citing the exact paragraphs "
    "(`<document-id>#p<N>`), and says so when the sources do not answer. "
    "Authenticate with `Authorization: Bearer <token>` when tokens are configured."
)


def create_app(config: Config, assistant=None) -> FastAPI:
    """The whole service. `assistant` (optional) is an already open Assistant to share; without one
    the index is opened in the background at startup and on demand until it exists."""
    policy = AuthPolicy.from_config(config)
    frame_ancestors = check_frame_ancestors(config.frame_ancestors)
    holder = AssistantHolder(config, assistant)

    @asynccontextmanager
    async def lifespan(app):
        holder.warm_up_in_background()
        yield

    # the root path comes from the server (uvicorn --root-path), per request
    app = FastAPI(title="Cited assistant", version="1.0", description=DESCRIPTION, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.assistants = holder
    app.state.get_assistant = holder.get
    app.state.auth_policy = policy
    app.state.config = config
    app.state.frame_ancestors = frame_ancestors

    _add_error_handlers(app)
    app.include_router(_health_router())
    app.include_router(answers.router())
    app.include_router(sources.router())
    app.include_router(verify.router())
    app.include_router(openai.router())
    # One count of failed credentials per client address, for the /login form and for every request's
    # bearer token or cookie alike: guessing through the API is limited as through the form.
    app.state.auth_throttle = LoginThrottle(config.login_max_failures, window_s=60.0)
    app.include_router(auth_routes.router(app.state.auth_throttle))
    _mount_docs(app)
    _add_batch(app, holder, config)
    _add_reviews(app, holder, config)
    _add_middlewares(app, config, policy, frame_ancestors)
    widget.install(app, config)  # GET /widget.js; its CORS runs before the service's own
    _mount_chat(app, holder, config, policy)  # last: it is mounted at "/" and takes every path not matched above
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Errors as JSON `{"error": {"message", "type", "status"}}`."""

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


def _health_router():
    from fastapi import APIRouter

    routes = APIRouter(tags=["health"])

    @routes.get("/healthz", summary="The process is alive")
    def healthz():
        return {"status": "ok"}

    @routes.get("/readyz", summary="The index is open and questions can be answered")
    def readyz(request: Request, assistant=Depends(current_assistant)):
        documents = assistant.index.documents()
        return {
            "status": "ready", "documents": len(documents),
            "paragraphs": sum(d.paragraph_count for d in documents), "warm": request.app.state.assistants.warm,
        }

    return routes


def _mount_docs(app: FastAPI) -> None:
    """/docs from the local swagger-ui-bundle (the CDN copy only if the bundle is not installed)."""
    from fastapi.openapi.docs import get_swagger_ui_html

    try:
        import swagger_ui_bundle
        from starlette.staticfiles import StaticFiles

        app.mount("/docs-static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-static")
        local = True
    except ImportError:
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


def _add_batch(app: FastAPI, holder: AssistantHolder, config: Config) -> None:
    """POST /api/batch (assistant/batch/api.py), always scoped by this server's auth policy."""
    from assistant.batch import api as batch_api

    batch_router = batch_api.make_router(
        scope_dependency=caller_scope, get_assistant=lambda request: holder.get(), config=config
    )
    app.include_router(batch_router, dependencies=[Depends(caller_scope)])


def _add_reviews(app: FastAPI, holder: AssistantHolder, config: Config) -> None:
    """The review routes (assistant/http/reviews.py), scoped by this server's auth policy like batch;
    the review database is opened on first use."""
    from assistant.http import reviews

    app.state.reviews = reviews.ReviewServiceHolder(config)
    app.include_router(reviews.router(app.state.reviews.get, holder.get, config), dependencies=[Depends(caller_scope)])


def _add_middlewares(app: FastAPI, config: Config, policy: AuthPolicy, frame_ancestors: str) -> None:
    """The last added runs first: security headers, CORS, auth, then the body limit."""
    from starlette.middleware.cors import CORSMiddleware

    app.add_middleware(BodyLimitMiddleware, limit=config.max_body_bytes, upload_limit=config.max_upload_bytes)
    app.add_middleware(AuthMiddleware, policy=policy, throttle=app.state.auth_throttle)
    app.add_middleware(
        CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST", "PATCH", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"], allow_credentials=False, max_age=600,
    )
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=frame_ancestors)


def _mount_chat(app: FastAPI, holder: AssistantHolder, config: Config, policy: AuthPolicy) -> None:
    """The Gradio chat (with the batch and review tabs) at "/"."""
    import gradio as gr

    from assistant.batch.ui import build_batch_tab
    from assistant.review.ui import REVIEW_CSS, build_review_tab
    from assistant.ui import CHAT_CSS, build_chat

    def batch_tab():
        build_batch_tab(holder.get, config, policy)

    def review_tab():
        build_review_tab(holder.get, app.state.reviews.get, config, policy)

    blocks = build_chat(holder.get, config, policy, batch_tab, review_tab)
    blocks.queue(default_concurrency_limit=8)
    gr.mount_gradio_app(
        app, blocks, path="/", root_path=config.root_path.rstrip("/") or None, footer_links=[], run_history=False,
        max_file_size=config.max_upload_bytes, ssr_mode=False, enable_monitoring=False, mcp_server=False,
        show_error=False, css=CHAT_CSS + REVIEW_CSS, server_name=config.host, server_port=config.port,
    )
