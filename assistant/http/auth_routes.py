"""Token login for browsers: GET|POST /login (the token kept in an HttpOnly cookie; a client address
past its failed attempts per minute, at the form or with a bearer token, is refused with 429 and `Retry-After`) and GET /logout. Not in
the OpenAPI schema. The auth policy is the app's (`app.state.auth_policy`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from assistant.auth import TOKEN_COOKIE, AuthError, LoginThrottle


def safe_next(path: str) -> str:
    """Only same-site paths after login (no open redirect)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def router(throttle: LoginThrottle) -> APIRouter:
    """The login routes; `throttle` counts failed tokens per client address (shared with the API's
    bearer-token check, assistant/http/middleware.py)."""
    routes = APIRouter(include_in_schema=False)

    @routes.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/"):
        from assistant.ui import login_page

        return HTMLResponse(login_page(request.scope.get("root_path", ""), safe_next(next)))

    @routes.post("/login")
    async def login(request: Request):
        """Check a token and keep it in a cookie; a client address past its failures is refused (429)."""
        from urllib.parse import parse_qs

        from assistant.ui import login_page

        policy = request.app.state.auth_policy
        peer = request.client.host if request.client else None
        address = policy.client_address(request.headers, peer)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        next_path = safe_next((form.get("next") or ["/"])[0])
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

    @routes.get("/logout")
    def logout(request: Request):
        root = request.scope.get("root_path", "")
        response = RedirectResponse(f"{root}/login", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path=(root or "/"))
        return response

    return routes
