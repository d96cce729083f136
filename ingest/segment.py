"""Sentence segmentation: a paragraph's text -> sentence spans (character offsets).

A rule-based splitter (no model needed offline): it splits after ., ! or ? (and closing quotes)
followed by space and an upper-case letter, digit or opening quote, but not after common
abbreviations or initials. Each bullet of a list paragraph, and its lead-in, is a sentence of
its own.
"""

from __future__ import annotations

import re

from assistant.records import Span

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sir", "st", "no", "vs", "etc", "e.g", "i.e", "cf", "fig",
    "inc", "ltd", "co", "jr", "sr", "dept", "approx", "vol", "pp", "al", "gen", "gov", "rev", "u.s", "u.k",
}
_BOUNDARY = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9£$€])")


def split_sentences(text: str) -> list[Span]:
    spans: list[Span] = []
    offset = 0
    for line in text.split("\n"):
        for start, end in _split_line(line):
            spans.append(Span(offset + start, offset + end))
        offset += len(line) + 1
    return spans


def _split_line(line: str) -> list[tuple[int, int]]:
    if not line.strip():
        return []
    pieces = []
    start = len(line) - len(line.lstrip())
    for m in _BOUNDARY.finditer(line):
        end = m.end(1)
        before = line[start:m.start(1)]
        last_word = re.split(r"\s", before.strip())[-1].lower() if before.strip() else ""
        if m.group(1) == "." and (last_word.rstrip(".") in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word)):
            continue  # "Dr. Smith", "J. Smith"
        if end - start >= 2:
            pieces.append((start, end))
            start = m.end(2)
    tail_end = len(line.rstrip())
    if tail_end > start:
        pieces.append((start, tail_end))
    return pieces
