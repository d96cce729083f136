"""`assistant bench ingest-quality`: each rule (titles, dates, split sentences, debris) on cases whose answer
is known, then the whole command on a tiny folder the test writes. The folder's figures are checked against
what ingest made of it (ingest's loaders improve; the counting must not change with them)."""

from __future__ import annotations

import json
import textwrap

import pytest

from assistant.cli import main
from eval import bench_ingest_quality as quality
from eval.bench_ingest_quality import date_agrees, debris_kinds, publisher_agrees, read_sources_md, split_pairs, title_right


def test_title_rule():
    assert title_right("Annual Report on Widgets, 2024", "annual report on widgets 2024")
    assert title_right("Guidance on sprockets", "Guidance on Sprockets for schools")  # 3 of 5 words: 60%
    assert not title_right("Guidance on", "Guidance on Sprockets for schools")  # 2 of 5
    assert not title_right("Guidance sprockets schools", "Guidance on Sprockets for schools")  # not a run of words
    assert title_right("Guidance on Sprockets for schools - GOV.UK", "Guidance on Sprockets for schools")
    assert title_right("Home Office Evaluation Strategy", "Home Office Evaluation Strategy (GOV.UK page printed to PDF)")
    assert not title_right("Home Office Evaluation Strategy", "Home Office Evaluation Strategy as printed to a PDF file")
    assert not title_right("GOV.UK", "Spring Budget 2017")
    assert not title_right("art", "Start")
    assert title_right("The Trust’s résumé", "the trusts RÉSUMÉ")


def test_publisher_and_date_rules():
    assert publisher_agrees("HM Revenue and Customs", "HM Revenue & Customs")
    assert publisher_agrees("Food Standards Agency", "Food Standards Agency (Analytics Unit)")
    assert publisher_agrees("DHSC", "NHS Business Services Authority / DHSC")
    assert not publisher_agrees("Crown copyright", "Home Office")

    assert date_agrees("2023-04-05", "published 5 April 2023")
    assert not date_agrees("2023-05-05", "published 5 April 2023")
    assert not date_agrees("2023", "published 5 April 2023")  # the reference gives the month
    assert date_agrees("2024-10-16", "2024 (repo snapshot, last commit 16 Oct 2024)")
    assert date_agrees("2024-12-03", "ratified December 2024 (review December 2027)")
    assert not date_agrees("2027-12", "ratified December 2024 (review December 2027)")  # in parentheses
    assert date_agrees("February 2024", "02.2024")
    assert date_agrees("2 March 2018", "published 2017-11-29; updated 2018-03-02")
    assert not date_agrees("spring", "2017")


def test_split_sentence_rule():
    texts = [
        "The plan was agreed",  # -> lower case next: split
        "by the board in May.",
        'It said "yes."',  # closed inside a quote
        "then it left.",
        "A com-",  # a hyphen: split whatever follows
        "Munity project",  # no closing punctuation, but the next starts in capitals
        "Ends with a colon:",
        "lower case after a colon",
        "(a bracket closes it.)",
        "and so on",
    ]
    assert split_pairs(texts) == 2
    assert split_pairs(["one paragraph without an end"]) == 0


def test_debris_rule():
    texts = [
        r"BMC Public Health \(2025\) found Iqbal1\* wrong.",
        "A **bold** claim.",
        "Sign here: ________ (a form blank, not emphasis).",
        "Register to vote Register by 18 June to vote in the General Election on 4 July",
        "Introduction .......... 4",
        "Our vision 5",
        "Our priorities 7",
        "The plan has several parts.",
        "Priority 2",  # alone between sentences: a name, not a contents entry
        "The plan ends here.",
        "Contents Foreword 3 Introduction 5 Our vision 7 Our priorities 9",
        "The review found 2 Trusts and 5 Boards in breach.",  # two rising numbers: a sentence, not a contents list
        "Staff: 120",
        "Beds: 45",
        "Ring the bell\x07 twice.",
        "A list:\n• one\n• two",
        "caf\ufffd au lait",
        "They would also be able to register to vote in local elections.",
        "Gatherings are allowed where “reasonably necessary .... for work purposes”.",
        "Restrictions were removed on 4 July 2020, reintroduced on 5 November 2020 and eased on 17 December 2020.",
        "Few read the letter 12 Survey of awareness 13 Office figures 14 Ibid",  # footnotes run in, no contents
    ]
    kinds = debris_kinds(texts)
    assert kinds == [
        {"markdown escape"}, {"stray ** or __"}, set(), {"GOV.UK banner"}, {"contents"}, {"contents"}, {"contents"},
        set(), set(), set(), {"contents"}, set(), set(), set(), {"control character"}, set(), {"U+FFFD"},
        set(), set(), set(), set(),
    ]


def test_sources_md_tables(tmp_path):
    path = tmp_path / "SOURCES.md"
    path.write_text(textwrap.dedent("""\
        # Sources

        | file | title | publisher | date | pages |
        |---|---|---|---|---|
        | a.pdf | Title A | Office A | 2020 | 3 |

        Some text between the tables.

        | file | title | publisher | date |
        |---|---|---|---|
        | `b.md` | Title B | Office B | May 2021 |

        | kind | count |
        |---|---|
        | pdf | 1 |
        """))
    assert read_sources_md(path) == {"a.pdf": quality.Reference("Title A", "Office A", "2020"),
                                     "b.md": quality.Reference("Title B", "Office B", "May 2021")}


def _two_page_pdf(path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for text in ("Sprockets were counted in every school of the county last spring.",
                 "The count found more sprockets in small rural schools than in large ones."):
        pdf.drawString(72, 750, text)
        pdf.showPage()
    pdf.save()


def _paragraph_texts(path):
    """What ingest makes of `path`: its paragraphs' texts, the header unit (#p0, written from the metadata) left out."""
    from ingest.pipeline import parse_document

    document = parse_document(path, "x", "default", {}, 10**7)
    return [p.text for p in document.paragraphs if p.kind != "header"]


def test_bench_ingest_quality_on_a_tiny_folder(tmp_path, capsys, monkeypatch):
    docs = tmp_path / "corpus" / "docs"
    docs.mkdir(parents=True)
    (docs / "report.md").write_text(
        "# Annual Report on Widgets, 2024\n\nPublished: 12/03/2024\n\nThe plan was agreed\n\nby the board in May.\n\n"
        "BMC Public Health \\(2025\\) found more widgets than ever before in the region.\n\n"
        # split across a heading: no loader rejoins these, so the pair is counted whatever the loaders do
        "Work on the widgets began in the spring and\n\n## Progress\n\ncontinued into the autumn of that year.\n")
    (docs / "guidance.html").write_text(
        "<html><head><title>Guidance on Sprockets</title></head><body><main><h1>Guidance on Sprockets</h1>"
        "<p>The sprocket plan was agreed</p><p>by the sprocket board in June.</p>"
        "<p>Schools fit sprockets \\(see annex\\) to every door they own.</p>"
        "<p>Our leaflet, headed Register to vote, was posted to every home in the borough.</p></main></body></html>")
    (docs / "minutes.md").write_text("# Minutes of the March meeting\n\nThe committee met and agreed the accounts.\n")
    # No title in it: ingest falls back to the file's name, which is never a right title.
    (docs / "widget_plan.md").write_text("the widget plan covers three years and four sites.\n")
    (docs / "broken.pdf").write_bytes(b"this is not a PDF")
    _two_page_pdf(docs / "notes.pdf")  # not in SOURCES.md: no title to judge
    (tmp_path / "corpus" / "SOURCES.md").write_text(textwrap.dedent("""\
        | file | title | publisher | date |
        |---|---|---|---|
        | report.md | annual report on widgets 2024 | Widget Office | 2024 |
        | guidance.html | Guidance on sprockets for schools | Sprocket Agency | 2023 |
        | minutes.md | Annual accounts 2024 | Widget Office | 2024 |
        | widget_plan.md | Widget plan | Widget Office | 2024 |
        """))
    benchmarks = tmp_path / "benchmarks.md"
    benchmarks.write_text("# Benchmarks\n")
    import eval.bench

    monkeypatch.setattr(eval.bench, "BENCHMARKS_FILE", benchmarks)  # where --record appends

    out = tmp_path / "out"
    assert main(["bench", "ingest-quality", str(docs), "--out", str(out), "--record"]) == 0
    printed = capsys.readouterr().out
    figures = json.loads((out / "ingest-quality.json").read_text())["figures"]
    by_file = {d["file"]: d for d in figures["per_document"]}

    assert (figures["titles_right"], figures["titles_judged"]) == (2, 4)
    assert "| titles right" in printed and "2 of 4" in printed
    assert figures["parsed"] == 5 and [f["file"] for f in figures["failed"]] == ["broken.pdf"]
    assert figures["failed"][0]["reason"] and figures["without_reference"] == ["notes.pdf"]
    assert (by_file["notes.pdf"]["pages"], by_file["notes.pdf"]["pages_counted"]) == (2, True)
    assert by_file["report.md"]["date"] == "2024-03-12" and by_file["report.md"]["date_agrees"] is True

    # Counted on what ingest made, by checks written for these texts alone.
    texts = {name: _paragraph_texts(docs / name) for name in ("report.md", "guidance.html", "minutes.md", "widget_plan.md", "notes.pdf")}
    splits = {name: sum((a.endswith("agreed") and b.startswith("by the")) or (a.endswith("spring and") and b.startswith("continued"))
                        for a, b in zip(t, t[1:])) for name, t in texts.items()}
    assert splits["report.md"] >= 1
    escapes = {name: sum("\\(" in p for p in t) for name, t in texts.items()}
    banners = {name: sum("Register to vote" in p for p in t) for name, t in texts.items()}
    for name in texts:
        assert by_file[name]["paragraphs"] == len(texts[name])
        assert by_file[name]["split_pairs"] == splits[name]
        assert by_file[name]["debris"].get("markdown escape", 0) == escapes[name]
        assert by_file[name]["debris"].get("GOV.UK banner", 0) == banners[name]
    paragraphs = sum(len(t) for t in texts.values())
    assert figures["paragraphs"] == paragraphs and figures["documents"] == 5
    assert figures["split_pairs"] == sum(splits.values())
    assert figures["split_rate"] == sum(splits.values()) / paragraphs
    assert figures["debris_by_kind"]["markdown escape"] == sum(escapes.values())
    words = sum(len(" ".join(t).split()) for name, t in texts.items() if name != "notes.pdf")
    assert figures["pages"] == pytest.approx(words / 400 + 2)  # the PDF's pages counted, the others' estimated

    recorded = benchmarks.read_text()
    assert recorded.startswith("# Benchmarks\n") and "## Ingest quality: docs (" in recorded and "### By format" in recorded


def test_page_accuracy_checks_each_sentence_against_pdftotext(tmp_path):
    """A sentence counts as right only when the page its citation would give is where pdftotext finds it."""
    import shutil

    import pytest

    from assistant.records import Paragraph, Span

    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils' pdftotext is not installed")
    path = tmp_path / "two.pdf"
    _two_page_pdf(path)
    first = "Sprockets were counted in every school of the county last spring."
    second = "The count found more sprockets in small rural schools than in large ones."
    text = f"{first} {second}"
    spans = [Span(0, len(first)), Span(len(first) + 1, len(text))]
    right_pages = Paragraph("two", 1, text, sentences=spans, page_starts=[(0, 1), (len(first) + 1, 2)])
    wrong_pages = Paragraph("two", 1, text, sentences=spans, page_starts=[(0, 1)])  # says all of it is on page 1
    assert quality.page_accuracy(path, [right_pages]) == (2, 2)
    assert quality.page_accuracy(path, [wrong_pages]) == (2, 1)
