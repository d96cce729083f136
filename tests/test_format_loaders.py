"""The Markdown, HTML and DOCX loaders and text decoding (issue 19): each test writes a small file that
exercises one rule (conversion debris in Markdown, page furniture, split paragraphs, tables as rows,
metadata the file states, the encodings a text file comes in)."""

from __future__ import annotations

import pytest

from ingest.loaders import UnreadableDocument, load, read_text

# --- encodings ----------------------------------------------------------------------------------------

LATIN1_LINE = "Café policy: the Trust's résumé of the naïve reform plan"
CP1252_LINE = "The Trust’s “reform” costs €5m — a naïve plan, said the café’s owner."


@pytest.mark.parametrize(
    "text, encoding, bom",
    [
        (LATIN1_LINE, "latin-1", b""),  # once read as a Baltic code page ("Cafķ policy")
        (CP1252_LINE, "cp1252", b""),  # curly quotes, euro sign and dash are Windows-1252 only
        (CP1252_LINE, "utf-16-le", b"\xff\xfe"),
        (CP1252_LINE, "utf-16-be", b"\xfe\xff"),
        (CP1252_LINE, "utf-32-le", b"\xff\xfe\x00\x00"),
        (CP1252_LINE, "utf-8", b"\xef\xbb\xbf"),
        (CP1252_LINE, "utf-8", b""),
    ],
)
def test_text_encodings(tmp_path, text, encoding, bom):
    path = tmp_path / "note.txt"
    path.write_bytes(bom + f"{text}\nA second line.\n".encode(encoding))
    assert read_text(path) == f"{text}\nA second line.\n"


def test_a_confident_detector_wins_over_windows_1252(tmp_path):
    """Text whose Windows-1252 reading is mojibake and which the detector reads as a language."""
    text = "Правительство утвердило новую стратегию развития здравоохранения на ближайшие пять лет.\n"
    path = tmp_path / "ru.txt"
    path.write_bytes(text.encode("cp1251"))
    assert read_text(path) == text


@pytest.mark.parametrize("data, reason", [(b"", "empty file"), (b" \n\t\n", "empty file"), (b"\xff\xfe", "empty file"),
                                          (bytes(range(256)) * 40, "binary content, not text")])
def test_empty_and_binary_files_are_refused(tmp_path, data, reason):
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(UnreadableDocument, match=reason):
        read_text(path)


# --- Markdown -------------------------------------------------------------------------------------------


def _markdown(tmp_path, text: str):
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    return load(path)


def _texts(loaded, kind: str | None = None) -> list[str]:
    return [b.text for b in loaded.blocks if kind is None or b.kind == kind]


def test_markdown_inline_debris_is_removed(tmp_path):
    loaded = _markdown(tmp_path, (
        "Results were published in BMC Public Health \\(2025\\) by Iqbal1\\* and colleagues.\n\n"
        "****The review ****found **strong** and *clear* evidence ![chart](figure.png)<!-- check -->"
        " in the [national audit](https://example.org/audit \"Audit\") "
        "and the Industrial Strategy (https://www.gov.uk/government/publications/industrial-strategy).\n\n"
        "Contact <team@example.org> or see `the_guide` and snake_case_names &amp; more.\n"
    ))
    assert _texts(loaded) == [
        "Results were published in BMC Public Health (2025) by Iqbal1* and colleagues.",
        "The review found strong and clear evidence in the national audit and the Industrial Strategy.",
        "Contact team@example.org or see the_guide and snake_case_names & more.",
    ]


def test_markdown_front_matter_is_metadata(tmp_path):
    loaded = _markdown(tmp_path, (
        "---\ntitle: \"Handling missing data\"\nauthor: Statistics Division\ndate: 2024-10-16 09:00\n"
        "publisher: UK Health Security Agency\nlayout: guidance-page\n---\n\n# Overview\n\nMissing data is common.\n"
    ))
    assert loaded.metadata == {"title": "Handling missing data", "author": "Statistics Division", "date": "2024-10-16",
                               "publisher": "UK Health Security Agency"}
    assert _texts(loaded) == ["Overview", "Missing data is common."]


def test_markdown_first_level_one_heading_is_the_title(tmp_path):
    assert _markdown(tmp_path, "# Winter plan\n\nBeds open in November.\n").metadata == {"title": "Winter plan"}
    assert _markdown(tmp_path, "## Summary\n\nBeds open in November.\n").metadata == {}


def test_markdown_headings_with_levels(tmp_path):
    loaded = _markdown(tmp_path, (
        "Introduction\n============\n\nThe guide explains the metrics.\n\nOutcomes\n--------\n\nText about outcomes.\n\n"
        "### Rationale ###\n\nWhy they matter.\n\n**Key findings**\n\nEmployment demand rises.\n\n"
        "**The board agreed** that the plan goes ahead.\n\n_Scope_\n\nThe scope is national.\n"
    ))
    headings = [(b.text, b.level) for b in loaded.blocks if b.kind == "heading"]
    assert headings == [("Introduction", 1), ("Outcomes", 2), ("Rationale", 3), ("Key findings", 0), ("Scope", 0)]
    assert "The board agreed that the plan goes ahead." in _texts(loaded, "text")  # bold inside a sentence


def test_markdown_headings_broken_over_lines_are_rebuilt(tmp_path):
    loaded = _markdown(tmp_path, (
        "## Explainer for the agreement on the withdrawal of\n\n## the United Kingdom of Great Britain and Northern\n\n"
        "## Ireland from the European Union\n\n## 14 November 2018\n\n**1**\n\n**What is healthcare productivity?**\n\n"
        "Healthcare encompasses all activity that aims to promote health.\n"
    ))
    assert _texts(loaded, "heading") == [
        "Explainer for the agreement on the withdrawal of the United Kingdom of Great Britain and Northern Ireland "
        "from the European Union", "14 November 2018", "1 What is healthcare productivity?"]


def test_markdown_lists(tmp_path):
    loaded = _markdown(tmp_path, (
        "The plan rests on these steps:\n\n- hire forty community nurses\n  for the new hubs\n"
        "- extend evening opening\n    1. on weekdays\n    2. on Saturdays\n"
        "* share rotas between teams,\nwhich saves travel\n\nA closing paragraph.\n"
    ))
    assert [(b.kind, b.text) for b in loaded.blocks] == [
        ("text", "The plan rests on these steps:"),
        ("item", "hire forty community nurses for the new hubs"),
        ("item", "extend evening opening"),
        ("item", "on weekdays"),
        ("item", "on Saturdays"),
        ("item", "share rotas between teams, which saves travel"),
        ("text", "A closing paragraph."),
    ]


def test_markdown_numbered_paragraphs_stay_paragraphs(tmp_path):
    """A policy paper numbers its paragraphs: long numbered items are paragraphs, numbers kept."""
    first = "The UK and EU have agreed a deal for citizens. It protects the rights of three million people."
    second = "We have been clear that our first priority has been to protect rights. We reached an agreement."
    loaded = _markdown(tmp_path, f"1. {first}\n2. {second}\n")
    assert [(b.kind, b.text) for b in loaded.blocks] == [("text", f"1. {first}"), ("text", f"2. {second}")]


def test_markdown_pipe_table_is_one_block_of_rows(tmp_path):
    loaded = _markdown(tmp_path, (
        "| Theme | Metric | Frequency |\n|:------|:-------|----------:|\n"
        "| Outcomes | Healthy life expectancy | Annual |\n| Prevention | Smoking \\| vaping rates | |\n\nAfter the table.\n"
    ))
    assert [(b.kind, b.text) for b in loaded.blocks] == [
        ("table", "Theme: Outcomes; Metric: Healthy life expectancy; Frequency: Annual\n"
                  "Theme: Prevention; Metric: Smoking | vaping rates"),
        ("text", "After the table."),
    ]


def test_markdown_paragraphs_split_by_a_conversion_are_joined(tmp_path):
    loaded = _markdown(tmp_path, (
        "The district will open three clinics\nin 2025 to shorten waiting times.\n\n"  # hard-wrapped
        "Increased productivity would mean delivering more\n\nhealthcare activities relative to resources.\n\n"
        "The plan was published at the end of July, along with the\n\nOur NHS People Promise.\n\n"
        "Services for the whole com-\n\nmunity are planned; the community welcomed them.\n\n"
        "See draft-\n\norigin pages and COVID-\n\n19 guidance.\n\n"
        "The review ended in March.\n\nnew rules follow a full stop: not joined.\n"
    ))
    assert _texts(loaded) == [
        "The district will open three clinics in 2025 to shorten waiting times.",
        "Increased productivity would mean delivering more healthcare activities relative to resources.",
        "The plan was published at the end of July, along with the Our NHS People Promise.",
        "Services for the whole community are planned; the community welcomed them.",
        "See draft-origin pages and COVID-19 guidance.",
        "The review ended in March.",
        "new rules follow a full stop: not joined.",
    ]


def _pdf_converted_markdown() -> str:
    """Three pages of a PDF converted to Markdown: a blank line after every PDF line, a page number and a
    two-line running header at each page break; a sentence runs across the first break, a paragraph
    ends at the second."""
    pages = [
        "Productivity is a measure of how well resources are transformed into\n\nservices, and the NHS measures it",
        "in several ways. Each of them counts outputs, such as operations and\n\nscans, against inputs.",
        "The review found that the measures differ. It recommended a single\n\napproach for all hospital trusts.",
    ]
    text = "**NHS productivity**\n\n"
    for number, page in enumerate(pages, start=1):
        if number > 1:
            text += f"\n\n{number}\n\n\n\nCommons Library Research Briefing, 23 July 2025\n\nNHS productivity\n\n\n\n"
        text += page
    return text + f"\n\n{len(pages) + 1}\n\n\n\nCommons Library Research Briefing, 23 July 2025\n\nNHS productivity\n"


def test_markdown_page_furniture_is_set_aside_and_pages_rejoined(tmp_path):
    loaded = _markdown(tmp_path, _pdf_converted_markdown())
    assert _texts(loaded) == [
        "NHS productivity",
        "Productivity is a measure of how well resources are transformed into services, and the NHS measures it "
        "in several ways. Each of them counts outputs, such as operations and scans, against inputs.",
        "The review found that the measures differ. It recommended a single approach for all hospital trusts.",
    ]
    reasons = {(d.text, d.reason) for d in loaded.dropped}
    assert ("2", "page number") in reasons and ("4", "page number") in reasons
    assert ("Commons Library Research Briefing, 23 July 2025", "running header or footer (repeats next to page breaks)") in reasons
    assert sum(d.text == "NHS productivity" for d in loaded.dropped) == 3  # the cover's bold title stays


def test_a_running_headers_copy_on_the_cover_stays(tmp_path):
    # The cover sets the title in plain lines that the running header repeats on every later page.
    pages = ["Ferry crews must hold a valid licence before they sail, and the authority checks it every year.",
             "The authority publishes the number of licences it checks each year in its annual report.",
             "Crews who fail the check may not sail until a new licence is issued to them by the authority."]
    text = "**Harbour Licences**\n\nStrategy\n\n2031-2035\n\n"
    for number, page in enumerate(pages, start=1):
        text += f"{page}\n\n{number}\n\n\n\nHarbour Licences\n\nStrategy\n\n\n\n"
    loaded = _markdown(tmp_path, text)
    assert _texts(loaded)[:3] == ["Harbour Licences", "Strategy", "2031-2035"]
    assert sum(d.text == "Strategy" for d in loaded.dropped) == 3  # every later page's copy is set aside


def test_markdown_keeps_numbers_and_repeats_of_ordinary_documents(tmp_path):
    """Without page numbers, a line holding a number or a repeated line is content."""
    loaded = _markdown(tmp_path, "Beds open:\n\n42\n\nWhat is it?\n\nA ward.\n\nWhat is it?\n\nA clinic.\n\nWhat is it?\n\nA hub.\n")
    assert loaded.dropped == []
    assert "42" in _texts(loaded)


def test_markdown_blank_page_notice_and_outline_are_set_aside(tmp_path):
    loaded = _markdown(tmp_path, (
        "#### [THIS PAGE IS LEFT INTENTIONALLY BLANK]\n\nThe report follows.\n\n# Document Outline\n\n"
        "+ Summary\n+ 1 What is productivity?\n\t+ 1.1 Measures\n"
    ))
    assert _texts(loaded) == ["The report follows."]
    assert [d.reason for d in loaded.dropped] == ["blank-page notice"] + [
        "document outline (the PDF's bookmarks, added by the conversion)"] * 4


def test_markdown_footnote_inside_a_broken_sentence_moves_after_it(tmp_path):
    loaded = _markdown(tmp_path, (
        "The UK cannot act unilaterally to\n\n(^1) For example, the Prime Minister's speech.\n\n"
        "protect the rights of UK nationals in the EU.\n\nA new paragraph.\n"
    ))
    assert _texts(loaded) == ["The UK cannot act unilaterally to protect the rights of UK nationals in the EU.",
                              "1 For example, the Prime Minister's speech.", "A new paragraph."]


def test_markdown_templates_and_html_blocks(tmp_path):
    loaded = _markdown(tmp_path, (
        "{% include sources-text.md %}\n\n{% capture card_1 %}\nReference tables go in an ODS file. {% endcapture %}\n\n"
        "{% include card.html\ncontent=card_1 title=\"Use open\nformats\" %}\n\n"  # wrapped at 72 columns
        "<h4>\nRationale\n</h4>\n<p>\nThese metrics focus on <em>long-term</em>\noutcomes.\n</p>\n"
    ))
    assert [(b.kind, b.text) for b in loaded.blocks] == [
        ("heading", "Use open formats"), ("text", "Reference tables go in an ODS file."),
        ("heading", "Rationale"), ("text", "These metrics focus on long-term outcomes."),
    ]
    assert [d.reason for d in loaded.dropped] == ["template directive (Liquid/Jekyll)"]


# --- HTML -----------------------------------------------------------------------------------------------

GOVUK_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Community nursing review - GOV.UK</title><meta property="og:site_name" content="GOV.UK">
</head><body>
<div class="gem-c-cookie-banner" role="region"><p>We use some essential cookies to make this website work.</p></div>
<a href="#main" class="govuk-skip-link">Skip to main content</a>
<header class="govuk-header"><a href="/">GOV.UK</a><nav><a href="/browse">Topics</a></nav></header>
<div class="gem-c-global-banner"><p><a href="/vote">Register to vote</a> Register by 18 June to vote in the General Election on 4 July.</p></div>
<div class="gem-c-contextual-breadcrumbs"><ol><li><a href="/">Home</a></li><li><a href="/health">Health and social care</a></li></ol></div>
<main id="main"><h1>Community nursing review</h1>
<p class="meta">From: Department of Health and Social Care | Published 21 February 2023; last updated 3 March 2023</p>
<div class="govspeak"><h2>Summary</h2>
<p>Nurses spent a third of each shift travelling.<sup id="fnref:1"><a href="#fn:1" class="footnote">1</a></sup></p>
<p>The new hubs aim to cut travel by half:</p>
<ul><li><p>by grouping visits by neighbourhood</p></li><li><p>by sharing rotas</p><p>between teams</p></li>
<li>in three phases<ul><li>north first</li></ul></li></ul>
<h3>Funding</h3>
<table><caption>Table 1: Funding (£ million)</caption><thead><tr><th></th><th>Estimate</th><th colspan="2">Forecast</th></tr>
<tr><th></th><th>2023-24</th><th>2024-25</th><th>2025-26</th></tr></thead>
<tbody><tr><th>Capital</th><td>12.5</td><td>8.0</td><td></td></tr><tr><th>Staff</th><td>30.1</td><td>33.4</td><td>35.0</td></tr></tbody></table>
<table><tr><td><p>Source: regional budget agreed in March.</p></td></tr></table>
</div></main>
<div class="gem-c-feedback"><h2>Is this page useful?</h2></div>
<footer class="govuk-footer"><p>All content is available under the Open Government Licence v3.0</p></footer>
</body></html>"""


def _html(tmp_path, html: str):
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    return load(path)


def test_html_main_content_without_furniture(tmp_path):
    loaded = _html(tmp_path, GOVUK_PAGE)
    assert [(b.kind, b.level, b.text) for b in loaded.blocks] == [
        ("heading", 1, "Community nursing review"),
        ("heading", 2, "Summary"),
        ("text", 0, "Nurses spent a third of each shift travelling."),  # the footnote mark is not a word
        ("text", 0, "The new hubs aim to cut travel by half:"),
        ("item", 0, "by grouping visits by neighbourhood"),
        ("item", 0, "by sharing rotas between teams"),  # two paragraphs of one item
        ("item", 0, "in three phases"),  # an item's own words before its nested list
        ("item", 0, "north first"),
        ("heading", 3, "Funding"),
        ("text", 0, "Table 1: Funding (£ million)"),
        ("table", 0, "Capital; Estimate 2023-24: 12.5; Forecast 2024-25: 8.0\n"
                     "Staff; Estimate 2023-24: 30.1; Forecast 2024-25: 33.4; Forecast 2025-26: 35.0"),
        ("text", 0, "Source: regional budget agreed in March."),  # a layout table: its cell as text
    ]


def test_html_metadata(tmp_path):
    loaded = _html(tmp_path, GOVUK_PAGE)
    assert loaded.metadata == {"title": "Community nursing review", "publisher": "Department of Health and Social Care",
                               "date": "2023-02-21"}
    assert [d.reason for d in loaded.dropped] == ["publication details (kept as the document's publisher and date)"]
    loaded = _html(tmp_path, (
        "<html><head><title>Ward news | Riverside Trust</title><meta property='og:site_name' content='Riverside Trust'>"
        "<meta name='author' content='Jane Smith'><meta name='DC.date.issued' content='2024-05-02T10:00:00Z'>"
        "</head><body><p>The ward reopened.</p></body></html>"
    ))
    assert loaded.metadata == {"title": "Ward news", "author": "Jane Smith", "date": "2024-05-02",
                               "publisher": "Riverside Trust"}
    loaded = _html(tmp_path, "<html><head><meta property='og:title' content='Spring Budget 2017'><title>x</title></head>"
                             "<body><h1>Spring Budget</h1><p>Text.</p></body></html>")
    assert loaded.metadata["title"] == "Spring Budget 2017"
    assert _html(tmp_path, "<html><body><h1>Winter plan</h1><p>Text.</p></body></html>").metadata == {"title": "Winter plan"}


# --- DOCX -----------------------------------------------------------------------------------------------


def _docx(path, build) -> None:
    import docx

    document = docx.Document()
    build(document)
    document.save(str(path))


def _plan(document) -> None:
    document.add_paragraph("Community care plan 2025", style="Title")
    document.add_heading("Clinics", level=1)
    document.add_paragraph("The district will open three clinics.")
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate([["Clinic", "Opens", "Staff"], ["Northgate", "March", "12"], ["Southbank", "June", ""]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph("The plan rests on these steps:")
    document.add_paragraph("hire forty community nurses", style="List Bullet")
    document.add_paragraph("• extend evening opening")
    document.add_heading("Funding", level=2)
    box = document.add_table(rows=1, cols=1)
    box.cell(0, 0).text = "Funding comes from the regional budget."
    document.core_properties.title = "Plan.docx"  # a file name, not a title
    document.core_properties.author = "Jane Smith"


def test_docx_body_in_order_with_styles_and_tables(tmp_path):
    path = tmp_path / "plan.docx"
    _docx(path, _plan)
    loaded = load(path)
    assert [(b.kind, b.level, b.text) for b in loaded.blocks] == [
        ("heading", 1, "Community care plan 2025"),
        ("heading", 1, "Clinics"),
        ("text", 0, "The district will open three clinics."),
        ("table", 0, "Clinic: Northgate; Opens: March; Staff: 12\nClinic: Southbank; Opens: June"),  # in its place
        ("text", 0, "The plan rests on these steps:"),
        ("item", 0, "hire forty community nurses"),
        ("item", 0, "extend evening opening"),
        ("heading", 2, "Funding"),
        ("text", 0, "Funding comes from the regional budget."),  # a one-cell box is text
    ]
    assert loaded.metadata == {"title": "Community care plan 2025", "author": "Jane Smith"}


def test_docx_core_properties_when_meaningful(tmp_path):
    path = tmp_path / "note.docx"

    def build(document):
        document.add_paragraph("A short note.")
        document.core_properties.title = "Discharge checklist"

    _docx(path, build)  # python-docx names "python-docx" as the author: a placeholder
    assert load(path).metadata == {"title": "Discharge checklist"}


def test_docx_empty_paragraphs_are_skipped_before_their_style_is_read(tmp_path, monkeypatch):
    from ingest import docx_loader

    path = tmp_path / "empty.docx"

    def build(document):
        for _ in range(2000):
            document.add_paragraph("", style="List Bullet")
        document.add_paragraph("The only text.")

    _docx(path, build)
    looked_up = []
    original = docx_loader._StyleTable.kind
    monkeypatch.setattr(docx_loader._StyleTable, "kind", lambda self, p: looked_up.append(p) or original(self, p))
    assert [b.text for b in load(path).blocks] == ["The only text."]
    assert len(looked_up) == 1


def test_docx_with_too_many_paragraphs_is_refused(tmp_path, monkeypatch):
    from ingest import docx_loader

    path = tmp_path / "long.docx"
    _docx(path, lambda document: [document.add_paragraph(f"Line {i}.") for i in range(30)])
    monkeypatch.setattr(docx_loader, "MAX_PARAGRAPHS", 20)
    with pytest.raises(UnreadableDocument, match="DOCX has 30 paragraphs, over the 20 read"):
        load(path)


def test_docx_long_basedon_chains_are_walked_once(tmp_path, monkeypatch):
    import re
    import zipfile

    path = tmp_path / "chain.docx"
    _docx(path, lambda document: None)
    n = 1500  # style i is based on style i-1; paragraph i is in style i
    chain = "".join(f'<w:style w:type="paragraph" w:styleId="C{i}"><w:name w:val="Chain {i}"/>'
                    + (f'<w:basedOn w:val="C{i - 1}"/>' if i else "") + "</w:style>" for i in range(n))
    body = "".join(f'<w:p><w:pPr><w:pStyle w:val="C{i}"/></w:pPr><w:r><w:t>Line {i}.</w:t></w:r></w:p>' for i in range(n))
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            if info.filename == "word/styles.xml":
                data = data.replace(b"</w:styles>", chain.encode() + b"</w:styles>")
            elif info.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + body.encode(), 1)
            archive.writestr(info, data)
    steps = []  # each style examined on a walk up a chain matches its name against "heading N" once
    real = re.fullmatch
    monkeypatch.setattr(re, "fullmatch", lambda pattern, text, *a: steps.append(text) or real(pattern, text, *a))
    assert len([b for b in load(path).blocks if b.text.startswith("Line ")]) == n
    assert len(steps) <= 2 * n  # walking each paragraph's whole chain: n * n / 2, 1.1 million
