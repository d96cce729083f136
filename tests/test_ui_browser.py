"""The web chat in real headless Chromium (Debian's, driven by Playwright) against the real server:
ask, see the answer stream in, open a citation and land on the highlighted paragraph; a document
full of HTML and <script> stays inert text; abstentions look different; follow-ups show what was
searched; copy keeps the footnotes; new chat; phone width. Screenshots go to the test's tmp_path."""

from __future__ import annotations

import re

import pytest
from conftest import free_port
from serving_helpers import (  # noqa: F401 - fixtures
    HOSTILE_DOC,
    HOSTILE_QUESTION,
    ServerThread,
    StrippingProxy,
    served_assistant,
    served_corpus,
    wait_ready,
)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def server(served_corpus, served_assistant):
    """The chat behind a reverse proxy at the sub-path /chat, so every link is checked with a root path."""
    from assistant.config import Config
    from assistant.server import create_app

    config = Config.from_env(data_dir=served_corpus).replace(llm_base_url=None, root_path="/chat")
    port = free_port()
    with ServerThread(create_app(config, served_assistant), port, root_path="/chat"):
        with StrippingProxy(port, free_port(), "/chat") as proxy:
            wait_ready(proxy.url)
            yield proxy.url


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.split("/chat")[0])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    page.wait_for_selector("#question textarea", timeout=TIMEOUT_MS)
    yield page
    context.close()
    assert not errors, errors


def ask(page, question: str) -> None:
    before = page.locator("#transcript .bot:not(.pending)").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        "n => document.querySelectorAll('#transcript .bot:not(.pending)').length > n", arg=before, timeout=TIMEOUT_MS
    )


def last_answer(page):
    return page.locator("#transcript .bot").last


def test_ask_see_the_streamed_answer_open_a_citation(page, tmp_path):
    # the streamed state is recorded as it happens: a pending bubble with the text so far, then the answer
    page.evaluate("""() => {
        window.__seen = [];
        new MutationObserver(() => {
            for (const el of document.querySelectorAll('#transcript .bot')) window.__seen.push(el.className);
        }).observe(document.querySelector('#transcript'), {subtree: true, childList: true, characterData: true});
    }""")
    assert page.locator("#examples").is_visible()
    ask(page, "Who is David Dalton?")
    answer = last_answer(page)
    assert "answered" in answer.get_attribute("class")
    assert "Salford Royal" in answer.locator(".answer-text").inner_text()
    seen = page.evaluate("window.__seen")
    assert any("pending" in c for c in seen) and any("answered" in c for c in seen), seen
    assert not page.locator("#examples").is_visible()
    # the sources panel: title, publisher, date, paragraph number, whole paragraph, quote highlighted
    source = answer.locator("li.source").first
    assert "NHS leaders must change" in source.locator(".source-title").inner_text()
    assert "The King's Fund" in source.locator(".source-meta").inner_text()
    assert "¶4" in source.locator(".source-meta").inner_text()
    assert "Salford Royal" in source.locator("blockquote.paragraph mark").inner_text()
    page.screenshot(path=str(tmp_path / "chat-answer.png"), full_page=True)

    marker = answer.locator("a.cite").first
    assert marker.inner_text() == "[1]"
    assert marker.get_attribute("href") == "/chat/sources/kf-2014-leaders-reform-from-within#p4"
    with page.context.expect_page() as opened:
        marker.click()
    source_page = opened.value
    source_page.wait_for_load_state()
    assert source_page.url.endswith("/chat/sources/kf-2014-leaders-reform-from-within#p4")
    target = source_page.locator(":target")
    assert target.get_attribute("id") == "p4"
    assert "David Dalton" in target.inner_text()
    highlighted = target.evaluate("el => getComputedStyle(el).backgroundColor")
    plain = source_page.locator("#p3").evaluate("el => getComputedStyle(el).backgroundColor")
    assert highlighted != plain
    box = target.bounding_box()
    assert box is not None and 0 <= box["y"] < source_page.viewport_size["height"]  # scrolled into view
    source_page.screenshot(path=str(tmp_path / "source-view.png"))
    assert (tmp_path / "source-view.png").stat().st_size > 0


def test_hostile_document_is_inert_text_in_chat_and_source_view(page, tmp_path):
    ask(page, HOSTILE_QUESTION)
    answer = last_answer(page)
    text = answer.locator(".answer-text").inner_text()
    assert "<b>duty safety officer</b> <script>window.__pwned = 1</script>" in text
    assert answer.locator("script, img, b, i").count() == 0
    assert "Zorblax <i>widget</i> policy <script>window.__pwned=3</script>" in answer.locator(".source-title").first.inner_text()
    assert "Quillby & Sons <b>Ltd</b>" in answer.locator(".source-meta").first.inner_text()
    assert answer.locator("a.original").count() == 0  # its URL was javascript:
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=str(tmp_path / "hostile-chat.png"), full_page=True)

    with page.context.expect_page() as opened:
        answer.locator("a.cite").first.click()
    view = opened.value
    view.wait_for_load_state()
    assert view.locator(":target").get_attribute("id") == "p2"
    assert "<script>window.__pwned = 1</script>" in view.locator("#p2").inner_text()
    assert '<img src=x onerror="window.__pwned=2">' in view.locator("#p3").inner_text()
    assert "${window.__pwned} {{constructor}}" in view.locator("#p4").inner_text()
    assert view.locator("main script, main img, main b").count() == 0
    assert view.title() == "Zorblax <i>widget</i> policy <script>window.__pwned=3</script>"
    assert view.evaluate("window.__pwned") is None
    view.screenshot(path=str(tmp_path / "hostile-source.png"), full_page=True)


def test_abstention_looks_different_and_follow_up_shows_the_search(page):
    bots = page.locator("#transcript .bot")
    ask(page, "What is the capital of France?")
    ask(page, "Who is David Dalton?")
    abstained, answered = bots.nth(0), bots.nth(1)
    assert "answered" in answered.get_attribute("class")
    assert "abstained" in abstained.get_attribute("class")
    assert abstained.locator(".badge").inner_text().lower() == "not in the sources"
    assert "nearest passages, not an answer" in abstained.locator(".nearest-label").inner_text().lower()
    assert abstained.locator(".nearest li").count() >= 1
    assert abstained.locator("details.sources").count() == 0
    style = "el => [getComputedStyle(el).borderStyle, getComputedStyle(el).backgroundColor]"
    assert abstained.evaluate(style) != answered.evaluate(style)
    # a follow-up leaning on the conversation shows the standalone query it searched for
    ask(page, "What was his aim?")
    follow_up = bots.nth(2)
    assert re.search(r"Searched for: .*David Dalton", follow_up.locator(".searched").inner_text())
    assert answered.locator(".searched").count() == 0


def test_copy_keeps_citations_as_footnotes(page, served_assistant):
    ask(page, "Who is David Dalton?")
    last_answer(page).locator("button.copy-answer").click()
    page.wait_for_function("() => [...document.querySelectorAll('button.copy-answer')].some(b => b.textContent === 'Copied')")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == served_assistant.ask("Who is David Dalton?").with_footnotes()
    assert re.search(r"\n\n\[1\] .*¶4 \(kf-2014-leaders-reform-from-within#p4\)", copied)


def test_new_chat_and_example_questions_at_phone_width(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(server + "/")
    page.wait_for_selector("#question textarea", timeout=TIMEOUT_MS)
    examples = page.locator("#examples button")
    assert examples.count() >= 3
    first = examples.first.inner_text()
    examples.first.click()
    page.wait_for_selector("#transcript .bot:not(.pending)", timeout=TIMEOUT_MS)
    assert page.locator("#transcript .msg.user .bubble").first.inner_text() == first
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    assert page.locator("#ask").is_visible() and page.locator("#question textarea").is_visible()
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    page.click("#new-chat")
    page.wait_for_function("() => !document.querySelector('#transcript .msg')", timeout=TIMEOUT_MS)
    assert page.locator("#examples").is_visible()
    assert "Ask a question about the sources" in page.locator("#transcript").inner_text()
    context.close()


@pytest.fixture(scope="module")
def secure_server(served_corpus, served_assistant):
    """Tokens only: one sees everything, one only the collection "default"."""
    from assistant.config import Config
    from assistant.server import create_app

    config = Config.from_env(data_dir=served_corpus).replace(llm_base_url=None, api_tokens=("tok-all", "tok-pub:default"))
    with ServerThread(create_app(config, served_assistant), free_port()) as running:
        wait_ready(running.url)
        yield running.url


def test_chat_after_token_login_is_scoped_to_the_tokens_collections(browser, secure_server, tmp_path):
    from serving_helpers import SECRET_DOC, SECRET_QUESTION

    def log_in_and_ask(token: str):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.goto(secure_server + "/")
        assert "/login" in page.url  # sent to the login page first
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_selector("#question textarea", timeout=TIMEOUT_MS)
        ask(page, SECRET_QUESTION)
        return context, page, last_answer(page)

    context, page, answer = log_in_and_ask("tok-all")  # positive control
    assert "answered" in answer.get_attribute("class")
    assert answer.locator("li.source").first.get_attribute("data-paragraph-id") == f"{SECRET_DOC}#p1"
    context.close()

    context, page, answer = log_in_and_ask("tok-pub")
    assert "abstained" in answer.get_attribute("class")
    html = page.locator("#transcript").inner_html()
    assert SECRET_DOC not in html and "forty million" not in html
    page.screenshot(path=str(tmp_path / "scoped.png"), full_page=True)
    view = context.new_page()
    response = view.goto(f"{secure_server}/sources/{SECRET_DOC}")
    assert response.status == 404
    context.close()
