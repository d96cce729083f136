"""PDF: the blocks, stated metadata and set-aside lines of a .pdf file.

Library: pdfplumber (MIT, on pdfminer.six), chosen by measurement on the 15 PDFs of
shared/bench/policy-corpus (390 pages; CPU time per page on this machine):
- pdfplumber: 83 ms for words with positions, true font sizes and font names (bold); it finds the ruled
  tables (in 8 of the 15 documents) for under 1 ms a page more;
- pdfminer.six with layout analysis: 57 ms, the same parser without a table finder;
- pypdfium2: 6 ms, but its font size is the nominal one (1.0 pt for every character of the 7 documents
  whose text is scaled by a matrix), and it has no table finder and no word grouping;
- pypdf, one extraction mode: 33 ms, no font sizes (the loader before, in its two modes: 64 ms).
All read 99.8% or more of the words poppler's pdftotext reads. This loader takes ~96 ms a page in all
(1.5x the one before); MAX_PAGES and MAX_WORDS_PER_PAGE bound the work on huge files.

The layout rules live in ingest/pdf_layout.py (lines, columns, running headers and footers),
ingest/pdf_blocks.py (paragraphs, headings, items, footnotes, hyphenation, page marks) and
ingest/pdf_tables.py. This module opens the file (quietly: pdfminer's log lines and warnings never
reach the output), refuses files it cannot read with the reason (corrupt, encrypted unless the empty
password opens it, no text layer), finds bullets drawn as shapes, and reads the title and author.

Title: the largest text on page 1 (its lines joined; the second largest when the largest is one word,
a logo or label), else the document information's Title when meaningful. The cover is what readers
see; the information field is often a template's ("[Insert title of report]"), a file name, a working
name ("Blood glucose and ketone self-monitoring guidance" for the guideline titled "Self-Monitoring of
Blood Glucose (SMBG) and Ketone in Diabetes Guideline") or carries a site suffix or a format note
(" - GOV.UK", "(accessible webpage)": stripped). Author: the document information's Author when it
names a person or an organisation, not an account ("Administrator", "jsmith").
"""

from __future__ import annotations

import logging
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

from assistant.records import DroppedLine
from ingest.loaders import LoadedDocument, UnreadableDocument
from ingest.metadata import generic_title

MAX_PAGES = 500  # pages read from one file (about a minute); the rest are recorded as not read
MAX_WORDS_PER_PAGE = 20_000  # a page with more is data or vector art, not prose: recorded and skipped
MAX_DRAWN_BULLETS = 200  # more small dots than this on a page are a chart's markers
_QUIET_LOGGERS = ("pdfminer", "pdfplumber", "pypdfium2", "PIL")
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)


def is_bold(fontname: str) -> bool:
    return bool(_BOLD.search(fontname or ""))


@contextmanager
def _quiet():
    """pdfminer logs a warning for every odd object of a damaged file; none of it is the user's business."""
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def load_pdf(path: Path) -> LoadedDocument:
    if path.stat().st_size == 0:
        raise UnreadableDocument("empty file")
    with _quiet():
        pdf = _open(path)
        try:
            return _read(pdf)
        finally:
            pdf.close()


def _open(path: Path):
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    try:
        pdf = pdfplumber.open(str(path), password="")
        pdf.pages  # noqa: B018 - reading the page tree finds most damage now, not halfway through
        return pdf
    except Exception as exc:  # noqa: BLE001 - pdfminer raises many kinds for damaged files
        cause = exc.__cause__ or (exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc)
        if isinstance(cause, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise UnreadableDocument("encrypted PDF: it needs a password") from exc
        raise UnreadableDocument(f"corrupt or unreadable PDF ({cause.__class__.__name__}: {cause})"[:300]) from exc


def _read(pdf) -> LoadedDocument:
    from ingest.pdf_blocks import Style, build_blocks
    from ingest.pdf_layout import drop_furniture

    pages, heights, dropped = [], [], []
    total = len(pdf.pages)
    for number, page in enumerate(pdf.pages[:MAX_PAGES], start=1):
        try:
            lines, skipped = _page_lines(page, number)
        except Exception as exc:  # noqa: BLE001 - one damaged page should not lose the others
            lines, skipped = [], [DroppedLine(f"page {number}", f"page unreadable ({exc.__class__.__name__})")]
        finally:
            page.close()  # frees the page's parsed objects: memory stays bounded on long files
        pages.append(lines)
        heights.append(float(page.height))
        dropped += skipped
    if total > MAX_PAGES:
        dropped.append(DroppedLine(f"pages {MAX_PAGES + 1}-{total}", f"not read: over the {MAX_PAGES}-page limit"))
    if not any(pages):
        raise UnreadableDocument("PDF has no extractable text (scanned image?)")
    style = Style.of([ln for lines in pages for ln in lines])
    pages, furniture = drop_furniture(pages, heights, style.body_size)
    blocks = build_blocks(pages, style)
    metadata = {}
    if title := _title(pdf.metadata, pages[0] if pages else [], style.body_size):
        metadata["title"] = title
    if author := _author(pdf.metadata):
        metadata["author"] = author
    return LoadedDocument(blocks, metadata, page_count=total, dropped=furniture + dropped)


def _page_lines(page, number: int):
    from ingest.pdf_layout import Word, page_lines
    from ingest.pdf_tables import page_tables

    raw = page.extract_words(extra_attrs=["size", "fontname"], keep_blank_chars=False)
    if len(raw) > MAX_WORDS_PER_PAGE:
        return [], [DroppedLine(f"page {number}", f"page skipped: {len(raw)} words, over {MAX_WORDS_PER_PAGE}")]
    tables = page_tables(page, number, is_bold) if page.rects or page.lines else []
    boxes = [t.bbox for t in tables]
    words = []
    for w in raw:
        middle_x, middle_y = (w["x0"] + w["x1"]) / 2, (w["top"] + w["bottom"]) / 2
        if any(x0 <= middle_x <= x1 and top <= middle_y <= bottom for x0, top, x1, bottom in boxes):
            continue  # the table's own block carries it
        if w.get("upright", True) and w["text"].strip():  # rotated text is a chart's axis label or a stamp
            size, bold = float(w["size"]), is_bold(w["fontname"])
            words.append(Word(w["text"], w["x0"], w["x1"], w["top"], w["bottom"], size, bold))
    words = _merge_attribute_splits(words)
    words += _drawn_bullets(page, words, boxes)
    placed = [(t.bbox, t.block) for t in tables if t.block is not None]
    return page_lines(words, number, placed), [t.dropped for t in tables if t.dropped]


def _drawn_bullets(page, words, boxes):
    """Bullets drawn as small filled dots or squares, not as text (web pages printed to PDF draw them so):
    a "•" word for each shape that stands just left of a line's first word, within the line's height."""
    from ingest.pdf_layout import Word

    shapes = [shape for shape in page.curves + page.rects if shape.get("fill")
              and 1.5 <= shape["width"] <= 8 and 1.5 <= shape["height"] <= 8
              and 0.6 <= shape["width"] / shape["height"] <= 1.6]
    if len(shapes) > MAX_DRAWN_BULLETS:
        return []  # a chart's markers, not a list
    bullets: dict[int, tuple[dict, Word]] = {}  # the first word of a line -> the shape nearest before it
    for shape in shapes:
        middle = (shape["top"] + shape["bottom"]) / 2
        if any(x0 <= shape["x0"] <= x1 and top <= middle <= bottom for x0, top, x1, bottom in boxes):
            continue
        row = [t for t in words if t.top <= middle <= t.bottom]
        after = [t for t in row if 0 < t.x0 - shape["x1"] < 3 * t.size]
        if not after:
            continue
        nearest = min(after, key=lambda t: t.x0)
        if any(0 <= shape["x0"] - t.x1 < 3 * nearest.size for t in row):
            continue  # text just before it: a dot inside a line or a logo, not a bullet
        if id(nearest) not in bullets or shape["x0"] > bullets[id(nearest)][0]["x0"]:
            bullets[id(nearest)] = (shape, nearest)
    return [Word("•", shape["x0"], shape["x1"], word.top, word.bottom, word.size, False)
            for shape, word in bullets.values()]


def _merge_attribute_splits(words):
    """pdfplumber cuts a word where its font changes ("Evaluation" with a bold "E"); a piece that touches
    the next one at the same size is glued back. A smaller piece (a superscript note mark) stays apart."""
    merged = []
    for w in words:
        last = merged[-1] if merged else None
        if (last is not None and abs(w.x0 - last.x1) < 0.5 and abs(w.bottom - last.bottom) < 1.0
                and abs(w.size - last.size) < 0.5):
            top, bottom = min(last.top, w.top), max(last.bottom, w.bottom)
            merged[-1] = type(w)(last.text + w.text, last.x0, w.x1, top, bottom, last.size, last.bold and w.bold)
        else:
            merged.append(w)
    return merged


# --- title and author ---------------------------------------------------------------------------------------

_SITE_SUFFIX = re.compile(r"\s+[-–|]\s+[\w-]+(?:\.[\w-]+)+\s*$")  # " - GOV.UK", " | nhs.uk"
# "(accessible webpage)", "(print version)": a note about the file's format, not part of the title
_FORMAT_NOTE = re.compile(r"\s*\([^()]*\b(?:accessible|print|web|pdf|html|large print|easy read)\b[^()]*\)\s*$",
                          re.IGNORECASE)
# template text, an empty field's default, a word processor's "Microsoft Word - file.docx"
_PLACEHOLDER = re.compile(r"^\[.*\]$|\binsert\b|^untitled\b|^microsoft (?:word|powerpoint) - |^title$|^document\d*$",
                          re.IGNORECASE)
_FILE_LIKE = re.compile(r"^[\w.-]+\.\w{2,4}$|^[\w-]+_[\w-]+$|\.(?:docx?|pdf|pptx?|indd|qxd)\b", re.IGNORECASE)


def _clean_title(text: str | None) -> str:
    if not isinstance(text, str):
        return ""
    title = re.sub(r"\s+", " ", text).strip()
    if not title or _PLACEHOLDER.search(title) or _FILE_LIKE.search(title):
        return ""
    title = _FORMAT_NOTE.sub("", _SITE_SUFFIX.sub("", title)).strip(" -–|:")
    if not title or generic_title(title) or len(title.split()) > 40:
        return ""
    return title


def _title(info: dict, first_page, body_size: float) -> str:
    for text in _cover_texts(first_page, body_size)[:2]:
        if len((title := _clean_title(text)).split()) >= 2:  # one word in the largest type is a logo or a label
            return title
    return _clean_title(info.get("Title"))


def _cover_texts(lines, body_size: float) -> list[str]:
    """Texts on the page set clearly larger than the body, largest first: for each size, the first run
    of lines in it (a title set over several lines), joined."""
    texts = [ln for ln in lines if ln.table is None and ln.size >= body_size * 1.15]
    found = []
    for size in sorted({ln.size for ln in texts}, reverse=True):
        run: list = []
        for ln in texts:
            if abs(ln.size - size) <= 0.5 and (not run or 0 < ln.bottom - run[-1].bottom < 2 * size):
                run.append(ln)
            elif run:
                break
        found.append(" ".join(ln.text for ln in run))
    return found


_NOT_A_NAME = re.compile(r"^(?:admin(?:istrator)?|user|owner|author|unknown|microsoft office user|windows user|"
                         r"default|guest|staff|pc|hp|dell|lenovo)$", re.IGNORECASE)


def _author(info: dict) -> str:
    """The document information's Author when it names a person or organisation, not an account."""
    author = info.get("Author")
    if not isinstance(author, str):
        return ""
    author = re.sub(r"(?<=[a-z])\d+\b", "", re.sub(r"\s+", " ", author)).strip(" ,;")  # "Zeb1": a note mark
    if not author or _NOT_A_NAME.match(author) or "@" in author or re.search(r"[_\\/]|\d", author):
        return ""
    words = author.split()
    if len(words) == 1 and not re.fullmatch(r"[A-Z][A-Z&]{1,9}", author):
        return ""  # one word: an account name ("jsmith", "Helen") unless an acronym ("DWP", "BEIS")
    return author
