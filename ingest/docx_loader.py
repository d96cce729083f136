"""DOCX: paragraphs (with heading and list styles) and tables of a Word file (python-docx)."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import BULLET_RE, Block, LoadedDocument, UnreadableDocument, item_text, text_blocks


# --- docx ------------------------------------------------------------------------------------


def docx_blocks(path: Path) -> list[Block]:
    import zipfile

    try:
        import docx
        from docx.opc.exceptions import PackageNotFoundError
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise UnreadableDocument("python-docx is not installed") from exc
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableDocument(f"corrupt or unreadable DOCX ({exc.__class__.__name__})") from exc
    blocks: list[Block] = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        is_list = "list" in style or para._p.pPr is not None and para._p.pPr.numPr is not None
        if style.startswith("heading") or style == "title":
            blocks.append(Block("heading", text))
        elif is_list:
            blocks.append(Block("item", item_text(text)))
        else:
            blocks.append(Block("text", text))
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                blocks.append(Block("text", " | ".join(dict.fromkeys(cells))))
    if not blocks:
        raise UnreadableDocument("DOCX has no text")
    return blocks



def load_docx(path: Path) -> LoadedDocument:
    return LoadedDocument(docx_blocks(path))
