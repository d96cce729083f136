"""Reflow: paragraphs as the author wrote them, and where their pages begin.

Converted documents break paragraphs where the page did: PDF line and page breaks, Markdown
converted from PDF with a blank line at each break, words hyphenated across lines ("com-" /
"munity"). `rejoin` puts such pieces back together by rules about discourse, not about any one
document: a block that stops mid-sentence (no closing punctuation, or ending in a hyphenated word
part, a comma or a function word like "the" or "of") continues in the next block when that one
starts in lower case (or, after a hyphen, comma or function word, with any word).

Page marks: a loader tells where a block's pages begin as (word index, page) pairs
(`Block.page_marks`); words survive whitespace tidying where character offsets would not. Once a
paragraph's text is final, `page_starts` turns them into (character offset, page) pairs
(`Paragraph.page_starts`).
"""

from __future__ import annotations

import re
from dataclasses import replace

from ingest.loaders import Block

# A sentence (or clause) is closed: final punctuation, possibly inside quotes or brackets.
_CLOSED = re.compile(r"[.!?:;…][\"'”’)\]]*$")
_HYPHENATED = re.compile(r"[^\W\d_]-$")  # "com-": a word part broken at the line end
# Words a sentence (in prose, not a title) does not end on: after them the next block is the sentence going
# on. Words that can close a sentence ("from within", "like those", "log in") are left out.
_OPEN_WORDS = {
    "a", "an", "the", "and", "or", "but", "nor", "of", "to", "for", "by", "with", "from", "into", "onto", "than",
    "whose", "whether", "its", "their", "our", "your", "his", "is", "are", "was", "were", "such", "per", "via",
    "between", "across", "including",
}
# A block this short that does not end mid-word or mid-clause may be a heading: never joined on case alone.
_MIN_WORDS_TO_CONTINUE = 4


def continues(first: Block, second: Block) -> str | None:
    """How `second` continues `first`: "hyphen" (a word broken across them), "space" (a sentence
    going on), or None (a new paragraph)."""
    if first.kind not in ("text", "item") or second.kind != "text" or first.role or second.role:
        return None
    a, b = first.text.rstrip(), second.text.lstrip()
    if not a or not b or _CLOSED.search(a):
        return None
    starts_lower = b[0].islower()
    if _HYPHENATED.search(a) and starts_lower:
        return "hyphen"
    last_word = re.sub(r"\W+$", "", a.split()[-1]).lower()
    if a.endswith(",") or last_word in _OPEN_WORDS:
        return "space" if (b[0].isalnum() or b[0] in "(“\"'‘") else None
    if starts_lower and len(a.split()) >= _MIN_WORDS_TO_CONTINUE:
        return "space"
    return None


def keeps_hyphen(first: str, second: str, vocabulary: set[str]) -> bool:
    """Whether a line-end hyphen between `first` ("draft-") and `second` ("origin ...") is a real one: the
    document writes the hyphenated compound elsewhere and never the joined word. Otherwise it is taken for
    a syllable break ("com-" / "munity"), by far the commoner case in justified text."""
    head = re.sub(r"^\W+", "", first.split()[-1][:-1]).lower()
    tail = re.sub(r"\W+$", "", second.split()[0]).lower()
    return f"{head}-{tail}" in vocabulary and f"{head}{tail}" not in vocabulary


def join(first: Block, second: Block, how: str) -> Block:
    """`second` appended to `first`, with their page marks. "hyphen-kept" joins a compound with no space."""
    words_before = len(first.text.split())
    if how == "hyphen-kept":
        text = first.text.rstrip() + second.text.lstrip()
        shift = [(w + words_before - 1 if w > 0 else words_before, p) for w, p in second.page_marks]
    elif how == "hyphen":
        text = first.text.rstrip()[:-1] + second.text.lstrip()
        # the broken word counts once: the second block's words after it shift by one less
        shift = [(w + words_before - 1 if w > 0 else words_before, p) for w, p in second.page_marks]
    else:
        text = first.text.rstrip() + " " + second.text.lstrip()
        shift = [(w + words_before, p) for w, p in second.page_marks]
    marks = list(first.page_marks)
    for w, p in shift:
        if not marks or p != marks[-1][1]:
            marks.append((w, p))
    return replace(first, text=text, page_marks=tuple(marks))


def rejoin(blocks: list[Block]) -> list[Block]:
    """The blocks with every paragraph that was split across a line, column or page break joined."""
    out: list[Block] = []
    vocabulary: set[str] | None = None
    for block in blocks:
        how = continues(out[-1], block) if out else None
        if how == "hyphen":
            if vocabulary is None:  # the document's own words, read once and only when a hyphen needs it
                vocabulary = {w.lower() for b in blocks for w in re.findall(r"[^\W\d_][\w-]*", b.text)}
            if keeps_hyphen(out[-1].text, block.text, vocabulary):
                how = "hyphen-kept"
        if how:
            out[-1] = join(out[-1], block, how)
        else:
            out.append(block)
    return out


def page_starts(text: str, pieces: list[tuple[int, Block]]) -> list[tuple[int, int]]:
    """(character offset, page) where each page of a paragraph begins. `pieces` are the blocks the
    paragraph was made of, each with the offset in `text` where its (tidied) text starts."""
    starts: list[tuple[int, int]] = []
    for base, block in pieces:
        if not block.page_marks:
            continue
        word_offsets = [m.start() for m in re.finditer(r"\S+", text[base : base + len(block.text) + 1])]
        for word, page in block.page_marks:
            offset = base + (word_offsets[word] if word < len(word_offsets) else (word_offsets[-1] if word_offsets else 0))
            if not starts or page != starts[-1][1]:
                starts.append((offset, page))
    if starts:
        starts[0] = (0, starts[0][1])  # the paragraph's first page holds its first character
    return starts
