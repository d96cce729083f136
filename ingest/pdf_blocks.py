"""PDF blocks: lines in reading order (ingest/pdf_layout.py) become paragraphs, headings and list items
as the author wrote them, each with the pages its words are on.

- Body size: the font size most characters are set in. A run of lines clearly larger (`HEADING_RATIO`)
  is a heading when it is short and does not end a sentence; so is a run of bold body-size lines
  (`BOLD_HEADING_WORDS`). Heading levels rank the heading sizes, largest first (bold body-size
  headings come last), capped at 3. A document with no such heading gives its text blocks
  `plain=True`: the cleaner then judges headings by the lines' shape.
- A paragraph ends, inside a column, where the baseline-to-baseline distance grows past
  `PARAGRAPH_LEADING` times the document's usual line spacing, where the size or weight changes, where
  the next line is indented (a first-line indent), where a bullet or number starts an item, or where a
  line ending a sentence stops well short of the column's right edge and the next starts in capitals.
- Across a column or page break a paragraph goes on when the text breaks mid-sentence, by the rule
  the cleaner uses for all formats (`ingest.reflow.continues`).
- List items: a line starting with a bullet glyph or an enumerator ("1.", "a)", "(iv)") starts an item;
  bullet glyphs are dropped, enumerators kept (they are what the text refers to: "recommendation 3").
  Lines indented past the bullet continue the item. A numbered entry over `NUMBERED_PARAGRAPH_WORDS`
  words is a numbered paragraph of a report ("12. The Government accepts ..."): a text block.
- Hyphenation (`join_hyphenated`): a word broken at a line end ("com-" / "munity") is joined without
  its hyphen, unless the document shows it is a compound: the hyphenated form occurs elsewhere, or both
  parts occur elsewhere as words of their own while the joined form does not ("well-" / "being" stays
  "well-being"; "evalu-" / "ation" becomes "evaluation"). A part in capitals or digits after the hyphen
  keeps it ("COVID-" / "19").
- Page marks: (word index, page) where each page of a block begins, counting the block's final words.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ingest.loaders import Block
from ingest.pdf_layout import BULLET_GLYPHS, UNMAPPED_GLYPH, Line, is_bullet
from ingest.reflow import continues

HEADING_RATIO = 1.15  # a heading's font is at least this much larger than the body's
BOLD_HEADING_WORDS = 15  # a bold body-size run this short (or shorter) is a heading
SIZE_HEADING_WORDS = 30  # a larger-font run longer than this is large print, not a heading
PARAGRAPH_LEADING = 1.3  # line spacing over the usual by this factor ends a paragraph
NUMBERED_PARAGRAPH_WORDS = 40  # a numbered entry longer than this is a numbered paragraph, not a list item
_ENUMERATOR = re.compile(r"^(?:\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})\)|(?:\d{1,2}|[a-z]|[ivx]{1,4})\.)$")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*$")
_LINE_END_HYPHEN = re.compile(r"[^\W\d_][-\u00ad\u2010]$")
_WORD = re.compile(r"[^\W\d_][\w'’]*(?:-[^\W\d_][\w'’]*)*")


@dataclass
class _Open:
    """A block being built."""

    kind: str
    lines: list[Line]
    words: list[str] = field(default_factory=list)
    marks: list[tuple[int, int]] = field(default_factory=list)
    bullet_x0: float = 0.0
    numbered: bool = False  # an item opened by an enumerator ("1.", "a)"), not a bullet glyph


@dataclass
class Style:
    """What the whole document says about its type: the body size, the usual baseline-to-baseline
    spacing per point of size, and the vocabulary hyphenation is judged by."""

    body_size: float
    leading: float
    vocabulary: set[str]

    @classmethod
    def of(cls, lines: list[Line]) -> "Style":
        sizes: Counter[float] = Counter()
        for ln in lines:
            if ln.table is None:
                sizes[ln.size] += len(ln.text)
        body = sizes.most_common(1)[0][0] if sizes else 10.0
        ratios = [round((b.bottom - a.bottom) / body, 1) for a, b in zip(lines, lines[1:])
                  if a.table is None and b.table is None and a.flow == b.flow and a.size == b.size == body
                  and 0.8 * body < b.bottom - a.bottom < 2.5 * body]
        leading = Counter(ratios).most_common(1)[0][0] if ratios else 1.2
        return cls(body, leading, _vocabulary(lines))

    def heading_size(self, line: Line) -> bool:
        return line.size >= self.body_size * HEADING_RATIO and line.size - self.body_size >= 1.0


def _vocabulary(lines: list[Line]) -> set[str]:
    """Every word of the document (lower case), hyphenated compounds whole, except the pieces of words
    broken at line ends (which would prove nothing)."""
    words: set[str] = set()
    broken = False
    for ln in lines:
        if ln.table is not None:
            continue
        tokens = ln.text.split()
        for i, token in enumerate(tokens):
            if (i == 0 and broken) or (i == len(tokens) - 1 and _LINE_END_HYPHEN.search(token)):
                continue
            words.update(m.group().lower() for m in _WORD.finditer(token))
        broken = bool(tokens) and bool(_LINE_END_HYPHEN.search(tokens[-1]))
    return words


def join_hyphenated(left: str, right: str, vocabulary: set[str]) -> str:
    """`left` ("com-") and `right` ("munity,") as the one word the line break cut."""
    stem = left[:-1]
    if left.endswith("\u00ad"):  # a soft hyphen is only ever a break
        return stem + right
    if not right[:1].islower():
        return left + right
    head = stem.split("-")[-1].lower()
    tail_match = _WORD.match(right)
    tail = tail_match.group().lower() if tail_match else right.lower()
    first_tail = tail.split("-")[0]
    if head + first_tail in vocabulary:
        return stem + right
    if f"{head}-{first_tail}" in vocabulary or (head in vocabulary and first_tail in vocabulary):
        return left[:-1] + "-" + right
    return stem + right


class _Stream:
    """Blocks built from lines in order: a line either goes on the open block or starts the next."""

    def __init__(self, style: Style):
        self.style = style
        self.current: _Open | None = None
        self.done: list[tuple[_Open, Block | None]] = []

    def takes(self, line: Line) -> bool:
        """Appends `line` to the open block when it goes on it."""
        if self.current is None or not _continues(self.current, line, _kind(line, self.style), self.style):
            return False
        _append(self.current, line, self.style, bullet=False)
        return True

    def start(self, line: Line) -> None:
        if self.current:
            self.done.append((self.current, None))
        kind = _kind(line, self.style)
        self.current = _Open(kind, [], bullet_x0=line.x0, numbered=kind == "item" and not is_bullet(line.words[0]))
        _append(self.current, line, self.style, bullet=kind == "item")

    def add(self, line: Line) -> None:
        if not self.takes(line):
            self.start(line)

    def close(self) -> list[tuple[_Open, Block | None]]:
        finished = self.done + ([(self.current, None)] if self.current else [])
        self.current, self.done = None, []
        return finished


def build_blocks(pages: list[list[Line]], style: Style) -> list[Block]:
    built: list[tuple[_Open, Block | None]] = []
    body, notes = _Stream(style), _Stream(style)
    for page in pages:
        footnotes = _footnotes(page, style)
        for line in page:
            if id(line) in footnotes or line.margin_note:
                notes.add(line)  # kept apart: the paragraph beside or above them may go on over the page
                continue
            if line.table is None and body.takes(line):
                continue
            built += body.close() + notes.close()  # notes follow the paragraph they stood under
            if line.table is not None:
                built.append((_Open("table", [line]), line.table))
            else:
                body.start(line)
    built += body.close() + notes.close()
    return _finish(built, style)


_NOTE_MARK = re.compile(r"^(?:\d{1,3}|[*†‡§¹²³⁴⁵⁶⁷⁸⁹])\s*\S")


def _footnotes(page: list[Line], style: Style) -> set[int]:
    """The page's footnotes: its last lines, set smaller than the body, the first of them opening with a
    note mark ("12 See ...") or standing apart from the text above."""
    run: list[Line] = []
    for line in reversed(page):
        if line.table is not None or line.size > style.body_size - 1.0:
            break
        run.insert(0, line)
    if not run:
        return set()
    first = run[0]
    above = page[page.index(first) - 1] if page.index(first) > 0 else None
    apart = above is None or first.bottom - above.bottom > style.leading * above.size * PARAGRAPH_LEADING
    return {id(ln) for ln in run} if apart or _NOTE_MARK.match(first.text) else set()


def _kind(line: Line, style: Style) -> str:
    first = line.words[0]
    if is_bullet(first) and len(line.words) > 1:
        return "item"
    heading_type = style.heading_size(line) or (line.bold and abs(line.size - style.body_size) < 1.0)
    if heading_type and not _contents_entry(line):
        return "heading"  # "1. Introduction" in a heading's type is a numbered heading
    if _ENUMERATOR.match(first.text) and len(line.words) > 1:
        return "item"
    return "text"


def _contents_entry(line: Line) -> bool:
    """A contents line: a page number set apart at its end ("Introduction ...... 4", "Scope      9")."""
    *rest, last = line.words
    if not rest or not re.fullmatch(r"\d{1,4}", last.text):
        return False
    return last.x0 - rest[-1].x1 > 1.5 * last.size or rest[-1].text.endswith((".", "…"))


def _continues(current: _Open, line: Line, kind: str, style: Style) -> bool:
    last = current.lines[-1]
    if kind == "item":
        return False
    same_flow = line.flow == last.flow
    size = max(line.size, last.size)
    spacing = line.bottom - last.bottom
    close = 0 < spacing <= style.leading * size * PARAGRAPH_LEADING
    if current.kind == "heading":
        return kind == "heading" and same_flow and close and line.size == last.size and line.bold == last.bold
    # A change of size ends a paragraph, unless small and on the usual spacing (a link set a little smaller).
    if kind == "heading" or abs(line.size - last.size) >= max(1.0, 0.2 * size if close else 0.0):
        return False
    if not same_flow:
        text = " ".join(current.words)
        return bool(continues(Block(current.kind, text), Block("text", line.text)))
    if not close:
        return False
    if current.kind == "item":
        # Wrapped item lines stand indented past the bullet; a line back at the bullet starts new text
        # unless the item plainly goes on.
        return line.x0 > current.bullet_x0 + 0.3 * size or line.text[:1].islower()
    if line.x0 > last.x0 + size and last.x0 < line.flow_left + size and len(current.lines) >= 2:
        return False  # a first-line indent (after a paragraph's first line it is a hanging indent: "1.1  Text")
    width = line.flow_right - line.flow_left
    short = last.x1 < line.flow_right - 0.2 * width
    if short and _SENTENCE_END.search(last.text) and line.text[:1].isupper():
        return False
    return True


def _append(block: _Open, line: Line, style: Style, bullet: bool) -> None:
    words = line.text.split()
    if bullet:  # the glyph, a word of its own or glued to the first word
        words[0] = UNMAPPED_GLYPH.sub("", words[0]).lstrip("".join(BULLET_GLYPHS))
    words = [cleaned for w in words if (cleaned := UNMAPPED_GLYPH.sub("", w))]  # unmapped glyphs are no text
    start = len(block.words)
    if block.words and words and _LINE_END_HYPHEN.search(block.words[-1]):
        block.words[-1] = join_hyphenated(block.words[-1], words[0], style.vocabulary)
        words = words[1:]
        start = len(block.words)
    if words and (not block.marks or block.marks[-1][1] != line.page):
        block.marks.append((start, line.page))
    block.words.extend(words)
    block.lines.append(line)


def _finish(built: list[tuple[_Open, Block | None]], style: Style) -> list[Block]:
    """Built blocks as `Block`s: headings checked (short, no sentence end) and given levels."""
    def is_heading(block: _Open) -> bool:
        text = " ".join(block.words)
        limit = SIZE_HEADING_WORDS if style.heading_size(block.lines[0]) else BOLD_HEADING_WORDS
        return block.kind == "heading" and 0 < len(block.words) <= limit and not _SENTENCE_END.search(text)

    headings = [b for b, _ in built if is_heading(b)]
    sizes = sorted({b.lines[0].size for b in headings if style.heading_size(b.lines[0])}, reverse=True)
    levels = {size: min(rank + 1, 3) for rank, size in enumerate(sizes)}
    plain = not headings
    blocks: list[Block] = []
    for block, table in built:
        if table is not None:
            blocks.append(table)
            continue
        text = " ".join(block.words)
        if not text:
            continue
        marks = tuple(block.marks)
        if is_heading(block):
            level = levels.get(block.lines[0].size, min(len(levels) + 1, 3))
            blocks.append(Block("heading", text, level=level, page_marks=marks))
        elif block.kind == "item" and not (block.numbered and len(block.words) > NUMBERED_PARAGRAPH_WORDS):
            blocks.append(Block("item", text, plain=plain, page_marks=marks))
        else:
            blocks.append(Block("text", text, plain=plain, page_marks=marks))
    return blocks
