"""Shared by tests/test_server.py and tests/test_ui_browser.py: a test corpus with a hostile document
and a second collection, a real uvicorn server in a thread, a small stripping reverse proxy (for the
sub-path and the trusted-proxy address), and the headless Chromium launcher."""

from __future__ import annotations

import http.client
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

HOSTILE_DOC = "zorblax-widget-policy"
SECRET_DOC = "quuxfield-budget"
HOSTILE_QUESTION = "How often must Zorblax widgets be inspected?"
SECRET_QUESTION = "What is the Quuxfield hospital capital budget for 2031?"

HOSTILE_TEXT = """Zorblax widget inspection policy

This policy sets out how Zorblax widgets are inspected at the Quillby plant.

Zorblax widgets must be inspected every Tuesday by the <b>duty safety officer</b> <script>window.__pwned = 1</script> before the morning shift starts.

An inspection that finds a cracked widget casing <img src=x onerror="window.__pwned=2"> sends the widget back to the Quillby workshop for repair.

Inspection records are kept for seven years in the plant's paper ledger & the ${window.__pwned} {{constructor}} register.
"""

HOSTILE_METADATA = """["zorblax-widget-policy.txt"]
title = "Zorblax <i>widget</i> policy <script>window.__pwned=3</script>"
publisher = "Quillby & Sons <b>Ltd</b>"
author = "A. Tester"
date = "2031-02-03"
url = "javascript:window.__pwned=4"
"""

SECRET_TEXT = """Quuxfield hospital budget

The Quuxfield hospital trust has a capital budget of forty million pounds for 2031.

The Quuxfield budget pays for a new renal unit and two operating theatres.
"""


def write_hostile_and_secret(base: Path) -> tuple[Path, Path]:
    """Two corpora beside the bundled sources: `hostile/` (a document that tries to give orders, for
    "default") and `secret/` (a document for the "secret" collection). Returns their folders."""
    hostile = base / "hostile"
    hostile.mkdir()
    (hostile / "zorblax-widget-policy.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    (hostile / "metadata.toml").write_text(HOSTILE_METADATA, encoding="utf-8")
    secret = base / "secret"
    secret.mkdir()
    (secret / "quuxfield-budget.txt").write_text(SECRET_TEXT, encoding="utf-8")
    return hostile, secret


@pytest.fixture(scope="session")
def served_corpus(sources_data_dir, tmp_path_factory) -> Path:
    """A data folder: the bundled sources and a hostile document (HTML and <script> in its text and
    metadata) in the collection "default", and a document in the collection "secret"."""
    from assistant.config import Config
    from ingest.pipeline import run_ingest

    base = tmp_path_factory.mktemp("served")
    data_dir = base / "data"
    shutil.copytree(sources_data_dir, data_dir)
    (data_dir / "ingest.lock").unlink(missing_ok=True)
    hostile, secret = write_hostile_and_secret(base)
    config = Config.from_env(data_dir=data_dir)
    report = run_ingest([hostile], config, progress=False)
    assert report.added == [HOSTILE_DOC], report.summary()
    report = run_ingest([secret], config, collection="secret", progress=False)
    assert report.added == [SECRET_DOC], report.summary()
    return data_dir


@pytest.fixture(scope="session")
def served_assistant(served_corpus):
    """One Assistant (extractive) over the served corpus, shared by every test server."""
    from assistant.config import Config
    from assistant.core import Assistant

    return Assistant.open(config=Config.from_env(data_dir=served_corpus).replace(llm_base_url=None))


class ServerThread:
    """The real app under uvicorn on 127.0.0.1, in a thread of the test process."""

    def __init__(self, app, port: int, root_path: str = ""):
        import uvicorn

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, root_path=root_path, proxy_headers=False, log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{port}", daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {self.port} did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def wait_ready(url: str, timeout: float = 120, path: str = "/readyz") -> httpx.Response:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url + path, timeout=5)
            if last.status_code == 200:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url}{path} not ready: {last.status_code if last else 'no answer'} {last.text if last else ''}")


class StrippingProxy:
    """A reverse proxy on 127.0.0.1 serving the app under `prefix` (stripped before forwarding, as
    nginx's `proxy_pass http://app/;` does). Its connections to the app come from `source_address`,
    so the app can tell the proxy from a direct caller. Streams responses as they arrive."""

    def __init__(self, upstream_port: int, port: int, prefix: str, source_address: str = "127.0.0.2"):
        proxy = self
        self.url = f"http://127.0.0.1:{port}{prefix}"
        self.prefix = prefix

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                if not (self.path == proxy.prefix or self.path.startswith(proxy.prefix + "/")):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = self.path[len(proxy.prefix):] or "/"
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120,
                                                      source_address=(source_address, 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                headers["X-Forwarded-Prefix"] = proxy.prefix
                upstream.request(self.command, path, body=body, headers=headers)
                response = upstream.getresponse()
                self.send_response(response.status, response.reason)
                chunked = response.getheader("Content-Length") is None
                for key, value in response.getheaders():
                    if key.lower() in ("transfer-encoding", "connection", "keep-alive"):
                        continue
                    self.send_header(key, value)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                while True:
                    piece = response.read1(65536) if chunked else response.read(65536)
                    if not piece:
                        break
                    if chunked:
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    else:
                        self.wfile.write(piece)
                    self.wfile.flush()
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
                upstream.close()
                self.close_connection = True

            do_GET = do_POST = do_OPTIONS = do_HEAD = _forward

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=f"proxy-{port}", daemon=True)

    def __enter__(self) -> "StrippingProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def upload_file(page, component: str, path: Path, timeout_ms: int = 60_000) -> None:
    """Give `path` to the Gradio file component `component` (a CSS selector) and wait until it shows
    the file's name. Once, on a machine loaded by a training job besides the tests, the name never
    appeared (alone the same test passed): the files are set again once if it has not after half the time."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    shown = f"{component} >> text={path.name}"
    for attempt in range(2):
        page.locator(f"{component} input[type=file]").set_input_files(str(path))
        try:
            page.wait_for_selector(shown, timeout=timeout_ms // 2)
            return
        except PlaywrightTimeout:
            if attempt:
                raise


def launch_chromium(playwright):
    """Debian's chromium, headless. Skipped only outside CI when it is not installed."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
