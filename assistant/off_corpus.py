"""Off-corpus questions: a question about things the corpus never discusses is refused outright, whatever
the reader makes of the nearest sentences ("Who won the 2023 Rugby World Cup?" over health policy finds
"February 2023" and a reader may like it).

A question with no content word at all ("!!!! ????") is off the corpus, and so is one when both:
1. Lexically, no paragraph discusses it: its informative terms (assistant/text.py content terms, less the
   generic ones that occur in more than GENERIC_SHARE of the paragraphs, like "nhs" in an NHS corpus or
   "report" in a corpus of reports) weighted by their rarity (IDF; a term the corpus never uses weighs
   most), and the best single paragraph holds less than MIN_COVERAGE of that weight. A question whose
   rare words do not occur, or occur but never together, is about something else.
2. Semantically, nothing retrieved is near it: no sentence of MIN_WORDS or more (a fragment's similarity
   means little: "February 2023" is near any question with a year in it) has a cosine to the question of
   MIN_SIMILARITY or more. This keeps a paraphrase in words the corpus lacks ("crews stuck outside
   emergency departments" for ambulance handover delays), which is still near its answer.
A question whose terms are all generic is left to the reader.

Thresholds chosen on the dev questions (bundled sources with the calibration set, and the policy corpus,
each asked without history): the rule alone refuses 8 of the 9 off-topic questions of the bundled
sources and 5 of the 9 of the policy corpus (the reader refuses the others), 3 of 95 near misses, and
1 of 236 answerable questions, an obscure paraphrase (coverage 0.11, nearest sentence 0.38) that the
reader had answered from the wrong paragraph anyway.
"""

from __future__ import annotations

import math

import numpy as np

GENERIC_SHARE = 0.25
MIN_COVERAGE = 0.30
MIN_SIMILARITY = 0.40
MIN_WORDS = 6


def coverage(index, terms: list[str]) -> float | None:
    """The largest share of the question's informative weight that one paragraph holds (0.0 when none of
    its informative terms occurs anywhere); None when it has no informative term (all generic, or none)."""
    terms = list(dict.fromkeys(terms))
    n, postings = index.term_postings(terms)
    if n == 0:
        return None
    informative = [t for t in terms if len(postings[t]) <= GENERIC_SHARE * n]
    if not informative:
        return None
    # Smoothed IDF: a term found nowhere weighs as one found in half a paragraph.
    weight = {t: math.log((n + 1) / (len(postings[t]) + 0.5)) for t in informative}
    found = [t for t in informative if len(postings[t])]
    if not found:
        return 0.0
    rows = np.concatenate([postings[t] for t in found])
    held = np.bincount(rows, weights=np.repeat([weight[t] for t in found], [len(postings[t]) for t in found]))
    return float(held.max()) / sum(weight.values())


def best_similarity(sentences) -> float:
    """The highest cosine to the question of the sentences (extractive.ReadSentence) of MIN_WORDS or more."""
    return max((s.similarity for s in sentences if len(s.text.split()) >= MIN_WORDS), default=0.0)


def off_corpus(index, terms: list[str], sentences) -> bool:
    """Whether a question with content terms `terms`, whose retrieved sentences are `sentences`, is about
    something the corpus never discusses."""
    if not terms:
        return True  # "!!!! ????": nothing to ask about
    held = coverage(index, terms)
    return held is not None and held < MIN_COVERAGE and best_similarity(sentences) < MIN_SIMILARITY
