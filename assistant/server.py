"""The HTTP service: a FastAPI app with the Gradio chat mounted on it, and `assistant serve`.

    create_app(config, assistant=None) -> FastAPI     the ASGI app (one shared Assistant; assistant/http/app.py)
    run(args) -> int                                  `assistant serve` (and app.py)

The routes live in the package assistant/http/, one module per concern (its __init__ lists them).

Routes (all answers are the shared Answer JSON, `Answer.to_dict()`):
    POST /api/ask               {question, history?, collections?, documents?, id?} -> Answer
    POST /api/ask/stream        the same as server-sent events: `delta` pieces (checked sentences), then `answer`
    POST /api/chat              {messages, collections?, documents?, stream?} -> Answer for the last user message
                                (`stream: true`: the events of /api/ask/stream)
    GET  /api/sources           the documents the caller may see
    GET  /api/sources/{id}      one document with its paragraphs
    GET  /sources/{id}          the source view (HTML); `#p<N>` highlights a paragraph
    POST /v1/chat/completions   OpenAI-compatible (streaming too): citations as footnotes + `citations`
    GET  /v1/models             the one model, for OpenAI-compatible front-ends
    GET  /widget.js             the intranet widget: one <script> tag (assistant/widget.py)
    GET  /healthz, /readyz      alive; index open (503 until it is)
    GET  /docs                  OpenAPI docs, served from the local swagger-ui-bundle (no CDN)
    GET|POST /login, /logout    token login for browsers (when ASSISTANT_API_TOKENS is set)
    /                           the chat (Gradio)

Errors are JSON `{"error": {"message", "type", "status"}}` (OpenAI's shape, so OpenAI clients show
the message): 401/403 auth, 404, 413 body too large, 422 bad input, 429 too many failed logins
(`Retry-After`), 503 index not ready. Pure ASGI middlewares (streaming-safe; assistant/http/middleware.py) add: auth (every route
but health, login and docs), the body-size limit, CORS for the configured origins, and
`Content-Security-Policy: frame-ancestors ...`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from assistant.auth import AuthPolicy, is_loopback
from assistant.config import Config
from assistant.http.app import create_app
from assistant.http.middleware import check_frame_ancestors
from assistant.widget import check_widget_origins

__all__ = ["create_app", "run", "serve", "ingest_sources"]


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
        check_frame_ancestors(config.frame_ancestors)
        check_widget_origins(config.widget_origins)
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
    from assistant.reader import ReaderError, get_decision_model, get_reader

    try:
        get_reader(config.reader_model_path, config.reader_int8)  # a missing or broken reader stops the start, with its reason
        get_decision_model(config.decision_model_path, config.reader_int8)
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
