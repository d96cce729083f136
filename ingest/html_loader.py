"""HTML: the main content of a page as blocks, and the metadata the page states (BeautifulSoup with the
stdlib parser).

Main content: page furniture marked up as such is removed (script/style/nav/header/footer/aside/form
elements, ARIA landmarks other than main, the class names site generators and GOV.UK give navigation,
breadcrumbs, cookie and site banners, feedback forms); then the <main>, <article> or role="main" element
is read, else the <body>. Blocks: headings with their levels, paragraphs, list items (a <p> inside an
<li> is the item), tables (`table_rows`: a data table is one "table" block, a row per line as
"Header: value; Header: value"; a layout table with no header row gives its cells as text).

Metadata (`page_metadata`): title from og:title, else <title> without a site suffix (" - GOV.UK"), else
the first <h1>; author, publisher and date from <meta> (author, article:published_time, DC.*,
og:site_name) and from a visible "From: X | Published DATE" line near the top, which is then set aside.

trafilatura (Apache-2.0; 2.3.1 works offline, but `pip install trafilatura` with lxml 6 needed lxml_html_clean
added by hand, and brings nine packages) was measured against this module on the 10 HTML files of the
policy corpus (GOV.UK content items in a minimal page: 1,396 paragraphs, list items, headings and cells of
four words or more) and on a GOV.UK-shaped page with its furniture (cookie and "Register to vote" banners,
header, breadcrumbs, contents list, related links, feedback, footer):
- missing from the output: trafilatura (favor_recall, tables on) 122 of 1,396 (107 headings, 11 paragraphs,
  4 list items; 273 without favor_recall); this module 0 (3 apparent misses are footnote marks);
- furniture kept on the GOV.UK-shaped page: none by either (0 of 12 strings); body missed: none by either;
- time for the ten files: trafilatura 0.41 s, this module 0.48-0.53 s (0.47 s before these changes).
Kept: this module, with trafilatura's idea of dropping boilerplate by class name (banners, breadcrumbs,
feedback) as well as by element. (trafilatura gives tables as pipe-table text, "| Total spending | -1,545 |", which
separates a value from its column name; this module writes "Header: value".)
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.records import DroppedLine
from ingest.loaders import Block, LoadedDocument, text_blocks

PUBLICATION_LINE = "publication details (kept as the document's publisher and date)"

_HTML_SKIP = ("script", "style", "noscript", "nav", "footer", "header", "aside", "form", "template", "svg", "button",
              "iframe", "dialog")
# Page furniture marked up as such: ARIA landmarks that are not the main content, and the class
# names site generators give their navigation (Sphinx: "related", "sphinxsidebar", "footer", and
# the "¶" anchors after headings).
_HTML_SKIP_ROLES = ("navigation", "search", "banner", "contentinfo", "complementary", "dialog", "alertdialog")
_HTML_SKIP_CLASSES = {"footer", "sidebar", "sphinxsidebar", "related", "breadcrumb", "breadcrumbs", "skip-link", "headerlink"}
# Parts of class names that mark furniture on GOV.UK and similar sites (cookie and site-wide banners such as
# "Register to vote", breadcrumbs, "Is this page useful?" feedback, related-content and share links).
_HTML_SKIP_CLASS_PARTS = ("cookie-banner", "global-banner", "emergency-banner", "phase-banner", "breadcrumb",
                          "skip-link", "feedback", "related-navigation", "share-links", "print-link", "visually-hidden",
                          "govuk-header", "govuk-footer", "contextual-sidebar", "step-nav")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
# The text of a <title> after a separator, when it names the site rather than the page.
_TITLE_SEPARATOR = re.compile(r"\s+[-|–—:]\s+")
_FROM_LINE = re.compile(r"^From:\s*(?P<publisher>.+?)\s*(?:\|\s*(?P<rest>.*))?$")
_PUBLISHED = re.compile(r"\bPublished:?\s+(?P<date>\d{4}-\d{2}-\d{2}|\d{1,2}\s+[A-Z][a-z]+\s+\d{4})")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")


def load_html(path: Path) -> LoadedDocument:
    from ingest.loaders import read_text

    return html_document(read_text(path))


def html_document(html: str) -> LoadedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    metadata, site = page_metadata(soup)
    _remove_furniture(soup)
    root = soup.find("main") or soup.find("article") or soup.find(attrs={"role": "main"}) or soup.body or soup
    blocks = element_blocks(root)
    dropped: list[DroppedLine] = []
    blocks = _publication_line(blocks, metadata, dropped)
    if site:
        metadata.setdefault("publisher", site)
    if not blocks:
        # Text outside any block element (a bare <body>) is still content.
        blocks = text_blocks(root.get_text("\n", strip=True))
    # The page's <title> names it when no <h1> does (an <h1> after a first paragraph would else be
    # read as a section named like the document).
    title = " ".join(soup.title.get_text(" ").split()) if soup.title else ""
    if title and not any(b.kind == "heading" for b in blocks[:1]) and root.find("h1") is None:
        blocks.insert(0, Block("heading", _without_site_suffix(title, site), level=1))
    return LoadedDocument(blocks, metadata=metadata, dropped=dropped)


def html_fragment_blocks(html: str) -> list[Block]:
    """Blocks of a piece of HTML inside another format (an HTML block in Markdown)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    _remove_furniture(soup)
    return element_blocks(soup)


# --- furniture ---------------------------------------------------------------------------------


def _is_furniture(tag) -> bool:
    if tag.name in _HTML_SKIP or tag.get("role") in _HTML_SKIP_ROLES or tag.get("aria-hidden") == "true":
        return True
    classes = tag.get("class")
    if not classes:
        return False
    if not _HTML_SKIP_CLASSES.isdisjoint(classes):
        return True
    return any(part in name for name in classes for part in _HTML_SKIP_CLASS_PARTS)


def _remove_furniture(soup) -> None:
    from bs4 import Tag

    # One pass over the tree (big pages have 100,000 tags) collects what goes; removing while walking
    # would cut the walk short.
    furniture, footnote_marks, line_breaks = [], [], []
    for tag in soup.descendants:
        if not isinstance(tag, Tag):
            continue
        if _is_furniture(tag):
            furniture.append(tag)
        elif tag.name == "sup":
            footnote_marks.append(tag)
        elif tag.name == "br":
            line_breaks.append(tag)
    for tag in furniture:
        if not tag.decomposed:  # not inside furniture removed already
            tag.decompose()
    # Footnote marks ("economy.<sup><a href="#fn:1">1</a></sup>") are links, not words of the sentence.
    for sup in footnote_marks:
        if sup.decomposed:
            continue
        link = sup.find("a", href=True)
        if link is not None and link["href"].startswith("#") and re.fullmatch(r"\W*\w{1,3}\W*", sup.get_text()):
            sup.decompose()
    for br in line_breaks:
        if not br.decomposed:
            br.replace_with(" ")


# --- blocks ------------------------------------------------------------------------------------

# Elements whose text runs on inside the surrounding block; every other element starts a block of its own.
_INLINE = {"a", "abbr", "acronym", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i", "img",
           "ins", "kbd", "label", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time",
           "tt", "u", "var", "wbr"}


def _text(element) -> str:
    # Inline elements join without spaces ("<a>link</a>," stays "link,"); a block's own whitespace stays.
    return " ".join(element.get_text("").split())


def element_blocks(root) -> list[Block]:
    """The blocks of an element, in reading order. An element holding no other block is one block
    (text a heading, a list item, ...); text running between blocks (a <li>'s own words before its
    nested list, a <div>'s bare text) is a block of its own; the paragraphs of one <li> are one item;
    a table gives its own blocks (`_table_blocks`)."""
    from bs4 import CData, NavigableString, Tag

    # Which elements hold a block: marking each block's ancestors bottom-up is linear (asking each
    # element for block descendants was quadratic on big pages).
    holds_block: set[int] = set()
    for el in root.descendants:
        if not isinstance(el, Tag) or el.name in _INLINE:
            continue
        for parent in el.parents:
            if id(parent) in holds_block:
                break
            holds_block.add(id(parent))
            if parent is root:
                break
    blocks: list[Block] = []
    last_item: list[int | None] = [None]  # the <li> whose item is blocks[-1]

    def add(text: str, kind: str, level: int = 0, item=None) -> None:
        if not text:
            return
        if kind == "heading" or item is None:
            blocks.append(Block(kind, text, level=level))
            last_item[0] = None
        elif last_item[0] == id(item) and blocks and blocks[-1].kind == "item":
            blocks[-1] = Block("item", f"{blocks[-1].text} {text}")  # a further paragraph of the same item
        else:
            blocks.append(Block("item", text))
            last_item[0] = id(item)

    def walk(node, item) -> None:
        running: list[str] = []

        def flush() -> None:
            add(" ".join("".join(running).split()), "text", item=item)
            running.clear()

        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) in (NavigableString, CData):  # not comments, doctypes, ...
                    running.append(str(child))
                continue
            name = child.name
            if name in _INLINE and id(child) not in holds_block:
                running.append(child.get_text(""))
                continue
            flush()
            child_item = child if name == "li" else item
            if name == "table":
                blocks.extend(_table_blocks(child))
                last_item[0] = None
            elif id(child) in holds_block:
                walk(child, child_item)
            elif name in _HEADINGS:
                add(_text(child), "heading", level=int(name[1]))
            else:
                add(_text(child), "text", item=child_item)
        flush()

    try:
        walk(root, root if getattr(root, "name", None) == "li" else None)
    except RecursionError:  # nesting deeper than Python's stack: the text, line by line
        return text_blocks(root.get_text("\n", strip=True))
    return blocks


def _table_blocks(table) -> list[Block]:
    """A data table (one with header cells) -> its caption as text and one "table" block; a layout table
    -> the blocks of its cells."""
    caption = table.find("caption")
    rows = table_rows(table)
    if rows is None:
        blocks: list[Block] = []
        for cell in table.find_all(["td", "th"]):
            if cell.find_parent("table") is table:
                blocks += element_blocks(cell)
        return blocks
    blocks = [Block("text", _text(caption))] if caption is not None and _text(caption) else []
    if rows:
        blocks.append(Block("table", "\n".join(rows)))
    return blocks


def table_rows(table) -> list[str] | None:
    """ "Header: value; Header: value" for each data row of a table with a header row (<th> cells in
    its first row, or a <thead>); None for a layout table (no header row)."""
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    if not rows:
        return None
    header_rows = [tr for tr in rows if tr.find_parent("thead") is not None]
    first_cells = rows[0].find_all(["td", "th"], recursive=False)
    if not header_rows and first_cells and all(c.name == "th" for c in first_cells):
        header_rows = [rows[0]]
    if not header_rows:
        return None
    # A column's name joins its header cells, top to bottom ("Forecast" spanning years over "2016-17").
    header_cells = [_expanded(tr, repeat=True) for tr in header_rows]
    width = max(len(cells) for cells in header_cells)
    names = [" ".join(dict.fromkeys(c[j] for c in header_cells if j < len(c) and c[j])) for j in range(width)]
    lines = []
    for tr in rows:
        if tr in header_rows:
            continue
        values = _expanded(tr)
        parts = [f"{name}: {value}" if name and name != value else value
                 for name, value in zip(names + [""] * max(0, len(values) - len(names)), values) if value]
        if parts:
            lines.append("; ".join(parts))
    return lines


def _expanded(tr, repeat: bool = False) -> list[str]:
    """A row's cell texts by column: a cell spanning n columns fills n (its text repeated in a header row,
    blank after the first in a data row)."""
    cells = []
    for cell in tr.find_all(["td", "th"], recursive=False):
        span = int(cell["colspan"]) if str(cell.get("colspan", "")).isdigit() else 1
        text = _text(cell)
        cells += [text] + [text if repeat else ""] * (min(max(span, 1), 50) - 1)
    return cells


# --- metadata ----------------------------------------------------------------------------------


def _meta_tags(soup) -> dict[str, str]:
    """The page's <meta> contents by name or property (lower-cased), read in one pass."""
    tags: dict[str, str] = {}
    for tag in soup.find_all("meta"):
        key = tag.get("property") or tag.get("name")
        content = " ".join(str(tag.get("content", "")).split())
        if key and content:
            tags.setdefault(str(key).lower(), content)
    return tags


def _meta(tags: dict[str, str], *names: str) -> str:
    return next((tags[name.lower()] for name in names if name.lower() in tags), "")


def page_metadata(soup) -> tuple[dict[str, str], str]:
    """Title, author, publisher and date the page states in its <head> (and its first <h1>), and the
    site's name (og:site_name: the publisher when the page names no other)."""
    metadata: dict[str, str] = {}
    tags = _meta_tags(soup)
    site = _meta(tags, "og:site_name")
    title = _meta(tags, "og:title", "DC.title", "dcterms.title")
    if not title and soup.title is not None:
        title = _without_site_suffix(" ".join(soup.title.get_text(" ").split()), site)
    if not title and (h1 := soup.find("h1")) is not None:
        title = _text(h1)
    author = _meta(tags, "author", "DC.creator", "dcterms.creator", "article:author", "citation_author")
    publisher = _meta(tags, "DC.publisher", "dcterms.publisher", "publisher", "citation_publisher")
    date = _iso_date(_meta(tags, "article:published_time", "DC.date.issued", "dcterms.issued", "DC.date", "dcterms.date",
                           "citation_publication_date", "date"))
    for key, value in (("title", title), ("author", author), ("publisher", publisher), ("date", date)):
        if value:
            metadata[key] = value
    return metadata, site


def _without_site_suffix(title: str, site: str) -> str:
    """ "Onshore wind - GOV.UK" -> "Onshore wind": the last part after a separator goes when it names the
    site (the page's og:site_name, or a domain-like name such as "GOV.UK")."""
    parts = _TITLE_SEPARATOR.split(title)
    if len(parts) > 1:
        last = parts[-1].strip()
        if (site and last.lower() == site.lower()) or re.fullmatch(r"[\w-]+(\.[\w-]+)+", last):
            return title[: title.rfind(last)].rstrip(" -|–—:")
    return title


def _iso_date(value: str) -> str:
    """ "2016-12-19T10:00:00Z" -> "2016-12-19"; "21 February 2023" -> "2023-02-21"; else as given."""
    if m := re.match(r"^(\d{4}-\d{2}-\d{2})", value):
        return m.group(1)
    if m := re.fullmatch(r"(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", value.strip()):
        month = m.group(2).lower()
        if month in _MONTHS:
            return f"{m.group(3)}-{_MONTHS.index(month) + 1:02d}-{int(m.group(1)):02d}"
    return value


def _publication_line(blocks: list[Block], metadata: dict[str, str], dropped: list[DroppedLine]) -> list[Block]:
    """A "From: <publisher> | Published <date>" line among the first blocks: its publisher and date go to
    the metadata (unless <meta> gave them) and the line is set aside."""
    for k, block in enumerate(blocks[:6]):
        m = _FROM_LINE.match(block.text) if block.kind == "text" and len(block.text) <= 300 else None
        published = _PUBLISHED.search(m.group("rest") or "") if m else None
        if not published:
            continue
        metadata.setdefault("publisher", m.group("publisher"))
        metadata.setdefault("date", _iso_date(published.group("date")))
        dropped.append(DroppedLine(block.text, PUBLICATION_LINE))
        return blocks[:k] + blocks[k + 1:]
    return blocks
