"""Ingest never silently loses content (issue 12): on documents these tests write in each format,
full of short lines, labels, contact blocks, dates and one-line paragraphs, every content line ends
up in a paragraph (or is a heading the document really has); every line the cleaner leaves out is
listed with its reason (`assistant sources show DOC --dropped`); the bundled sources keep their
paragraphs and ids; document ids do not depend on where a folder sits or how files are listed."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from assistant.config import Config
from assistant.embedding import BUNDLED_MODEL_NAME
from assistant.index import Index
from ingest.cleaning import CleanDocument, clean, looks_like_heading
from ingest.loaders import Block, load
from ingest.pipeline import _folder_metadata, assign_ids, parse_document, run_ingest
from tests.conftest import SOURCES, run_cli

# --- a notice in five formats ---------------------------------------------------------------------

TITLE = "Riverside Surgery patient notice"
HEADING = "Flu Vaccinations"
# The content, in order; HEADING comes before the line that starts with "Flu vaccinations for".
CONTENT = [
    "Opening hours on Saturday: 10am to 2pm",
    "Parking is free in the car park behind the surgery, but spaces for blue badge holders fill up early.",
    "Flu vaccinations for the over-65s start in October. Book at reception or online.",
    "The surgery is closed on bank holidays",
    "Friday 14 March 2025",
    "Dr Amir Patel",
    "Senior partner",
    "Phone: 01632 960 123",
    "Email: reception@riverside.example.org",
    "Repeat prescriptions take two working days.",
    "Contact: Jane Smith, practice manager",
]
FURNITURE = {"Skip to content": "page furniture: skip link", "Share this page": "page furniture: sharing or navigation link",
             "RSP 2025": "trailing tag (a short last line with no lower-case letter)"}


def notice_lines() -> list[tuple[str, str]]:
    """(role, text): the notice as its author wrote it, furniture included."""
    lines = [("furniture", "Skip to content"), ("title", TITLE)]
    for text in CONTENT:
        if text.startswith("Flu vaccinations for"):
            lines.append(("heading", HEADING))
        lines.append(("line", text))
        if text.startswith("Repeat prescriptions"):
            lines.append(("furniture", "Share this page"))
    return lines + [("furniture", "RSP 2025")]


def write_notice(folder: Path, fmt: str) -> Path:
    path = folder / f"notice.{fmt}"
    lines = notice_lines()
    if fmt == "txt":
        path.write_text("\n\n".join(text for _, text in lines) + "\n", encoding="utf-8")
    elif fmt == "md":
        marks = {"title": "# ", "heading": "## "}
        path.write_text("\n\n".join(marks.get(role, "") + text for role, text in lines) + "\n", encoding="utf-8")
    elif fmt == "html":
        tags = {"title": "h1", "heading": "h2"}
        body = "".join(f"<{tags.get(role, 'p')}>{text}</{tags.get(role, 'p')}>" for role, text in lines)
        path.write_text(f"<html><head><title>{TITLE}</title></head><body><main>{body}</main></body></html>", encoding="utf-8")
    elif fmt == "docx":
        import docx

        document = docx.Document()
        for role, text in lines:
            if role in ("title", "heading"):
                document.add_heading(text, level=1 if role == "title" else 2)
            else:
                document.add_paragraph(text)
        document.save(str(path))
    else:
        from tests.test_ingest import make_pdf

        make_pdf(path, [text for _, text in lines])
    return path


def unaccounted(blocks: list[Block], doc: CleanDocument) -> list[str]:
    """The input lines that are in no paragraph and are neither the title, a section name, a
    comment's byline nor listed as dropped: what the cleaner lost silently."""
    texts = "\n".join(p.text for p in doc.paragraphs)
    named = {doc.title} | {p.section for p in doc.paragraphs} | {d.text for d in doc.dropped}
    bylines = " ".join(f"{p.comment.author} | {p.comment.role} | {p.comment.date}" for p in doc.paragraphs if p.comment)
    lost = []
    for block in blocks:
        text = " ".join(block.text.replace("\u00a0", " ").split())
        if text and text not in texts and text not in named and text.rstrip(",") not in bylines:
            lost.append(text)
    return lost


@pytest.mark.parametrize("fmt", ["txt", "md", "html", "docx", "pdf"])
def test_every_content_line_is_in_a_paragraph(tmp_path, fmt):
    path = write_notice(tmp_path, fmt)
    blocks = load(path).blocks
    doc = clean(blocks)
    paragraphs = {p.text: p for p in doc.paragraphs}
    for text in CONTENT:
        assert text in paragraphs, f"{text!r} is in no paragraph of the {fmt} notice: {list(paragraphs)}"
    assert doc.title == TITLE
    # The notice above the parking paragraph is content, not the parking paragraph's section.
    assert paragraphs[CONTENT[1]].section == ""
    # The real heading names the section of what follows it.
    assert paragraphs[CONTENT[2]].section == HEADING and HEADING not in paragraphs
    # Furniture stays out, and is listed with its reason.
    assert not set(FURNITURE) & set(paragraphs)
    assert {d.text: d.reason for d in doc.dropped} == FURNITURE
    assert unaccounted(blocks, doc) == []


@pytest.mark.parametrize(
    "line, next_line, is_heading",
    [
        ("Opening hours on Saturday: 10am to 2pm", "Parking is free behind the surgery.", False),  # label: value
        ("Contact: Jane Smith, practice manager", "Call before noon on weekdays.", False),
        ("The surgery is closed on bank holidays", "Call 111 when it is closed.", False),  # a verb: a sentence
        ("Friday 14 March 2025", "The new wing opens to patients.", False),  # a date
        ("Senior partner", "Phone: 01632 960 123", False),  # introduces no body text
        ("Capability and freedom for systems", "Systems need both to improve care.", True),  # no verb
        ("Flu Vaccinations", "Clinics start in October.", True),  # title case
        ("Where Patients Park", "The car park is behind the surgery.", True),
    ],
)
def test_plain_text_heading_rule(line, next_line, is_heading):
    doc = clean([Block("text", "A notice to patients", plain=True), Block("text", "The surgery serves four villages.", plain=True),
                 Block("text", line, plain=True), Block("text", next_line, plain=True)])
    texts = [p.text for p in doc.paragraphs]
    assert (line not in texts and doc.paragraphs[-1].section == line) == is_heading, texts
    assert (line in texts) == (not is_heading)
    assert unaccounted([Block("text", t) for t in (line, next_line)], doc) == []


@pytest.mark.parametrize("kind", ["text", "item"])
def test_a_numbered_section_heading_in_body_type_is_a_heading(kind):
    # Set in the body's font (a PDF's colour, Markdown converted from one): the section number marks it.
    doc = clean([Block("heading", "Harbour evaluation guide"), Block("text", "This guide explains how harbours are evaluated."),
                 Block(kind, "4.2.1 Identify the right evaluation approach"),
                 Block("text", "Start from the questions the evaluation must answer, then choose its design.")])
    assert [p.section for p in doc.paragraphs] == ["", "4.2.1 Identify the right evaluation approach"]
    assert "4.2.1 Identify the right evaluation approach" not in [p.text for p in doc.paragraphs]


def test_numbered_lines_that_are_no_headings():
    # a numbered paragraph ends like a sentence; a run of short numbered lines is a list, not headings
    doc = clean([Block("heading", "Harbour plan"), Block("text", "2.13 The harbour needs action on three fronts:"),
                 Block("text", "Dredging, moorings and lighting all need money this year."),
                 Block("text", "The plan has three parts:"), Block("item", "1.1 Dredging"), Block("item", "1.2 Moorings"),
                 Block("item", "1.3 Lighting")])
    texts = [p.text for p in doc.paragraphs]
    assert texts[0] == "2.13 The harbour needs action on three fronts:"
    assert all(p.section == "" for p in doc.paragraphs)
    assert "• 1.1 Dredging" in texts[-1]


def test_heading_shape():
    assert looks_like_heading("More support for innovation and improvement")
    assert not looks_like_heading("Email: reception@riverside.example.org")
    assert not looks_like_heading("We welcome new patients")
    assert not looks_like_heading("Ward 7 reopened in March")


def test_a_short_line_in_marked_up_formats_is_content(tmp_path):
    """In Markdown, HTML and docx only the format's own headings are headings."""
    path = tmp_path / "n.md"
    path.write_text("# Notice\n\nCar Park Closed\n\nThe car park is being resurfaced this week.\n", encoding="utf-8")
    doc = clean(load(path).blocks)
    assert [(p.section, p.text) for p in doc.paragraphs] == [
        ("", "Car Park Closed"), ("", "The car park is being resurfaced this week.")
    ]


def test_comment_thread_lines_are_accounted_for():
    doc = clean([Block("text", t, plain=True) for t in [
        "Ward news", "The ward reopened on Monday after a refit.", "Sam Jones", "Comment date", "2 May 2024",
        "Good to see it open again.", "Comment date", "3 May 2024", "Add your comment",
    ]])
    comments = [p for p in doc.paragraphs if p.kind == "comment"]
    assert [(c.comment.author, c.comment.date, c.text) for c in comments] == [("Sam Jones", "2 May 2024", "Good to see it open again.")]
    reasons = [(d.text, d.reason) for d in doc.dropped]
    assert ("Comment date", "comment thread label") in reasons
    assert ("3 May 2024", "reader comment with no byline") in reasons


# --- the bundled sources ----------------------------------------------------------------------------

# Recorded before the cleaner changed (issue 12): each document's paragraphs, header #p0 included,
# and a digest of their [id, section, kind, text]. The ids are a contract (DESIGN.md).
BUNDLED = {
    "ham-2024-politicians-support-nhs-leaders": (16, "8f73e2cc0cb87881"),
    "kf-2014-leaders-reform-from-within": (12, "d8ff8f8c8f7d825a"),
    "kf-2015-inner-stalin": (10, "d9c5a893494ddb97"),
    "kf-end-top-down-reform": (8, "71403bc8cf587d22"),
    "nuffield-2015-dorrell-nhs-improvement": (14, "9f6533b6230f874d"),
}


def _bundled_documents():
    cache: dict = {}
    for path in sorted(SOURCES.glob("*.txt")):
        metadata = _folder_metadata(SOURCES, cache).get(path.name, {})
        yield path, parse_document(path, path.stem, "default", metadata, 10**9)


def test_bundled_sources_keep_their_paragraphs_and_ids():
    found = {}
    for _, document in _bundled_documents():
        rows = [[p.id, p.section, p.kind, p.text] for p in document.paragraphs]
        found[document.id] = (len(rows), hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:16])
    assert found == BUNDLED


def test_bundled_sources_lose_nothing_silently():
    dropped = {}
    for path, document in _bundled_documents():
        blocks = load(path).blocks
        assert unaccounted(blocks, clean(blocks)) == [], path.name
        dropped[document.id] = [(d.text, d.reason) for d in document.dropped]
    assert dropped["kf-2015-inner-stalin"] == [
        ("Skip to content", "page furniture: skip link"),
        ("This content is more than five years old", "page furniture: age notice"),
        ("Watch Jeremy Hunt's speech", "page furniture: video link"),
    ]
    assert dropped["kf-end-top-down-reform"] == [("COTS 2024", "trailing tag (a short last line with no lower-case letter)")]
    assert [reason for _, reason in dropped["ham-2024-politicians-support-nhs-leaders"]] == [
        "repeats body text (a pull quote or standfirst)"] * 2


def test_sources_show_dropped(sources_data_dir):
    shown = run_cli("sources", "show", "kf-2015-inner-stalin", "--dropped", data_dir=sources_data_dir)
    assert shown.returncode == 0, shown.stderr
    assert "3 lines of kf-2015-inner-stalin in no paragraph" in shown.stdout
    assert "'Skip to content'  (page furniture: skip link)" in shown.stdout
    as_json = run_cli("sources", "show", "nuffield-2015-dorrell-nhs-improvement", "--dropped", "--json", data_dir=sources_data_dir)
    lines = json.loads(as_json.stdout)
    assert {"text": "Published: 30/09/2015", "reason": "publication date (kept as the document's date)"} in lines
    assert run_cli("sources", "--dropped", data_dir=sources_data_dir).returncode == 2


def test_dropped_lines_stored_replaced_and_missing(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    path = write_notice(folder, "txt")
    data_dir = tmp_path / "index"
    config = Config.from_env(data_dir=data_dir)
    run_ingest([folder], config, progress=False)
    index = Index.open(config, BUNDLED_MODEL_NAME)
    assert {d.text for d in index.dropped_lines("notice")} == set(FURNITURE)
    # A changed document's record is replaced, not added to.
    path.write_text(path.read_text(encoding="utf-8").replace("Share this page", "Print"), encoding="utf-8")
    run_ingest([folder], config, progress=False)
    assert {d.text for d in index.dropped_lines("notice")} == {"Skip to content", "Print", "RSP 2025"}
    # An index written before dropped lines were recorded says so rather than "none".
    with sqlite3.connect(data_dir / "catalog.sqlite3") as db:
        db.execute("DELETE FROM dropped_lines")
    shown = run_cli("sources", "show", "notice", "--dropped", data_dir=data_dir)
    assert shown.returncode == 1 and "run `assistant ingest` again" in shown.stderr


# --- document ids do not depend on the machine ----------------------------------------------------


def _colliding_folder(root: Path) -> Path:
    folder = root / "corpus"
    (folder / "2024").mkdir(parents=True)
    (folder / "Report.txt").write_text("The annual report covers waiting times.\n", encoding="utf-8")
    (folder / "report.md").write_text("The report in Markdown covers staffing.\n", encoding="utf-8")
    (folder / "2024" / "report.txt").write_text("The 2024 report covers the new wing.\n", encoding="utf-8")
    (folder / "notes.txt").write_text("Notes from the board meeting.\n", encoding="utf-8")
    return folder


def test_ids_do_not_depend_on_where_the_folder_is_or_listing_order(tmp_path):
    first = _colliding_folder(tmp_path / "machine-a" / "deep" / "path")
    second = tmp_path / "machine-b"
    shutil.copytree(first, second / "corpus")
    second = second / "corpus"

    def ingest(data_dir: Path, paths: list[Path]) -> Index:
        config = Config.from_env(data_dir=data_dir)
        run_ingest(paths, config, progress=False)
        return Index.open(config, BUNDLED_MODEL_NAME)

    def ids_by_name(index: Index, folder: Path) -> dict[str, str]:
        return {Path(d.path).relative_to(folder.resolve()).as_posix(): d.id for d in index.documents()}

    a = ids_by_name(ingest(tmp_path / "index-a", [first]), first)
    b = ids_by_name(ingest(tmp_path / "index-b", [second]), second)
    assert a == b
    assert len(set(a.values())) == 4 and a["notes.txt"] == "notes"
    assert list(a.values()).count("report") == 1
    # The same files listed one by one, in either order, get the same ids.
    files = sorted(p for p in second.rglob("*") if p.is_file())
    assert ids_by_name(ingest(tmp_path / "index-c", files), second) == a
    assert ids_by_name(ingest(tmp_path / "index-d", files[::-1]), second) == a


def test_assign_ids_is_order_free(tmp_path):
    folder = _colliding_folder(tmp_path / "x")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    forward = assign_ids(files, [folder], {})
    backward = assign_ids(list(reversed(files)), [folder], {})
    assert forward == backward
    moved = _colliding_folder(tmp_path / "elsewhere" / "y")
    again = assign_ids(sorted(p for p in moved.rglob("*") if p.is_file()), [moved], {})
    assert {p.relative_to(folder): i for p, i in forward.items()} == {p.relative_to(moved): i for p, i in again.items()}
