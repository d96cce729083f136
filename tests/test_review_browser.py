"""The Review tab in real headless Chromium (Debian's, driven by Playwright) against the real server
(SQLite): upload a questions file to draft a review, open an item, edit its answer into an
unsupported claim and see it flagged, fix it, approve it, export the .docx and read it back."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from conftest import free_port
from serving_helpers import (  # noqa: F401 - fixtures
    ServerThread,
    launch_chromium,
    served_assistant,
    served_corpus,
    upload_file,
    wait_ready,
)

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000
INVENTED = "David Dalton also breeds racing pigeons on the roof of the hospital [1]."


@contextmanager
def review_opened(served_corpus, served_assistant, tmp_path):
    """The real server and Chromium, a review drafted from an uploaded file in the Review tab, and
    its first item ("Who is David Dalton?") open. Yields (page, original answer, errors seen)."""
    from playwright.sync_api import sync_playwright

    from assistant.config import Config
    from assistant.server import create_app

    questions = tmp_path / "consultation.txt"
    questions.write_text("Who is David Dalton?\nWhat is the capital of France?\n", encoding="utf-8")
    config = Config.from_env(data_dir=served_corpus).replace(
        llm_base_url=None, database_url=f"sqlite:///{tmp_path / 'reviews.db'}")
    with ServerThread(create_app(config, served_assistant), free_port()) as running, sync_playwright() as pw:
        wait_ready(running.url)
        browser = launch_chromium(pw)
        try:
            page = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 1000}).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(running.url + "/")
            page.get_by_role("tab", name="Review").click()

            # draft a review from an uploaded file
            upload_file(page, "#review-upload", questions, TIMEOUT_MS)
            page.fill("#review-name textarea", "Browser review")
            page.fill("#review-reviewer textarea", "Rita Reviewer")
            page.click("#review-create")
            page.wait_for_function(
                "() => /created: 2 answers drafted/.test(document.querySelector('#review-status').innerText)",
                timeout=120_000)

            # open the first item from the table
            page.locator("#review-items").get_by_text("Who is David Dalton?").first.click()
            view = page.locator("#review-item-view")
            page.wait_for_selector("#review-item-view .bot[data-status=draft]", timeout=TIMEOUT_MS)
            original = page.input_value("#review-answer textarea")
            assert "Salford Royal" in original
            assert view.locator("a.cite").count() >= 1 and view.locator("li.source").count() >= 1
            assert view.locator("mark.unsupported").count() == 0
            yield page, original, errors
        finally:
            browser.close()


def test_review_an_answer_in_the_browser(served_corpus, served_assistant, tmp_path):
    import docx

    with review_opened(served_corpus, served_assistant, tmp_path) as (page, original, errors):
        view = page.locator("#review-item-view")

        # edit it into an unsupported claim: flagged
        page.fill("#review-answer textarea", original.rstrip() + " " + INVENTED)
        page.click("#review-save")

        page.wait_for_selector("#review-item-view mark.unsupported", timeout=TIMEOUT_MS)
        assert "pigeons" in view.locator("mark.unsupported").first.inner_text()
        assert "pigeons" in view.locator(".unsupported-list").inner_text()
        assert page.locator("#review-override").is_visible()
        page.screenshot(path=str(tmp_path / "review-flagged.png"), full_page=True)

        # approving it without override is refused
        page.click("#review-set-status")
        page.wait_for_function("() => /Not saved/.test(document.querySelector('#review-status').innerText)",
                               timeout=TIMEOUT_MS)
        assert view.locator(".bot").get_attribute("data-status") == "draft"

        # fix it, then approve
        page.fill("#review-answer textarea", original)
        page.click("#review-save")
        page.wait_for_function(
            "() => !document.querySelector('#review-item-view mark.unsupported') && "
            "/re-checked/.test(document.querySelector('#review-status').innerText)", timeout=TIMEOUT_MS)
        page.click("#review-set-status")
        page.wait_for_selector("#review-item-view .bot[data-status=approved]", timeout=TIMEOUT_MS)
        assert "Approved by Rita Reviewer" in view.inner_text()

        # the audit log and the .docx
        page.get_by_text("Audit log and export").click()
        page.click("#review-audit-show")
        page.wait_for_function("() => /approved/.test(document.querySelector('#review-audit').innerText)",
                               timeout=TIMEOUT_MS)
        page.click("#review-export-docx")
        link = page.locator("#review-export-file a[download]")
        link.wait_for(timeout=TIMEOUT_MS)
        with page.expect_download() as info:
            link.first.click()
        target = tmp_path / "downloads" / info.value.suggested_filename
        info.value.save_as(target)
        page.screenshot(path=str(tmp_path / "review-approved.png"), full_page=True)
        assert not errors, errors
    assert target.name == "Browser-review.docx"
    document = docx.Document(str(target))
    text = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells)
    assert "Who is David Dalton?" in text and "Salford Royal" in text and "pigeons" not in text
    assert "Rita Reviewer" in text


def test_fix_an_answers_citations_in_the_browser(served_corpus, served_assistant, tmp_path):
    """Search for a paragraph, add it as a citation and remove it again, add it and cite it in a
    sentence that it supports (saved, not flagged, listed as a source), then re-draft from the sources."""
    with review_opened(served_corpus, served_assistant, tmp_path) as (page, original, errors):
        view = page.locator("#review-item-view")
        cited_before = [line for line in page.input_value("#review-citations textarea").split("\n") if line]
        page.fill("#review-search textarea", "Stephen Dorrell NHS Improvement")
        page.click("#review-search-go")
        page.wait_for_function("() => /paragraph\\(s\\) found/.test(document.querySelector('#review-status').innerText)",
                               timeout=TIMEOUT_MS)
        found = page.locator("#review-found input").input_value()
        paragraph_id = found.split(" — ")[0]
        assert "#p" in paragraph_id and paragraph_id not in cited_before, found

        page.click("#review-add-citation")
        page.wait_for_function("() => /Added /.test(document.querySelector('#review-status').innerText)",
                               timeout=TIMEOUT_MS)
        marker = len(cited_before) + 1
        assert page.input_value("#review-citations textarea").split("\n") == cited_before + [paragraph_id]
        assert f"as [{marker}]" in page.locator("#review-status").inner_text()

        # remove it again: the citations are as before
        page.locator("#review-remove-pick input").click()
        page.get_by_role("option", name=paragraph_id, exact=True).click()
        page.click("#review-remove-citation")
        page.wait_for_function("() => /Removed /.test(document.querySelector('#review-status').innerText)",
                               timeout=TIMEOUT_MS)
        assert [line for line in page.input_value("#review-citations textarea").split("\n") if line] == cited_before

        # add it and cite it in a sentence it supports (its own first sentence): saved, not flagged
        page.click("#review-add-citation")
        page.wait_for_function("() => /Added /.test(document.querySelector('#review-status').innerText)",
                               timeout=TIMEOUT_MS)
        paragraph = served_assistant.index.paragraphs([paragraph_id])[paragraph_id]
        sentence = paragraph.sentence_texts()[0].rstrip(".") + f" [{marker}]."
        page.fill("#review-answer textarea", original.rstrip() + " " + sentence)
        page.click("#review-save")
        page.wait_for_function("() => /re-checked/.test(document.querySelector('#review-status').innerText)",
                               timeout=TIMEOUT_MS)
        assert view.locator("mark.unsupported").count() == 0
        assert view.locator("li.source").count() == marker
        assert paragraph_id.split("#")[0] in view.locator("li.source").nth(marker - 1).inner_html()

        # re-draft from the sources: the drafted answer and citations come back
        page.click("#review-redraft")
        page.wait_for_function(
            "(original) => document.querySelector('#review-answer textarea').value === original", arg=original,
            timeout=TIMEOUT_MS)
        assert [line for line in page.input_value("#review-citations textarea").split("\n") if line] == cited_before
        assert not errors, errors
