"""Markdown: a .md file's front matter, headings, paragraphs, lists and tables as blocks.

Many Markdown files are conversions of PDFs and web pages, with the conversion's debris left in.
What this module reads, and what it repairs (rules about formats and discourse, none about one file):
- YAML front matter -> metadata (title, author, date, publisher). A first heading of level 1 names the
  document when the front matter does not (`metadata["title"]`), unless it names a part ("Introduction").
- Headings: ATX ("## Name") and setext (a line underlined with "===" or "---") with their levels; a
  paragraph that is only bold text (or only italic, shorter), short, starting with a capital or digit and
  not ending like a sentence, is a heading of unknown level (0). A heading the conversion broke over lines
  (the first ending on "of" or the second starting in lower case; or ATX headings of one level in a row,
  unless the second is a date) is rebuilt; a section number alone ("**1**") joins the heading after it.
- Paragraphs: hard-wrapped lines are joined; so are paragraphs the conversion split with a blank line at
  each PDF line or page break (`_continues`): one ending without closing punctuation followed by one
  starting in lower case; one ending on a word like "the", or a comma; one ending on a word part ("com-",
  which loses its hyphen when the document uses the word whole); in hard-wrapped text, one whose last
  line is a full line, followed by one starting with a letter. A footnote the page break put inside
  the sentence ("(^1) For example ...") goes after the paragraph.
- Lists (bullets, numbers, nested; continuation lines, indented or not) -> "item" blocks. When most
  numbered items are paragraphs (long, or several sentences: a policy paper's numbered paragraphs),
  they are all "text" blocks that keep their number.
- Pipe tables -> one "table" block, a line per data row: "Header: value; Header: value".
- HTML blocks inside the Markdown (R Markdown output) are read as HTML (ingest.html_loader).
- Liquid/Jekyll templates: a captured block is placed where it is included, under the include's title;
  other directives are dropped.
- Inline markup goes, its text stays: escapes ("\\(2025\\)" -> "(2025)"), emphasis and stray "**",
  images, HTML comments and tags, footnote marks, link targets (the link text is kept; so is the text
  before a "(https://...)" a PDF printed), code marks, entities.
- PDF page furniture is set aside with its reason (`LoadedDocument.dropped`): lines holding only a page
  number (in documents with at least three of them), running headers and footers (`_drop_page_furniture`),
  "this page is left blank" notices, and the PDF outline some converters append ("Document Outline").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from assistant.records import DroppedLine
from ingest.loaders import Block, LoadedDocument

PAGE_NUMBER = "page number"
RUNNING_HEADER = "running header or footer (repeats next to page breaks)"
BLANK_PAGE = "blank-page notice"
TEMPLATE = "template directive (Liquid/Jekyll)"
OUTLINE = "document outline (the PDF's bookmarks, added by the conversion)"

_FENCE = re.compile(r"^\s*(```|~~~)")
_ATX = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_BREAK = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_ITEM = re.compile(r"^(\s*)(?:[-+*•●▪◦‣∙–]|\(?\d{1,3}[.)])\s+(.*)$")
# "_10._ In finalising": a list number wrapped in emphasis by the conversion.
_EMPHASISED_NUMBER = re.compile(r"^(\s*)(\*\*|__|\*|_)(\d{1,3}[.)])\2(?=\s)")
_TABLE_DELIMITER = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_HTML_BLOCK = re.compile(
    r"^\s{0,3}</?(?:address|article|aside|blockquote|details|div|dl|dd|dt|figure|figcaption|footer|h[1-6]|header|hr|li|"
    r"main|nav|ol|p|pre|section|summary|table|tbody|td|tfoot|th|thead|tr|ul|button|form|iframe|script|style)\b",
    re.IGNORECASE,
)
_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_LIQUID = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
_CAPTURE = re.compile(r"\{%-?\s*capture\s+(\w+)\s*-?%\}(.*?)\{%-?\s*endcapture\s*-?%\}", re.DOTALL)
_INCLUDE_CONTENT = re.compile(r"\bcontent=(\w+)")
_INCLUDE_TITLE = re.compile(r"\btitle=\"([^\"]*)\"")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_KEYS = {"title": "title", "author": "author", "authors": "author", "date": "date", "published": "date",
                      "publisher": "publisher", "organisation": "publisher", "organization": "publisher"}

# Page furniture, judged on a line without its markup.
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,3}(?:\s+of\s+\d{1,3})?$|^[-–—]\s*\d{1,3}\s*[-–—]$", re.IGNORECASE)
_BLANK_PAGE = re.compile(r"^\W*(?:this\s+)?page\s+(?:has\s+been\s+|is\s+)?(?:(?:intentionally|deliberately)\s+)?left\s+"
                         r"(?:(?:intentionally|deliberately)\s+)?blank\W*$", re.IGNORECASE)
# A document needs this many page-number lines before a line holding only a number is read as one.
MIN_PAGE_NUMBERS = 3
# A running header repeats at least this often, and on at least this share of the pages (a heading or
# lead-in the document repeats in some sections does not), and at least half its copies sit this close
# to a page break (a page-number line, or a run of blank lines this long).
MIN_HEADER_REPEATS = 3
HEADER_PAGE_SHARE = 0.3
HEADER_DISTANCE = 3
PAGE_BREAK_BLANKS = 3
MAX_HEADER_WORDS = 12

_BOLD_ONLY = re.compile(r"^(\*\*|__)(?!\s*\1)(.+?)\1$")
_EMPTY_BOLD = re.compile(r"\*{4,}")
_ADJACENT_BOLD = re.compile(r"(?<=\S)\*\*\s+\*\*(?=\S)")
_BULLET_LEFT = re.compile(r"^[•●▪◦‣∙]\s+")
_ITALIC_ONLY = re.compile(r"^([*_])(?![\s*_])([^*_]+?)\1$")
MAX_HEADING_WORDS = 14
MAX_ITALIC_HEADING_WORDS = 8
_CAPTION = re.compile(r"^(?:fig(?:ure)?|table|chart|box|image)\.?\s*\d", re.IGNORECASE)
_SECTION_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,2})*\.?$")
_DATE_ONLY = re.compile(r"^(?:\d{1,2}(?:st|nd|rd|th)?\s+)?[A-Za-z]+\s+\d{4}$|^\d{4}$")
MAX_MERGED_HEADING_WORDS = 30
NUMBERED_PARAGRAPH_CHARS = 250
NUMBERED_SHARE = 0.5
# Hard-wrapped text: most of its longer lines are within this factor of the median length; a line at least
# this share of the median is a full line.
WRAPPED_SPREAD = 1.25
FULL_LINE_SHARE = 0.85
# Footnotes: "(^1) For example ..." (a PDF conversion's), "[^1]: ..." (Markdown's); "^2" after a word marks one.
_FOOTNOTE_START = re.compile(r"^\s*(?:\(\^(\d{1,3})\)|\[\^([^\]]+)\]:)")


# Headings that name a part of a document, never a document: not its title.
_SECTION_NAMES = {"introduction", "summary", "executive summary", "overview", "contents", "table of contents",
                  "foreword", "preface", "background", "abstract", "main messages", "key messages", "key points"}


@dataclass
class _Raw:
    """A block while the file is parsed: its markup still in, until `_inline` cleans it."""

    kind: str  # "heading", "text", "item", "table", "code"; "html" blocks come ready-made in `ready`
    lines: list[str]
    level: int = 0
    indent: int = 0  # a list item's content column: lines indented this far continue it
    number: str = ""  # an ordered list item's number ("12.")
    ready: Block | None = None  # a block made elsewhere (HTML inside the Markdown)


def load_markdown(path: Path) -> LoadedDocument:
    from ingest.loaders import read_text

    return markdown_document(read_text(path))


def markdown_document(text: str) -> LoadedDocument:
    """The blocks, front-matter metadata and set-aside lines of a Markdown text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    metadata, text = _front_matter(text)
    dropped: list[DroppedLine] = []
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    lines = _drop_page_furniture(_render_templates(text, dropped).split("\n"), dropped)
    raws = _parse(lines)
    vocabulary = _Vocabulary(text)
    blocks = _finish(raws, vocabulary, _line_width(raws))
    blocks = _drop_outline(blocks, dropped)
    heading = next((b for b in blocks if b.kind == "heading"), None)
    if ("title" not in metadata and heading is not None and heading.level == 1 and blocks.index(heading) <= 2
            and heading.text.lower() not in _SECTION_NAMES):
        metadata["title"] = heading.text
    return LoadedDocument(blocks, metadata=metadata, dropped=dropped)


# --- front matter and templates ----------------------------------------------------------------


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """YAML front matter's title, author, date and publisher (simple "key: value" lines and "- item"
    lists; nested values are skipped), and the text after it."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    metadata: dict[str, str] = {}
    key = ""
    for line in m.group(1).split("\n"):
        if item := re.match(r"^\s+-\s+(.*)$", line):
            if key in _FRONT_MATTER_KEYS and key:
                name = _FRONT_MATTER_KEYS[key]
                value = _yaml_scalar(item.group(1))
                metadata[name] = f"{metadata[name]}, {value}" if metadata.get(name) else value
            continue
        if kv := re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line):
            key = kv.group(1).lower()
            value = _yaml_scalar(kv.group(2))
            if key in _FRONT_MATTER_KEYS and value and _FRONT_MATTER_KEYS[key] not in metadata:
                metadata[_FRONT_MATTER_KEYS[key]] = value
    if date := re.match(r"^(\d{4}-\d{2}-\d{2})", metadata.get("date", "")):
        metadata["date"] = date.group(1)
    return metadata, text[m.end():]


def _yaml_scalar(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return re.sub(r"\s+#.*$", "", value)  # a trailing comment


def _render_templates(text: str, dropped: list[DroppedLine]) -> str:
    """Liquid (Jekyll) templates, which hard-wrapping may have spread over lines: a `{% capture NAME %}
    ...{% endcapture %}` block goes where an include names it (`content=NAME`), under the include's
    `title="..."` as a heading; every other directive is dropped. A captured block nothing includes
    stays where it is."""
    if "{%" not in text and "{{" not in text:
        return text
    captures = {m.group(1): m.group(2) for m in _CAPTURE.finditer(text)}
    included = {m.group(1) for tag in _LIQUID.finditer(text) for m in [_INCLUDE_CONTENT.search(tag.group(0))] if m}
    text = _CAPTURE.sub(lambda m: "\n\n" if m.group(1) in included else f"\n\n{m.group(2)}\n\n", text)

    def render(tag: re.Match) -> str:
        content = _INCLUDE_CONTENT.search(tag.group(0))
        if content and content.group(1) in captures:
            title = _INCLUDE_TITLE.search(tag.group(0))
            heading = f"**{' '.join(title.group(1).split())}**\n\n" if title and title.group(1).strip() else ""
            return f"\n\n{heading}{captures[content.group(1)]}\n\n"
        dropped.append(DroppedLine(" ".join(tag.group(0).split()), TEMPLATE))
        return "\n\n"

    return _LIQUID.sub(render, text)


# --- page furniture of PDF conversions -----------------------------------------------------------


_MARKS = re.compile(r"\*\*|__|^#+\s|\\")
_DIGITS = re.compile(r"\d+")
_QUOTE_MARKS = re.compile(r"^\s{0,3}(?:>\s?)+")


def _bare(line: str) -> str:
    """A line without its Markdown marks and spacing, to compare repeated lines."""
    return " ".join(_MARKS.sub("", line.strip()).split())


def _drop_page_furniture(lines: list[str], dropped: list[DroppedLine]) -> list[str]:
    """Lines holding only a page number, running headers and footers, blank-page notices: removed and
    recorded. A removed line leaves a blank line, so paragraphs around it still end there; the joining of
    split paragraphs (`_continues`) then rebuilds the paragraphs a page break cut.

    Only a document with page numbers (at least MIN_PAGE_NUMBERS lines holding only a number) is read as
    a conversion with pages. A running header is then a plain line (not a heading, list item, table row
    or code) starting with a capital or digit, repeated on at least HEADER_PAGE_SHARE of the pages (and
    MIN_HEADER_REPEATS times), half of its copies within HEADER_DISTANCE lines of a page break (a page
    number or PAGE_BREAK_BLANKS blank lines). Its copies before the first page number stay: they are on the cover,
    where a running header's words are usually the title's ("People Priorities" / "Strategy")."""
    in_fence = [False] * len(lines)
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            in_fence[i] = True
        else:
            in_fence[i] = fenced
    drop: dict[int, str] = {}
    numbers = [i for i, line in enumerate(lines) if not in_fence[i] and _PAGE_NUMBER.match(line.strip())]
    if len(numbers) >= MIN_PAGE_NUMBERS:
        drop.update((i, PAGE_NUMBER) for i in numbers)
        breaks = set(numbers)
        blank_run = 0
        for i, line in enumerate(lines):
            blank_run = blank_run + 1 if not line.strip() else 0
            if blank_run >= PAGE_BREAK_BLANKS:
                breaks.add(i)
        nonblank = [i for i, line in enumerate(lines) if line.strip()]
        position = {i: k for k, i in enumerate(nonblank)}
        break_positions = sorted({_nearest_nonblank(nonblank, b) for b in breaks})
        copies: dict[str, list[int]] = {}
        for i in nonblank:
            line = lines[i].strip()
            if (in_fence[i] or i in drop or not (line[0].isupper() or line[0].isdigit()) or _ATX.match(line)
                    or line.startswith(("**", "__")) or _ITEM.match(line) or "|" in line):
                continue
            key = _DIGITS.sub("#", _bare(line).lower())
            if len(key.split()) <= MAX_HEADER_WORDS:
                copies.setdefault(key, []).append(i)
        first_break = min(numbers)
        for indexes in copies.values():
            if len(indexes) < max(MIN_HEADER_REPEATS, HEADER_PAGE_SHARE * len(numbers)):
                continue
            near = sum(1 for i in indexes if _distance(position[i], break_positions) <= HEADER_DISTANCE)
            if near * 2 >= len(indexes):
                # A copy before the first page ends is the cover's: a running header repeats the title.
                drop.update((i, RUNNING_HEADER) for i in indexes if i > first_break)
    for i, line in enumerate(lines):
        if "blank" in line.lower() and i not in drop and not in_fence[i] and _BLANK_PAGE.match(_bare(line)):
            drop[i] = BLANK_PAGE
    if not drop:
        return lines
    for i in sorted(drop):
        dropped.append(DroppedLine(_bare(lines[i]), drop[i]))
    return ["" if i in drop else line for i, line in enumerate(lines)]


def _nearest_nonblank(nonblank: list[int], index: int) -> int:
    """The position (among non-blank lines) of the first non-blank line at or after `index`."""
    from bisect import bisect_left

    return bisect_left(nonblank, index)


def _distance(position: int, break_positions: list[int]) -> int:
    from bisect import bisect_left

    k = bisect_left(break_positions, position)
    candidates = [abs(position - break_positions[j]) for j in (k - 1, k) if 0 <= j < len(break_positions)]
    return min(candidates) if candidates else 1 << 30


# --- paragraphs a conversion broke --------------------------------------------------------------

# Words a sentence does not end on: a paragraph ending on one goes on in the next.
_JOINING_WORDS = frozenset(
    "a an the of to in on at by for from with into onto upon and or nor but as than that which who whom whose "
    "our their its his her your my this these those is are was were be been being has have had will would "
    "shall should can could may might must between within without through across about under over including "
    "such per via whether if when where while because although".split()
)
# A sentence's end, with any closing quote or bracket, and any footnote mark after it ("policies. 3").
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*(?:\s?\d{1,3})?$")
_WORD_BREAK = re.compile(r"\w[-‐]$")  # "com-", "COVID-": a word broken at a line or page break
_WORD_PART = re.compile(r"([^\W\d_]+)[-‐]$")
_LETTERS = re.compile(r"[^\W\d_]+")


def _continues(previous: str, following: str, full_line: bool = False) -> bool:
    """Whether `following` goes on with the sentence `previous` leaves open, across a break a conversion
    put in (a PDF line or page break made into a paragraph break): `previous` ends on a word part
    ("com-"), or it ends without closing punctuation and `following` starts in lower case (after any
    opening bracket or quote), or it ends on a word no sentence ends on ("the", "of", "and", ... as
    written: "Plan A" ends a sentence) or on a comma. `full_line`: `previous` ends with a line as wide as
    the document's lines (a paragraph's last line rarely is), so a missing closing punctuation is enough."""
    previous, following = previous[-40:].rstrip(), following[:40].lstrip()
    if not previous or not following:
        return False
    if _WORD_BREAK.search(previous):
        return True
    if _SENTENCE_END.search(previous):
        return False
    if following.lstrip("(\"'‘“[")[:1].islower():
        return True
    starts_a_word = following[0].isalnum() or following[0] in "“‘\"'(£$€"
    last = previous.split()[-1]
    if starts_a_word and (last in _JOINING_WORDS or previous.endswith(",")):
        return True
    # After a full line, a new line starting with a number is a footnote or a numbered paragraph.
    return full_line and following.lstrip("(\"'‘“[")[:1].isalpha()


def _join_broken(previous: str, following: str, vocabulary: _Vocabulary) -> str:
    """`previous` and `following` as one text (`_join_lines`)."""
    return _join_lines([previous, following], vocabulary)


def _join_lines(lines: list[str], vocabulary: _Vocabulary) -> str:
    """Lines of one paragraph as one text. A word hyphenated across a break ("com-" "munity") is joined
    whole when the document uses it whole elsewhere (`vocabulary`), else with its hyphen ("draft-"
    "origin", "COVID-" "19")."""
    pieces: list[str] = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if not pieces:
            pieces.append(line)
            continue
        tail = pieces[-1][-40:]
        if _WORD_BREAK.search(tail):
            head = _WORD_PART.search(tail)
            rest = _LETTERS.match(line)
            if head and rest and line[0].islower() and (head.group(1) + rest.group(0)).lower() in vocabulary:
                pieces[-1] = pieces[-1][:-1]
            pieces.append(line)
        else:
            pieces += [" ", line]
    return "".join(pieces)


class _Vocabulary:
    """The lower-cased words of a text (for `_join_lines`), read on first use: most texts never ask."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._words: set[str] | None = None

    def __contains__(self, word: str) -> bool:
        if self._words is None:
            self._words = set(_LETTERS.findall(self._text.lower()))
        return word in self._words


# --- block structure ---------------------------------------------------------------------------


def _parse(lines: list[str]) -> list[_Raw]:
    """Lines -> raw blocks (markup still in): headings, paragraphs, list items, tables, code, HTML."""
    raws: list[_Raw] = []
    current: _Raw | None = None  # the paragraph or list item lines are being added to
    blank_before = False
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
            current = None
            i += 1
            continue
        if in_fence:
            # Fenced text in these conversions is mostly indented prose: a paragraph per run of lines.
            if not line.strip():
                current = None
            elif current is not None and current.kind == "code":
                current.lines.append(line.strip())
            else:
                current = _Raw("code", [line.strip()])
                raws.append(current)
            i += 1
            continue
        stripped = line.strip()
        if stripped.startswith(">"):
            line = _QUOTE_MARKS.sub("", line)  # block quotes: their content, read as usual
            stripped = line.strip()
        if not stripped:
            blank_before = True
            if current is not None and current.kind != "item":
                current = None
            i += 1
            continue
        indent = len(line) - len(line.lstrip())
        if current is not None and current.kind == "item" and blank_before and indent < current.indent:
            current = None  # an unindented line after a blank line ends the item
        first = stripped[0]
        if first == "#" and (m := _ATX.match(line)):
            if m.group(2) is not None or line.strip() != "#" * len(line.strip()):
                raws.append(_Raw("heading", [m.group(2) or ""], level=len(m.group(1))))
                current = None
                blank_before = False
                i += 1
                continue
        if first in "=-" and (setext := _SETEXT.match(line)) and current is not None and current.kind == "text" and not blank_before:
            current.kind = "heading"
            current.level = 1 if setext.group(1)[0] == "=" else 2
            current = None
            i += 1
            continue
        if first in "-*_" and _BREAK.match(line):
            current = None
            blank_before = False
            i += 1
            continue
        if "|" in stripped and i + 1 < len(lines) and _TABLE_DELIMITER.match(lines[i + 1]) and "-" in lines[i + 1]:
            rows, i = _table_rows(lines, i)
            raws.append(_Raw("table", rows))
            current = None
            blank_before = False
            continue
        if first == "<" and _HTML_BLOCK.match(line) and (current is None or blank_before):
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            raws += [_Raw("html", [], ready=block) for block in _html_blocks("\n".join(lines[i:end]))]
            current = None
            blank_before = False
            i = end
            continue
        if first == "[" and _LINK_DEFINITION.match(line):
            i += 1
            continue
        if first in "*_":
            line = _EMPHASISED_NUMBER.sub(r"\1\3", line)
        if (item := _ITEM.match(line)) and not (current is not None and current.kind == "text" and not blank_before
                                                and item.group(0).lstrip()[0].isdigit()):
            # (A line starting "2. " inside a paragraph continues it: "... in\n2019. The ...")
            content_column = len(line) - len(item.group(2)) if item.group(2) else len(item.group(1)) + 2
            marker = line.split(None, 1)[0]
            current = _Raw("item", [item.group(2)], indent=content_column, number=marker if marker[0].isdigit() else "")
            raws.append(current)
        elif current is not None and (not blank_before or (current.kind == "item" and indent >= current.indent)):
            current.lines.append(stripped)
        else:
            current = _Raw("text", [stripped])
            raws.append(current)
        blank_before = False
        i += 1
    return raws


def _table_rows(lines: list[str], start: int) -> tuple[list[str], int]:
    """A pipe table from its header line: "Header: value; Header: value" per data row, and the index of
    the line after the table."""
    header = _cells(lines[start])
    rows: list[str] = []
    i = start + 2
    while i < len(lines) and "|" in lines[i] and lines[i].strip():
        cells = [_inline(c) for c in _cells(lines[i])]
        names = [_inline(h) for h in header] + [""] * max(0, len(cells) - len(header))
        parts = [f"{name}: {value}" if name else value for name, value in zip(names, cells) if value]
        if parts:
            rows.append("; ".join(parts))
        i += 1
    return rows, i


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def _html_blocks(html: str) -> list[Block]:
    """An HTML block's blocks. Converters leave Markdown inside them ("\\[NHS plan\\]\\[1\\]", "[1]: https://..."):
    escapes, links and link definitions are read as Markdown's."""
    from dataclasses import replace

    from ingest.html_loader import html_fragment_blocks

    blocks = []
    for block in html_fragment_blocks(html):
        text = _INLINE_DEFINITION.sub("", _inline(_ESCAPABLE.sub(r"\1", block.text)))
        if text:
            blocks.append(replace(block, text=text))
    return blocks


# --- inline markup -----------------------------------------------------------------------------

_INLINE_DEFINITION = re.compile(r"\[[^\]]+\]:\s*\S+")
_ESCAPABLE = re.compile(r"\\([!-/:-@\[-`{-~])")
# Escaped characters hide in the Private Use Area while markup is removed, then come back literal.
_HIDDEN_BASE = 0xF0000
_HIDDEN = re.compile(r"[\U000F0000-\U000F007F]")
_IMAGE = re.compile(r"!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])?")
_FOOTNOTE_MARK = re.compile(r"\[\^[^\]]+\]|\^\d{1,3}\^|(?<=[\w.,;:)’”'\"])\^\d{1,3}\b")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")  # [text](url "title")
_REFERENCE_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")  # [text][reference]
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]+|[^\s<>@]+@[^\s<>]+)>")
_TAG = re.compile(r"</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")
_CODE_SPAN = re.compile(r"(`+)(.*?)\1")
_STRIKE = re.compile(r"~~(.*?)~~")
_STRONG = re.compile(r"\*{2,}|(?<!\w)_{2,}|_{2,}(?!\w)")  # strong emphasis, and stray "**"
_STAR = re.compile(r"(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")  # *emphasis*; "2 * 3" stays
_UNDERSCORE = re.compile(r"(?<![\w_])_(?=\S)|(?<=\S)_(?![\w_])")  # _emphasis_; snake_case stays
# A link's address printed after its text: "Industrial Strategy (https://www.gov.uk/...)".
_PRINTED_ADDRESS = re.compile(r"\s*\((?:https?://|www\.)[^()\n]{0,300}\)")
_PILCROW_APOSTROPHE = re.compile(r"(?<=\w)¶(?=\w)")  # a mis-mapped apostrophe: "SECRETARY¶S"


def _inline(text: str) -> str:
    """Text without its inline markup: escapes undone, emphasis, code marks, images, tags and link
    targets removed (the link text kept), entities decoded. (Each step runs only where its mark occurs:
    most lines have none.)"""
    import html

    escaped = "\\" in text
    if escaped:
        text = _ESCAPABLE.sub(lambda m: chr(_HIDDEN_BASE + ord(m.group(1))), text)
    if "[" in text:
        text = _REFERENCE_LINK.sub(r"\1", _LINK.sub(r"\1", _FOOTNOTE_MARK.sub("", _IMAGE.sub("", text))))
    if "^" in text:
        text = _FOOTNOTE_MARK.sub("", text)
    if "<" in text:
        text = _TAG.sub(" ", _AUTOLINK.sub(r"\1", text))
    if "`" in text:
        text = _CODE_SPAN.sub(r"\2", text)
    if "~~" in text:
        text = _STRIKE.sub(r"\1", text)
    if "*" in text:
        text = _STAR.sub("", _STRONG.sub("", text))
    if "_" in text:
        text = _UNDERSCORE.sub("", _STRONG.sub("", text))
    if "(http" in text or "(www." in text:
        text = _PRINTED_ADDRESS.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    if escaped:
        text = _HIDDEN.sub(lambda m: chr(ord(m.group(0)) - _HIDDEN_BASE), text)
    if "¶" in text:
        text = _PILCROW_APOSTROPHE.sub("’", text)
    return " ".join(text.split())


# --- blocks ------------------------------------------------------------------------------------


def _line_width(raws: list[_Raw]) -> int | None:
    """The width of a full line when the text is hard-wrapped (a PDF's lines, or Markdown wrapped at 72
    columns): the median length of its longer lines, when most of them are about that long; else None."""
    lengths = sorted(len(line) for raw in raws if raw.kind in ("text", "item", "code") for line in raw.lines
                     if len(line) >= 30)
    if len(lengths) < 20:
        return None
    median, upper = lengths[len(lengths) // 2], lengths[3 * len(lengths) // 4]
    return int(median * FULL_LINE_SHARE) if upper <= median * WRAPPED_SPREAD else None


def _finish(raws: list[_Raw], vocabulary: _Vocabulary, full_width: int | None = None) -> list[Block]:
    """Raw blocks -> blocks: lines joined, markup removed, bold-only lines read as headings, broken
    headings and paragraphs rebuilt. A footnote a page break put inside a paragraph goes after it."""
    staged: list[tuple[_Raw, str]] = []
    for raw in raws:
        if raw.ready is not None:
            staged.append((raw, raw.ready.text))
            continue
        if raw.kind == "table":
            text = "\n".join(raw.lines)
        else:
            text = _join_lines(raw.lines, vocabulary)
            if raw.kind == "code":
                text = " ".join(text.split())
            else:
                text = _inline(_FOOTNOTE_START.sub(lambda m: f"{m.group(1) or m.group(2)} ", _bold_heading(raw, text)))
        if text:
            staged.append((raw, text))
    numbered = [text for raw, text in staged if raw.kind == "item" and raw.number]
    numbered_paragraphs = bool(numbered) and sum(map(_is_numbered_paragraph, numbered)) >= NUMBERED_SHARE * len(numbered)
    blocks: list[Block] = []
    footnotes: list[Block] = []  # met while the paragraph before them may still go on
    last_line = 0  # the length of the source line blocks[-1] ends with
    for k, (raw, text) in enumerate(staged):
        if raw.ready is not None:
            blocks += footnotes + [raw.ready]
            footnotes.clear()
            continue
        if raw.kind in ("text", "code") and _FOOTNOTE_START.match(raw.lines[0]):
            footnotes.append(Block("text", text))
            continue
        kind = "text" if raw.kind == "code" else raw.kind
        if kind == "text" and (bullet := _BULLET_LEFT.match(text)):
            kind, text = "item", text[bullet.end():]  # "**• Seven hospitals** across ...": a bullet inside bold
        previous = blocks[-1] if blocks else None
        following = staged[k + 1][1] if k + 1 < len(staged) else ""
        if kind == "heading" and raw.level == 0 and following[:1].islower() and staged[k + 1][0].kind != "heading":
            kind = "text"  # a bold start of a sentence that goes on: not a heading
        if kind == "heading" and raw.level == 0 and _SECTION_NUMBER.match(text) and not (
                k + 1 < len(staged) and staged[k + 1][0].kind == "heading" and not _SECTION_NUMBER.match(following)):
            kind = "text"  # a bold number is a heading's number only when a heading follows it
        if kind == "item" and raw.number and numbered_paragraphs:
            kind, text = "text", f"{raw.number} {text}"
        if previous is not None and kind == "heading" and previous.kind == "heading" and not footnotes \
                and _continues_heading(previous, raw.level, text):
            blocks[-1] = Block("heading", f"{previous.text} {text}", level=previous.level or raw.level)
            continue
        # (A list item's last line often ends without punctuation: only a paragraph's full line counts.)
        full_line = full_width is not None and last_line >= full_width and previous is not None and previous.kind == "text"
        if (previous is not None and kind == "text" and previous.kind in ("text", "item")
                and _continues(previous.text, text, full_line)):
            blocks[-1] = Block(previous.kind, _join_broken(previous.text, text, vocabulary))
            last_line = len(raw.lines[-1]) if raw.lines else 0
            continue
        blocks += footnotes
        footnotes.clear()
        blocks.append(Block(kind, text, level=raw.level if kind == "heading" else 0))
        last_line = len(raw.lines[-1]) if raw.lines and kind != "table" else 0
    return blocks + footnotes


def _is_numbered_paragraph(text: str) -> bool:
    """A numbered item that reads as a paragraph of its own (policy papers number their paragraphs): long,
    or more than one sentence. When most numbered items of a document are, they all are paragraphs
    ("12. The UK will ..."); else they are list items."""
    return len(text) > NUMBERED_PARAGRAPH_CHARS or bool(re.search(r"[.!?]\s+[A-Z]", text))


def _bold_heading(raw: _Raw, text: str) -> str:
    """Turns a paragraph that is only bold text (or only italic text, up to MAX_ITALIC_HEADING_WORDS words),
    short and not ending like a sentence, into a heading of unknown level. Returns the text without the
    emphasis around it."""
    if raw.kind != "text":
        return text
    # "**** **1. Where have we been? **", "**One** **line**": empty and adjacent bold runs are one run.
    stripped = _ADJACENT_BOLD.sub(" ", _EMPTY_BOLD.sub("", text)).strip()
    m = _BOLD_ONLY.match(stripped)
    limit = MAX_HEADING_WORDS
    if not m:
        m = _ITALIC_ONLY.match(stripped)
        limit = MAX_ITALIC_HEADING_WORDS
    if not m:
        return text
    inner = _inline(m.group(2))
    if (inner and (inner[0].isupper() or inner[0].isdigit()) and len(inner.split()) <= limit
            and not re.search(r"[.,;]$", inner) and not _CAPTION.match(inner) and inner.count(",") < 2):  # "Jenny Allen, Director of Workforce, October 2021": a byline
        raw.kind = "heading"
        raw.level = 0
    return m.group(2)  # emphasis around a whole paragraph, with the converter's inner spaces ("*for *")


def _continues_heading(previous: Block, level: int, text: str) -> bool:
    """Whether a heading straight after another one is the rest of it: after a section number alone;
    when the first ends on a word like "of" or the second starts in lower case; or, for headings the
    file marks with a level (#), the same level again, unless the second is a date."""
    if _SECTION_NUMBER.match(previous.text):
        return True
    if len(previous.text.split()) + len(text.split()) > MAX_MERGED_HEADING_WORDS or re.search(r"[.!?:]$", previous.text):
        return False
    words = previous.text.split()
    if text[:1].islower() or words[-1].lower() in _JOINING_WORDS:
        return True
    return level > 0 and previous.level == level and not _DATE_ONLY.match(text)


def _drop_outline(blocks: list[Block], dropped: list[DroppedLine]) -> list[Block]:
    """The "Document Outline" some PDF converters append (the PDF's bookmarks as a nested list)."""
    for k, block in enumerate(blocks):
        if block.kind == "heading" and block.text.strip().lower() == "document outline" \
                and all(b.kind == "item" for b in blocks[k + 1:]):
            dropped += [DroppedLine(b.text, OUTLINE) for b in blocks[k:]]
            return blocks[:k]
    return blocks
