"""Cleaning: text blocks -> the document's real content, without page furniture.

Drops what a web page wraps around an article ("Skip to content", "Comments", "Add your
comment", topic labels, "Suggested citation", video links, stray trailing tags), finds the
title, turns heading lines into section names, keeps a bulleted list with its lead-in, drops
repeated pull quotes and standfirsts, and separates reader comments (with the commenter's name,
role and date) from the article.

Nothing is lost silently: every line that ends up in no paragraph, and is not the title, a
section name or a comment's byline, is recorded in `CleanDocument.dropped` with its reason
(`assistant sources show DOC --dropped` lists them).

What is a heading: a block the format marks as one (docx heading styles, HTML h1-h6, Markdown #).
In plain text and PDF, which mark none, a line is a heading only when it looks like one (short,
no final punctuation, title case or no verb, no "label: value" shape, no contact details, times
or dates) AND introduces body text (the next block is a list item or a sentence-like
paragraph). Everything else that is not recognised furniture is content.

Bump CLEANER_VERSION when the rules change: it is part of each document's content hash, so
the next ingest re-cleans every document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.records import CommentByline, DroppedLine
from ingest.loaders import Block
from ingest.reflow import page_starts, rejoin

# 6: headings only where the format marks them or a plain-text line introduces body text;
# trailing lines are content unless tag-shaped; dropped lines recorded with their reasons.
# 7: paragraphs rejoined across breaks (ingest/reflow.py), tables, page starts, non-content kinds.
# 8: the later non-content rules (ingest/noncontent.py: contents lists, notices, banners) and cover titles
# (ingest/metadata.py), which changed what indexes built before them hold without a bump: an index built
# incrementally over 7 kept up to 6 paragraphs a document that a fresh one splits otherwise.
# 9: split ligatures repaired before cleaning (ingest/ligatures.py: "skil s" -> "skills"); a GOV.UK cover's
# organisation above its document type is the publisher; a first heading that begins a cover organisation is no title.
# 10: a numbered section heading ("3.2.3.7 Identify the evaluation approach") set in body type is a heading.
# 11: wrong glyphs read right before cleaning (ingest/glyphs.py: "Zork" -> "work", "Minister¶s" -> "Minister’s").
# 12: an organisation in a file's Author property is the publisher, not the author (ingest/metadata.py).
# 13: footnotes that point at web pages, several run into one line ("67 https://... 68 See: https://..."), are references.
# 14: a numbered footnote citing a title and a month and year, with no separator before the date, is a reference.
# 15: a signer's role under a heading that is their name is kept, though the body names the role too.
CLEANER_VERSION = "15"
MAX_ROLE_WORDS = 8  # "Chief Executive, Riverside Community Trust"

# Whole-block furniture, matched case-insensitively against the stripped block: (what it is, pattern).
FURNITURE_PATTERNS = [
    ("skip link", r"skip to (main )?content"),
    ("age notice", r"this content is more than \w+ years? old"),
    ("topics label", r"this content relates to the following topics:?"),
    ("video link", r"watch .{0,80}(speech|video|webinar|event)"),
    ("audio link", r"listen to .{0,60}(podcast|audio)"),
    ("comments label", r"comments?( \(\d+\))?"),
    ("comment prompt", r"add (your|a) comment|leave a (comment|reply)"),
    ("citation label", r"suggested citation"),
    ("content-type label", r"(blog post|press release|news( item)?|long read|article|opinion|comment piece|briefing)"),
    ("sharing or navigation link",
     r"(share|share this( page| article)?|print|email|tweet|back to top|read more|related( content)?|tags?|topics?)"),
    ("publication date line", r"published:?\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"),
    ("publication date line", r"(published|updated|posted)( on)?:? \d{1,2} \w+ \d{4}"),
    ("follow-us line", r"you can follow .{0,60} on (x|twitter).*"),
]
_FURNITURE = [(label, re.compile(rf"^(?:{pattern})[.!]?$", re.IGNORECASE)) for label, pattern in FURNITURE_PATTERNS]
_PUBLISHED = re.compile(r"^published:?\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;:\"'”’)…]$")

# Why a line is in no paragraph (CleanDocument.dropped).
PUBLISHED_DATE = "publication date (kept as the document's date)"
CITATION = "suggested citation (its web address kept as the document's)"
TOPIC_LABEL = "topic label (after 'This content relates to the following topics')"
TRAILING_TAG = "trailing tag (a short last line with no lower-case letter)"
TRAILING_HEADING = "heading with no text after it"
NO_WORDS = "no words"
REPEAT = "repeats an earlier paragraph"
PULL_QUOTE = "repeats body text (a pull quote or standfirst)"
COMMENT_LABEL = "comment thread label"
COMMENT_WITHOUT_BYLINE = "reader comment with no byline"
COMMENT_WITHOUT_TEXT = "reader comment with no text"


@dataclass
class CleanParagraph:
    text: str
    section: str = ""
    kind: str = "paragraph"  # "paragraph", "list", "table", "comment", or a non-content kind (records.NON_CONTENT_KINDS)
    comment: CommentByline | None = None
    page_starts: list[tuple[int, int]] = field(default_factory=list)  # (character offset, page); PDF only


@dataclass
class CleanDocument:
    title: str = ""
    date: str = ""  # ISO date found in the text ("Published: 30/09/2015")
    citation: str = ""  # the text's own suggested citation, if any (holds a URL)
    paragraphs: list[CleanParagraph] = field(default_factory=list)
    dropped: list[DroppedLine] = field(default_factory=list)  # lines in no paragraph, with why

    def drop(self, text: str, reason: str) -> None:
        self.dropped.append(DroppedLine(text, reason))


def furniture_kind(text: str) -> str | None:
    """What kind of page furniture `text` is ("skip link", ...), or None when it is not."""
    stripped = text.strip()
    return next((label for label, pattern in _FURNITURE if pattern.match(stripped)), None)


# --- what a heading looks like ----------------------------------------------------------------

_LABEL_VALUE = re.compile(r"^(?P<label>[^:]{1,60}):\s+(?P<value>\S.*)$")
# Contact details, times and dates: a line holding one is a datum, not a heading.
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATUM = re.compile(
    r"@|https?://|www\.|\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b|\d{3,}[\s-]?\d{3,}|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\s+\d{{4}}\b|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b",
    re.IGNORECASE,
)
# Words that make a line a clause: auxiliaries, modals, subject pronouns, contracted verbs.
_VERB_WORDS = {
    "is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "do", "does", "did",
    "will", "would", "shall", "should", "can", "could", "may", "might", "must", "cannot",
    "i", "we", "you", "he", "she", "they",
}
_CONTRACTED_VERB = re.compile(r"^\w+'(?:s|re|ve|ll|m|d)$|n't$")
_NOT_PAST_TENSE = {"hundred", "kindred", "sacred", "naked", "wicked", "red", "bed", "need", "speed", "seed", "feed", "shed"}
_SMALL_WORDS = {"a", "an", "the", "and", "or", "but", "nor", "of", "in", "on", "at", "to", "for", "by", "with", "from",
                "as", "vs", "via", "into", "over", "per", "up", "off", "out"}
_OPENING_QUOTES = "…‘'\"“"


def _words(text: str) -> list[str]:
    return [w.strip(".,;:!?()[]\"“”‘’").replace("’", "'") for w in text.split()]


def is_label_value(text: str) -> bool:
    """ "Opening hours on Saturday: 10am to 2pm", "Contact: Jane Smith": a short label, a colon, a
    value. A title whose second half is a question ("No more inner Stalin: can ...?") is not one."""
    m = _LABEL_VALUE.match(text.strip())
    return bool(m) and len(m.group("label").split()) <= 6 and not m.group("value").rstrip().endswith("?")


def _has_verb(words: list[str]) -> bool:
    for word in (w.lower() for w in words if w):
        if word in _VERB_WORDS or _CONTRACTED_VERB.search(word):
            return True
        if len(word) >= 5 and word.endswith("ed") and not word.endswith("eed") and word not in _NOT_PAST_TENSE:
            return True  # "reopened", "moved", "closed"
    return False


def _is_title_case(words: list[str]) -> bool:
    letters = [w for w in words if w and w[0].isalpha()]
    return bool(letters) and all(w[0].isupper() for w in letters if w.lower() not in _SMALL_WORDS)


def looks_like_heading(text: str) -> bool:
    """The shape of a heading: short, no final punctuation, capitalised, title case or no verb,
    and no "label: value", contact detail, time or date in it."""
    stripped = text.strip()
    words = _words(stripped)
    if not 0 < len(words) <= 14 or _SENTENCE_END.search(stripped) or stripped[0] in _OPENING_QUOTES:
        return False
    if not (stripped[0].isupper() or stripped[0].isdigit()) or "," in stripped:
        return False
    if is_label_value(stripped) or _DATUM.search(stripped):
        return False
    return _is_title_case(words) or not _has_verb(words)


def _is_body(block: Block) -> bool:
    """Body text a heading can introduce: a list item, or a paragraph that reads like prose
    (ends like a sentence, or is longer than a heading can be)."""
    if block.kind == "item":
        return True
    return block.kind == "text" and (len(block.text.split()) > 14 or bool(_SENTENCE_END.search(block.text)))


# "3.2.3.7 Identify the appropriate evaluation approach": a section number of two levels or more, then a short
# capitalised phrase that does not end like a sentence. Formats set such headings in body type (a PDF in the
# body's font and a colour, Markdown converted from one), so the number is what marks them.
_NUMBERED_HEADING = re.compile(r"^\d{1,2}(?:\.\d{1,2}){1,4}\.?\s+(?P<rest>[A-Z][^\n]*)$")
NUMBERED_HEADING_WORDS = 16


def is_numbered_heading(text: str) -> bool:
    """A numbered section heading (see `_NUMBERED_HEADING`)."""
    m = _NUMBERED_HEADING.match(text.strip())
    rest = m.group("rest").strip() if m else ""
    return bool(rest) and len(rest.split()) <= NUMBERED_HEADING_WORDS and not _SENTENCE_END.search(rest)


def _is_heading(blocks: list[Block], i: int) -> bool:
    block = blocks[i]
    if block.kind == "heading":
        return True
    if block.kind in ("text", "item") and not block.role and is_numbered_heading(block.text):
        # It introduces prose: a run of numbered short lines is a list or a contents page, not headings.
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        return following is not None and following.kind == "text" and _is_body(following)
    if block.kind != "text" or not block.plain or not looks_like_heading(block.text):
        return False
    return i + 1 < len(blocks) and _is_body(blocks[i + 1])


def _is_title(block: Block) -> bool:
    """The first block is the title when the format marks it a heading or, in plain text, when it
    is short and does not end like a statement (a title may end like a question) nor hold a
    "label: value" or a contact detail."""
    if block.kind == "heading":
        return True
    if block.kind != "text" or not block.plain:
        return False
    text = block.text
    return (len(text.split()) <= 20 and not re.search(r"[.,;]$", text) and not is_label_value(text)
            and not _DATUM.search(text))


def _is_tag(block: Block) -> bool:
    """ "COTS 2024": a stray label of at most three words, none of them in lower case."""
    text = block.text
    return (block.kind == "text" and len(text.split()) <= 3 and not any(ch.islower() for ch in text)
            and not _SENTENCE_END.search(text))


def _tidy(text: str) -> str:
    """Non-breaking and odd spaces become plain spaces; runs of spaces collapse (newlines kept)."""
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\t", " ")
    return "\n".join(re.sub(r" {2,}", " ", line).strip() for line in text.split("\n")).strip()


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


# --- the cleaning run -------------------------------------------------------------------------


def clean(blocks: list[Block]) -> CleanDocument:
    doc = CleanDocument()
    blocks = [replace(b, text=_tidy(b.text)) for b in blocks if b.text.strip()]
    article, comment_blocks = _split_comments(blocks)
    kept = rejoin(_drop_furniture(article, doc))
    _drop_trailing_labels(kept, doc)
    if len(kept) > 1 and _is_title(kept[0]):
        doc.title = kept.pop(0).text
    doc.paragraphs = _mark_non_content(_drop_repeats(_paragraphs(kept, doc), doc))
    doc.paragraphs += _parse_comments(comment_blocks, doc)
    return doc


def _mark_non_content(paragraphs: list[CleanParagraph]) -> list[CleanParagraph]:
    """Contents lists, notices, banners and reference lists get their kind (ingest/noncontent.py): kept
    and shown, never retrieved. A kind the loader already gave stays."""
    from ingest.noncontent import mark_roles

    roles = mark_roles([(p.text, p.section, p.kind) for p in paragraphs])
    for paragraph, role in zip(paragraphs, roles):
        if role and paragraph.kind in ("paragraph", "list", "table"):
            paragraph.kind = role
    return paragraphs


def _drop_furniture(article: list[Block], doc: CleanDocument) -> list[Block]:
    """The article without furniture; metadata lines (date, suggested citation) go to `doc`."""
    kept: list[Block] = []
    skip_next_citation = False
    after_topics = False
    for block in article:
        text = block.text
        if skip_next_citation:
            skip_next_citation = False
            if re.search(r"https?://|\(\d{4}\)", text):
                doc.citation = text
                doc.drop(text, CITATION)
                continue
        if m := _PUBLISHED.match(text):
            day, month, year = m.groups()
            doc.date = f"{year}-{int(month):02d}-{int(day):02d}"
            doc.drop(text, PUBLISHED_DATE)
            continue
        if re.match(r"^suggested citation:?$", text, re.IGNORECASE):
            skip_next_citation = True
            doc.drop(text, "page furniture: citation label")
            continue
        if re.match(r"^this content relates to the following topics", text, re.IGNORECASE):
            after_topics = True
            doc.drop(text, "page furniture: topics label")
            continue
        if after_topics and len(text.split()) <= 5 and not _SENTENCE_END.search(text):
            doc.drop(text, TOPIC_LABEL)  # topic labels are short lines right after the "topics" line
            continue
        after_topics = False
        if kind := furniture_kind(text):
            doc.drop(text, f"page furniture: {kind}")
            continue
        kept.append(block)
    return kept


def _drop_trailing_labels(kept: list[Block], doc: CleanDocument) -> None:
    """A heading with nothing after it, or a stray tag ("COTS 2024"), at the end of the article.
    Any other last line is content."""
    while kept and (kept[-1].kind == "heading" or _is_tag(kept[-1])):
        block = kept.pop()
        doc.drop(block.text, TRAILING_HEADING if block.kind == "heading" else TRAILING_TAG)


def _paragraphs(kept: list[Block], doc: CleanDocument) -> list[CleanParagraph]:
    """Headings become section names (the first heading the format marks, when there is no title
    yet, the title); a text block followed by list items is their lead-in; every other block is a
    paragraph."""
    section = ""
    paragraphs: list[CleanParagraph] = []
    i = 0
    while i < len(kept):
        block = kept[i]
        if _is_heading(kept, i):
            if not doc.title and block.kind == "heading":
                doc.title = block.text
            else:
                section = block.text
            i += 1
            continue
        if block.kind == "item":
            # Items with no lead-in form a list of their own.
            items, i = _take_items(kept, i)
            paragraphs.append(_list_paragraph(None, items, section))
            continue
        if block.kind == "table":
            # A table's rows ("Column: value; Column: value"), cut into readable units like a long list.
            rows = _lines(block)
            while rows:
                chunk, taken = _take_items(rows, 0)
                rows = rows[taken:]
                paragraphs.append(_joined_paragraph(chunk, section, block.role or "table", bullet=""))
            i += 1
            continue
        # A text block followed by list items is their lead-in: one citable unit.
        if i + 1 < len(kept) and kept[i + 1].kind == "item" and not _is_heading(kept, i + 1):
            items, i = _take_items(kept, i + 1)
            paragraphs.append(_list_paragraph(block, items, section))
            continue
        paragraphs.append(_joined_paragraph([block], section, block.role or "paragraph", bullet=""))
        i += 1
    return paragraphs


def _list_paragraph(lead_in: Block | None, items: list[Block], section: str) -> CleanParagraph:
    """A lead-in and its items as one paragraph: the lead-in on the first line, each item on a line of
    its own after "• ". It is non-content only when the lead-in and every item are."""
    roles = {b.role for b in ([lead_in] if lead_in else []) + items}
    kind = roles.pop() if len(roles) == 1 and "" not in roles else "list"
    pieces = ([(lead_in, "")] if lead_in else []) + [(item, "• ") for item in items]
    return _paragraph_of(pieces, section, kind)


def _joined_paragraph(blocks: list[Block], section: str, kind: str, bullet: str) -> CleanParagraph:
    return _paragraph_of([(b, bullet) for b in blocks], section, kind)


def _paragraph_of(pieces: list[tuple[Block, str]], section: str, kind: str) -> CleanParagraph:
    """Blocks as the lines of one paragraph (each after its prefix), with where its pages begin."""
    text = ""
    placed: list[tuple[int, Block]] = []
    for block, prefix in pieces:
        if text:
            text += "\n"
        text += prefix
        placed.append((len(text), block))
        text += block.text
    return CleanParagraph(text, section, kind, page_starts=page_starts(text, placed))


def _lines(block: Block) -> list[Block]:
    """A multi-line block (a table) as one block per line, each with its own page marks."""
    lines = []
    word = 0
    marks = list(block.page_marks)
    for line in block.text.split("\n"):
        n = len(line.split())
        if not n:
            continue
        page = [(w, p) for w, p in marks if w <= word]
        inside = [(w - word, p) for w, p in marks if word < w < word + n]
        line_marks = ([(0, page[-1][1])] if page else []) + inside
        lines.append(replace(block, kind="item", text=line, page_marks=tuple(line_marks)))
        word += n
    return lines


# A list longer than this is cut into consecutive paragraphs (the lead-in stays with the first),
# so that a citation points at a readable unit, not at a whole table of contents.
MAX_LIST_ITEMS = 25
MAX_LIST_CHARS = 2500


def _take_items(blocks: list[Block], start: int) -> tuple[list[Block], int]:
    items = []
    size = 0
    i = start
    while i < len(blocks) and blocks[i].kind == "item" and not _is_heading(blocks, i):
        if items and (len(items) >= MAX_LIST_ITEMS or size + len(blocks[i].text) > MAX_LIST_CHARS):
            break
        items.append(blocks[i])
        size += len(blocks[i].text)
        i += 1
    return items, i


def _drop_repeats(paragraphs: list[CleanParagraph], doc: CleanDocument) -> list[CleanParagraph]:
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
    for i, (p, n) in enumerate(zip(paragraphs, normed)):
        reason = NO_WORDS if not n else REPEAT if n in seen else PULL_QUOTE if joined.count(n) > exact[n] else None
        if reason == PULL_QUOTE and _signers_role(paragraphs, i):
            reason = None  # "Permanent Secretary" under the heading "Sarah Munby": a role is named in the body too
        if reason:
            doc.drop(p.text, reason)
            continue
        seen.add(n)
        kept.append(p)
    return kept


def _signers_role(paragraphs: list[CleanParagraph], i: int) -> bool:
    """Paragraph `i` is a signer's role set as a caption under their name: a short line, alone under a heading
    that is only a person's name, right after a foreword (or preface, or message from ...). ingest/signoff.py
    reads the two as the foreword's sign-off."""
    from ingest.signoff import is_signed_section, person_name

    paragraph, section = paragraphs[i], paragraphs[i].section.strip()
    alone = all(q.section != paragraph.section for k, q in enumerate(paragraphs) if k != i)
    return (alone and i > 0 and is_signed_section(paragraphs[i - 1].section) and len(paragraph.text.split()) <= MAX_ROLE_WORDS
            and person_name(section) == " ".join(section.split()))


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


def _parse_comments(blocks: list[Block], doc: CleanDocument) -> list[CleanParagraph]:
    """Each comment: byline lines (name, then role lines), "Comment date", the date, the text."""
    anchors = [i for i, b in enumerate(blocks) if _COMMENT_DATE.match(b.text)]
    results: list[CleanParagraph] = []
    byline_start = 0
    for k, anchor in enumerate(anchors):
        doc.drop(blocks[anchor].text, COMMENT_LABEL)
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
        byline_start = next_start
        body = _comment_text(body, doc)
        if not byline or not body:
            for text in [*byline, date, *body]:
                doc.drop(text, COMMENT_WITHOUT_TEXT if byline else COMMENT_WITHOUT_BYLINE)
            continue
        role = re.sub(r"\s+", " ", ", ".join(line.strip().rstrip(",") for line in byline[1:]))
        comment = CommentByline(author=byline[0], role=role, date=date)
        results += [CleanParagraph(text, "Reader comments", "comment", comment) for text in body]
    return results


def _comment_text(body: list[str], doc: CleanDocument) -> list[str]:
    """A comment's paragraphs, without the thread's prompts and furniture."""
    kept = []
    for text in body:
        if _ADD_COMMENT.match(text):
            doc.drop(text, "page furniture: comment prompt")
        elif kind := furniture_kind(text):
            doc.drop(text, f"page furniture: {kind}")
        else:
            kept.append(text)
    return kept
