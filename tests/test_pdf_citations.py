"""PDF citations to the page, end to end: a report made here with reportlab (a running header, page
numbers, a paragraph running over a page break, a copyright notice) is ingested by the real pipeline,
asked through the real Assistant, and served by the real HTTP app on loopback, where the original PDF
opens only for a caller allowed to see its collection."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.serving_helpers import ServerThread, wait_ready

HEADER = "Annual Review of Sprocket Services 2025"
FACT = ("The county sprocket library lent 48,200 sprockets to primary schools in its first year, "
        "three times the number its business case had forecast.")
RUN_ON = ("Demand for repairs grew in every district, and the library therefore opened a second workshop in "
          "the market town of Ashcombe, staffed by four technicians recruited from the further education college "
          "and funded by the regional skills partnership for three years.")


def _furniture(pdf, number: int) -> None:
    """The running header and the page number every page carries."""
    from reportlab.lib.pagesizes import A4

    pdf.setFont("Helvetica", 9)
    pdf.drawString(72, A4[1] - 40, HEADER)
    pdf.drawString(A4[0] / 2, 30, str(number))


def _lines(pdf, lines: list[str], y: float, font: str = "Helvetica", size: int = 11) -> float:
    pdf.setFont(font, size)
    for line in lines:
        pdf.drawString(72, y, line)
        y -= size + 4
    return y


def _wrap(text: str, width: int = 85) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)


def make_report(path: Path) -> None:
    from reportlab.pdfgen import canvas

    from reportlab.lib.pagesizes import A4

    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("Annual Review of Sprocket Services 2025")
    _furniture(pdf, 1)
    _lines(pdf, ["Annual Review of Sprocket Services"], 760, "Helvetica-Bold", 22)
    y = _lines(pdf, _wrap("This review describes the first year of the county's sprocket library, which opened in "
                          "April 2024 to serve schools, clubs and households across the county."), 700)
    _lines(pdf, ["© Crown copyright 2025", "This publication is licensed under the terms of the Open Government "
                 "Licence v3.0 except where otherwise stated."], y - 30)
    pdf.showPage()
    _furniture(pdf, 2)
    _lines(pdf, ["Lending in the first year"], 740, "Helvetica-Bold", 14)
    _lines(pdf, _wrap(FACT), 710)
    # the run-on paragraph starts at the foot of page 2 and ends on page 3
    wrapped = _wrap(RUN_ON)
    _lines(pdf, wrapped[:2], 110)
    pdf.showPage()
    _furniture(pdf, 3)
    y = _lines(pdf, wrapped[2:], 760)
    _lines(pdf, _wrap("The library will publish its second review in spring 2026."), y - 15)
    pdf.showPage()
    pdf.save()


@pytest.fixture(scope="module")
def report_index(tmp_path_factory):
    from assistant.config import Config
    from ingest.pipeline import run_ingest

    base = tmp_path_factory.mktemp("pdf-citations")
    folder = base / "reports"
    folder.mkdir()
    make_report(folder / "sprocket-review.pdf")
    config = Config.from_env(data_dir=base / "data").replace(llm_base_url=None)
    report = run_ingest([folder], config, collection="reports", progress=False)
    assert report.added == ["sprocket-review"], report.summary()
    return config, report


def test_ingest_reports_pages_and_what_it_set_aside(report_index):
    _, report = report_index
    line = report.summary()
    assert "sprocket-review: " in line and "3 pages" in line
    assert "running header" in line or "page number" in line


def test_paragraphs_carry_their_pages_and_the_notice_is_not_content(report_index):
    from assistant.core import Assistant

    config, _ = report_index
    assistant = Assistant.open(config=config)
    paragraphs = assistant.index.paragraphs_of("sprocket-review")
    texts = {p.text: p for p in paragraphs}
    assert not any(HEADER in t for t in texts)  # the running header is set aside on every page
    run_on = next(p for p in paragraphs if p.text.startswith("Demand for repairs"))
    assert run_on.text == RUN_ON  # rebuilt across the page break, header and page number left out
    assert run_on.pages == [2, 3]
    assert run_on.page_at(run_on.text.index("funded")) == 3
    notice = next(p for p in paragraphs if "Crown copyright" in p.text)
    assert notice.kind == "notice" and not notice.is_content
    # never retrieved, by either retriever
    hits = assistant.retriever.search("Crown copyright Open Government Licence publication licensed terms").passages
    assert notice.id not in {h.paragraph.id for h in hits}


def test_a_citation_gives_the_page_its_quote_starts_on(report_index):
    from assistant.core import Assistant

    config, _ = report_index
    answer = Assistant.open(config=config).ask("How many sprockets did the county library lend to primary schools?")
    assert answer.status == "answered", answer.answer
    citation = answer.citations[0]
    assert "48,200" in citation.quote
    assert citation.page == 2 and citation.pages == [2, 2]
    data = answer.to_dict()["citations"][0]
    assert data["page"] == 2 and data["pages"] == [2, 2]
    assert citation.location == f"¶{citation.paragraph}, p. 2"
    assert "p. 2" in answer.with_footnotes()


def test_the_original_pdf_opens_at_the_page_only_for_callers_of_its_collection(report_index):
    from assistant.core import Assistant
    from assistant.server import create_app
    from assistant.ui import original_pdf_href

    config, _ = report_index
    config = config.replace(api_tokens=("tok-reports:reports", "tok-other:default"))
    with ServerThread(create_app(config, Assistant.open(config=config)), free_port()) as server:
        wait_ready(server.url)
        url = f"{server.url}/sources/sprocket-review/original"
        allowed = httpx.get(url, headers={"Authorization": "Bearer tok-reports"}, timeout=30)
        assert allowed.status_code == 200 and allowed.headers["content-type"] == "application/pdf"
        assert allowed.content.startswith(b"%PDF") and "inline" in allowed.headers["content-disposition"]
        # another collection's caller cannot tell it exists
        assert httpx.get(url, headers={"Authorization": "Bearer tok-other"}, timeout=30).status_code == 404
        assert httpx.get(url, timeout=30).status_code in (401, 303, 307)
        # the source view shows pages and links the PDF; a citation links the PDF at its page
        view = httpx.get(f"{server.url}/sources/sprocket-review", headers={"Authorization": "Bearer tok-reports"}, timeout=30)
        assert view.status_code == 200 and "pp. 2–3" in view.text and "/sources/sprocket-review/original" in view.text
        api = httpx.get(f"{server.url}/api/sources/sprocket-review", headers={"Authorization": "Bearer tok-reports"}, timeout=30)
        assert any(p["pages"] == [2, 3] for p in api.json()["paragraphs"])
    href = original_pdf_href("/kb", "sprocket-review", 3, "Demand for repairs grew in every district")
    assert href.startswith("/kb/sources/sprocket-review/original#page=3&search=Demand%20for%20repairs")


def test_every_output_shows_the_page(report_index):
    """The chat's sources panel, the batch outputs' citation cells and source lines, and the footnotes."""
    from assistant.batch.writers import _source_line, citation_label
    from assistant.core import Assistant
    from assistant.ui import sources_html

    config, _ = report_index
    answer = Assistant.open(config=config).ask("How many sprockets did the county library lend to primary schools?")
    citation = answer.citations[0]
    html = sources_html(answer.citations, 1, "")
    assert "p. 2" in html and "Open the PDF at p. 2" in html and "/sources/sprocket-review/original#page=2" in html
    assert citation_label(citation).endswith(", p. 2")
    assert f"¶{citation.paragraph}, p. 2" in _source_line(citation, [citation.location])
