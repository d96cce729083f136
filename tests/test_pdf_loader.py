"""The PDF loader (ingest/pdf_loader.py and the pdf_layout, pdf_blocks and pdf_tables modules it uses) on
PDFs these tests draw with reportlab: paragraphs rebuilt across line, column and page breaks, hyphenated
words joined, running headers, footers and page numbers set aside and recorded, headings from font
size, list items, tables as "Header: value" rows, page marks, title and author, unreadable files
refused with the reason, and nothing printed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingest.loaders import Block, LoadedDocument, UnreadableDocument, load
from ingest.pdf_blocks import join_hyphenated
from ingest.pdf_loader import load_pdf

TITLE = "Community Nursing in Riverside"
HEADER = "Riverside Community Trust annual review"
LEFT, RIGHT, TOP = 72, 523, 770  # text area of an A4 page
BODY = 10  # body font size; leading 13


class Page:
    """Draws lines on a reportlab canvas from the top down: a running header, a footer with the page
    number, and body text in one column or two."""

    def __init__(self, canvas, number: int, total: int):
        self.canvas, self.y = canvas, TOP
        canvas.setFont("Helvetica", 8)
        canvas.drawString(LEFT, 805, HEADER)
        canvas.drawString(LEFT, 40, f"Page {number} of {total}")

    def line(self, text: str, size: float = BODY, font: str = "Helvetica", x: float = LEFT, leading: float = 13):
        self.canvas.setFont(font, size)
        self.canvas.drawString(x, self.y, text)
        self.y -= leading

    def gap(self, points: float = 10):
        self.y -= points


def write_report(path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas as pdf_canvas

    canvas = pdf_canvas.Canvas(str(path), pagesize=A4)
    canvas.setTitle("Microsoft Word - riverside_review_v7.docx")  # a working name: the cover wins
    canvas.setAuthor("Riverside Community Trust")
    total = 4

    # Page 1: title, a heading, a paragraph with a hyphenated word, a list, a paragraph running on to page 2.
    page = Page(canvas, 1, total)
    page.line(TITLE, size=24, font="Helvetica-Bold", leading=40)
    page.line("Background", size=16, font="Helvetica-Bold", leading=24)
    page.line("District nurses visited more patients at home this year, and the new com-")
    page.line("munity teams took on the evening visits that the hospital used to make.")
    page.gap()
    page.line("The trust will do three things next year:")
    page.gap(4)
    for item in ("hire forty district nurses for the northern", "open two evening clinics", "publish waiting times"):
        if item.endswith("northern"):
            page.line("•", x=LEFT)
            page.y += 13
            page.line(item, x=LEFT + 14)
            page.line("villages before the winter", x=LEFT + 14)
        else:
            page.line("•", x=LEFT)
            page.y += 13
            page.line(item, x=LEFT + 14)
    page.gap()
    page.y = 90
    page.line("The board agreed that the new evening clinics in the two market towns would be")
    canvas.showPage()

    # Page 2: the paragraph goes on; then two columns, a paragraph broken from the left column to the right.
    page = Page(canvas, 2, total)
    page.line("funded from the transformation budget until March 2026.")
    page.gap(16)
    column_top = page.y
    left_lines = ["Left column opening paragraph about the", "clinics in the northern villages and how",
                  "patients reach them by bus.", "",
                  "The second paragraph of the left column", "explains that volunteers drive patients who"]
    right_lines = ["cannot take the bus to the clinics at all.", "",
                   "The right column closes with a word on", "parking, which stays free for patients.", "",
                   "Staff well-being matters: every nurse", "has a named mentor."]
    for x, lines in ((LEFT, left_lines), (310, right_lines)):
        page.y = column_top
        for text in lines:
            if text:
                page.line(text, x=x)
            else:
                page.gap()
    canvas.showPage()

    # Page 3: a ruled table with a header row.
    page = Page(canvas, 3, total)
    page.line("Clinic opening hours are set out below.")
    page.gap(10)
    rows = [("Clinic", "Nurses", "Opening hours"), ("Northgate", "12", "8am to 6pm"), ("Riverside", "9", "9am to 5pm")]
    x_edges, top = [LEFT, 220, 320, 480], page.y + 4
    height = 20
    for r, row in enumerate(rows):
        y = top - r * height
        for c, cell in enumerate(row):
            canvas.setFont("Helvetica-Bold" if r == 0 else "Helvetica", BODY)
            canvas.drawString(x_edges[c] + 4, y - 14, cell)
    for r in range(len(rows) + 1):
        canvas.line(x_edges[0], top - r * height, x_edges[-1], top - r * height)
    for x in x_edges:
        canvas.line(x, top, x, top - len(rows) * height)
    page.y = top - len(rows) * height - 20
    page.line("Every clinic is closed on bank holidays.")
    canvas.showPage()

    # Page 4: a closing paragraph whose line ends with a compound that keeps its hyphen.
    page = Page(canvas, 4, total)
    page.line("Staff told us that their well-")
    page.line("being improved once the mentors were in place.")
    canvas.showPage()
    canvas.save()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> LoadedDocument:
    path = tmp_path_factory.mktemp("pdf") / "riverside.pdf"
    write_report(path)
    return load_pdf(path)


def texts(doc: LoadedDocument, kind: str | None = None) -> list[str]:
    return [b.text for b in doc.blocks if kind is None or b.kind == kind]


def block_with(doc: LoadedDocument, start: str) -> Block:
    return next(b for b in doc.blocks if b.text.startswith(start))


def test_paragraph_rejoined_across_lines_with_the_hyphenated_word_joined(report):
    block = block_with(report, "District nurses")
    assert block.text == ("District nurses visited more patients at home this year, and the new community teams took "
                          "on the evening visits that the hospital used to make.")
    assert block.kind == "text" and not block.plain


def test_paragraph_rejoined_across_a_page_break_with_its_page_marks(report):
    block = block_with(report, "The board agreed")
    assert block.text == ("The board agreed that the new evening clinics in the two market towns would be funded from "
                          "the transformation budget until March 2026.")
    # page 2 begins at "funded", the 16th word
    assert block.text.split()[15] == "funded"
    assert block.page_marks == ((0, 1), (15, 2))
    assert block_with(report, "District nurses").page_marks == ((0, 1),)


def test_two_columns_read_column_by_column_and_rejoined_across_the_column_break(report):
    found = texts(report)
    opening = found.index("Left column opening paragraph about the clinics in the northern villages and how patients "
                          "reach them by bus.")
    broken = found.index("The second paragraph of the left column explains that volunteers drive patients who cannot "
                         "take the bus to the clinics at all.")
    closing = found.index("The right column closes with a word on parking, which stays free for patients.")
    assert opening < broken < closing


def test_running_header_and_page_numbers_are_dropped_and_recorded(report):
    assert not any(HEADER in t or t.startswith("Page ") for t in texts(report))
    reasons = {d.text: d.reason for d in report.dropped}
    assert reasons[HEADER] == "running header (repeats on 4 pages)"
    assert any(reason == "page number (on 4 pages)" for reason in reasons.values())
    assert len(report.dropped) == 2  # each distinct line once


def test_headings_from_font_size_with_levels(report):
    headings = [(b.text, b.level) for b in report.blocks if b.kind == "heading"]
    assert headings == [(TITLE, 1), ("Background", 2)]


def test_bulleted_list_items_with_their_continuation_lines(report):
    assert texts(report, "item") == ["hire forty district nurses for the northern villages before the winter",
                                     "open two evening clinics", "publish waiting times"]
    assert block_with(report, "The trust will do").kind == "text"


def test_table_rows_as_header_value_pairs(report):
    (table,) = [b for b in report.blocks if b.kind == "table"]
    assert table.text == ("Clinic: Northgate; Nurses: 12; Opening hours: 8am to 6pm\n"
                          "Clinic: Riverside; Nurses: 9; Opening hours: 9am to 5pm")
    assert table.page_marks == ((0, 3),)
    found = texts(report)
    assert found.index("Clinic opening hours are set out below.") < found.index(table.text) < found.index(
        "Every clinic is closed on bank holidays.")
    assert not any("Northgate" in t for t in found if t != table.text)  # no word soup beside the table


def test_a_compound_broken_at_its_hyphen_keeps_it(report):
    expected = "Staff told us that their well-being improved once the mentors were in place."
    assert block_with(report, "Staff told us").text == expected


def test_title_author_and_page_count(report):
    assert report.metadata == {"title": TITLE, "author": "Riverside Community Trust"}
    assert report.page_count == 4


@pytest.mark.parametrize(
    "left, right, vocabulary, joined",
    [
        ("com-", "munity", set(), "community"),  # neither part is a word of the document
        ("evalu-", "ation.", {"evaluation"}, "evaluation."),
        ("well-", "being", {"well", "being"}, "well-being"),  # both parts are words: a compound
        ("self-", "funded", {"self-funded"}, "self-funded"),  # the compound occurs elsewhere
        ("in-", "formation", {"in", "information"}, "information"),  # the joined word occurs: it wins
        ("COVID-", "19", set(), "COVID-19"),
        ("com\u00ad", "munity", {"com", "munity"}, "community"),  # a soft hyphen is only ever a break
    ],
)
def test_hyphenation_rule(left, right, vocabulary, joined):
    assert join_hyphenated(left, right, vocabulary) == joined


def _canvas_pdf(path: Path, lines: list[tuple[str, float]], title: str = "", **kwargs) -> Path:
    from reportlab.pdfgen import canvas as pdf_canvas

    canvas = pdf_canvas.Canvas(str(path), **kwargs)
    if title:
        canvas.setTitle(title)
    y = 760
    for text, size in lines:
        canvas.setFont("Helvetica", size)
        canvas.drawString(72, y, text)
        y -= size * 1.6
    canvas.showPage()
    canvas.save()
    return path


@pytest.mark.parametrize(
    "info_title, expected",
    [
        ("Waiting times in community clinics - GOV.UK", "Waiting times in community clinics"),  # site suffix
        ("Waiting times in community clinics (accessible version)", "Waiting times in community clinics"),
        ("Microsoft Word - waiting_times.docx", None),
        ("[Insert title of report]", None),
        ("untitled", None),
        ("GOV.UK", None),
        ("June 2025", None),
    ],
)
def test_title_from_document_information_when_the_cover_has_none(tmp_path, info_title, expected):
    # every line in the body size: no text stands out on page 1
    path = _canvas_pdf(tmp_path / "plain.pdf", [("The clinics opened in May.", 10), ("Waiting fell by a third.", 10)],
                       title=info_title)
    assert load_pdf(path).metadata.get("title") == expected


def test_a_pdf_without_sizes_that_stand_out_leaves_headings_to_the_cleaner(tmp_path):
    path = _canvas_pdf(tmp_path / "flat.pdf", [("Opening hours", 10), ("", 10), ("The surgery opens at eight.", 10)])
    blocks = load_pdf(path).blocks
    assert [(b.text, b.kind, b.plain) for b in blocks] == [("Opening hours", "text", True),
                                                           ("The surgery opens at eight.", "text", True)]


def test_encrypted_pdf_is_refused_and_one_with_an_empty_password_is_read(tmp_path):
    from reportlab.lib.pdfencrypt import StandardEncryption

    locked = _canvas_pdf(tmp_path / "locked.pdf", [("Secret minutes of the board.", 10)],
                         encrypt=StandardEncryption("secret", ownerPassword="owner"))
    with pytest.raises(UnreadableDocument, match="encrypted PDF"):
        load_pdf(locked)
    open_one = _canvas_pdf(tmp_path / "open.pdf", [("Public minutes of the board.", 10)],
                           encrypt=StandardEncryption("", ownerPassword="owner"))
    assert texts(load_pdf(open_one)) == ["Public minutes of the board."]


def test_corrupt_empty_and_image_only_pdfs_are_refused_with_the_reason(tmp_path):
    corrupt = tmp_path / "corrupt.pdf"
    corrupt.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage\n")
    with pytest.raises(UnreadableDocument, match="corrupt or unreadable PDF"):
        load(corrupt)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableDocument, match="empty file"):
        load(empty)
    from reportlab.pdfgen import canvas as pdf_canvas

    scanned = tmp_path / "scanned.pdf"
    canvas = pdf_canvas.Canvas(str(scanned))
    canvas.rect(72, 400, 300, 300, fill=1)  # a picture of a page, no text
    canvas.showPage()
    canvas.save()
    with pytest.raises(UnreadableDocument, match="no extractable text"):
        load(scanned)


def test_nothing_is_printed_or_logged_for_a_damaged_file(tmp_path, capsys, caplog):
    from reportlab.pdfgen import canvas as pdf_canvas

    path = tmp_path / "damaged.pdf"
    canvas = pdf_canvas.Canvas(str(path))
    canvas.addLiteral("/NotANumber g")  # pdfminer logs a warning for this colour operator
    canvas.setFont("Helvetica", 10)
    canvas.drawString(72, 700, "The clinic reopened after the flood.")
    canvas.showPage()
    canvas.save()
    caplog.set_level(logging.DEBUG)
    assert texts(load_pdf(path)) == ["The clinic reopened after the flood."]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert [r for r in caplog.records if r.name.startswith(("pdfminer", "pdfplumber"))] == []
    # the loggers are as they were afterwards: the quiet is the loader's own
    assert logging.getLogger("pdfminer").level == logging.NOTSET


def _foreword_with_a_margin_note(path: Path, note: list[str], labels: bool = False) -> Path:
    """A page: a heading, then a block of prose set right of a margin that holds `note`, one line beside each
    of the prose's fourth and fifth lines (a photo's caption: a name, a role), 14 points left of the prose.
    With `labels`, a label/value layout follows: labels ending in ":" beside their values."""
    from reportlab.pdfgen import canvas as pdf_canvas

    canvas = pdf_canvas.Canvas(str(path))
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawString(LEFT, 760, "Foreword from the Chief Executive")
    prose = ["The trust has spent the year rebuilding its community services around the people who",
             "use them, and this plan sets out what comes next for patients in the northern villages.",
             "District nurses now visit most patients at home, the evening clinics are open in both",
             "market towns, and waiting times are published every month so that everyone can see",
             "how the services are doing. The board will report on each of these commitments to the",
             "council in the spring, and again when the first year of the plan comes to an end.",
             "I would like to thank the staff and volunteers who made this possible in a hard year."]
    x, y = 170, 720
    for i, text in enumerate(prose):
        canvas.setFont("Helvetica", 9)
        canvas.drawString(x, y, text)
        if 3 <= i < 3 + len(note):
            canvas.setFont("Helvetica", 9)
            canvas.drawString(LEFT, y - 2, note[i - 3])  # set a little lower, as a caption under a photo is
        y -= 13
    if labels:
        y -= 20
        for label, value in (("Authored by:", "Riverside Community Trust"), ("Ratified by:", "The Joint Prescribing Group")):
            canvas.drawString(LEFT, y, label)
            canvas.drawString(170, y, value)
            y -= 13
    canvas.showPage()
    canvas.save()
    return path


def test_a_note_in_the_margin_beside_prose_is_a_paragraph_of_its_own(tmp_path):
    path = _foreword_with_a_margin_note(tmp_path / "foreword.pdf", ["Jane Smith", "Chief Executive"])
    texts = [b.text for b in load_pdf(path).blocks]
    prose = next(t for t in texts if t.startswith("The trust has spent"))
    assert "Jane Smith" not in prose and "Chief Executive" not in prose
    assert "everyone can see how the services are doing" in prose  # the prose's own lines, unbroken
    assert prose.endswith("made this possible in a hard year.")
    assert any("Jane Smith" in t for t in texts) and any("Chief Executive" in t for t in texts)  # nothing lost


def test_labels_beside_their_values_stay_on_their_line(tmp_path):
    path = _foreword_with_a_margin_note(tmp_path / "labelled.pdf", ["Jane Smith"], labels=True)
    texts = [b.text for b in load_pdf(path).blocks]
    assert any("Authored by: Riverside Community Trust" in t for t in texts)
    assert any("Ratified by: The Joint Prescribing Group" in t for t in texts)
