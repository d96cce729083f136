"""The HTTP service, over real HTTP on 127.0.0.1: every endpoint and error, auth and collection
scoping, the sub-path behind a reverse proxy, CORS and frame-ancestors, the OpenAI-compatible
endpoint (with the `openai` client), `assistant serve` and `python app.py` as subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import httpx
import pytest
from conftest import ROOT, free_port, run_cli
from serving_helpers import (  # noqa: F401 - fixtures
    HOSTILE_DOC,
    HOSTILE_QUESTION,
    SECRET_DOC,
    SECRET_QUESTION,
    ServerThread,
    StrippingProxy,
    served_assistant,
    served_corpus,
    wait_ready,
)

ALL = {"Authorization": "Bearer tok-all"}
PUBLIC = {"Authorization": "Bearer tok-pub"}


@pytest.fixture(scope="module")
def server(served_corpus, served_assistant):
    """No auth (loopback), root path /."""
    from assistant.config import Config
    from assistant.server import create_app

    config = Config.from_env(data_dir=served_corpus).replace(llm_base_url=None)
    with ServerThread(create_app(config, served_assistant), free_port()) as running:
        wait_ready(running.url)
        yield running.url


@pytest.fixture(scope="module")
def secure(served_corpus, served_assistant):
    """Tokens (one scoped to "default"), a trusted SSO header from the proxy at 127.0.0.2 only,
    user scopes, CORS for one origin, an iframe ancestor, and the sub-path /kb behind a proxy.
    Yields (direct app URL, proxied URL)."""
    from assistant.config import Config
    from assistant.server import create_app

    config = Config.from_env(data_dir=served_corpus).replace(
        llm_base_url=None,
        api_tokens=("tok-all", "tok-pub:default"),
        trusted_user_header="X-Remote-User",
        trusted_proxies=("127.0.0.2",),
        user_scopes=("carol:default|secret", "*:default"),
        cors_origins=("https://intranet.example",),
        frame_ancestors="'self' https://intranet.example",
        root_path="/kb",
    )
    port = free_port()
    with ServerThread(create_app(config, served_assistant), port, root_path="/kb") as running:
        with StrippingProxy(port, free_port(), "/kb") as proxy:
            wait_ready(proxy.url)
            yield running.url, proxy.url


def ask(url: str, question: str, headers: dict | None = None, **body) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json={"question": question, **body}, headers=headers or {}, timeout=60)


def error_of(response: httpx.Response) -> str:
    data = response.json()
    assert set(data) == {"error"}, data
    assert data["error"]["status"] == response.status_code
    return data["error"]["message"]


# --- health, answers, sources ---------------------------------------------------------------------


def test_health_and_ready(server):
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server}/readyz").json()
    assert ready["status"] == "ready"
    assert ready["documents"] == 7  # five bundled sources, the hostile one, the secret one
    assert ready["paragraphs"] > 50


def test_ask_returns_the_answer_contract(server):
    response = ask(server, "Who is David Dalton?", id="q1")
    assert response.status_code == 200
    data = response.json()
    assert {"id", "question", "answer", "status", "abstained", "citations", "searched_for", "timings_ms"} <= set(data)
    assert data["id"] == "q1" and data["abstained"] is False and data["status"] == "answered"
    assert "error" not in data
    assert "Salford Royal" in data["answer"]
    citation = data["citations"][0]
    assert citation["paragraph_id"] == f"{citation['document_id']}#p{citation['paragraph']}"
    assert citation["quote"] in citation["text"]
    assert f"[{citation['marker']}]" in data["answer"]
    # the cited paragraph is exactly what the sources endpoint holds
    document = httpx.get(f"{server}/api/sources/{citation['document_id']}").json()
    paragraph = next(p for p in document["paragraphs"] if p["id"] == citation["paragraph_id"])
    assert paragraph["text"] == citation["text"]


def test_unanswerable_question_abstains_with_nearest_passages(server):
    data = ask(server, "What is the capital of France?").json()
    assert data["abstained"] is True and data["status"] == "abstained"
    assert data["citations"] == []
    assert data["nearest"], data


def test_ask_stream_sends_pieces_then_the_answer(server):
    with httpx.stream("POST", f"{server}/api/ask/stream", json={"question": "Who is David Dalton?"}, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse_events(r.iter_lines())
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer" and "delta" in kinds
    streamed = "".join(data["text"] for kind, data in events if kind == "delta")
    final = events[-1][1]
    assert final["answer"] == streamed and final["citations"]


def test_chat_answers_the_last_message_as_a_follow_up(server):
    messages = [
        {"role": "user", "content": "Who is David Dalton?"},
        {"role": "assistant", "content": "David Dalton was chief executive of Salford Royal NHS Foundation Trust. [1]"},
        {"role": "user", "content": "What was his aim?"},
    ]
    data = httpx.post(f"{server}/api/chat", json={"messages": messages}, timeout=60).json()
    assert data["question"] == "What was his aim?"
    assert "David Dalton" in data["searched_for"]
    assert not data["abstained"] and "safest" in data["answer"]


def test_sources_list_and_document(server):
    documents = httpx.get(f"{server}/api/sources").json()
    ids = {d["id"] for d in documents}
    assert {"kf-2015-inner-stalin", HOSTILE_DOC, SECRET_DOC} <= ids
    one = httpx.get(f"{server}/api/sources/kf-2015-inner-stalin").json()
    assert one["paragraphs"][0]["id"] == "kf-2015-inner-stalin#p0"  # the header (its metadata)
    assert one["paragraphs"][1]["id"] == "kf-2015-inner-stalin#p1"
    assert one["paragraphs"][1]["view"] == "/sources/kf-2015-inner-stalin#p1"
    missing = httpx.get(f"{server}/api/sources/no-such-document")
    assert missing.status_code == 404 and "no-such-document" in error_of(missing)


def test_source_view_escapes_the_document_and_anchors_paragraphs(server):
    response = httpx.get(f"{server}/sources/{HOSTILE_DOC}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'id="p2"' in page and 'id="p4"' in page
    assert "<script" not in page.lower() and "<img" not in page.lower() and "<b>" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "Zorblax &lt;i&gt;widget&lt;/i&gt; policy" in page
    assert "javascript:" not in page  # the metadata URL is not a link
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'self'" in csp


# --- errors ---------------------------------------------------------------------------------------


def test_bad_questions_are_422_with_a_clear_message(server):
    assert "empty" in error_of(_expect(ask(server, ""), 422))
    assert "empty" in error_of(_expect(ask(server, "   \n "), 422))
    assert "limit" in error_of(_expect(ask(server, "why " * 1000), 422))
    assert "question" in error_of(_expect(httpx.post(f"{server}/api/ask", json={}), 422))
    assert "question" in error_of(_expect(httpx.post(f"{server}/api/ask", json={"question": 42}), 422))
    not_json = httpx.post(f"{server}/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert not_json.status_code == 422
    last_is_assistant = httpx.post(f"{server}/api/chat", json={"messages": [{"role": "assistant", "content": "hi"}]})
    assert "last message" in error_of(_expect(last_is_assistant, 422))
    assert "messages" in error_of(_expect(httpx.post(f"{server}/api/chat", json={"messages": []}), 422))
    streamed = httpx.post(f"{server}/api/ask/stream", json={"question": ""})
    assert streamed.status_code == 422 and streamed.headers["content-type"].startswith("application/json")


def test_too_large_bodies_are_413(server):
    big = {"question": "Who is David Dalton?", "history": [{"role": "user", "content": "x" * (1024 * 1024)}]}
    response = httpx.post(f"{server}/api/ask", json=big, timeout=30)
    assert response.status_code == 413 and "limit" in error_of(response)

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        yield b'{"question": "Who is David Dalton?", "history": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"y" * 65536
        yield b'"}]}'

    response = httpx.post(f"{server}/api/ask", content=chunks(), headers={"content-type": "application/json"}, timeout=30)
    assert response.status_code == 413 and "limit" in error_of(response)
    # just under the limit is answered
    fine = {"question": "Who is David Dalton?", "history": [{"role": "user", "content": "x" * 100_000}]}
    assert httpx.post(f"{server}/api/ask", json=fine, timeout=60).status_code == 200


# --- OpenAI-compatible ----------------------------------------------------------------------------


def test_openai_chat_completion_keeps_citations(server, served_assistant):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list().data] == ["cited-assistant"]
    completion = client.chat.completions.create(
        model="cited-assistant", messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Who is David Dalton?"}],
    )
    content = completion.choices[0].message.content
    expected = served_assistant.ask("Who is David Dalton?")
    assert content == expected.with_footnotes()
    assert "[1] " in content.split("\n\n", 1)[1] and "kf-2014-leaders-reform-from-within#p4" in content
    extra = completion.model_extra
    assert extra["citations"][0]["paragraph_id"] == expected.citations[0].paragraph_id
    assert extra["abstained"] is False and extra["status"] == "answered"


def test_openai_streaming_keeps_citations(server, served_assistant):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="cited-assistant", stream=True, messages=[{"role": "user", "content": "Who is David Dalton?"}]
    )
    chunks = list(stream)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == served_assistant.ask("Who is David Dalton?").with_footnotes()
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"][0]["paragraph_id"] == "kf-2014-leaders-reform-from-within#p4"
    assert chunks[-1].model_extra["status"] == "answered"
    # the raw stream ends with [DONE], as OpenAI's does
    with httpx.stream("POST", f"{server}/v1/chat/completions", timeout=60,
                      json={"stream": True, "messages": [{"role": "user", "content": "Who is David Dalton?"}]}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    bad = httpx.post(f"{server}/v1/chat/completions", json={"messages": [{"role": "user", "content": ""}], "stream": True})
    assert bad.status_code == 422 and "empty" in error_of(bad)


# --- docs -----------------------------------------------------------------------------------------


def test_the_answer_model_documents_status(server):
    schema = httpx.get(f"{server}/openapi.json").json()["components"]["schemas"]["AnswerOut"]
    assert schema["properties"]["status"]["enum"] == ["answered", "abstained", "failed"]
    assert "status" in schema["required"] and "error" in schema["properties"]


def published_validator(openapi: dict, path: str, method: str = "post"):
    """A JSON Schema validator for the 200 response of `path`, as the service publishes it ($refs
    resolved against the OpenAPI document's components)."""
    from jsonschema import Draft202012Validator

    schema = openapi["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    return Draft202012Validator({"allOf": [schema], "components": openapi["components"]})


def test_answers_match_the_published_schema(server):
    """The Answer JSON of /api/ask and /api/chat, answered and abstained, validates against the schema
    of /openapi.json, which allows no other key: a field added to Answer.to_dict() but not to the
    schema (or one the schema requires that the JSON lacks) fails here."""
    openapi = httpx.get(f"{server}/openapi.json").json()
    validator = published_validator(openapi, "/api/ask")
    answered = ask(server, "Who is David Dalton?", id="q1").json()
    abstained = ask(server, "What is the capital of France?").json()
    assert answered["status"] == "answered" and abstained["status"] == "abstained" and abstained["nearest"]
    for data in (answered, abstained):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, errors
    chat = httpx.post(f"{server}/api/chat", json={"messages": [{"role": "user", "content": "Who is David Dalton?"}]},
                      timeout=60).json()
    assert published_validator(openapi, "/api/chat").is_valid(chat)
    # the schema can fail: an unknown key, a missing one, a wrong status, an unknown citation key
    assert not validator.is_valid({**answered, "invented": 1})
    assert not validator.is_valid({k: v for k, v in answered.items() if k != "searched_for"})
    assert not validator.is_valid({**answered, "status": "maybe"})
    assert not validator.is_valid({**answered, "citations": [{**answered["citations"][0], "invented": 1}]})


def test_openapi_docs_are_served_without_a_cdn(server):
    page = httpx.get(f"{server}/docs").text
    assert "/openapi.json" in page and "/docs-static/swagger-ui-bundle.js" in page and "cdn" not in page
    assert httpx.get(f"{server}/docs-static/swagger-ui-bundle.js").status_code == 200
    schema = httpx.get(f"{server}/openapi.json").json()
    for path in ("/api/ask", "/api/chat", "/api/sources", "/api/sources/{document_id}", "/v1/chat/completions", "/healthz", "/readyz"):
        assert path in schema["paths"], path


# --- POST /api/verify ------------------------------------------------------------------------------

VERIFY_SOURCE = "The Harwick council will open two new public libraries in 2026. The Harwick Arts Trust will pay for both."


def test_verify_checks_claims_against_their_sources(server):
    claims = [{"id": "c1", "claim": "The Harwick Arts Trust will pay for both.", "source": VERIFY_SOURCE},
              {"id": "c2", "claim": "The Brensham council will open two new public libraries in 2026.", "source": VERIFY_SOURCE},
              {"id": "c3", "claim": "The Harwick Arts Trust will pay for nine libraries in 2031.", "source": VERIFY_SOURCE}]
    r = httpx.post(f"{server}/api/verify", json=claims, timeout=60)
    assert r.status_code == 200, r.text
    got = r.json()
    assert [g["id"] for g in got] == ["c1", "c2", "c3"]
    assert all(set(g) == {"id", "label", "score", "evidence"} for g in got)
    assert (got[0]["label"], got[0]["score"], got[0]["evidence"]) == ("supported", 1.0, "The Harwick Arts Trust will pay for both.")
    # names and numbers not in the source are never supported
    assert {got[1]["label"], got[2]["label"]} <= {"contradicted", "unsupported"}
    one = httpx.post(f"{server}/api/verify", json=claims[0], timeout=60).json()
    assert one == got[0]
    bad = httpx.post(f"{server}/api/verify", json=[claims[0], {"id": "c9", "claim": "x y z"}], timeout=60)
    assert bad.status_code == 422 and "item 2: 'source' is missing" in error_of(bad)
    assert httpx.post(f"{server}/api/verify", json=[claims[0], claims[0]], timeout=60).status_code == 422
    assert httpx.post(f"{server}/api/verify", content=b"[{", headers={"Content-Type": "application/json"}).status_code == 422


def test_verify_needs_credentials_like_every_route(secure):
    direct, _ = secure
    claim = {"id": "c1", "claim": "The Harwick Arts Trust will fund both libraries.", "source": VERIFY_SOURCE}
    assert httpx.post(f"{direct}/api/verify", json=claim).status_code == 401
    assert httpx.post(f"{direct}/api/verify", json=claim, headers=PUBLIC, timeout=60).status_code == 200


# --- auth and scoping -----------------------------------------------------------------------------


def test_auth_is_required_and_tokens_are_checked(secure):
    direct, proxied = secure
    for url in (direct, proxied):
        none = ask(url, "Who is David Dalton?")
        assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
        assert "Bearer" in error_of(none)
        assert ask(url, "Who is David Dalton?", {"Authorization": "Bearer wrong"}).status_code == 401
        assert ask(url, "Who is David Dalton?", {"Authorization": "Basic dG9rLWFsbA=="}).status_code == 401
        assert ask(url, "Who is David Dalton?", ALL).status_code == 200
    assert httpx.get(f"{direct}/api/sources").status_code == 401
    assert httpx.get(f"{direct}/sources/{HOSTILE_DOC}").status_code == 401
    assert httpx.post(f"{direct}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}).status_code == 401
    # health and the docs stay open
    assert httpx.get(f"{direct}/healthz").status_code == 200
    assert httpx.get(f"{direct}/docs").status_code == 200


def test_a_scoped_token_never_sees_another_collection(secure):
    _, url = secure
    # positive control: the unscoped token gets the secret paragraph
    full = ask(url, SECRET_QUESTION, ALL).json()
    assert [c["document_id"] for c in full["citations"]] == [SECRET_DOC]
    # the scoped token: not in its answers, citations, nearest passages, listings or source views
    scoped = ask(url, SECRET_QUESTION, PUBLIC).json()
    assert SECRET_DOC not in json.dumps(scoped) and "forty million" not in json.dumps(scoped)
    assert scoped["abstained"] is True
    for question in ("What is the capital of France?", "Quuxfield renal unit and operating theatres"):
        assert SECRET_DOC not in json.dumps(ask(url, question, PUBLIC).json())
    forbidden = ask(url, SECRET_QUESTION, PUBLIC, collections=["secret"])
    assert forbidden.status_code == 403 and "secret" in error_of(forbidden)
    assert ask(url, SECRET_QUESTION, PUBLIC, collections=["default"]).status_code == 200
    listed = {d["id"] for d in httpx.get(f"{url}/api/sources", headers=PUBLIC).json()}
    assert SECRET_DOC not in listed and HOSTILE_DOC in listed
    assert httpx.get(f"{url}/api/sources/{SECRET_DOC}", headers=PUBLIC).status_code == 404
    assert httpx.get(f"{url}/sources/{SECRET_DOC}", headers=PUBLIC).status_code == 404
    assert httpx.get(f"{url}/sources/{SECRET_DOC}", headers=ALL).status_code == 200
    # the OpenAI-compatible path is scoped the same way
    completion = httpx.post(f"{url}/v1/chat/completions", headers=PUBLIC, timeout=60,
                            json={"messages": [{"role": "user", "content": SECRET_QUESTION}]}).json()
    assert SECRET_DOC not in json.dumps(completion) and completion["citations"] == []
    completion = httpx.post(f"{url}/v1/chat/completions", headers=ALL, timeout=60,
                            json={"messages": [{"role": "user", "content": SECRET_QUESTION}]}).json()
    assert completion["citations"][0]["document_id"] == SECRET_DOC


def test_sso_header_is_believed_only_from_the_trusted_proxy(secure):
    direct, proxied = secure
    # through the proxy (connecting from 127.0.0.2): carol may see "secret", bob only "default" (the * rule)
    carol = ask(proxied, SECRET_QUESTION, {"X-Remote-User": "carol"}).json()
    assert [c["document_id"] for c in carol["citations"]] == [SECRET_DOC]
    bob = ask(proxied, SECRET_QUESTION, {"X-Remote-User": "bob"})
    assert bob.status_code == 200 and SECRET_DOC not in bob.text
    assert ask(proxied, SECRET_QUESTION, {"X-Remote-User": "bob"}, collections=["secret"]).status_code == 403
    assert httpx.get(f"{proxied}/sources/{SECRET_DOC}", headers={"X-Remote-User": "bob"}).status_code == 404
    # straight from 127.0.0.1 the same header is not believed
    spoofed = ask(direct, SECRET_QUESTION, {"X-Remote-User": "carol"})
    assert spoofed.status_code == 401 and "proxies" in error_of(spoofed)


def test_browser_login_sets_a_token_cookie(secure):
    _, url = secure
    page = httpx.get(f"{url}/", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/kb/login?next=/"
    assert "Access token" in httpx.get(f"{url}/login").text
    wrong = httpx.post(f"{url}/login", data={"token": "nope", "next": "/"})
    assert wrong.status_code == 401
    evil = httpx.post(f"{url}/login", data={"token": "tok-pub", "next": "//evil.example/"})
    assert evil.status_code == 303 and evil.headers["location"] == "/kb/"
    cookie = evil.cookies["assistant_token"]
    assert "httponly" in evil.headers["set-cookie"].lower() and "samesite=lax" in evil.headers["set-cookie"].lower()
    chat = httpx.get(f"{url}/", cookies={"assistant_token": cookie})
    assert chat.status_code == 200 and "gradio" in chat.text.lower()
    # the cookie carries the token's scope
    listed = {d["id"] for d in httpx.get(f"{url}/api/sources", cookies={"assistant_token": cookie}).json()}
    assert SECRET_DOC not in listed


def test_cors_and_frame_ancestors(secure, server):
    direct, _ = secure
    allowed = httpx.options(f"{direct}/api/ask", headers={
        "Origin": "https://intranet.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://intranet.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = httpx.options(f"{direct}/api/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers
    simple = ask(direct, "Who is David Dalton?", {**ALL, "Origin": "https://intranet.example"})
    assert simple.headers["access-control-allow-origin"] == "https://intranet.example"
    for response in (simple, httpx.get(f"{direct}/healthz"), httpx.get(f"{direct}/", headers=ALL)):
        assert response.headers["content-security-policy"] == "frame-ancestors 'self' https://intranet.example"
        assert "x-frame-options" not in response.headers
    # the default is self only, and no origin is allowed cross-site
    assert httpx.get(f"{server}/").headers["content-security-policy"] == "frame-ancestors 'self'"
    assert "access-control-allow-origin" not in httpx.get(f"{server}/healthz", headers={"Origin": "http://localhost:3000"}).headers


def test_sub_path_behind_a_reverse_proxy(secure):
    _, url = secure  # http://127.0.0.1:PORT/kb
    docs = httpx.get(f"{url}/docs").text
    assert "/kb/openapi.json" in docs and "/kb/docs-static/swagger-ui-bundle.js" in docs
    assert httpx.get(f"{url}/docs-static/swagger-ui.css").status_code == 200
    schema = httpx.get(f"{url}/openapi.json").json()
    assert schema["servers"] == [{"url": "/kb"}]
    document = httpx.get(f"{url}/api/sources/kf-2015-inner-stalin", headers=ALL).json()
    assert document["paragraphs"][6]["view"] == "/kb/sources/kf-2015-inner-stalin#p6"
    view = httpx.get(f"{url}/sources/kf-2015-inner-stalin", headers=ALL).text
    assert 'href="/kb/"' in view
    chat = httpx.get(f"{url}/", headers=ALL)
    assert chat.status_code == 200
    config = httpx.get(f"{url}/config", headers=ALL).json()
    assert config["root"].endswith("/kb"), config["root"]


# --- resilience ---------------------------------------------------------------------------------------


def test_an_llm_that_is_down_degrades_to_the_extractive_answer(served_corpus):
    pytest.importorskip("assistant.llm_answer")
    from assistant.config import Config
    from assistant.server import create_app

    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    config = Config.from_env(data_dir=served_corpus).replace(llm_base_url=dead, llm_timeout_s=2.0)
    with ServerThread(create_app(config), free_port()) as running:
        wait_ready(running.url)
        response = ask(running.url, "Who is David Dalton?")
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["notice"] and not data["abstained"] and data["citations"]
        completion = httpx.post(f"{running.url}/v1/chat/completions", timeout=60,
                                json={"messages": [{"role": "user", "content": "Who is David Dalton?"}]})
        assert completion.status_code == 200 and completion.json()["citations"]


def _serve_process(args: list[str], data_dir, port: int, env: dict | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "ASSISTANT_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


@pytest.mark.slow
def test_serve_on_an_empty_index_is_503_until_something_is_ingested(tmp_path):
    from assistant.config import Config
    from ingest.pipeline import run_ingest

    data_dir = tmp_path / "empty"
    port = free_port()
    process = _serve_process(["-m", "assistant.cli", "serve", "--no-ingest", "--port", str(port)], data_dir, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, path="/healthz")
        ready = httpx.get(f"{url}/readyz")
        assert ready.status_code == 503 and "assistant ingest" in error_of(ready)
        response = ask(url, "Who is David Dalton?")
        assert response.status_code == 503 and "no index" in error_of(response)
        assert response.headers["retry-after"]
        assert httpx.get(f"{url}/api/sources").status_code == 503
        # an ingest while the server runs is picked up without a restart
        folder = tmp_path / "docs"
        folder.mkdir()
        (folder / "note.txt").write_text("The Blorvic committee meets on the first Monday of each month.\n")
        run_ingest([folder], Config.from_env(data_dir=data_dir), progress=False)
        assert wait_ready(url, timeout=60).json()["documents"] == 1
        answer = ask(url, "When does the Blorvic committee meet?").json()
        assert answer["citations"][0]["paragraph_id"] == "note#p1"
    finally:
        _stop(process)


def test_serve_refuses_to_expose_itself_without_auth(tmp_path):
    result = run_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), "--no-ingest", data_dir=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in result.stderr
    assert "ASSISTANT_API_TOKENS" in result.stderr and "--insecure" in result.stderr
    bad = run_cli("serve", "--no-ingest", "--port", str(free_port()), data_dir=tmp_path, env={"ASSISTANT_API_TOKENS": "tok:"})
    assert bad.returncode == 2 and "ASSISTANT_API_TOKENS" in bad.stderr


@pytest.mark.slow
def test_app_py_brings_the_index_up_to_date_then_serves(sources_data_dir, tmp_path):
    data_dir = tmp_path / "index"
    shutil.copytree(sources_data_dir, data_dir)
    port = free_port()
    process = _serve_process(["app.py"], data_dir, port, env={"ASSISTANT_PORT": str(port)})
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_ready(url, timeout=180).json()["documents"] == 5
        assert ask(url, "Who is David Dalton?").json()["citations"]
        assert "gradio" in httpx.get(f"{url}/").text.lower()
    finally:
        out = _stop(process)
    assert "unchanged 5" in out, out
    assert f"http://127.0.0.1:{port}/" in out


# --- helpers --------------------------------------------------------------------------------------------


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    assert response.status_code == status, (response.status_code, response.text)
    return response


def _sse_events(lines) -> list[tuple[str, dict]]:
    events, kind = [], "message"
    for line in lines:
        if line.startswith("event: "):
            kind = line[len("event: "):]
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[len("data: "):])))
            kind = "message"
    return events


def test_load_script_refuses_non_loopback_urls():
    result = subprocess.run(
        [sys.executable, "-m", "eval.load_test", "--url", "http://10.1.2.3:7860", "--questions", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "loopback" in result.stderr


def test_load_script_runs_bounded_against_the_server(server):
    result = subprocess.run(
        [sys.executable, "-m", "eval.load_test", "--url", server, "--clients", "4", "--questions", "12", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["questions"] == 12 and report["errors"] == 0 and report["ok"] == 12
    assert report["p50_ms"] > 0 and report["p95_ms"] >= report["p50_ms"]


def test_load_script_splits_the_clients_between_replicas(server):
    second = server.replace("127.0.0.1", "localhost")  # the same server under a second name: two "replicas"
    assert second != server
    result = subprocess.run(
        [sys.executable, "-m", "eval.load_test", "--url", server, "--url", second, "--clients", "4", "--questions", "12",
         "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["errors"] == 0 and sum(report["answered_by"].values()) == 12
    assert set(report["answered_by"]) == {server.rstrip("/"), second.rstrip("/")}
