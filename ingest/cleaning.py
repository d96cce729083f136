"""Cleaning: text blocks -> the document's real content, without page furniture.

Drops what a web page wraps around an article ("Skip to content", "Comments", "Add your
comment", topic labels, "Suggested citation", video links, stray trailing labels), finds the
title, turns short heading lines into section names, keeps a bulleted list with its lead-in,
drops repeated pull quotes and standfirsts, and separates reader comments (with the commenter's
name, role and date) from the article.

Bump CLEANER_VERSION when the rules change: it is part of each document's content hash, so
the next ingest re-cleans every document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.records import Comment
from ingest.loaders import Block

CLEANER_VERSION = "5"

# Whole-block furniture, matched case-insensitively against the stripped block.
FURNITURE_PATTERNS = [
    r"skip to (main )?content",
    r"this content is more than \w+ years? old",
    r"this content relates to the following topics:?",
    r"watch .{0,80}(speech|video|webinar|event)",
    r"listen to .{0,60}(podcast|audio)",
    r"comments?( \(\d+\))?",
    r"add (your|a) comment",
    r"leave a (comment|reply)",
    r"suggested citation",
    r"(blog post|press release|news( item)?|long read|article|opinion|comment piece|briefing)",
    r"(share|share this( page| article)?|print|email|tweet|back to top|read more|related( content)?|tags?|topics?)",
    r"published:?\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}",
    r"(published|updated|posted)( on)?:? \d{1,2} \w+ \d{4}",
    r"you can follow .{0,60} on (x|twitter).*",
]
_FURNITURE = re.compile(r"^(?:" + "|".join(FURNITURE_PATTERNS) + r")[.!]?$", re.IGNORECASE)
_PUBLISHED = re.compile(r"^published:?\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;:\"'”’)…]$")


@dataclass
class CleanParagraph:
    text: str
    section: str = ""
    kind: str = "paragraph"  # "paragraph", "list" or "comment"
    comment: Comment | None = None


@dataclass
class CleanDocument:
    title: str = ""
    date: str = ""  # ISO date found in the text ("Published: 30/09/2015")
    citation: str = ""  # the text's own suggested citation, if any (holds a URL)
    paragraphs: list[CleanParagraph] = field(default_factory=list)


def is_furniture(text: str) -> bool:
    return bool(_FURNITURE.match(text.strip()))


def looks_like_heading(text: str) -> bool:
    """A short line that does not end like a sentence."""
    words = text.split()
    return 0 < len(words) <= 14 and not _SENTENCE_END.search(text.strip()) and not text.strip()[0] in "…‘'\"“"


def _tidy(text: str) -> str:
    """Non-breaking and odd spaces become plain spaces; runs of spaces collapse (newlines kept)."""
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\t", " ")
    return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")).strip()


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def clean(blocks: list[Block]) -> CleanDocument:
    doc = CleanDocument()
    blocks = [Block(b.kind, _tidy(b.text)) for b in blocks if b.text.strip()]

    article, comment_blocks = _split_comments(blocks)

    # Furniture, metadata lines, the suggested citation (the block after its label).
    kept: list[Block] = []
    skip_next_citation = False
    after_topics = False
    for block in article:
        text = block.text
        if skip_next_citation:
            skip_next_citation = False
            if re.search(r"https?://|\(\d{4}\)", text):
                doc.citation = text
                continue
        if m := _PUBLISHED.match(text):
            day, month, year = m.groups()
            doc.date = f"{year}-{int(month):02d}-{int(day):02d}"
            continue
        if re.match(r"^suggested citation:?$", text, re.IGNORECASE):
            skip_next_citation = True
            continue
        if re.match(r"^this content relates to the following topics", text, re.IGNORECASE):
            after_topics = True
            continue
        if after_topics:
            # Topic labels are short lines right after the "topics" line.
            if len(text.split()) <= 5 and not _SENTENCE_END.search(text):
                continue
            after_topics = False
        if is_furniture(text):
            continue
        kept.append(block)

    # A heading-like line with no content after it is a trailing label ("COTS 2024").
    while kept and (kept[-1].kind == "heading" or (kept[-1].kind == "text" and looks_like_heading(kept[-1].text))):
        kept.pop()

    # The first short block is the title, even when it ends like a question; a first block that
    # ends like a statement ("Ward 7 reopened in March.") is content.
    if len(kept) > 1 and len(kept[0].text.split()) <= 20 and kept[0].kind != "item" and not re.search(r"[.,;]$", kept[0].text):
        doc.title = kept.pop(0).text

    section = ""
    paragraphs: list[CleanParagraph] = []
    i = 0
    while i < len(kept):
        block = kept[i]
        if block.kind == "heading" or (block.kind == "text" and looks_like_heading(block.text)):
            if not doc.title:
                doc.title = block.text
            else:
                section = block.text
            i += 1
            continue
        if block.kind == "item":
            # Items with no lead-in form a list of their own.
            items, i = _take_items(kept, i)
            paragraphs.append(CleanParagraph(_format_list("", items), section, "list"))
            continue
        # A text block followed by list items is their lead-in: one citable unit.
        if i + 1 < len(kept) and kept[i + 1].kind == "item":
            items, i = _take_items(kept, i + 1)
            paragraphs.append(CleanParagraph(_format_list(block.text, items), section, "list"))
            continue
        paragraphs.append(CleanParagraph(block.text, section))
        i += 1

    doc.paragraphs = _drop_repeats(paragraphs)
    doc.paragraphs += _parse_comments(comment_blocks)
    return doc


# A list longer than this is cut into consecutive paragraphs (the lead-in stays with the first),
# so that a citation points at a readable unit, not at a whole table of contents.
MAX_LIST_ITEMS = 25
MAX_LIST_CHARS = 2500


def _take_items(blocks: list[Block], start: int) -> tuple[list[str], int]:
    items = []
    size = 0
    i = start
    while i < len(blocks) and blocks[i].kind == "item":
        if items and (len(items) >= MAX_LIST_ITEMS or size + len(blocks[i].text) > MAX_LIST_CHARS):
            break
        items.append(blocks[i].text)
        size += len(blocks[i].text)
        i += 1
    return items, i


def _format_list(lead_in: str, items: list[str]) -> str:
    lines = [lead_in] if lead_in else []
    lines += [f"• {item}" for item in items]
    return "\n".join(lines)


def _drop_repeats(paragraphs: list[CleanParagraph]) -> list[CleanParagraph]:
    """Pull quotes and standfirsts repeat text found elsewhere in the article: keep it once,
    where it is longest (the body), so each fact has one paragraph to cite."""
    from collections import Counter

    normed = [_norm(p.text) for p in paragraphs]
    exact = Counter(normed)
    # One search in the joined text instead of comparing every pair: a paragraph occurring more
    # often than its exact copies do lies inside a longer one. ("\n" never occurs in a normed text.)
    joined = "\n".join(normed)
    kept = []
    seen: set[str] = set()
    for p, n in zip(paragraphs, normed):
        if not n or n in seen:
            continue
        if joined.count(n) > exact[n]:
            continue
        seen.add(n)
        kept.append(p)
    return kept


# --- reader comments -------------------------------------------------------------------------

_COMMENT_DATE = re.compile(r"^comment date:?$", re.IGNORECASE)
_ADD_COMMENT = re.compile(r"^(add your comment|add a comment|leave a (comment|reply))$", re.IGNORECASE)


def _is_byline_line(text: str) -> bool:
    return len(text.split()) <= 10 and not re.search(r"[.!?]$", text) and not _COMMENT_DATE.match(text)


def _split_comments(blocks: list[Block]) -> tuple[list[Block], list[Block]]:
    """Article blocks, and the blocks of the reader-comment thread (from the first commenter's name)."""
    first = next((i for i, b in enumerate(blocks) if _COMMENT_DATE.match(b.text)), None)
    if first is None:
        return blocks, []
    start = first
    while start > 0 and _is_byline_line(blocks[start - 1].text) and first - start < 4:
        start -= 1
    return blocks[:start], blocks[start:]


def _parse_comments(blocks: list[Block]) -> list[CleanParagraph]:
    """Each comment: byline lines (name, then role lines), "Comment date", the date, the text."""
    anchors = [i for i, b in enumerate(blocks) if _COMMENT_DATE.match(b.text)]
    results: list[CleanParagraph] = []
    byline_start = 0
    for k, anchor in enumerate(anchors):
        byline = [b.text for b in blocks[byline_start:anchor]]
        date = blocks[anchor + 1].text if anchor + 1 < len(blocks) else ""
        body_end = anchors[k + 1] if k + 1 < len(anchors) else len(blocks)
        body = [b.text for b in blocks[anchor + 2 : body_end]]
        # The next comment's byline sits at the end of this body span.
        next_start = body_end
        if k + 1 < len(anchors):
            while next_start - 1 > anchor + 2 and _is_byline_line(body[next_start - 1 - (anchor + 2)]) and body_end - next_start < 4:
                next_start -= 1
            body = body[: next_start - (anchor + 2)]
        body = [t for t in body if not _ADD_COMMENT.match(t) and not is_furniture(t)]
        byline_start = next_start
        if not byline or not body:
            continue
        author = byline[0]
        role = " ".join(line.rstrip(",") for line in byline[1:])
        role = re.sub(r"\s+", " ", ", ".join(line.strip().rstrip(",") for line in byline[1:]))
        comment = Comment(author=author, role=role, date=date)
        for text in body:
            results.append(CleanParagraph(text, "Reader comments", "comment", comment))
    return results
