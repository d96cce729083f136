"""The one-tag intranet widget (`GET /widget.js`, assistant/widget.py) in real headless Chromium
against the real server on loopback: a page on a second loopback origin, under a strict CSP and with
no script of its own, embeds it with one tag; the widget asks a streamed /api/chat and shows cited
answers whose links (source view, PDF page) work; an unlisted origin is refused; the page's CSS does
not reach into it; source text full of HTML stays text; keyboard and phone width work; the
credentials are a `data-token` bearer or the browser's own (the login cookie)."""

from __future__ import annotations

import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from unittest import mock

import httpx
import pytest
from conftest import free_port, run_cli
from serving_helpers import (
    HOSTILE_DOC,
    HOSTILE_QUESTION,
    ServerThread,
    wait_ready,
    write_hostile_and_secret,
)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 90_000
TOKEN = "tok-widget"
PDF_FACT = ("The county sprocket library lent 48,200 sprockets to primary schools in its first year, "
            "three times the number its business case had forecast.")
PDF_QUESTION = "How many sprockets did the county library lend to primary schools in its first year?"

HOST_CSS = """
* { font-family: "Comic Sans MS", cursive !important; letter-spacing: 3px !important; text-transform: uppercase; }
html, body { color: rgb(255, 0, 0); font-size: 28px; line-height: 3; }
button { background: rgb(255, 0, 0) !important; color: yellow !important; padding: 40px !important;
         border: 6px dashed lime !important; border-radius: 0 !important; font-size: 30px !important; width: 100%; }
p { color: rgb(255, 0, 0) !important; font-size: 40px !important; margin: 50px !important; }
textarea { background: black !important; height: 300px !important; }
"""

STYLE_PROPERTIES = [
    "color", "backgroundColor", "fontFamily", "fontSize", "fontWeight", "lineHeight", "letterSpacing", "textTransform",
    "paddingTop", "paddingLeft", "marginTop", "borderTopWidth", "borderTopStyle", "borderTopColor", "borderTopLeftRadius",
    "display", "position", "width", "height",
]


def make_pdf(path: Path) -> None:
    """A two-page report whose fact is on page 2."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("Annual Review of Sprocket Services 2025")
    pdf.setFont("Helvetica-Bold", 20)
    pdf.drawString(72, 760, "Annual Review of Sprocket Services")
    pdf.setFont("Helvetica", 11)
    pdf.drawString(72, 720, "This review describes the first year of the county's sprocket library.")
    pdf.showPage()
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(72, 760, "Lending in the first year")
    pdf.setFont("Helvetica", 11)
    words, line, y = PDF_FACT.split(), "", 730
    for word in words:  # wrapped by hand at about 85 characters
        if len(line) + len(word) > 85:
            pdf.drawString(72, y, line)
            line, y = "", y - 15
        line = f"{line} {word}".strip()
    pdf.drawString(72, y, line)
    pdf.showPage()
    pdf.save()


@pytest.fixture(scope="module")
def widget_assistant(sources_data_dir, tmp_path_factory):
    """The bundled sources, a hostile document (HTML and <script> in its text and metadata) and a PDF,
    all in the collection "default", answered extractively."""
    from assistant.config import Config
    from assistant.core import Assistant
    from ingest.pipeline import run_ingest

    base = tmp_path_factory.mktemp("widget")
    data_dir = base / "data"
    shutil.copytree(sources_data_dir, data_dir)
    (data_dir / "ingest.lock").unlink(missing_ok=True)
    hostile, _secret = write_hostile_and_secret(base)
    reports = base / "reports"
    reports.mkdir()
    make_pdf(reports / "sprocket-review.pdf")
    config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None)
    report = run_ingest([hostile, reports], config, progress=False)
    assert len(report.added) == 2, report.summary()
    return config, Assistant.open(config=config)


class HostPages:
    """An intranet page server on its own loopback origin: path -> (body, content type), every page
    under `csp` (no inline script anywhere: the pages hold only the widget's tag)."""

    def __init__(self, port: int, pages: dict[str, tuple[str, str, str]]):
        self.url = f"http://127.0.0.1:{port}"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body, content_type, csp = pages.get(self.path, ("not found", "text/plain", "default-src 'none'"))
                data = body.encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Security-Policy", csp)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"host-{port}", daemon=True)

    def __enter__(self) -> "HostPages":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def host_page(assistant_url: str, token: str | None = TOKEN, stylesheet: bool = False) -> str:
    data_token = f' data-token="{token}"' if token else ""
    link = '<link rel="stylesheet" href="/host.css">' if stylesheet else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Intranet</title>'
        f'{link}<script src="{assistant_url}/widget.js" defer{data_token}></script></head>'
        '<body><h1>Staff news</h1><p id="host-p">The canteen reopens on Monday.</p>'
        '<button id="host-button" type="button">A button of the page</button></body></html>'
    )


def strict_csp(assistant_url: str, style_src: str) -> str:
    """What the host must allow: the script and the API on the assistant's origin; nothing for styles
    (the widget's stylesheet is a constructed one in its shadow root)."""
    return (f"default-src 'none'; script-src {assistant_url}; connect-src {assistant_url}; style-src {style_src}; "
            "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@pytest.fixture(scope="module")
def sites(widget_assistant):
    """(assistant URL, listed intranet origin, unlisted origin): the assistant with a token scoped to
    "default" and one widget origin; the two intranet sites serve pages embedding the widget."""
    from assistant.server import create_app

    config, assistant = widget_assistant
    intranet_port, other_port = free_port(), free_port()
    intranet = f"http://127.0.0.1:{intranet_port}"
    config = config.replace(api_tokens=(f"{TOKEN}:default",), widget_origins=(intranet + "/",))  # a trailing slash is fine
    with ServerThread(create_app(config, assistant), free_port()) as server:
        wait_ready(server.url)
        url = server.url
        pages = {
            "/": (host_page(url), "text/html", strict_csp(url, "'none'")),
            "/styled": (host_page(url, stylesheet=True), "text/html", strict_csp(url, "'self'")),
            "/plain": (host_page(url), "text/html", strict_csp(url, "'self'")),
            "/no-token": (host_page(url, token=None), "text/html", strict_csp(url, "'none'")),
            "/host.css": (HOST_CSS, "text/css", "default-src 'none'"),
        }
        with HostPages(intranet_port, pages) as listed, HostPages(other_port, pages) as unlisted:
            yield url, listed.url, unlisted.url


@pytest.fixture()
def context(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    context.on("weberror", lambda error: problems.append(f"page error: {error.error}"))

    def watch(page):
        # a blocked script, style or connection is reported on the console
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)

    context.on("page", watch)
    yield context
    context.close()
    assert not problems, problems


def open_widget(page):
    launcher = page.get_by_role("button", name="Ask the sources")
    launcher.click()
    question = page.get_by_role("textbox", name="Question")
    question.wait_for(state="visible")
    return question


def ask(page, question_text: str):
    """Ask in the open panel; the finished answer's message."""
    before = page.locator(".msg.bot:not(.pending)").count()
    question = page.get_by_role("textbox", name="Question")
    question.fill(question_text)
    question.press("Enter")
    page.wait_for_function(
        "n => document.querySelector('ask-the-sources').shadowRoot.querySelectorAll('.msg.bot:not(.pending)').length > n",
        arg=before, timeout=TIMEOUT_MS,
    )
    return page.locator(".msg.bot").last


def fetch(url: str, **kw) -> httpx.Response:
    return httpx.get(url.split("#")[0], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30, **kw)


def test_widget_streams_a_cited_answer_whose_links_open_the_paragraph(context, sites, tmp_path):
    from bs4 import BeautifulSoup

    assistant_url, intranet, _ = sites
    page = context.new_page()
    page.goto(intranet + "/")
    open_widget(page)
    with page.expect_response(lambda r: r.url == f"{assistant_url}/api/chat" and r.request.method == "POST") as chat:
        answer = ask(page, "Who is David Dalton?")
    request = chat.value.request
    assert request.post_data_json["stream"] is True
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert chat.value.headers["content-type"].startswith("text/event-stream")
    assert chat.value.headers["access-control-allow-origin"] == intranet
    assert "Origin" in chat.value.headers["vary"]  # a cache must not serve it to another origin
    assert "answered" in answer.get_attribute("class")
    assert "Salford Royal" in answer.locator("p.answer").inner_text()
    page.screenshot(path=str(tmp_path / "widget-answer.png"))

    marker = answer.locator("a.cite").first
    assert marker.inner_text() == "[1]"
    href = marker.get_attribute("href")
    assert href == f"{assistant_url}/sources/kf-2014-leaders-reform-from-within#p4"  # absolute, on the script's origin
    assert marker.get_attribute("target") == "_blank"
    assert answer.locator("li.source a.source-title").first.get_attribute("href") == href
    view = fetch(href)
    assert view.status_code == 200
    paragraph = BeautifulSoup(view.text, "html.parser").find(id="p4")
    assert "David Dalton" in paragraph.get_text()
    assert answer.locator("li.source blockquote").first.inner_text() in paragraph.get_text()

    # a follow-up is asked with the conversation: its search leans on the first question
    follow_up = ask(page, "What was his aim?")
    assert "David Dalton" in follow_up.locator(".searched").inner_text()
    # the widget's own styles apply, though the page's CSP allows no style at all (style-src 'none')
    launcher = page.get_by_role("button", name="Ask the sources")
    assert launcher.evaluate("el => getComputedStyle(el).position") == "fixed"
    assert page.locator(".panel").evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(255, 255, 255)"


def test_a_pdf_citation_links_to_its_page_of_the_original(context, sites):
    assistant_url, intranet, _ = sites
    page = context.new_page()
    page.goto(intranet + "/")
    open_widget(page)
    answer = ask(page, PDF_QUESTION)
    assert "answered" in answer.get_attribute("class")
    assert "48,200" in answer.locator("p.answer").inner_text()
    source = answer.locator("li.source").first
    assert "p. 2" in source.locator(".meta").inner_text()
    document_id = source.get_attribute("data-paragraph-id").split("#")[0]
    pdf = source.locator("a.open-pdf")
    assert pdf.inner_text() == "Open the PDF at p. 2"
    assert pdf.get_attribute("href").startswith(f"{assistant_url}/sources/{document_id}/original#page=2&search=")
    original = fetch(pdf.get_attribute("href"))
    assert original.status_code == 200 and original.headers["content-type"] == "application/pdf"
    assert original.content.startswith(b"%PDF")
    view = fetch(answer.locator("a.cite").first.get_attribute("href"))
    assert view.status_code == 200 and "48,200 sprockets" in view.text


def test_source_text_full_of_html_is_shown_as_text(context, sites, tmp_path):
    _, intranet, _ = sites
    page = context.new_page()
    page.goto(intranet + "/")
    open_widget(page)
    answer = ask(page, HOSTILE_QUESTION)
    assert "answered" in answer.get_attribute("class")
    assert "<b>duty safety officer</b> <script>window.__pwned = 1</script>" in answer.locator("p.answer").inner_text()
    title = answer.locator("li.source a.source-title").first
    assert title.inner_text() == "Zorblax <i>widget</i> policy <script>window.__pwned=3</script>"
    assert title.get_attribute("href").endswith(f"/sources/{HOSTILE_DOC}#p2")
    assert "Quillby & Sons <b>Ltd</b>" in answer.locator("li.source .meta").first.inner_text()
    answer = ask(page, "What happens when an inspection finds a cracked widget casing?")
    assert '<img src=x onerror="window.__pwned=2">' in answer.inner_text()
    messages = page.locator(".msg")
    assert messages.count() == 4
    assert page.locator(".log script, .log img, .log b, .log i").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.screenshot(path=str(tmp_path / "widget-hostile.png"))


def test_unlisted_origins_are_refused_at_preflight(context, sites):
    assistant_url, intranet, unlisted = sites
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = httpx.options(f"{assistant_url}/api/chat", headers={"Origin": intranet, **preflight})
    assert allowed.status_code in (200, 204)
    assert allowed.headers["access-control-allow-origin"] == intranet
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    for origin, path in ((unlisted, "/api/chat"), ("https://evil.example", "/api/chat"), (intranet, "/api/sources")):
        refused = httpx.options(f"{assistant_url}{path}", headers={"Origin": origin, **preflight})
        assert refused.status_code >= 400, (origin, path)
        assert "access-control-allow-origin" not in refused.headers, (origin, path)
    # a listed origin may not ask for other methods or headers either
    odd = httpx.options(f"{assistant_url}/api/chat", headers={
        "Origin": intranet, "Access-Control-Request-Method": "DELETE"})
    assert odd.status_code >= 400 and "access-control-allow-origin" not in odd.headers
    # an actual request from an unlisted origin is answered without the header, so the browser hides it
    plain = httpx.post(f"{assistant_url}/api/chat", headers={"Origin": unlisted, "Authorization": f"Bearer {TOKEN}"},
                       json={"messages": [{"role": "user", "content": "Who is David Dalton?"}]}, timeout=60)
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
    # and in the browser the widget on the unlisted site gets no answer, and says so
    page = context.new_page()
    page.goto(unlisted + "/")
    open_widget(page)
    answer = ask(page, "Who is David Dalton?")
    assert "failed" in answer.get_attribute("class")
    assert "could not be reached" in answer.inner_text()
    assert page.locator(".msg.answered").count() == 0


def test_the_pages_css_does_not_reach_into_the_widget(context, sites, tmp_path):
    _, intranet, _ = sites

    def styles(path: str) -> tuple[dict, dict]:
        page = context.new_page()
        page.goto(intranet + path)
        before = page.get_by_role("button", name="Ask the sources").evaluate(
            "(el, props) => Object.fromEntries(props.map(p => [p, getComputedStyle(el)[p]]))", STYLE_PROPERTIES)
        open_widget(page)
        inside = {"launcher": before}
        for name, selector in (("panel", ".panel"), ("heading", ".head h2"), ("paragraph", ".log p.empty"),
                               ("textarea", "textarea"), ("send", "button.send"), ("close", "button.close")):
            inside[name] = page.locator(f"ask-the-sources {selector}").evaluate(
                "(el, props) => Object.fromEntries(props.map(p => [p, getComputedStyle(el)[p]]))", STYLE_PROPERTIES)
        host = page.locator("#host-button").evaluate("el => getComputedStyle(el).backgroundColor")
        if path == "/styled":
            page.screenshot(path=str(tmp_path / "widget-styled-host.png"))
        page.close()
        return inside, {"host button": host}

    plain, plain_host = styles("/plain")
    styled, styled_host = styles("/styled")
    assert plain_host != styled_host == {"host button": "rgb(255, 0, 0)"}  # the stylesheet did restyle the page
    for name in plain:
        assert styled[name] == plain[name], name


def test_keyboard_only_and_phone_width(browser, sites, tmp_path):
    _, intranet, _ = sites
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(intranet + "/")
    launcher = page.get_by_role("button", name="Ask the sources")
    launcher.wait_for()
    box = launcher.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    # Tab to the page's own button, then to the widget's (it comes last in the page), Enter opens it
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert launcher.evaluate("el => el.getRootNode().activeElement === el")
    page.keyboard.press("Enter")
    question = page.get_by_role("textbox", name="Question")
    question.wait_for(state="visible")
    assert question.evaluate("el => el.getRootNode().activeElement === el")  # focus moved to the textbox
    assert launcher.get_attribute("aria-expanded") == "true"
    dialog = page.get_by_role("dialog", name="Ask the sources")
    panel = dialog.bounding_box()
    assert panel == {"x": 0, "y": 0, "width": 390, "height": 844}  # the whole screen at phone width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "widget-phone.png"))
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    assert launcher.get_attribute("aria-expanded") == "false"
    assert launcher.evaluate("el => el.getRootNode().activeElement === el")  # focus back on the button
    context.close()


def test_the_browsers_own_credentials_work_without_a_token(context, sites):
    assistant_url, intranet, _ = sites
    page = context.new_page()
    page.goto(intranet + "/no-token")
    open_widget(page)
    refused = ask(page, "Who is David Dalton?")
    assert "failed" in refused.get_attribute("class")
    assert refused.get_by_role("link", name="Sign in to the assistant").get_attribute("href") == f"{assistant_url}/login"
    # logged in on the assistant's own site (its HttpOnly cookie; SSO at a proxy works the same way)
    login = context.request.post(f"{assistant_url}/login", form={"token": TOKEN, "next": "/healthz"}, max_redirects=0)
    assert login.status == 303
    page.reload()
    open_widget(page)
    with page.expect_request(lambda r: r.url == f"{assistant_url}/api/chat" and r.method == "POST") as sent:
        answer = ask(page, "Who is David Dalton?")
    assert "authorization" not in sent.value.headers
    assert "answered" in answer.get_attribute("class")
    assert "Salford Royal" in answer.locator("p.answer").inner_text()


def test_widget_js_is_public_javascript(sites):
    assistant_url, _, _ = sites
    response = httpx.get(f"{assistant_url}/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "attachShadow" in response.text and "eval(" not in response.text and "innerHTML" not in response.text
    schema = httpx.get(f"{assistant_url}/openapi.json").json()
    assert "/widget.js" in schema["paths"]
    assert "stream" in schema["components"]["schemas"]["ChatRequest"]["properties"]


def test_widget_origins_are_read_and_checked():
    from assistant.config import Config
    from assistant.widget import check_widget_origins

    with mock.patch.dict(os.environ, {"ASSISTANT_WIDGET_ORIGINS": "https://Portal.example.org/, http://10.0.0.7:8080"}):
        origins = Config.from_env().widget_origins
    assert check_widget_origins(origins) == ("https://portal.example.org", "http://10.0.0.7:8080")
    for bad in ("*", "portal.example.org", "https://portal.example.org/news", "null"):
        with pytest.raises(ValueError, match="ASSISTANT_WIDGET_ORIGINS"):
            check_widget_origins([bad])
    # `assistant serve` stops at once, with the reason
    refused = run_cli("serve", "--no-ingest", env={"ASSISTANT_WIDGET_ORIGINS": "*"}, timeout=60)
    assert refused.returncode == 2 and "ASSISTANT_WIDGET_ORIGINS" in refused.stderr
