"""Shared fixtures: one real index of the bundled sources per test session (ingesting costs a few
seconds), and helpers to run the `assistant` command as a user would."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.offline import switch_off_telemetry

switch_off_telemetry()

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "sources"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, data_dir: Path | None = None, env: dict | None = None, timeout: float = 300, input: str | None = None):
    """Run `python -m assistant.cli ARGS` in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    if data_dir is not None:
        full_env["ASSISTANT_DATA_DIR"] = str(data_dir)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout, input=input,
    )


@pytest.fixture(scope="session")
def sources_data_dir(tmp_path_factory) -> Path:
    """A data folder holding the real index of sources/ (built once per session; do not modify)."""
    from assistant.config import Config
    from ingest.pipeline import run_ingest

    data_dir = tmp_path_factory.mktemp("sources-index")
    report = run_ingest([SOURCES], Config.from_env(data_dir=data_dir), progress=False)
    assert len(report.added) == 5, report.summary()
    return data_dir


@pytest.fixture(scope="session")
def assistant(sources_data_dir):
    """The real Assistant over the bundled sources, extractive (no LLM)."""
    from assistant.config import Config
    from assistant.core import Assistant

    config = Config.from_env(data_dir=sources_data_dir).replace(llm_base_url=None)
    return Assistant.open(config=config)


@pytest.fixture()
def copy_of_sources(tmp_path) -> Path:
    folder = tmp_path / "sources"
    shutil.copytree(SOURCES, folder)
    return folder


def assistant_over(tmp_path: Path, files: dict[str, str]):
    """The real Assistant (extractive) over a fresh index of `files` (name -> text) written for a test."""
    from assistant.config import Config
    from assistant.core import Assistant
    from ingest.pipeline import run_ingest

    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    config = Config.from_env(data_dir=tmp_path / "index").replace(llm_base_url=None)
    run_ingest([folder], config, progress=False)
    return Assistant.open(config=config)


def make_report_corpus(folder: Path, n: int) -> None:
    """`n` plain-text reports of 60 sentences (20 paragraphs) each: a corpus big enough that an ingest
    spans several embedding groups, so a kill can land between commits."""
    folder.mkdir(parents=True)
    topics = ["nursing", "ambulances", "funding", "regulation", "training", "pathology", "mental health", "primary care"]
    for i in range(n):
        topic = topics[i % len(topics)]
        sentences = [f"Report {i} on {topic} found that trust number {i} changed practice {j} in year {2000 + j}." for j in range(60)]
        (folder / f"report-{i:03d}.txt").write_text(
            "\n\n".join(" ".join(sentences[k : k + 3]) for k in range(0, 60, 3)), encoding="utf-8"
        )


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at the top or inside a function (`from a import b` gives a and a.b)."""
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), one per test module (tests/serving_helpers.launch_chromium)."""
    from playwright.sync_api import sync_playwright

    from serving_helpers import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()
