"""Split ligatures: text whose converter wrote a font's double-letter ligature as one letter and a space.

Some PDF-to-text converters render the "ll" glyph of a font as its first letter followed by a space:
"skills" becomes "skil s", "will" becomes "wil", "challenges" "chal enges", "million" "mil ion". A document
with this damage misses every lexical match on those words ("skills" is in most of its questions) and shows
its readers broken words.

The repair is for a whole document, and only for one that shows the damage: many word pairs that read
as one known word when the missing letter is put back ("skil s" -> "skills"), and no more words that
hold the double letter intact than that. Clean text has next to none of those pairs (none of the 40
policy-corpus documents or the bundled sources but the damaged one has more than one), so a clean
document is never touched. In a damaged document:
- a pair is joined when the joined word is known ("chal enges" -> "challenges"), or when the second part
  is a lone "y" after a known word ("national y" -> "nationally": adverbs are often not in the word list);
- a word ending in the letter gets it doubled when the doubled form is known, the document writes it
  split more often than intact, and no fragment that is no word follows it ("il ustrative" is one unknown
  word): "wil" -> "will", "al" -> "all", except after "et" ("et al.").

Known words are the whole words of the bundled MiniLM tokenizer's vocabulary (the reader's, committed in
the repo), read once. A join removes a word, so a PDF block's page marks (word indexes) after it move back.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from ingest.loaders import Block, LoadedDocument

# The double letters whose ligature is seen written as one letter and a space. Only "ll" is, and doubling a
# lone word's last letter is safe for "l" (hardly an English word ending in one "l" is another with two:
# "pal", "gal"), where "of" -> "off" would wreck a document whose "ff" were split.
LIGATURE_LETTERS = ("l",)
# A document is repaired for a letter when it holds at least this many split pairs, and no more intact
# double-letter words than split pairs.
MIN_SPLIT_PAIRS = 5
MIN_JOINED_LENGTH = 4
VOCABULARY_FILE = Path(__file__).resolve().parent.parent / "assistant" / "reader_model" / "tokenizer.json"


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Lower-case whole words of the bundled tokenizer's vocabulary (no word pieces, ASCII letters only)."""
    try:
        vocab = json.loads(VOCABULARY_FILE.read_text(encoding="utf-8"))["model"]["vocab"]
    except (OSError, ValueError, KeyError):  # no vocabulary: no repair, never a failed ingest
        return frozenset()
    return frozenset(w for w in vocab if w.isascii() and w.isalpha() and len(w) > 1)


def _pair_pattern(letter: str) -> re.Pattern[str]:
    return re.compile(rf"\b([A-Za-z]*{letter}) ([a-z]+)\b")


def _joined(first: str, letter: str, second: str, words: frozenset[str]) -> str | None:
    """The one word a split pair stands for, or None when it is two words."""
    whole = first + letter + second
    if len(whole) >= MIN_JOINED_LENGTH and whole.lower() in words:
        return whole
    if second == "y" and first.lower() in words:  # "national y": an adverb, often not in the word list
        return whole
    return None


def _split_pairs(text: str, letter: str, words: frozenset[str]) -> Iterator[tuple[re.Match[str], str | None]]:
    """Each pair of words in `text` whose first ends in `letter`, with the one word it stands for (None when it
    is two words). Pairs overlap ("digital skil s": "digital skil" is no word, "skil s" is), so after a pair
    that is two words the search goes on from its second word."""
    pattern, at = _pair_pattern(letter), 0
    while match := pattern.search(text, at):
        whole = _joined(match.group(1), letter, match.group(2), words)
        yield match, whole
        at = match.end() if whole else match.start(2)


def damaged_letters(text: str, words: frozenset[str] | None = None) -> list[str]:
    """The ligature letters whose double is split in `text` (see the module docstring)."""
    words = known_words() if words is None else words
    damaged = []
    for letter in LIGATURE_LETTERS:
        pairs = sum(1 for _match, whole in _split_pairs(text, letter, words) if whole)
        intact = len(re.findall(rf"\w*{letter}{letter}\w*", text, flags=re.IGNORECASE))
        if pairs >= MIN_SPLIT_PAIRS and intact <= pairs:
            damaged.append(letter)
    return damaged


def word_counts(text: str) -> Counter[str]:
    """How often each lower-cased word occurs in `text`."""
    return Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))


def repair_text(text: str, letter: str, words: frozenset[str], counts: Counter[str]) -> tuple[str, list[int]]:
    """`text` with `letter`'s split ligatures put back, and the word indexes (in `text`) of the joins.
    `counts` are the whole document's word counts (`word_counts`), before any repair."""
    joins: list[int] = []
    pieces: list[str] = []
    at = 0
    for match, whole in _split_pairs(text, letter, words):
        if whole:
            joins.append(len(text[: match.start()].split()))
            pieces += [text[at : match.start()], whole]
            at = match.end()
    text = "".join(pieces) + text[at:]

    def double(match: re.Match[str]) -> str:
        word = match.group(0)
        doubled = word + letter
        # Known doubled, and the document writes it intact less often than split; a following fragment
        # that is no word ("il ustrative") means the pair is one unknown word: leave it.
        if doubled.lower() not in words or counts[doubled.lower()] >= counts[word.lower()]:
            return word
        fragment = re.match(r" ([a-z]+)\b", match.string[match.end():])
        if fragment and fragment.group(1) not in words:
            return word
        return doubled

    text = re.sub(rf"(?<!\bet )(?<!\bEt )\b[A-Za-z]+{letter}\b", double, text)
    return text, joins


def _moved_marks(marks: tuple[tuple[int, int], ...], joins: list[int]) -> tuple[tuple[int, int], ...]:
    """Page marks (word index, page) after words were joined: each joined pair whose first word (its index in
    `joins`) comes before a mark's word takes one word away before it."""
    return tuple((index - sum(1 for j in joins if j < index), page) for index, page in marks)


def repair_split_ligatures(loaded: LoadedDocument) -> LoadedDocument:
    """`loaded` with its split ligatures repaired; the same object when it shows none."""
    text = "\n".join(block.text for block in loaded.blocks)
    words = known_words()
    letters = damaged_letters(text, words) if words else []
    if not letters:
        return loaded
    counts = word_counts(text)
    blocks: list[Block] = []
    for block in loaded.blocks:
        for letter in letters:
            repaired, joins = repair_text(block.text, letter, words, counts)
            if repaired != block.text:
                block = replace(block, text=repaired, page_marks=_moved_marks(block.page_marks, joins))
        blocks.append(block)
    metadata = dict(loaded.metadata)
    for key, value in metadata.items():  # a Markdown title is its first heading, as damaged as the text
        for letter in letters:
            value = repair_text(value, letter, words, counts)[0]
        metadata[key] = value
    return replace(loaded, blocks=blocks, metadata=metadata)
