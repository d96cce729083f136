"""DOCX: a Word file's body in document order (paragraphs and tables), and the metadata it states.

- Headings: paragraphs in a heading style ("Heading N", or any style or paragraph with an outline level)
  are headings of that level; the first paragraph in the "Title" style names the document
  (`metadata["title"]`) and is a level-1 heading.
- List paragraphs (numbering, or a list style) are items.
- Tables: a table of at least two rows and two columns is one "table" block, a line per row after the
  first (the header row): "Header: value; Header: value"; a one-row or one-column table (a layout box)
  gives its cells' paragraphs as text.
- Core properties: title and author when meaningful (not empty, not a file name or a template's
  placeholder such as "python-docx" or "Administrator"); a Title-style paragraph wins over the core title.
(Paragraphs a conversion split mid-sentence are joined by the cleaner, ingest/reflow.py.)

Empty paragraphs cost next to nothing: a paragraph's text is read from its XML first, and its style is
resolved (from a table of the document's styles built once) only when it has text. A file with more
than MAX_PARAGRAPHS paragraphs is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import Block, LoadedDocument, UnreadableDocument, item_text

# Paragraphs (empty ones included) a DOCX may have: a 500-page report has about 20,000.
MAX_PARAGRAPHS = 100_000
_W_T = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"
_TYPED_BULLET = re.compile(r"^[•·●▪◦‣∙]\s")
# Core-property values that name no one: Word's, python-docx's and operating systems' defaults.
_PLACEHOLDER_AUTHORS = {"python-docx", "administrator", "admin", "user", "windows user", "microsoft office user",
                        "author", "unknown", "owner"}
_PLACEHOLDER_TITLE = re.compile(r"^(?:title|untitled|document\d*|microsoft word - .*|.*\.(?:docx?|pdf|rtf|odt))$",
                                re.IGNORECASE)


def load_docx(path: Path) -> LoadedDocument:
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
    body = document.element.body
    paragraphs = len(body.xpath(".//w:p"))
    if paragraphs > MAX_PARAGRAPHS:
        raise UnreadableDocument(f"DOCX has {paragraphs:,} paragraphs, over the {MAX_PARAGRAPHS:,} read; split it")
    styles = _StyleTable(document)
    metadata: dict[str, str] = {}
    blocks: list[Block] = []
    for element in _body_elements(body):
        if element.tag.endswith("}tbl"):
            blocks += _table_blocks(element)
            continue
        if next(element.iter(_W_T), None) is None:
            continue  # no text run at all: the cheapest test, before the text or the style is read
        text = " ".join(element.text.split())
        if not text:
            continue
        kind, level = styles.kind(element)
        if kind == "title":
            metadata.setdefault("title", text)
            kind, level = "heading", 1
        if kind == "text" and _TYPED_BULLET.match(text):
            kind = "item"  # a bullet typed into a plain paragraph
        if kind == "item":
            text = item_text(text) or text
        blocks.append(Block(kind, text, level=level))
    if not blocks:
        raise UnreadableDocument("DOCX has no text")
    for key, value in _core_metadata(document).items():
        metadata.setdefault(key, value)
    return LoadedDocument(blocks, metadata=metadata)


def _body_elements(parent):
    """Paragraphs and tables in document order, also inside content controls (w:sdt) and custom XML."""
    for child in parent.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag in ("p", "tbl"):
            yield child
        elif tag in ("sdt", "sdtContent", "customXml"):
            yield from _body_elements(child)


class _StyleTable:
    """A paragraph's kind ("heading", "title", "item" or "text") and heading level, from its style id,
    resolved through the document's styles once per style."""

    def __init__(self, document) -> None:
        self._styles: dict[str, tuple[str, str, int | None]] = {}  # id -> (name, based-on id, outline level)
        for style in document.styles.element.xpath("w:style"):
            style_id = style.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}styleId") or ""
            name = (style.xpath("string(w:name/@w:val)") or style_id).lower()
            outline = style.xpath("string(w:pPr/w:outlineLvl/@w:val)")
            self._styles[style_id] = (name, style.xpath("string(w:basedOn/@w:val)"), int(outline) if outline.isdigit() else None)
        self._kinds: dict[str, tuple[str, int]] = {}

    def kind(self, paragraph) -> tuple[str, int]:
        style_id = paragraph.style or ""
        if style_id not in self._kinds:
            self._kinds[style_id] = self._resolve(style_id)
        kind, level = self._kinds[style_id]
        ppr = paragraph.pPr
        if kind == "text" and ppr is not None:
            outline = ppr.xpath("string(w:outlineLvl/@w:val)")
            if outline.isdigit() and int(outline) < 9:
                return "heading", int(outline) + 1
            if ppr.numPr is not None:
                return "item", 0
        return kind, level

    def _resolve(self, style_id: str) -> tuple[str, int]:
        """The first kind met up the basedOn chain; every style walked gets it too, so each chain is
        walked once in all (thousands of chained styles stay linear) and a loop ends as text."""
        path: list[str] = []
        current = style_id
        found = None
        while current and current in self._styles and current not in path:
            if current in self._kinds:
                found = self._kinds[current]
                break
            path.append(current)
            name, based_on, outline = self._styles[current]
            if name == "title":
                found = ("title", 1)
            elif m := re.fullmatch(r"heading (\d)", name):
                found = ("heading", int(m.group(1)))
            elif outline is not None and outline < 9:
                found = ("heading", outline + 1)
            elif "list" in name:
                found = ("item", 0)
            if found:
                break
            current = based_on
        found = found or ("text", 0)
        for walked in path:
            self._kinds[walked] = found
        return found


def _cell_text(cell) -> str:
    return " ".join(" ".join(p.text.split()) for p in cell.iter("{*}p") if p.text.strip())


def _table_blocks(table) -> list[Block]:
    """A data table -> one "table" block ("Header: value; ..." per row after the header row); a layout
    table (one row or one column) -> its cells' paragraphs as text."""
    rows = []
    for tr in table.tr_lst:
        cells = []
        for tc in tr.tc_lst:
            cells += [_cell_text(tc)] + [""] * (max(tc.grid_span, 1) - 1)
        rows.append(cells)
    if len(rows) < 2 or max(len(r) for r in rows) < 2:
        return [Block("text", " ".join(p.text.split())) for tr in table.tr_lst for tc in tr.tc_lst
                for p in tc.iter("{*}p") if p.text.strip()]
    names = rows[0]
    lines = []
    for cells in rows[1:]:
        parts = [f"{name}: {value}" if name and name != value else value
                 for name, value in zip(names + [""] * max(0, len(cells) - len(names)), cells) if value]
        if parts:
            lines.append("; ".join(parts))
    return [Block("table", "\n".join(lines))] if lines else []


def _core_metadata(document) -> dict[str, str]:
    """Title and author from the core properties, when they name something."""
    properties = document.core_properties
    metadata = {}
    title = " ".join((properties.title or "").split())
    if title and not _PLACEHOLDER_TITLE.match(title):
        metadata["title"] = title
    author = " ".join((properties.author or "").split())
    if author and author.lower() not in _PLACEHOLDER_AUTHORS:
        metadata["author"] = author
    return metadata
