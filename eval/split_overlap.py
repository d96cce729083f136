"""Leaks between evaluation splits: a test question that rewords a dev (or calibration) question.

A test question leaks when it and a dev question ask mostly the same thing about the same evidence:
- they share a reference paragraph, and at least half of the content words (stemmed, stop words removed)
  of each question are in the other one; or
- neither has a reference paragraph (both unanswerable), and at least four fifths of each question's
  content words are in the other: with no paragraph to tie them, only near-identical wording counts.
Each question's words are measured against the larger set of the two, not the smaller: in five short
documents many different questions share a name ("Salford Royal", "Chris Ham") and little else.
A follow-up is compared by its own question, not its history. Such a pair scores the test split on what
was tuned on dev.

    python -m eval.split_overlap [FILE.jsonl ...]

lists the leaking pairs of the given files taken together (default: eval/data/questions.jsonl and
eval/data/calibration.jsonl) and exits 1 when there is any. This module owns the check only; the tests
run it on the committed files.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from eval.dataset import DATASET_PATH, EvalQuestion, load_questions

CALIBRATION_PATH = DATASET_PATH.parent / "calibration.jsonl"
SHARED_WITH_PARAGRAPH = 0.5  # share of the larger set of content words, when a reference paragraph is shared
SHARED_WITHOUT_PARAGRAPH = 0.8  # the same, for two questions that have no reference paragraph


@dataclass(frozen=True)
class Leak:
    test_id: str
    dev_id: str
    shared: float  # the shared content words over the larger of the two sets


def content_words(question: EvalQuestion) -> frozenset[str]:
    from assistant.text import content_terms

    return frozenset(content_terms(question.question))


def _floor(test: EvalQuestion, dev: EvalQuestion) -> float | None:
    """The share of words that makes the pair a leak, or None when their evidence differs."""
    if not test.paragraph_ids and not dev.paragraph_ids:
        return SHARED_WITHOUT_PARAGRAPH
    if set(test.paragraph_ids) & set(dev.paragraph_ids):
        return SHARED_WITH_PARAGRAPH
    return None


def find_leaks(questions: list[EvalQuestion]) -> list[Leak]:
    """Each (test question, dev question) pair with the same evidence and mostly the same content words."""
    words = {q.id: content_words(q) for q in questions}
    leaks = []
    for test in (q for q in questions if q.split == "test"):
        for dev in (q for q in questions if q.split == "dev"):
            floor = _floor(test, dev)
            larger = max(len(words[test.id]), len(words[dev.id]))
            if floor is None or not larger:
                continue
            shared = len(words[test.id] & words[dev.id]) / larger
            if shared >= floor:
                leaks.append(Leak(test.id, dev.id, round(shared, 3)))
    return leaks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=[DATASET_PATH, CALIBRATION_PATH])
    args = parser.parse_args(argv)
    leaks = find_leaks([q for path in args.files for q in load_questions(path)])
    for leak in leaks:
        print(f"{leak.test_id}\t{leak.dev_id}\t{leak.shared:.2f}")
    print(f"{len(leaks)} leaking pairs ({len({leak.test_id for leak in leaks})} test questions)", file=sys.stderr)
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
