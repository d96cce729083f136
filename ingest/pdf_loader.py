"""PDF: text blocks of a .pdf file (pypdf)."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import BULLET_RE, Block, LoadedDocument, UnreadableDocument, item_text, text_blocks


# --- pdf -------------------------------------------------------------------------------------


def pdf_blocks(path: Path) -> list[Block]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if path.stat().st_size == 0:
        raise UnreadableDocument("empty file")
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:  # noqa: BLE001 - any failure means we cannot read it
                raise UnreadableDocument("encrypted PDF") from exc
        pages = [_page_text(page) for page in reader.pages]
    except UnreadableDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise UnreadableDocument(f"corrupt or unreadable PDF ({exc.__class__.__name__}: {exc})") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise UnreadableDocument("PDF has no extractable text (scanned image?)")
    return _pdf_text_blocks(text)


_COLUMN_GAP = re.compile(r"\S {6,}\S")


def _page_text(page) -> str:
    """A page's text with its paragraph breaks: pypdf's layout mode writes the vertical gap between
    paragraphs as blank lines (its default mode writes none, so a page would be one paragraph).
    A page laid out in columns or tables reads better in the default mode's content order."""
    try:
        layout = page.extract_text(extraction_mode="layout") or ""
    except Exception:  # noqa: BLE001 - layout mode is a refinement; the default mode still reads the page
        layout = ""
    if layout.strip() and not any(_COLUMN_GAP.search(line.strip()) for line in layout.split("\n")):
        return "\n".join(line.strip() for line in layout.split("\n"))
    return page.extract_text() or ""


def _pdf_text_blocks(text: str) -> list[Block]:
    """PDF text comes as visual lines: join lines into paragraphs at blank lines."""
    blocks: list[Block] = []
    current: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            if current:
                blocks.append(Block("text", " ".join(current), plain=True))
                current = []
            continue
        if BULLET_RE.match(line):
            if current:
                blocks.append(Block("text", " ".join(current), plain=True))
                current = []
            blocks.append(Block("item", item_text(line), plain=True))
            continue
        current.append(stripped)
    if current:
        blocks.append(Block("text", " ".join(current), plain=True))
    return blocks




def load_pdf(path: Path) -> LoadedDocument:
    return LoadedDocument(pdf_blocks(path))
