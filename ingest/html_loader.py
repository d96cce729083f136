"""HTML: the main content of a page as blocks (BeautifulSoup with the stdlib parser)."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import BULLET_RE, Block, LoadedDocument, UnreadableDocument, item_text, text_blocks


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




def load_html(path: Path) -> LoadedDocument:
    from ingest.loaders import read_text

    return LoadedDocument(html_blocks(read_text(path)))
