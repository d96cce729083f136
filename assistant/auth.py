"""Who is calling, and which collections they may see.

Two ways in, both optional (with neither configured, every caller is anonymous and sees everything,
which is why `assistant serve` refuses to bind beyond loopback without one):

- bearer tokens, `ASSISTANT_API_TOKENS="tok1,tok2:hr|policy"`: a token alone sees every collection,
  `token:coll1|coll2` only those. Browsers can log in once at `/login` (the token goes into an
  HttpOnly cookie, sent only to this site).
- a trusted single-sign-on header, `ASSISTANT_TRUSTED_USER_HEADER="X-Remote-User"`, set by the
  reverse proxy that did the login. It is believed only when the connection comes straight from an
  address in `ASSISTANT_TRUSTED_PROXIES` (addresses or networks; default none, so the header is
  refused until the proxy is listed). Users are scoped by `ASSISTANT_USER_SCOPES="alice:hr|policy,*:policy"`
  (`*` is everyone not listed). Access fails closed: with `ASSISTANT_USER_SCOPES` set, a user who is
  not listed while there is no `*` entry is refused (403), never shown every collection; with it
  unset, every SSO user sees every collection.

The same trusted proxies are the only ones believed about the client: `X-Forwarded-Proto` (whether
the login cookie is `Secure`) and the last `X-Forwarded-For` address (which client the `/login`
rate limit counts, `LoginThrottle`). From any other peer the real connection decides.

`caller_scope(request) -> Caller` is the FastAPI dependency for routes (the server's middleware has
already refused unauthenticated requests); `caller_from_gradio(request)` does the same in a Gradio
event handler. `Caller.restrict(requested)` turns a request's `collections` into the list to search,
raising `Forbidden` when the caller asks for a collection outside their scope.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request

from assistant.config import Config

TOKEN_COOKIE = "assistant_token"


class AuthError(Exception):
    """No acceptable credentials (HTTP 401)."""


class Forbidden(Exception):
    """Authenticated, but not allowed to see what was asked for (HTTP 403)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated caller. `collections=None` means every collection."""

    name: str
    collections: tuple[str, ...] | None = None

    @property
    def unrestricted(self) -> bool:
        return self.collections is None

    def allows(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    def restrict(self, requested: list[str] | None) -> list[str] | None:
        """The collections to search for this caller: `requested` (or everything they may see).
        Never returns an empty list for a scoped caller (an empty filter would mean "all"): a caller
        scoped to no collection at all is refused."""
        requested = [c for c in (requested or []) if c] or None
        if self.collections is None:
            return requested
        if not self.collections:
            raise Forbidden(f"{self.name} has access to no collection")
        if requested is None:
            return list(self.collections)
        outside = sorted(set(requested) - set(self.collections))
        if outside:
            raise Forbidden(f"you do not have access to the collection(s): {', '.join(outside)}")
        return requested


ANONYMOUS = Caller("anonymous", None)


def _parse_scoped(entries: tuple[str, ...], what: str) -> dict[str, tuple[str, ...] | None]:
    parsed: dict[str, tuple[str, ...] | None] = {}
    for entry in entries:
        name, sep, scope = entry.partition(":")
        name = name.strip()
        if not name:
            raise ValueError(f"{what}: an entry has no name before ':' ({entry!r})")
        if not sep:
            parsed[name] = None
            continue
        collections = tuple(c.strip() for c in scope.split("|") if c.strip())
        if not collections:
            raise ValueError(f"{what}: {name!r} is followed by ':' but no collection; write name:coll1|coll2")
        parsed[name] = collections
    return parsed


@dataclass(frozen=True)
class AuthPolicy:
    """The parsed auth settings of one server."""

    tokens: dict[str, tuple[str, ...] | None]
    user_header: str | None
    proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    user_scopes: dict[str, tuple[str, ...] | None]

    @classmethod
    def from_config(cls, config: Config) -> "AuthPolicy":
        """Raises ValueError with a clear message on malformed settings."""
        proxies = []
        for entry in config.trusted_proxies:
            try:
                proxies.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"ASSISTANT_TRUSTED_PROXIES: {entry!r} is not an address or network") from exc
        header = (config.trusted_user_header or "").strip() or None
        return cls(
            tokens=_parse_scoped(config.api_tokens, "ASSISTANT_API_TOKENS"),
            user_header=header.lower() if header else None,
            proxies=tuple(proxies),
            user_scopes=_parse_scoped(config.user_scopes, "ASSISTANT_USER_SCOPES"),
        )

    @property
    def enabled(self) -> bool:
        return bool(self.tokens) or self.user_header is not None

    def is_trusted_proxy(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def is_https(self, scheme: str, headers: Mapping[str, str], client_host: str | None) -> bool:
        """Whether the client's connection is HTTPS: the real connection's scheme, or
        `X-Forwarded-Proto: https` from a trusted proxy (from anyone else the header is ignored)."""
        if scheme == "https":
            return True
        forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return forwarded == "https" and self.is_trusted_proxy(client_host)

    def client_address(self, headers: Mapping[str, str], client_host: str | None) -> str:
        """The client's address: the peer's, or, when the peer is a trusted proxy, the last
        `X-Forwarded-For` entry (the one that proxy appended; earlier ones the client could forge)."""
        peer = client_host or "unknown"
        if not self.is_trusted_proxy(client_host):
            return peer
        forwarded = [part.strip() for part in headers.get("x-forwarded-for", "").split(",") if part.strip()]
        if not forwarded:
            return peer
        try:
            return str(ipaddress.ip_address(forwarded[-1]))
        except ValueError:
            return peer

    def _sso_caller(self, headers: Mapping[str, str], client_host: str | None) -> Caller:
        """The caller named by the SSO header (present). Raises AuthError for an untrusted peer or an
        empty name, Forbidden for a user that ASSISTANT_USER_SCOPES gives no collection."""
        if not self.is_trusted_proxy(client_host):
            listed = "" if self.proxies else " (none is configured)"
            raise AuthError(
                f"the {self.user_header} header is accepted only from the configured proxies "
                f"(ASSISTANT_TRUSTED_PROXIES{listed})"
            )
        user = headers[self.user_header].strip()
        if not user:
            raise AuthError(f"the {self.user_header} header names no user")
        if not self.user_scopes:
            return Caller(f"user:{user}", None)  # no scopes configured: every SSO user sees everything
        if user in self.user_scopes:
            return Caller(f"user:{user}", self.user_scopes[user])
        if "*" in self.user_scopes:
            return Caller(f"user:{user}", self.user_scopes["*"])
        raise Forbidden(
            f"user {user!r} has access to no collection: ASSISTANT_USER_SCOPES does not list them and has "
            "no '*' entry; ask the administrator to add them"
        )

    def _token_caller(self, presented: str) -> Caller | None:
        found = None
        for token, scope in self.tokens.items():
            # compare every token, in constant time, so timing tells nothing about which matched
            if hmac.compare_digest(token.encode(), presented.encode()):
                found = Caller(f"token:{hashlib.sha256(token.encode()).hexdigest()[:8]}", scope)
        return found

    def resolve(self, headers: Mapping[str, str], client_host: str | None, cookies: Mapping[str, str] | None = None) -> Caller:
        """The caller of a request, from its headers (lower-case names), the direct peer address
        and its cookies. Raises AuthError when auth is configured and nothing acceptable is presented,
        Forbidden when an SSO user is given no collection."""
        if not self.enabled:
            return ANONYMOUS
        authorization = headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if authorization:
            if scheme.lower() != "bearer" or not credentials.strip():
                raise AuthError("the Authorization header must be 'Bearer <token>'")
            caller = self._token_caller(credentials.strip())
            if caller is None:
                raise AuthError("the bearer token is not valid")
            return caller
        if self.user_header is not None and headers.get(self.user_header):
            return self._sso_caller(headers, client_host)
        cookie = (cookies or {}).get(TOKEN_COOKIE)
        if cookie and self.tokens:
            caller = self._token_caller(cookie)
            if caller is not None:
                return caller
            raise AuthError("the login has expired or the token was revoked: log in again at /login")
        if self.tokens:
            raise AuthError("authentication required: send 'Authorization: Bearer <token>' (or log in at /login)")
        raise AuthError("authentication required: this service is reached through the single-sign-on proxy")


class LoginThrottle:
    """At most `max_failures` failed logins per client address in any `window_s` seconds; past that,
    `retry_after(address)` gives the whole seconds to wait (0: go ahead). `failed(address, credential)`
    with the credential tried counts it once a window however often it is sent again (a browser tab
    polling with a revoked cookie is not a guesser; a guesser varies it). Bounded memory: addresses
    whose failures have all aged out are forgotten, and at most `max_addresses` are tracked (the
    stalest dropped first). Thread-safe."""

    def __init__(self, max_failures: int, window_s: float = 60.0, max_addresses: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        if max_failures < 1:
            raise ValueError("ASSISTANT_LOGIN_MAX_FAILURES must be at least 1")
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: dict[str, deque[tuple[float, str | None]]] = {}  # (when, digest of the credential)
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[tuple[float, str | None]]:
        failures = self._failures.get(address, deque())
        while failures and now - failures[0][0] >= self.window_s:
            failures.popleft()
        if not failures:
            self._failures.pop(address, None)
        return failures

    def retry_after(self, address: str) -> int:
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now)
            if len(failures) < self.max_failures:
                return 0
            return max(1, math.ceil(failures[0][0] + self.window_s - now))

    def failed(self, address: str, credential: str | None = None) -> None:
        # Only a digest of a failed credential is kept, never the text.
        key = hashlib.sha256(credential.encode()).hexdigest() if credential is not None else None
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now)
            if key is not None and any(k == key for _, k in failures):
                return
            failures.append((now, key))
            while len(failures) > self.max_failures:
                failures.popleft()
            self._failures.pop(address, None)
            self._failures[address] = failures  # re-inserted: the dict's order is least recent first
            while len(self._failures) > self.max_addresses:
                del self._failures[next(iter(self._failures))]


def caller_scope(request: Request) -> Caller:
    """FastAPI dependency: the authenticated caller of this request (set by the server's auth
    middleware; resolved here when a route is used in an app without it)."""
    caller = request.scope.get("state", {}).get("caller")
    if caller is not None:
        return caller
    policy = getattr(request.app.state, "auth_policy", None)
    if policy is None:
        return ANONYMOUS
    try:
        return policy.resolve(request.headers, request.client.host if request.client else None, request.cookies)
    except AuthError as exc:
        from fastapi import HTTPException

        raise HTTPException(status_code=401, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
    # Forbidden propagates: the server answers it with 403


def caller_from_gradio(request, policy: AuthPolicy) -> Caller:
    """The caller of a Gradio event (`request: gr.Request`); raises AuthError or Forbidden."""
    if request is None:
        return ANONYMOUS if not policy.enabled else _raise(AuthError("no request"))
    headers = {str(k).lower(): str(v) for k, v in dict(getattr(request, "headers", {}) or {}).items()}
    client = getattr(request, "client", None)
    host = getattr(client, "host", None) if client is not None else None
    cookies = dict(getattr(request, "cookies", {}) or {})
    return policy.resolve(headers, host, cookies)


def _raise(exc: Exception):
    raise exc


def is_loopback(host: str) -> bool:
    """True for addresses that only this machine can reach."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
