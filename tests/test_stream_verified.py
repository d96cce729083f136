"""No unverified LLM text ever reaches a user (issue 12): answers stream one checked sentence at a
time, on every path.

- `MisbehavingLLMServer`: NOT an LLM. A tiny real OpenAI-compatible HTTP server on 127.0.0.1,
  started by these tests, that streams (in small pieces, cutting words and markers) one invented
  sentence between two sentences its sources support, all three citing the supporting paragraph.
  The invented sentence must never appear in `Assistant.stream`, `POST /api/ask/stream`,
  `POST /v1/chat/completions` with `stream: true`, or the browser chat (headless Chromium, every
  state of the transcript recorded as it changes); what is streamed joins to the final answer.
- A real llama.cpp server (SmolLM2, tests/llama_server.py) behind the real HTTP app: whatever the
  model writes, no sentence of it that the check rejects is streamed, and the streamed text is the
  final answer.
- `SentenceBuffer` on its own: a sentence is released once it is complete, not before.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from conftest import free_port
from llama_server import llama_server  # noqa: F401 (fixture)
from serving_helpers import ServerThread, launch_chromium, wait_ready
from test_llm import (
    LLM_LIMITS,
    LLM_TIMEOUT_S,
    assert_not_shown,
    assert_streamed_only_checked,
    assert_well_formed,
    record_llm_output,
    rejected_sentences,
)

from assistant.answer import Answer
from assistant.config import Config
from assistant.verify import SentenceBuffer

QUESTION = "What was Salford Royal's aim?"
P4 = "kf-2014-leaders-reform-from-within#p4"
# Word for word from the paragraph, so that the deterministic part of the check passes it: these tests
# are about what the stream holds back and shows, not about the trained model (tests/test_verify.py).
SUPPORTED_1 = "Transparent reporting of the results helped to stimulate change"
INVENTED = "Salford Royal was a non-profit organisation focused on the British people"
SUPPORTED_2 = "Key ingredients included setting specific goals for improvement and measuring progress towards them"
INVENTED_WORDS = ("non-profit", "British people")


class MisbehavingLLMServer:
    """NOT an LLM: a real HTTP server on loopback speaking the OpenAI chat-completions protocol,
    whose answer invents. It finds, in the prompt it is sent, the number of the paragraph that
    says "the safest organisation in the NHS" and streams, a few characters at a time:

        SUPPORTED_1 [n]. INVENTED [n]. SUPPORTED_2 [n][m].

    (`m`, another paragraph of the prompt that does not say SUPPORTED_2.) With `hold` set, it
    stops after the invented sentence until `release` is set, and sets `holding` meanwhile; with
    `cut` set, it closes the connection there instead, without finishing the stream."""

    def __init__(self, piece_chars: int = 5, delay_s: float = 0.01, hold: bool = False, cut: bool = False):
        self.piece_chars, self.delay_s, self.hold, self.cut = piece_chars, delay_s, hold, cut
        self.holding, self.release = threading.Event(), threading.Event()
        self.cited: list[int] = []
        self.requests = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                fake.requests += 1
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                parts = fake.answer_parts(body["messages"][-1]["content"])
                if not body.get("stream"):
                    return self._send_json({"choices": [{"index": 0, "finish_reason": "stop",
                                                         "message": {"role": "assistant", "content": "".join(parts)}}]})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for i, part in enumerate(parts):
                    if i == len(parts) - 1 and fake.cut:
                        self.close_connection = True
                        return
                    if i == len(parts) - 1 and fake.hold:
                        fake.holding.set()
                        fake.release.wait(30)
                    for piece in _pieces(part, fake.piece_chars):
                        self._event({"choices": [{"delta": {"content": piece}, "finish_reason": None}]})
                        time.sleep(fake.delay_s)
                self._event({"choices": [{"delta": {}, "finish_reason": "stop"}]})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def _event(self, data: dict) -> None:
                self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

            def _send_json(self, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer_parts(self, prompt: str) -> list[str]:
        """The three sentences, citing by the prompt's own numbering."""
        numbers = {int(n): text for n, text in re.findall(r"^\[(\d+)\] (.*)$", prompt, flags=re.M)}
        n = next(k for k, text in numbers.items() if "safest organisation in the NHS" in text)
        m = next((k for k, text in numbers.items() if k != n and "Key ingredients" not in text), n)
        self.cited = [n, m]
        return [f"{SUPPORTED_1} [{n}]. ", f"{INVENTED} [{n}]. ", f"{SUPPORTED_2} [{n}][{m}]."]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "MisbehavingLLMServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def llm_assistant(data_dir, base_url: str, timeout: float = 30.0):
    from assistant.core import Assistant

    config = Config.from_env(data_dir=data_dir).replace(llm_base_url=base_url, llm_timeout_s=timeout, **LLM_LIMITS)
    return Assistant.open(config=config)


def assert_invented_never_shown(text: str) -> None:
    for words in INVENTED_WORDS:
        assert words not in text, f"the invented sentence reached the user: {text!r}"


def assert_supported_answer(answer_text: str) -> None:
    assert answer_text == f"{SUPPORTED_1}. [1] {SUPPORTED_2}. [1]", answer_text


def sse_events(body: str) -> list[tuple[str | None, str]]:
    """(event name or None, data) for each server-sent event of a response body."""
    events, kind = [], None
    for line in body.splitlines():
        if line.startswith("event:"):
            kind = line[6:].strip()
        elif line.startswith("data:"):
            events.append((kind, line[5:].strip()))
            kind = None
    return events


@pytest.fixture(scope="module")
def misbehaving():
    with MisbehavingLLMServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def app_url(sources_data_dir, misbehaving):
    """The real HTTP app (and chat) answering with the misbehaving LLM server."""
    from assistant.server import create_app

    a = llm_assistant(sources_data_dir, misbehaving.base_url)
    with ServerThread(create_app(a.config, a), free_port()) as running:
        wait_ready(running.url)
        yield running.url


# --- the sentence buffer --------------------------------------------------------------------------


def test_a_sentence_is_released_only_once_complete():
    buffer = SentenceBuffer()
    assert buffer.feed("Salford Royal aimed to become the safest") == []
    assert buffer.feed(" organisation in the NHS. [") == []  # the marker may still be arriving
    assert buffer.feed("1") == []
    assert buffer.feed("] ") == []  # complete only once the next sentence begins
    [first] = buffer.feed("Sal")
    assert (first.text, first.markers) == ("Salford Royal aimed to become the safest organisation in the NHS.", [1])
    assert buffer.feed("ford Royal was. It ") == []  # uncited: waits for the markers it inherits
    assert buffer.feed("did well [2]") == []  # still the last sentence begun: "[2][3]" may follow
    released = buffer.feed(". Then")
    assert [(s.text, s.markers) for s in released] == [("Salford Royal was.", [2]), ("It did well.", [2])]
    assert buffer.feed(" more.") == []
    assert [(s.text, s.markers) for s in buffer.finish()] == [("Then more.", [])]
    assert buffer.finish() == []


# --- the misbehaving LLM server -------------------------------------------------------------------


def test_the_stream_holds_back_a_sentence_until_it_is_checked(sources_data_dir):
    with MisbehavingLLMServer(hold=True) as fake:
        stream = llm_assistant(sources_data_dir, fake.base_url).stream(QUESTION)
        first = next(stream)
        # Shown as soon as it was checked, while the server is still writing (it stops after the
        # invented sentence and waits for the release, which comes only after this).
        assert first == f"{SUPPORTED_1}. [1]"
        assert fake.holding.wait(30) and not fake.release.is_set()
        fake.release.set()
        rest = list(stream)
    answer = rest[-1]
    assert isinstance(answer, Answer) and all(isinstance(p, str) for p in rest[:-1])
    pieces = [first, *rest[:-1]]
    assert pieces == [f"{SUPPORTED_1}. [1]", f" {SUPPORTED_2}. [1]"]
    assert "".join(pieces) == answer.answer
    assert_supported_answer(answer.answer)
    assert "1 sentence" in answer.notice and "left out" in answer.notice
    assert [c.paragraph_id for c in answer.citations] == [P4]


def test_a_stream_cut_off_keeps_only_what_was_checked(sources_data_dir):
    with MisbehavingLLMServer(cut=True) as fake:
        a = llm_assistant(sources_data_dir, fake.base_url)
        events = list(a.stream(QUESTION))
    pieces, answer = events[:-1], events[-1]
    assert pieces == [f"{SUPPORTED_1}. [1]"] and answer.answer == "".join(pieces)
    assert answer.notice.startswith("The language model stopped before finishing"), answer.notice
    assert "broke off" in answer.notice and [c.paragraph_id for c in answer.citations] == [P4]


def test_misbehaving_server_through_assistant_stream(sources_data_dir, misbehaving, assistant):
    a = llm_assistant(sources_data_dir, misbehaving.base_url)
    pieces, final = [], None
    for event in a.stream(QUESTION):
        if isinstance(event, Answer):
            final = event
        else:
            pieces.append(event)
            assert_invented_never_shown(event)
    assert final is not None and "".join(pieces) == final.answer
    assert_supported_answer(final.answer)
    assert_well_formed(final, assistant.embedder)


def test_misbehaving_server_through_api_ask_stream(app_url, misbehaving):
    with httpx.stream("POST", f"{app_url}/api/ask/stream", json={"question": QUESTION}, timeout=60) as r:
        assert r.status_code == 200
        body = r.read().decode()
    assert_invented_never_shown(body)
    events = [(kind, json.loads(data)) for kind, data in sse_events(body)]
    deltas = [data["text"] for kind, data in events if kind == "delta"]
    [final] = [data for kind, data in events if kind == "answer"]
    assert len(deltas) == 2 and "".join(deltas) == final["answer"]
    assert_supported_answer(final["answer"])
    assert [c["paragraph_id"] for c in final["citations"]] == [P4]


def test_misbehaving_server_through_openai_stream(app_url, misbehaving):
    request = {"stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", f"{app_url}/v1/chat/completions", json=request, timeout=60) as r:
        assert r.status_code == 200
        body = r.read().decode()
    assert_invented_never_shown(body)
    assert "Checked answer" not in body
    chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    text, footnotes = content.split("\n\n", 1)
    assert_supported_answer(text)
    assert footnotes.startswith("[1] ") and P4 in footnotes
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert [c["paragraph_id"] for c in chunks[-1]["citations"]] == [P4]
    assert body.rstrip().endswith("data: [DONE]")


@pytest.mark.browser
def test_misbehaving_server_never_reaches_the_chat(app_url, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(app_url + "/")
            page.wait_for_selector("#question textarea", timeout=60_000)
            # Every state the transcript passes through is recorded as it happens.
            page.evaluate("""() => {
                window.__seen = [];
                const t = document.querySelector('#transcript');
                new MutationObserver(() => window.__seen.push(t.innerText))
                    .observe(t, {subtree: true, childList: true, characterData: true});
            }""")
            page.fill("#question textarea", QUESTION)
            page.click("#ask")
            page.wait_for_function("document.querySelectorAll('#transcript .bot:not(.pending)').length > 0", timeout=60_000)
            answer = page.locator("#transcript .bot").last
            shown = answer.locator(".answer-text").inner_text()
            seen = page.evaluate("window.__seen")
            page.screenshot(path=str(tmp_path / "checked-stream.png"), full_page=True)
        finally:
            browser.close()
    assert SUPPORTED_1 in shown and SUPPORTED_2 in shown
    assert seen, "the transcript changed while answering"
    for state in [*seen, shown]:
        assert_invented_never_shown(state)


# --- a real llama.cpp server ------------------------------------------------------------------------


@pytest.mark.llm
@pytest.mark.slow
def test_real_llm_streams_only_checked_sentences_over_http(llama_server, sources_data_dir):
    from assistant.server import create_app

    a = llm_assistant(sources_data_dir, llama_server.base_url, timeout=LLM_TIMEOUT_S)
    raw = record_llm_output(a)
    questions = ("What was Salford Royal's aim?", "What did Ara Darzi argue about politicians?")
    with ServerThread(create_app(a.config, a), free_port()) as running:
        wait_ready(running.url)
        for question in questions:
            raw.clear()
            response = httpx.post(f"{running.url}/api/ask/stream", json={"question": question}, timeout=600)
            events = [(kind, json.loads(data)) for kind, data in sse_events(response.text)]
            deltas = [data["text"] for kind, data in events if kind == "delta"]
            [final] = [Answer.from_dict(data) for kind, data in events if kind == "answer"]
            assert len(raw) > 1, "the model answered, streamed"
            rejected = rejected_sentences(a, question, "".join(raw))
            assert_streamed_only_checked(deltas, final, rejected)
            assert_well_formed(final, a.embedder)
            print(f"\n{question}\n  generated: {''.join(raw)!r}\n  streamed: {deltas!r}\n  rejected: {rejected!r}")

            raw.clear()
            request = {"stream": True, "messages": [{"role": "user", "content": question}]}
            response = httpx.post(f"{running.url}/v1/chat/completions", json=request, timeout=600)
            chunks = [json.loads(data) for _, data in sse_events(response.text) if data.startswith("{")]
            content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
            assert len(raw) > 1 and "Checked answer" not in content
            assert_not_shown(content, rejected_sentences(a, question, "".join(raw)))
