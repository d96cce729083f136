"""The reader's training examples: a (question, candidate sentence, label) `Pair`, and a `Question`
with all its pairs. Built by training/reader_data.py from the public QA sets and by
training/metadata_pairs.py from made-up document headers; both import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pair:
    """One (question, candidate sentence) example."""

    question: str
    candidate: str  # the sentence with its context, as the reader reads it
    label: float  # 1.0: the sentence answers the question
    group: str  # the question's id: pairs of one question form a group
    source: str  # which file it came from


@dataclass(frozen=True)
class Question:
    """A question with all its candidate pairs (for per-question validation figures)."""

    id: str
    answerable: bool
    pairs: tuple[Pair, ...]
    source: str = ""  # the file it came from
