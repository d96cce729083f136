"""PDF: the blocks, stated metadata and set-aside lines of a .pdf file.

Library: pdfplumber (MIT, on pdfminer.six), chosen by measurement on the 15 PDFs of
shared/bench/policy-corpus (390 pages, this machine):
- pdfplumber: 118 ms/page for words with positions, font sizes and font names; true font sizes on all
  15 documents; finds ruled tables (the tables in 8 of the 15, at under 1 ms/page once words are read);
- pypdfium2: 9 ms/page, but its font size is the nominal one (1.0 pt for every character in 7 of the 15
  documents, whose text is scaled by its matrix), it has no table finder and no word grouping;
- pdfminer.six with layout analysis: 82 ms/page, the same parser as pdfplumber without its tables;
- pypdf (the loader before): 90 ms/page in the two extraction modes it needed, no font sizes.
All four read 99.8% or more of the words pdftotext reads. pdfplumber is ~1.3x the old loader's time
for layout, headings and tables; MAX_PAGES bounds the work on huge files.

The layout rules live in ingest/pdf_layout.py (lines, columns, running headers and footers),
ingest/pdf_blocks.py (paragraphs, headings, items, hyphenation, page marks) and ingest/pdf_tables.py.
This module opens the file (quietly: pdfminer's log lines and warnings never reach the output),
refuses files it cannot read with the reason, and reads the title and author (`_title`, `_author`).

Title: the largest text on page 1 (its lines joined) when it reads as a title, else the document
information's Title when meaningful. The cover is what readers see; the information field is often a
template's ("[Insert title of report]"), a file name, a working name ("Blood glucose and ketone
self-monitoring guidance" for a guideline titled "Self-Monitoring of Blood Glucose (SMBG) and Ketone in
Diabetes Guideline") or carries a site suffix (" - GOV.UK", stripped).
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
    from ingest.pdf_blocks import build_blocks
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
    if not any(ln.words for lines in pages for ln in lines if ln.table is None) and not any(
            ln.table is not None for lines in pages for ln in lines):
        raise UnreadableDocument("PDF has no extractable text (scanned image?)")
    pages, furniture = drop_furniture(pages, heights)
    blocks = build_blocks(pages)
    metadata = {}
    if title := _title(pdf.metadata, pages[0] if pages else []):
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
        if w.get("upright", True) and w["text"].strip():
            words.append(Word(w["text"], w["x0"], w["x1"], w["top"], w["bottom"], float(w["size"]), is_bold(w["fontname"])))
    placed = [(t.bbox, t.block) for t in tables if t.block is not None]
    return page_lines(_merge_attribute_splits(words), number, placed), [t.dropped for t in tables if t.dropped]


def _merge_attribute_splits(words):
    """pdfplumber cuts a word where its font changes ("Evaluation" with a bold "E"); a piece that touches
    the next one at the same size is glued back. A smaller piece (a superscript note mark) stays apart."""
    merged = []
    for w in words:
        last = merged[-1] if merged else None
        if (last is not None and abs(w.x0 - last.x1) < 0.5 and abs(w.bottom - last.bottom) < 1.0
                and abs(w.size - last.size) < 0.5):
            merged[-1] = type(w)(last.text + w.text, last.x0, w.x1, min(last.top, w.top), max(last.bottom, w.bottom),
                                 last.size, last.bold and w.bold)
        else:
            merged.append(w)
    return merged


# --- title and author ---------------------------------------------------------------------------------------

_SITE_SUFFIX = re.compile(r"\s+[-–|]\s+[\w-]+(?:\.[\w-]+)+\s*$")  # " - GOV.UK", " | nhs.uk"
_FORMAT_NOTE = re.compile(r"\s*\((?:[^()]*\b(?:accessible|print|web|pdf|html|large print|easy read)\b[^()]*)\)\s*$",
                          re.IGNORECASE)
_PLACEHOLDER = re.compile(r"^\[.*\]$|\binsert\b|^untitled\b|^microsoft (?:word|powerpoint) - |^title$|^document\d*$",
                          re.IGNORECASE)
_FILE_LIKE = re.compile(r"^[\w.-]+\.\w{2,4}$|^[\w-]+_[\w-]+$|\.(?:docx?|pdf|pptx?|indd|qxd)\b", re.IGNORECASE)


def _clean_title(text: str | None) -> str:
    if not isinstance(text, str):
        return ""
    title = re.sub(r"\s+", " ", text).strip()
    title = _FORMAT_NOTE.sub("", _SITE_SUFFIX.sub("", title)).strip(" -–|:")
    if (not title or _PLACEHOLDER.search(title) or _FILE_LIKE.search(title) or generic_title(title)
            or len(title.split()) > 40):
        return ""
    return title


def _title(info: dict, first_page) -> str:
    return _clean_title(_largest_text(first_page)) or _clean_title(info.get("Title"))


def _largest_text(lines) -> str:
    """The lines set in the largest size on the page, the first run of them (a title over several lines)."""
    texts = [ln for ln in lines if ln.table is None and ln.words]
    if not texts:
        return ""
    largest = max(ln.size for ln in texts)
    body = sorted(ln.size for ln in texts)[len(texts) // 2]
    if largest < body * 1.15:
        return ""  # nothing stands out
    run: list = []
    for ln in texts:
        if ln.size >= largest - 0.5:
            run.append(ln)
        elif run:
            break
    return " ".join(ln.text for ln in run)


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
