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
# html 2: ARIA navigation landmarks and Sphinx furniture dropped; 3: <title> only when no <h1>.
# pdf 2: paragraphs split at vertical gaps.
LOADER_VERSIONS = {".html": "3", ".htm": "3", ".pdf": "2"}


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


def read_text(path: Path) -> str:
    """Decode a text file: UTF-8 if it is, else the detected encoding; binary is refused."""
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableDocument("empty file")
    if b"\x00" in data[:8192]:
        raise UnreadableDocument("binary content, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnreadableDocument("binary content or unknown text encoding")
    text = str(best)
    # Text with many control characters is binary that happened to decode.
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > len(text) * 0.01:
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


