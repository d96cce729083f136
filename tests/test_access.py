"""Access control fails closed (issue 12, part 3), over real HTTP on loopback: SSO users that
ASSISTANT_USER_SCOPES does not list get 403, the SSO header and X-Forwarded-* are believed only from
ASSISTANT_TRUSTED_PROXIES (none by default), /login is rate-limited per client address, and batch
answering (the API and the tab) is always scoped by the caller."""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import free_port
from serving_helpers import (  # noqa: F401 - fixtures
    SECRET_DOC,
    SECRET_QUESTION,
    ServerThread,
    StrippingProxy,
    served_assistant,
    served_corpus,
    wait_ready,
)

ALL = {"Authorization": "Bearer tok-all"}
PUBLIC = {"Authorization": "Bearer tok-pub"}  # scoped to "default"


def error_of(response: httpx.Response) -> str:
    data = response.json()
    assert data["error"]["status"] == response.status_code
    return data["error"]["message"]


def client_from(address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x address is this machine)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=120)


@pytest.fixture(scope="module")
def closed(served_corpus, served_assistant):
    """Tokens, an SSO header believed from the proxy at 127.0.0.2, user scopes with NO '*' entry,
    and at most 3 failed logins a minute. Yields (direct app URL, proxied URL)."""
    from assistant.config import Config
    from assistant.server import create_app

    config = Config.from_env(data_dir=served_corpus).replace(
        llm_base_url=None,
        api_tokens=("tok-all", "tok-pub:default"),
        trusted_user_header="X-Remote-User",
        trusted_proxies=("127.0.0.2",),
        user_scopes=("carol:default|secret", "dave:default"),
        login_max_failures=3,
    )
    port = free_port()
    with ServerThread(create_app(config, served_assistant), port) as running:
        with StrippingProxy(port, free_port(), "/kb") as proxy:
            wait_ready(proxy.url)
            yield running.url, proxy.url


def ask(url: str, headers: dict, question: str = SECRET_QUESTION) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json={"question": question}, headers=headers, timeout=120)


def batch(url: str, headers: dict, **data) -> httpx.Response:
    questions = json.dumps({"id": "s1", "question": SECRET_QUESTION}) + "\n"
    return httpx.post(f"{url}/api/batch", files={"file": ("q.jsonl", questions.encode())},
                      data={"format": "jsonl", **data}, headers=headers, timeout=300)


# --- SSO users not listed in ASSISTANT_USER_SCOPES ------------------------------------------------------


def test_an_unlisted_sso_user_sees_nothing_when_there_is_no_star_entry(closed):
    _, proxied = closed
    # positive controls: listed users get their own scopes
    carol = ask(proxied, {"X-Remote-User": "carol"})
    assert carol.status_code == 200 and [c["document_id"] for c in carol.json()["citations"]] == [SECRET_DOC]
    dave = ask(proxied, {"X-Remote-User": "dave"})
    assert dave.status_code == 200 and SECRET_DOC not in dave.text
    # eve is not listed and there is no '*': refused everywhere, with a message that says why
    eve = {"X-Remote-User": "eve"}
    refused = ask(proxied, eve)
    assert refused.status_code == 403
    message = error_of(refused)
    assert "eve" in message and "ASSISTANT_USER_SCOPES" in message
    for response in (
        httpx.get(f"{proxied}/api/sources", headers=eve),
        httpx.get(f"{proxied}/api/sources/{SECRET_DOC}", headers=eve),
        httpx.get(f"{proxied}/sources/{SECRET_DOC}", headers=eve),
        httpx.get(f"{proxied}/", headers={**eve, "Accept": "text/html"}),
        httpx.post(f"{proxied}/v1/chat/completions", headers=eve, timeout=60,
                   json={"messages": [{"role": "user", "content": SECRET_QUESTION}]}),
        batch(proxied, eve),
    ):
        assert response.status_code == 403, (response.request.url, response.status_code)
        assert SECRET_DOC not in response.text and "forty million" not in response.text
    # health stays open to them
    assert httpx.get(f"{proxied}/healthz", headers=eve).status_code == 200


def test_a_scoped_caller_with_no_collection_is_refused_not_unrestricted():
    from assistant.auth import Caller, Forbidden

    with pytest.raises(Forbidden):
        Caller("user:nobody", ()).restrict(None)  # an empty filter would have meant "everything"
    assert Caller("user:x", ("a",)).restrict(None) == ["a"]


# --- trusted proxies: the SSO header and X-Forwarded-* ------------------------------------------------------


def test_no_proxy_is_trusted_by_default(served_corpus, served_assistant, monkeypatch):
    from assistant.config import Config
    from assistant.server import create_app

    monkeypatch.delenv("ASSISTANT_TRUSTED_PROXIES", raising=False)
    config = Config.from_env(data_dir=served_corpus).replace(llm_base_url=None, trusted_user_header="X-Remote-User")
    assert config.trusted_proxies == ()
    with ServerThread(create_app(config, served_assistant), free_port()) as running:
        wait_ready(running.url)
        refused = ask(running.url, {"X-Remote-User": "carol"})  # from 127.0.0.1, which used to be trusted
        assert refused.status_code == 401
        assert "ASSISTANT_TRUSTED_PROXIES" in error_of(refused) and "none is configured" in error_of(refused)
        assert httpx.get(f"{running.url}/api/sources", headers={"X-Remote-User": "carol"}).status_code == 401


def test_the_sso_header_from_an_untrusted_address_is_refused(closed):
    direct, proxied = closed
    assert ask(proxied, {"X-Remote-User": "carol"}).status_code == 200
    spoofed = ask(direct, {"X-Remote-User": "carol"})  # 127.0.0.1 is not in the list
    assert spoofed.status_code == 401 and SECRET_DOC not in spoofed.text


def _login(client: httpx.Client, url: str, token: str, **headers) -> httpx.Response:
    return client.post(f"{url}/login", data={"token": token, "next": "/"}, headers=headers)


def test_the_cookie_is_secure_only_when_a_trusted_proxy_says_https(closed):
    direct, proxied = closed
    with client_from("127.0.0.1") as client:
        spoofed = _login(client, direct, "tok-pub", **{"X-Forwarded-Proto": "https"})
        assert spoofed.status_code == 303
        assert "secure" not in spoofed.headers["set-cookie"].lower()  # a plain-HTTP caller's claim is ignored
        via_proxy = _login(client, proxied, "tok-pub", **{"X-Forwarded-Proto": "https"})
        assert via_proxy.status_code == 303
        assert "secure" in via_proxy.headers["set-cookie"].lower()  # the trusted proxy's word is taken
        plain = _login(client, proxied, "tok-pub", **{"X-Forwarded-Proto": "http"})
        assert "secure" not in plain.headers["set-cookie"].lower()


# --- /login rate limit ----------------------------------------------------------------------------------


def test_login_failures_are_limited_per_client_address(closed):
    direct, proxied = closed
    with client_from("127.0.0.5") as attacker, client_from("127.0.0.6") as neighbour:
        for _ in range(3):
            assert _login(attacker, direct, "guess").status_code == 401
        limited = _login(attacker, direct, "guess")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert "Too many failed logins" in limited.text
        # even the right token is refused while limited (no oracle), and X-Forwarded-For from a
        # direct (untrusted) caller does not make it another client
        assert _login(attacker, direct, "tok-all").status_code == 429
        assert _login(attacker, direct, "guess", **{"X-Forwarded-For": "10.9.9.9"}).status_code == 429
        # another address is not affected
        assert _login(neighbour, direct, "guess").status_code == 401
        ok = _login(neighbour, direct, "tok-all")
        assert ok.status_code == 303 and "assistant_token=" in ok.headers["set-cookie"]
    # behind the trusted proxy each client is told apart by the address the proxy appended
    with client_from("127.0.0.7") as client:
        for _ in range(3):
            assert _login(client, proxied, "guess", **{"X-Forwarded-For": "10.0.0.1"}).status_code == 401
        assert _login(client, proxied, "guess", **{"X-Forwarded-For": "10.0.0.1"}).status_code == 429
        # a forged first entry does not help: the last one (the proxy's) counts
        assert _login(client, proxied, "guess", **{"X-Forwarded-For": "1.2.3.4, 10.0.0.1"}).status_code == 429
        assert _login(client, proxied, "guess", **{"X-Forwarded-For": "10.0.0.2"}).status_code == 401


def test_bearer_token_guessing_is_limited_like_the_login_form(closed):
    direct, _ = closed

    def sources(client, token: str) -> httpx.Response:
        return client.get(f"{direct}/api/sources", headers={"Authorization": f"Bearer {token}"})

    with client_from("127.0.0.8") as guesser, client_from("127.0.0.9") as neighbour, client_from("127.0.0.10") as stale:
        for guess in ("guess-1", "guess-2", "guess-3"):
            assert sources(guesser, guess).status_code == 401
        limited = sources(guesser, "guess-4")
        assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
        assert "too many failed tokens" in error_of(limited)
        assert sources(guesser, "tok-all").status_code == 429  # the right token too: no oracle
        assert _login(guesser, direct, "tok-all").status_code == 429  # one count with the login form
        assert guesser.get(f"{direct}/healthz", headers={"Authorization": "Bearer guess-5"}).status_code == 200
        assert sources(neighbour, "tok-all").status_code == 200
        # the same revoked token sent again and again (a polling tab) is one failure, not a lock-out
        for _ in range(5):
            assert sources(stale, "revoked").status_code == 401
        assert sources(stale, "tok-all").status_code == 200


def test_login_throttle_forgets_after_a_minute_and_stays_bounded():
    from assistant.auth import LoginThrottle

    now = [1000.0]
    throttle = LoginThrottle(2, window_s=60.0, max_addresses=3, clock=lambda: now[0])
    throttle.failed("a")
    now[0] += 10
    throttle.failed("a")
    assert throttle.retry_after("a") == 50  # until the first failure is a minute old
    now[0] += 50
    assert throttle.retry_after("a") == 0
    throttle.failed("s", "same")
    throttle.failed("s", "same")
    assert throttle.retry_after("s") == 0  # one credential, counted once a window
    throttle.failed("s", "other")
    assert throttle.retry_after("s") > 0
    for address in ("b", "c", "d", "e"):
        throttle.failed(address)
    assert len(throttle._failures) <= 3  # the stalest addresses are dropped first
    with pytest.raises(ValueError):
        LoginThrottle(0)


# --- batch answering is always scoped -------------------------------------------------------------------


def test_api_batch_of_a_scoped_sso_user_never_cites_another_collection(closed):
    _, proxied = closed
    carol = batch(proxied, {"X-Remote-User": "carol"})  # positive control: her scope holds "secret"
    assert carol.status_code == 200 and SECRET_DOC in carol.text
    dave = batch(proxied, {"X-Remote-User": "dave"})
    assert dave.status_code == 200, dave.text
    assert SECRET_DOC not in dave.text and "forty million" not in dave.text
    assert batch(proxied, {"X-Remote-User": "dave"}, collection="secret").status_code == 403


def _gradio_request(headers: dict[str, str]):
    """A real gr.Request around a real Starlette request with these headers, from 127.0.0.1."""
    import gradio as gr
    from starlette.requests import Request

    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "client": ("127.0.0.1", 50000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    return gr.Request(request=Request(scope))


def test_the_batch_tab_answers_only_from_the_callers_collections(served_corpus, served_assistant, tmp_path):
    from openpyxl import load_workbook

    from assistant.auth import AuthPolicy
    from assistant.batch.ui import answer_request
    from assistant.config import Config

    config = Config.from_env(data_dir=served_corpus).replace(api_tokens=("tok-all", "tok-pub:default"))
    policy = AuthPolicy.from_config(config)
    questions = tmp_path / "q.txt"
    questions.write_text(SECRET_QUESTION + "\n", encoding="utf-8")

    def cells(headers: dict) -> str:
        summary, files = answer_request(_gradio_request(headers), policy, lambda: served_assistant, config,
                                        str(questions))
        assert files, summary
        book = load_workbook(files[0])
        return json.dumps([[c.value for c in row] for ws in book for row in ws.iter_rows()], default=str)

    assert SECRET_DOC in cells(ALL)  # positive control
    scoped = cells(PUBLIC)
    assert SECRET_DOC not in scoped and "forty million" not in scoped
    summary, files = answer_request(_gradio_request({}), policy, lambda: served_assistant, config, str(questions))
    assert files is None and "Not allowed" in summary


def test_batch_entry_points_cannot_be_built_without_a_scope(served_assistant):
    gr = pytest.importorskip("gradio")
    from assistant.batch import api
    from assistant.batch.ui import build_batch_tab, run_upload

    with pytest.raises(TypeError):
        api.make_router()
    with pytest.raises(TypeError):
        api.make_router(scope_dependency=None)
    assert not hasattr(api, "router")
    with gr.Blocks(), pytest.raises(TypeError):
        build_batch_tab(served_assistant, served_assistant.config, None)
    from assistant.auth import Forbidden

    with pytest.raises(Forbidden):
        run_upload(served_assistant, served_assistant.config, "unused.txt", "unused.txt", None)
