"""Loaders: one file in, a `LoadedDocument` out (text blocks in reading order, the metadata the file
states, the lines set aside). This module holds the shared types, plain text and the dispatch by
extension; each other format has its own module:
- .md: ingest/markdown_loader.py; .html/.htm: ingest/html_loader.py; .pdf: ingest/pdf_loader.py;
  .docx: ingest/docx_loader.py.

A loader raises `UnreadableDocument` with a reason a user can act on; the pipeline records it
as skipped and carries on with the other files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.records import DroppedLine

SUPPORTED_EXTENSIONS = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")

BULLET_RE = re.compile(r"^\s*(?:[•·●▪◦‣∙\-\*–]|\(?\d{1,2}[.)])\s+")


# Bump a format's version when its loader's output changes: it is part of the content hash of
# files of that format, so they (and only they) are re-ingested. Formats not listed are at 1.
# html 2: ARIA navigation landmarks and Sphinx furniture dropped; 3: <title> only when no <h1>; 4: tables as
# rows, <li><p> as items, heading levels, GOV.UK furniture classes, metadata, Windows-1252 by default.
# md 2: front matter, escapes, PDF-conversion repairs (split paragraphs, page furniture), tables as rows; 3: a
# running header's copy before the first page number is the cover's, and kept.
# docx 2: body order (tables in place), tables as rows, heading levels, title and author.
# pdf 2: paragraphs split at vertical gaps; 3: pdfplumber layout (columns, running headers and footers, headings,
# tables, page marks, title and author); 4: margin notes beside prose read apart from it.
LOADER_VERSIONS = {".html": "4", ".htm": "4", ".md": "3", ".markdown": "3", ".docx": "2", ".pdf": "4"}


class UnreadableDocument(Exception):
    """The file cannot be turned into text; the message says why."""


@dataclass(frozen=True)
class Block:
    """One unit of a loaded file, in reading order."""

    kind: str  # "heading", "text", "item" (a list item) or "table" (rows as lines, "Column: value; Column: value")
    text: str
    # True where the format marks no headings (plain text, PDF without font sizes): the cleaner then decides
    # from the line's shape whether a "text" block is a heading. Elsewhere only "heading" blocks are headings.
    plain: bool = False
    level: int = 0  # a heading's level where the format says (1 = top); 0 when unknown
    # Where the block's pages begin, as (word index, 1-based page): the page of the block's first word is
    # page_marks[0]; a block rebuilt across a page break has a second mark at the first word of the next page.
    # Word indexes (counting whitespace-separated words of `text`) survive whitespace tidying. Empty outside PDF.
    page_marks: tuple[tuple[int, int], ...] = ()
    # A role the loader already knows makes the block non-content (never an answer candidate): one of
    # ingest.noncontent.ROLES ("contents", "notice", "banner", "references"); "" for content.
    role: str = ""


@dataclass
class LoadedDocument:
    """What a loader gives: the blocks, what the file itself states about the document, and what it set aside."""

    blocks: list[Block]
    # Metadata the file states (PDF document info, HTML <title>/og:title/<meta>, DOCX core properties, Markdown
    # front matter): keys title, author, publisher, date (ISO where it can be), reference; only keys it found.
    metadata: dict[str, str] = field(default_factory=dict)
    page_count: int | None = None  # PDF pages; None for formats without pages
    # Lines the loader left out of every block (running headers and footers, page numbers, skipped tables),
    # each with its reason: `assistant sources show DOC --dropped` lists them with the cleaner's.
    dropped: list[DroppedLine] = field(default_factory=list)


def load(path: Path) -> LoadedDocument:
    """The blocks and stated metadata of `path`, by extension. Raises UnreadableDocument."""
    suffix = path.suffix.lower()
    if suffix in (".txt",):
        return LoadedDocument(text_blocks(read_text(path)))
    if suffix in (".md", ".markdown"):
        from ingest.markdown_loader import load_markdown

        return load_markdown(path)
    if suffix in (".html", ".htm"):
        from ingest.html_loader import load_html

        return load_html(path)
    if suffix == ".pdf":
        from ingest.pdf_loader import load_pdf

        return load_pdf(path)
    if suffix == ".docx":
        from ingest.docx_loader import load_docx

        return load_docx(path)
    raise UnreadableDocument(f"unsupported file type {suffix or '(no extension)'}")


# --- text ------------------------------------------------------------------------------------


# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
# The detector's reading replaces Windows-1252 only when the Windows-1252 reading is this much messier
# (charset-normalizer's mess ratio, 0 = clean). Measured on short texts: true Windows-1252 and Latin-1
# text (English with curly quotes, € and dashes; French, German, Spanish, Dutch, Danish, Portuguese)
# reads at 0.00-0.03, symbol-heavy lines up to 0.45; Cyrillic, Greek, Hebrew, Arabic, Polish, Japanese and
# Chinese read as Windows-1252 at 1.0-3.1, and the detector reads them at 0.
_MESS_MARGIN = 0.1
# How much of a large file the mess ratio looks at: enough to judge, fast on any size.
_MESS_SAMPLE = 65536


def read_text(path: Path) -> str:
    """Decode a text file. UTF-8 (with or without a byte-order mark); UTF-16 or UTF-32 by their byte-order
    mark; else Windows-1252 (which reads Latin-1 text too), unless the encoding detector is confident of
    another one (`_detected_encoding`). Empty and binary files are refused with the reason."""
    data = path.read_bytes()
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise UnreadableDocument(f"invalid {encoding.upper().replace('-SIG', '')} text: {exc.reason}") from exc
            return _checked_text(text.lstrip("\ufeff"))
    if not data.strip():
        raise UnreadableDocument("empty file")
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("binary content, not text")
    try:
        return _checked_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    windows = data.decode("cp1252", errors="replace")  # 5 byte values have no character: U+FFFD
    detected = _detected_encoding(data, windows)
    return _checked_text(data.decode(detected, errors="replace") if detected else windows)


def _detected_encoding(data: bytes, windows_text: str) -> str | None:
    """The detector's encoding when it is confident: its reading is clean where the Windows-1252 reading
    is mess (`_MESS_MARGIN`), and it recognised a language in it or the encoding is multi-byte (which
    rarely decodes by accident). None keeps Windows-1252."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio
    from charset_normalizer.utils import is_multi_byte_encoding

    windows_mess = mess_ratio(windows_text[:_MESS_SAMPLE], 1.0)
    if windows_mess < _MESS_MARGIN:
        return None  # nothing to gain: the detector's reading cannot be clearly cleaner
    best = from_bytes(data).best()
    if best is None or best.encoding in ("cp1252", "latin_1", "iso8859_15"):
        return None
    if windows_mess - best.chaos < _MESS_MARGIN:
        return None
    if best.coherence < 0.2 and not is_multi_byte_encoding(best.encoding):
        return None  # a single-byte reading of no known language: as likely wrong as Windows-1252
    return best.encoding


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def _checked_text(text: str) -> str:
    if not text.strip():
        raise UnreadableDocument("empty file")
    # Text with many control characters is binary that happened to decode.
    sample = text[:_MESS_SAMPLE]
    if len(_CONTROL.findall(sample)) > len(sample) * 0.01:
        raise UnreadableDocument("binary content, not text")
    return text


def item_text(line: str) -> str:
    return BULLET_RE.sub("", line, count=1).strip()


def text_blocks(text: str) -> list[Block]:
    """Plain text: a line is a block; hard-wrapped lines are joined back into paragraphs."""
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    blocks: list[Block] = []
    current = ""
    for line in lines + [""]:
        stripped = line.strip()
        if not stripped:
            if current:
                blocks.append(Block("text", current, plain=True))
                current = ""
            continue
        if BULLET_RE.match(line):
            if current:
                blocks.append(Block("text", current, plain=True))
                current = ""
            blocks.append(Block("item", item_text(line), plain=True))
            continue
        # Join a hard-wrapped line to the previous one: the previous line is long, does not end
        # a sentence, and this one continues in lower case.
        if current and len(current) >= 40 and not re.search(r"[.!?:;\"'”’)]$", current) and stripped[0].islower():
            current = f"{current} {stripped}"
            continue
        if current:
            blocks.append(Block("text", current, plain=True))
        current = stripped
    return blocks


