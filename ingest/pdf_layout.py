"""PDF layout: a page's words (with positions, font sizes and weights) become lines in reading order,
and the running headers, footers and page numbers that repeat across pages are set aside.

- Rows: words whose vertical extents overlap form a row; a row is cut into fragments where words stand
  further apart than `FRAGMENT_GAP` font sizes (a column gutter, a tab stop), except right after a
  bullet (the bullet and its text stay one fragment).
- Columns: a page region reads column by column when a vertical gutter crosses it (`_gutter`): few
  fragments cross the gutter, both sides hold several lines side by side, and both sides are wide (a
  label/value layout, whose left side is short labels, is not two columns). Fragments that cross the
  gutter (a full-width heading, a table) cut the page into bands; each band reads left then right, and
  each side may itself split once more. Every column segment is a `flow`: a line break inside a flow
  is a line break, one between flows is a column or page break.
- Margin notes: a line or three set in the margin beside a block of prose (a photo's name and role beside a
  foreword, a side note) share rows with the prose's lines but not its text (`_margin_notes`). They read as a
  flow of their own, after the paragraph they stand beside (ingest/pdf_blocks.py keeps them apart as it keeps
  footnotes), so "promotes competitive markets and Sarah Munby responsible business practices" reads "promotes
  competitive markets and responsible business practices", and the note stays whole. A label of a label/value
  layout ("Ratified by:" beside its value) is never one.
- Furniture (`drop_furniture`): lines among the first or last `EDGE_ROWS` rows of a page, within
  `EDGE_ZONE` of the page's height from its topmost or lowest text, are a running header or footer when
  their text (lower case, digit runs masked) is on `REPEATS` or more pages; a bare page number ("12",
  "Page 3 of 6", "iv", "- 7 -") there is dropped on any page.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from assistant.records import DroppedLine

FRAGMENT_GAP = 1.5  # font sizes between two words that cut a row into fragments
EDGE_ZONE = 0.12  # share of the page height, below its topmost and above its lowest text, for headers and footers
EDGE_ROWS = 3  # rows at the top and bottom of a page that may be a header or footer
REPEATS = 3  # pages a header or footer line must repeat on (all pages, in shorter documents)

# Bullet glyphs, including the private-use code points Symbol and Wingdings bullets extract as.
BULLET_GLYPHS = set("•·●▪◦‣∙■□➢➤►▶✓✔-–—*>") | {chr(c) for c in range(0xF000, 0xF100)}
_PAGE_NUMBER = re.compile(
    r"^(?:(?:[Pp]age|PAGE|p\.|pg\.?)\s*)?[-–—(\[]?\s*(?:\d{1,3}|[ivx]{1,6}|[IVX]{1,6})\s*[-–—)\]]?"
    r"(?:\s*(?:/|of|OF)\s*\d{1,3})?$")  # up to 999 pages: a bare "2021" is a year


@dataclass
class Word:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool


@dataclass
class Line:
    """A line of text in reading order (or a table, placed where it stands on the page)."""

    words: list[Word]
    page: int  # 1-based
    flow: tuple[int, int] = (0, 0)  # (page, column segment): consecutive lines of one flow are wrapped lines
    flow_left: float = 0.0  # the flow's left and right text edges
    flow_right: float = 0.0
    table: object = None  # a finished table Block standing here in reading order
    margin_note: bool = False  # set in the margin beside prose (`_margin_notes`): read after the paragraph it interrupts

    @property
    def x0(self) -> float:
        return min(w.x0 for w in self.words)

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        # the lowest word's bottom: a superscript (smaller, raised) does not move it
        return max(w.bottom for w in self.words)

    @property
    def size(self) -> float:
        """The size most of the line's characters are set in."""
        by_size: dict[float, int] = defaultdict(int)
        for w in self.words:
            by_size[round(w.size * 2) / 2] += len(w.text)
        return max(by_size, key=by_size.get)

    @property
    def bold(self) -> bool:
        return all(w.bold for w in self.words if any(ch.isalnum() for ch in w.text))

    @property
    def text(self) -> str:
        parts: list[str] = []
        previous = None
        for w in self.words:
            # Words cut apart by a change of font (a superscript, a bold letter) touch: no space between.
            if previous is not None and w.x0 - previous.x1 < 0.05 * w.size and previous.size != w.size:
                parts[-1] += w.text
            else:
                parts.append(w.text)
            previous = w
        return " ".join(parts)


@dataclass
class _Fragment:
    words: list[Word] = field(default_factory=list)
    table: object = None  # a table Block: its one word is the table's box

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return self.words[-1].x1

    @property
    def top(self) -> float:
        return min(w.top for w in self.words)

    @property
    def bottom(self) -> float:
        return max(w.bottom for w in self.words)


# Glyphs that are a bullet even glued to the word after them ("•Text"); a dash or star glued on is not.
_GLUED_BULLETS = BULLET_GLYPHS - set("-–—*>")
# A glyph the font maps to no character: pdfminer writes "(cid:127)". Alone before a line's text it is a bullet.
UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)")


def is_bullet(word: Word) -> bool:
    text = word.text
    glued = len(text) > 1 and text[0] in _GLUED_BULLETS
    return text in BULLET_GLYPHS or glued or bool(UNMAPPED_GLYPH.fullmatch(text))


Box = tuple[float, float, float, float]  # x0, top, x1, bottom


def page_lines(words: list[Word], page: int, tables: list[tuple[Box, object]]) -> list[Line]:
    """The page's lines in reading order; `tables` are (bbox, Block) placed as lines of their own."""
    fragments = _split_at_text_edges([f for row in _rows(words) for f in _split_row(row)])
    for (x0, top, x1, bottom), block in tables:
        fragments.append(_Fragment([Word("", x0, x1, top, bottom, 0.0, False)], block))
    lines: list[Line] = []
    segments = _columns(fragments, depth=0)
    for segment, column in enumerate(segments):
        notes = _margin_notes(column)
        body = [f for f in column if id(f) not in notes]
        flows = [(body, segment, False)]
        if notes:  # a flow of its own, which pdf_blocks reads after the paragraph it stands beside
            flows.append(([f for f in column if id(f) in notes], len(segments) + segment, True))
        for part, flow, margin_note in flows:
            left = min((f.x0 for f in part), default=0.0)
            right = max((f.x1 for f in part), default=0.0)
            for frags in _merge_rows(part):
                lines.append(Line([w for f in frags for w in f.words], page, (page, flow), left, right, frags[0].table,
                                  margin_note))
    return lines


def _rows(words: list[Word]) -> list[list[Word]]:
    """Words grouped into rows: a word joins the row its vertical middle falls in."""
    rows: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.bottom, w.x0)):
        middle = (word.top + word.bottom) / 2
        for row in reversed(rows[-3:]):
            top, bottom = min(w.top for w in row), max(w.bottom for w in row)
            if top <= middle <= bottom:
                row.append(word)
                break
        else:
            rows.append([word])
    return [sorted(row, key=lambda w: w.x0) for row in rows]


def _marker(word: Word) -> bool:
    """A list item's bullet or number: "•", "1.", "(a)", "-"."""
    return is_bullet(word) or bool(re.fullmatch(r"\(?\w{1,3}[.)]", word.text))


def _split_row(row: list[Word]) -> list[_Fragment]:
    fragments = [_Fragment([row[0]])]
    for word in row[1:]:
        last = fragments[-1].words[-1]
        gap = word.x0 - last.x1
        after_bullet = len(fragments[-1].words) == 1 and _marker(last)
        if gap > FRAGMENT_GAP * max(word.size, last.size) and not after_bullet:
            fragments.append(_Fragment([word]))
        else:
            fragments[-1].words.append(word)
    return fragments


def _split_at_text_edges(fragments: list[_Fragment]) -> list[_Fragment]:
    """Fragments cut where a word after a wide space (0.8 of its size or more) starts at a text edge: the x at
    which PROSE_RUN_LINES or more fragments of the page start. A margin note set close to the prose ("Permanent
    Secretary" 14 points left of "low cost and clean energy system") is not run into the prose's line."""
    texts = [f for f in fragments if f.table is None]
    edges = {round(f.x0, 1) for f in texts if sum(abs(g.x0 - f.x0) <= 1.5 for g in texts) >= PROSE_RUN_LINES}
    if not edges:
        return fragments
    out: list[_Fragment] = []
    for fragment in fragments:
        if fragment.table is not None:
            out.append(fragment)
            continue
        current = _Fragment([fragment.words[0]])
        for before, word in zip(fragment.words, fragment.words[1:]):
            if _marker(before) or re.fullmatch(r"\d{1,2}(?:\.\d{1,2})+\.?", before.text):
                current.words.append(word)  # a bullet or a number ("2.1.") stays with its text, which starts at an edge
            elif word.x0 - before.x1 >= 0.8 * word.size and any(abs(word.x0 - x) <= 1.5 for x in edges):
                out.append(current)
                current = _Fragment([word])
            else:
                current.words.append(word)
        out.append(current)
    return out


def _columns(fragments: list[_Fragment], depth: int) -> list[list[_Fragment]]:
    """The fragments as column segments in reading order."""
    ordered = sorted(fragments, key=lambda f: (f.top, f.x0))
    gutter = _gutter(ordered) if depth < 2 else None
    if gutter is None:
        return [ordered] if ordered else []
    segments: list[list[_Fragment]] = []
    band: list[_Fragment] = []

    def flush() -> None:
        left = [f for f in band if f.x1 <= gutter]
        right = [f for f in band if f.x0 >= gutter]
        segments.extend(_columns(left, depth + 1) + _columns(right, depth + 1))
        band.clear()

    for frag in ordered:
        if frag.x0 < gutter < frag.x1:  # full width: ends the band above it
            flush()
            segments.append([frag])
        else:
            band.append(frag)
    flush()
    # Consecutive full-width fragments are one segment (a heading over two lines, a full-width paragraph).
    merged: list[list[_Fragment]] = []
    for segment in segments:
        if merged and _full_width(merged[-1], gutter) and _full_width(segment, gutter):
            merged[-1].extend(segment)
        else:
            merged.append(segment)
    return merged


def _full_width(segment: list[_Fragment], gutter: float) -> bool:
    return all(f.x0 < gutter < f.x1 for f in segment)


def _gutter(fragments: list[_Fragment]) -> float | None:
    """The x of a vertical gutter between two columns, or None for a single column."""
    texts = [f for f in fragments if f.table is None]
    if len(texts) < 6:
        return None
    left_edge, right_edge = min(f.x0 for f in texts), max(f.x1 for f in texts)
    width = right_edge - left_edge
    # Sweep x across the middle half: the gutter is the middle of the widest run crossed by fewest fragments.
    xs = [left_edge + 0.25 * width + 2.0 * i for i in range(int(0.5 * width / 2.0) + 1)]
    crossings = [sum(1 for f in texts if f.x0 < x < f.x1) for x in xs]
    if not xs or min(crossings) > max(1, 0.1 * len(texts)):
        return None
    fewest = min(crossings)
    best_run: tuple[int, int] = (0, 0)
    start = None
    for i, crossing in enumerate(crossings + [fewest + 1]):
        if crossing == fewest and start is None:
            start = i
        elif crossing != fewest and start is not None:
            if i - start > best_run[1] - best_run[0]:
                best_run = (start, i)
            start = None
    gutter = (xs[best_run[0]] + xs[best_run[1] - 1]) / 2
    left = [f for f in texts if f.x1 <= gutter]
    right = [f for f in texts if f.x0 >= gutter]
    if len(left) < 3 or len(right) < 3:
        return None
    side_by_side = sum(1 for a in left if any(b.top < a.bottom and a.top < b.bottom for b in right))
    if side_by_side < 3:
        return None
    # Columns of prose are wide; a column of short labels beside their values is a label/value layout.
    if min(statistics.median(f.x1 - f.x0 for f in side) for side in (left, right)) < 0.25 * width:
        return None
    return gutter


MARGIN_NOTE_LINES = 3  # a margin note is a line or three: more lines beside a block are a label/value layout
PROSE_RUN_LINES = 5  # a block of prose: this many lines or more, starting at one x, one under the other


def _overlap(a: _Fragment, b: _Fragment) -> bool:
    return a.top < b.bottom and b.top < a.bottom


def _prose_run(line: _Fragment, texts: list[_Fragment]) -> list[_Fragment]:
    """The lines that start where `line` starts (within 2 points), stacked one under the other with `line`
    (no gap over 2.5 line heights between neighbours): the block of text it is a line of."""
    same = sorted((g for g in texts if abs(g.x0 - line.x0) < 2.0), key=lambda g: g.top)
    i = next(k for k, g in enumerate(same) if g is line)
    lo, hi = i, i
    while lo > 0 and same[lo].top - same[lo - 1].bottom < 2.5 * (same[lo].bottom - same[lo].top):
        lo -= 1
    while hi < len(same) - 1 and same[hi + 1].top - same[hi].bottom < 2.5 * (same[hi].bottom - same[hi].top):
        hi += 1
    return same[lo : hi + 1]


def _margin_notes(column: list[_Fragment]) -> set[int]:
    """The ids of the fragments of `column` that are a note in the margin beside a block of prose: a fragment
    that shares a row with a line of a prose run (`_prose_run`: PROSE_RUN_LINES lines or more, most of them
    long, wrapped lines), stands wholly left or right of it, does not end like a label (":"), and is one of at
    most MARGIN_NOTE_LINES fragments beside that run on its side."""
    texts = [f for f in column if f.table is None and f.words]
    notes: set[int] = set()
    for f in texts:
        if f.words[-1].text.endswith(":"):
            continue
        for line in texts:
            if line is f or not _overlap(f, line) or not (f.x1 < line.x0 or f.x0 > line.x1):
                continue
            run = _prose_run(line, texts)
            if len(run) < PROSE_RUN_LINES:
                continue
            left, right = min(g.x0 for g in run), max(g.x1 for g in run)
            widest = right - left
            if sum(g.x1 - g.x0 >= 0.6 * widest for g in run) < 0.6 * len(run):
                continue  # short lines: values or a list, not prose
            in_run = {id(g) for g in run}
            on_side = [g for g in texts if id(g) not in in_run and (g.x1 < left if f.x1 < left else g.x0 > right)
                       and any(_overlap(g, r) for r in run)]
            if len(on_side) <= MARGIN_NOTE_LINES and not any(g.words[-1].text.endswith(":") for g in on_side):
                notes.update(id(g) for g in on_side)
                break
    return notes


def _merge_rows(column: list[_Fragment]) -> list[list[_Fragment]]:
    """Fragments of a column that stand side by side (one row) are one line, left to right."""
    rows: list[list[_Fragment]] = []
    for frag in column:
        middle = (frag.top + frag.bottom) / 2
        beside = rows and min(f.top for f in rows[-1]) <= middle <= max(f.bottom for f in rows[-1])
        if beside and frag.table is None and rows[-1][0].table is None:
            rows[-1].append(frag)
        else:
            rows.append([frag])
    return [sorted(row, key=lambda f: f.x0) for row in rows]


# --- running headers, footers and page numbers -----------------------------------------------------


def _key(line: Line, body_size: float) -> str:
    text = re.sub(r"\s+", " ", line.text.lower()).strip()
    if line.bold or line.size > body_size + 0.5:
        return text
    return re.sub(r"\d+", "#", text)


def drop_furniture(pages: list[list[Line]], heights: list[float],
                   body_size: float) -> tuple[list[list[Line]], list[DroppedLine]]:
    """The pages' lines without running headers, footers and page numbers, and what was dropped (each
    distinct line once, with its reason). A line set like a heading (bold, or larger than the body) repeats
    only by its exact text: "Recommendation 2" ... "Recommendation 9" at the tops of pages are content."""
    edges: list[dict[int, str]] = []  # per page: id(line) -> "header" / "footer"
    for lines, height in zip(pages, heights):
        body = [ln for ln in lines if ln.table is None]
        tops = sorted({round(ln.top) for ln in body})
        bottoms = sorted({round(ln.bottom) for ln in body}, reverse=True)
        marks = {}
        for ln in body:
            # measured from the page's own text edges: a page's box may be larger than its printed area
            if round(ln.top) in tops[:EDGE_ROWS] and ln.top < tops[0] + EDGE_ZONE * height:
                marks[id(ln)] = "header"
            elif round(ln.bottom) in bottoms[:EDGE_ROWS] and ln.bottom > bottoms[0] - EDGE_ZONE * height:
                marks[id(ln)] = "footer"
        edges.append(marks)
    on_pages: dict[tuple[str, str], set[int]] = defaultdict(set)
    for lines, marks in zip(pages, edges):
        for ln in lines:
            if id(ln) in marks:
                on_pages[(marks[id(ln)], _key(ln, body_size))].add(ln.page)
    needed = min(REPEATS, len(pages))
    kept_pages: list[list[Line]] = []
    dropped: dict[str, DroppedLine] = {}
    page_numbers: list[str] = []
    for lines, marks in zip(pages, edges):
        kept = []
        for ln in lines:
            where = marks.get(id(ln))
            if where and _PAGE_NUMBER.match(ln.text.strip()):
                page_numbers.append(ln.text.strip())
                continue
            key = _key(ln, body_size)
            if where and len(pages) > 1 and len(repeats := on_pages[(where, key)]) >= needed:
                dropped.setdefault(key, DroppedLine(ln.text, f"running {where} (repeats on {len(repeats)} pages)"))
                continue
            kept.append(ln)
        kept_pages.append(kept)
    found = list(dropped.values())
    if page_numbers:
        found.append(DroppedLine(page_numbers[0], f"page number (on {len(page_numbers)} pages)"))
    return kept_pages, found
