"""Loaders: one file in, a list of text blocks out (headings, text, list items).

Chosen libraries, all pure Python or with wheels, and well kept:
- .txt / .md: the standard library, with charset-normalizer to detect the encoding of
  non-UTF-8 text (it is what `requests` uses);
- .html / .htm: BeautifulSoup with the stdlib parser (tolerant of broken markup, no C build);
- .pdf: pypdf (pure Python, maintained, no system libraries);
- .docx: python-docx (reads paragraph styles, so headings and list items survive).

A loader raises `UnreadableDocument` with a reason a user can act on; the pipeline records it
as skipped and carries on with the other files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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
    kind: str  # "heading", "text" or "item"
    text: str
    # True where the format marks no headings (plain text, PDF): the cleaner then decides from the
    # line's shape whether a "text" block is a heading. Elsewhere only "heading" blocks are headings.
    plain: bool = False


def load(path: Path) -> list[Block]:
    """Blocks of `path`, by extension. Raises UnreadableDocument."""
    suffix = path.suffix.lower()
    if suffix in (".txt",):
        return text_blocks(read_text(path))
    if suffix in (".md", ".markdown"):
        return markdown_blocks(read_text(path))
    if suffix in (".html", ".htm"):
        return html_blocks(read_text(path))
    if suffix == ".pdf":
        return pdf_blocks(path)
    if suffix == ".docx":
        return docx_blocks(path)
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


def _item_text(line: str) -> str:
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
            blocks.append(Block("item", _item_text(line), plain=True))
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


def markdown_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("text", " ".join(paragraph)))
            paragraph.clear()

    in_code = False
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            flush()
            continue
        if in_code:
            paragraph.append(stripped)
            continue
        if not stripped:
            flush()
        elif m := re.match(r"^#{1,6}\s+(.*?)\s*#*$", stripped):
            flush()
            blocks.append(Block("heading", m.group(1)))
        elif BULLET_RE.match(line):
            flush()
            blocks.append(Block("item", _item_text(line)))
        else:
            paragraph.append(stripped)
    flush()
    # Inline markup is presentation, not content.
    return [Block(b.kind, re.sub(r"[*_`]{1,3}([^*_`]+)[*_`]{1,3}", r"\1", re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", b.text))) for b in blocks]


# --- html ------------------------------------------------------------------------------------

_HTML_SKIP = ("script", "style", "noscript", "nav", "footer", "header", "aside", "form", "template", "svg", "button")
# Page furniture marked up as such: ARIA landmarks that are not the main content, and the class
# names site generators give their navigation (Sphinx: "related", "sphinxsidebar", "footer", and
# the "¶" anchors after headings).
_HTML_SKIP_ROLES = ("navigation", "search", "banner", "contentinfo", "complementary")
_HTML_SKIP_CLASSES = {"footer", "sidebar", "sphinxsidebar", "related", "breadcrumb", "breadcrumbs", "skip-link", "headerlink"}
_HTML_BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "th", "dd", "dt", "figcaption")


def _is_furniture(tag) -> bool:
    if tag.name in _HTML_SKIP or tag.get("role") in _HTML_SKIP_ROLES:
        return True
    classes = tag.get("class")
    return bool(classes) and not _HTML_SKIP_CLASSES.isdisjoint(classes)


def html_blocks(html: str) -> list[Block]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_is_furniture):  # one pass over the tree: big pages have 100,000 tags
        if not tag.decomposed:  # not inside furniture removed already
            tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.find(attrs={"role": "main"}) or soup.body or soup
    blocks: list[Block] = []
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    elements = root.find_all(_HTML_BLOCKS)
    # Only the innermost block elements: a <li> holding a <p> yields the <p>. Marking ancestors
    # bottom-up is linear; asking each element for block descendants was quadratic on big pages.
    outer: set[int] = set()
    for el in elements:
        for parent in el.parents:
            if parent.name in _HTML_BLOCKS:
                if id(parent) in outer:
                    break
                outer.add(id(parent))
    for el in elements:
        if id(el) in outer:
            continue
        text = re.sub(r"\s+", " ", el.get_text(" ", strip=True)).strip()
        if not text:
            continue
        if el.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            blocks.append(Block("heading", text))
        elif el.name == "li":
            blocks.append(Block("item", text))
        else:
            blocks.append(Block("text", text))
    if not blocks:
        # Text outside any block element (a bare <body>) is still content.
        text = root.get_text("\n", strip=True)
        blocks = text_blocks(text)
    # The page's <title> names it when no <h1> does (an <h1> after a first paragraph would else be
    # read as a section named like the document).
    if title and not any(b.kind == "heading" for b in blocks[:1]) and root.find("h1") is None:
        blocks.insert(0, Block("heading", title))
    return blocks


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
            blocks.append(Block("item", _item_text(line), plain=True))
            continue
        current.append(stripped)
    if current:
        blocks.append(Block("text", " ".join(current), plain=True))
    return blocks


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
            blocks.append(Block("item", _item_text(text)))
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
