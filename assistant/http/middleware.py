"""The service's pure ASGI middlewares (they never buffer a streamed response): auth
(`AuthMiddleware`: 401, or a redirect to /login for a browser page; 403 for a caller given no
collection; every route but health, login and docs), the body-size limit (`BodyLimitMiddleware`:
413), and `Content-Security-Policy: frame-ancestors ...` with nosniff and the referrer policy
(`SecurityHeadersMiddleware`)."""

from __future__ import annotations

import json

from assistant.auth import TOKEN_COOKIE, AuthError, AuthPolicy, Forbidden, LoginThrottle
from assistant.batch.api import MULTIPART_SLACK
from assistant.http.shared import error_body

# /widget.js is code, no data: a <script> tag on another site cannot send a token (assistant/widget.py)
PUBLIC_PATHS = {"/healthz", "/readyz", "/login", "/logout", "/docs", "/openapi.json", "/widget.js"}
PUBLIC_PREFIXES = ("/docs-static/",)
UPLOAD_PREFIXES = ("/api/batch", "/gradio_api/upload")
UPLOAD_PATHS = {"/api/reviews"}  # exactly: its sub-paths are small JSON bodies


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
    given no collection (403), and puts the Caller in the request's state for `caller_scope`.

    A request that presents a bearer token or login cookie that is not valid counts as a failed
    login of its client address (`throttle`, shared with /login); past the limit every request from
    that address that presents one is refused with 429 until the minute is up, the right token too,
    so the answers tell a guesser nothing. Public paths (health, login, docs) are neither counted
    nor refused: a load balancer's health check never trips it."""

    def __init__(self, app, policy: AuthPolicy, throttle: LoginThrottle | None = None):
        self.app = app
        self.policy = policy
        self.throttle = throttle

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        from starlette.requests import HTTPConnection

        path = _route_path(scope)
        connection = HTTPConnection(scope)
        peer = connection.client.host if connection.client else None
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        presented = self._presented(connection)
        address = None
        if self.throttle is not None and not public and presented:
            address = self.policy.client_address(connection.headers, peer)
            wait = self.throttle.retry_after(address)
            if wait:
                if scope["type"] != "http":
                    return await send({"type": "websocket.close", "code": 1008})
                return await _send_json(send, 429, f"too many failed tokens from this address: try again in {wait} seconds",
                                        [(b"retry-after", str(wait).encode())])
        try:
            caller = self.policy.resolve(connection.headers, peer, connection.cookies)
        except Forbidden as exc:
            if scope["type"] != "http":
                return await send({"type": "websocket.close", "code": 1008})
            if public:
                return await self.app(scope, receive, send)
            return await _send_json(send, 403, str(exc))
        except AuthError as exc:
            if address is not None:
                self.throttle.failed(address, presented)
            if public or scope["type"] != "http":
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

    def _presented(self, connection) -> str:
        """The credential the request presents, what a guesser can vary: its Authorization header,
        else its login cookie ("" for none; an SSO header is believed only from a trusted proxy, so
        it is not a guess)."""
        cookie = connection.cookies.get(TOKEN_COOKIE) if self.policy.tokens else None
        return connection.headers.get("authorization") or cookie or ""


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
        path = _route_path(scope)
        is_upload = path.startswith(UPLOAD_PREFIXES) or path.rstrip("/") in UPLOAD_PATHS
        limit = self.upload_limit + MULTIPART_SLACK if is_upload else self.limit
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


def check_frame_ancestors(value: str) -> str:
    value = (value or "").strip() or "'self'"
    if any(ch in value for ch in ";,\r\n"):
        raise ValueError(f"ASSISTANT_FRAME_ANCESTORS must be a space-separated list of sources, got {value!r}")
    return value
