"""The one-tag intranet widget: `GET /widget.js` and the cross-origin permission its pages get.

An intranet page embeds the chat with one tag and no script of its own:

    <script src="https://intranet.example.org/assistant/widget.js" defer></script>

The script (assistant/static/widget.js) finds the assistant from its own URL, adds an "Ask the
sources" button and a chat panel in a shadow root, and asks `POST /api/chat` with `"stream": true`.

    router() -> APIRouter                  GET /widget.js (public: code, no data; see PUBLIC_PATHS)
    WidgetCorsMiddleware                   CORS with credentials for ASSISTANT_WIDGET_ORIGINS, on /api/chat only
    check_widget_origins(origins) -> tuple exact origins ("https://host[:port]"), ValueError otherwise
    install(app, config)                   both, on the app `create_app` builds (before the chat's "/" mount)

Credentials are the iframe's: the browser's own (SSO at the proxy, or the assistant's login cookie
where the page is same-site) are sent with every request (`credentials: "include"`, so the answer to
a listed origin carries `Access-Control-Allow-Credentials: true`), and a `data-token` on the script
tag is sent as `Authorization: Bearer`. Scopes are the caller's, as everywhere. A listed origin may
only call /api/chat; every other path, and every other origin, is left to the service's own CORS
(`ASSISTANT_CORS_ORIGINS`), which refuses a preflight from an origin it does not list.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from assistant.config import Config
from assistant.http.middleware import _route_path

WIDGET_JS = Path(__file__).parent / "static" / "widget.js"
WIDGET_PATHS = frozenset({"/api/chat"})
ALLOWED_METHODS = ("POST",)
ALLOWED_HEADERS = ("authorization", "content-type", "accept")
PREFLIGHT_MAX_AGE_S = 600
ORIGIN = re.compile(r"^https?://[a-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?$")


def check_widget_origins(origins) -> tuple[str, ...]:
    """The origins as browsers send them (scheme and host lower case, no path or trailing slash)."""
    checked = []
    for origin in origins:
        normal = origin.strip().rstrip("/").lower()
        if not ORIGIN.match(normal):
            raise ValueError(
                f"ASSISTANT_WIDGET_ORIGINS lists exact origins like https://portal.example.org[:port], "
                f"comma-separated, got {origin!r}"
            )
        checked.append(normal)
    return tuple(checked)


def router() -> APIRouter:
    routes = APIRouter(tags=["widget"])

    @routes.get("/widget.js", summary="The intranet widget: one <script> tag adds the chat to a page",
                response_class=FileResponse)
    def widget_js():
        return FileResponse(WIDGET_JS, media_type="text/javascript; charset=utf-8", headers={
            "Cache-Control": "public, max-age=300",
            # loadable by pages that require it of cross-origin scripts (COEP)
            "Cross-Origin-Resource-Policy": "cross-origin",
        })

    return routes


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class WidgetCorsMiddleware:
    """Answers the preflight of a listed origin for /api/chat, and marks the actual response readable
    by it (with credentials); anything else passes on untouched to the service's own CORS."""

    def __init__(self, app, origins: tuple[str, ...]):
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        origin = _header(scope, b"origin")
        if origin not in self.origins or _route_path(scope) not in WIDGET_PATHS:
            return await self.app(scope, receive, send)
        allow = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
        ]
        method = _header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and method is not None:
            return await self._preflight(send, allow + [(b"vary", b"Origin")], method,
                                         _header(scope, b"access-control-request-headers") or "")

        async def readable(event):
            if event["type"] == "http.response.start":
                # the service's own CORS may have answered for the same origin: ours replaces it
                kept = [(k, v) for k, v in event.get("headers", []) if not k.lower().startswith(b"access-control-")]
                vary = [v.decode("latin-1") for k, v in kept if k.lower() == b"vary"]
                if "origin" not in ",".join(vary).lower():
                    kept.append((b"vary", b"Origin"))
                event = {**event, "headers": kept + allow}
            await send(event)

        await self.app(scope, receive, readable)

    @staticmethod
    async def _preflight(send, allow, method: str, requested_headers: str) -> None:
        headers = {h.strip().lower() for h in requested_headers.split(",") if h.strip()}
        if method.upper() not in ALLOWED_METHODS or not headers <= set(ALLOWED_HEADERS):
            # refused: no Access-Control-Allow-Origin, so the browser blocks the request
            body = b"Disallowed CORS method or headers"
            await send({"type": "http.response.start", "status": 400, "headers": [
                (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})
        await send({"type": "http.response.start", "status": 204, "headers": allow + [
            (b"access-control-allow-methods", ", ".join(ALLOWED_METHODS).encode()),
            (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
            (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
        ]})
        await send({"type": "http.response.body", "body": b""})


def install(app, config: Config) -> None:
    """GET /widget.js, and credentialed CORS on /api/chat for the configured widget origins. Call it
    after the other middlewares are added (it must run first) and before the chat is mounted at "/"."""
    app.include_router(router())
    app.add_middleware(WidgetCorsMiddleware, origins=check_widget_origins(config.widget_origins))
