"""Training data for the reader: public question-answering sets -> (question, candidate, label) pairs.

Reads ../shared/bench/qa-train (never ../shared/bench/squad2, the benchmark):
- SQuAD 2.0 dev, the half that is not the benchmark, and SQuAD 1.1 dev's extra articles: each
  paragraph is split into sentences with the product's own splitter (ingest/segment.py); a sentence
  that contains one of the question's answer strings answers it. An unanswerable SQuAD 2.0 question
  makes every sentence of its on-topic paragraph a "no": the hard negatives that teach abstaining.
- SelQA answer-sentence selection: its candidate sentences and answer indices as given.

Each candidate is written exactly as the product writes it at run time (`assistant.reader.candidate_text`:
title, section, the sentence before when the candidate leans on it). Whole articles are held out for
validation, so no validation paragraph or question is seen in training.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from assistant.reader import candidate_text
from ingest.segment import split_sentences

SQUAD_FILES = ("squad2_dev_other_half.jsonl", "squad11_dev_extra_articles.jsonl")
SELQA_FILE = "selqa_ass.jsonl"
BENCHMARK_FOLDER_NAMES = {"squad2", "scifact"}


class TrainingDataError(ValueError):
    """The training folder is missing, is a benchmark, or a file in it is malformed."""


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


@dataclass
class TrainingData:
    train: list[Pair]
    validation: list[Question]
    file_hashes: dict[str, str] = field(default_factory=dict)
    validation_articles: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> dict:
        val_pairs = sum(len(q.pairs) for q in self.validation)
        return {
            "train_pairs": len(self.train),
            "train_positive": sum(1 for p in self.train if p.label > 0.5),
            "train_questions": len({p.group for p in self.train}),
            "validation_questions": len(self.validation),
            "validation_unanswerable": sum(1 for q in self.validation if not q.answerable),
            "validation_pairs": val_pairs,
            "files_sha256": self.file_hashes,
            "validation_articles": self.validation_articles,
        }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{path.name} line {number}: not JSON ({exc})") from exc
    return rows


def _held_out(articles: list[str], share: float, rng: random.Random) -> set[str]:
    """A seeded choice of whole articles for validation (at least one)."""
    ordered = sorted(set(articles))
    rng.shuffle(ordered)
    return set(ordered[: max(1, round(len(ordered) * share))])


def squad_questions(rows: list[dict], source: str) -> list[Question]:
    """SQuAD rows -> questions with one pair per sentence of the paragraph."""
    split_cache: dict[str, list[str]] = {}
    out = []
    for row in rows:
        context = row["context"]
        if context not in split_cache:
            split_cache[context] = [context[s.start : s.end] for s in split_sentences(context)]
        sentences = split_cache[context]
        answers = [a for a in row.get("answers") or [] if a.strip()]
        impossible = bool(row.get("is_impossible"))
        labels = [0.0 if impossible else float(any(a in s for a in answers)) for s in sentences]
        if not impossible and not any(labels):
            continue  # the answer crosses a sentence boundary: no sentence holds it whole
        pairs = tuple(
            Pair(row["question"], candidate_text(s, row["title"], "", sentences[i - 1] if i else None), label, str(row["id"]), source)
            for i, (s, label) in enumerate(zip(sentences, labels))
        )
        out.append(Question(str(row["id"]), not impossible, pairs, source))
    return out


def selqa_questions(rows: list[dict], source: str) -> list[Question]:
    out = []
    for n, row in enumerate(rows):
        candidates = row["candidates"]
        answers = set(row.get("answers") or [])
        qid = f"selqa-{n}"
        pairs = tuple(
            Pair(row["question"], candidate_text(s, row["article"], row.get("section") or "", candidates[i - 1] if i else None),
                 float(i in answers), qid, source)
            for i, s in enumerate(candidates)
        )
        out.append(Question(qid, bool(answers), pairs, source))
    return out


def load_training_data(folder: Path, validation_share: float = 0.12, seed: int = 13, limit: int | None = None) -> TrainingData:
    """All pairs of the qa-train folder, whole articles held out for validation.
    `limit` keeps the first N questions of each file (for smoke tests)."""
    folder = Path(folder)
    if folder.name in BENCHMARK_FOLDER_NAMES:
        raise TrainingDataError(f"{folder} is a benchmark folder: train on ../shared/bench/qa-train, never on a benchmark")
    if not folder.is_dir():
        raise TrainingDataError(f"{folder} is not a folder (expected ../shared/bench/qa-train)")
    rng = random.Random(seed)
    data = TrainingData([], [])
    for name in (*SQUAD_FILES, SELQA_FILE):
        path = folder / name
        if not path.exists():
            raise TrainingDataError(f"{path} is missing")
        data.file_hashes[name] = sha256_of(path)
        rows = _read_jsonl(path)[:limit] if limit else _read_jsonl(path)
        try:
            if name == SELQA_FILE:
                article_of = [r["article"] for r in rows]
                questions = selqa_questions(rows, name)
            else:
                article_of = [r["title"] for r in rows]
                questions = squad_questions(rows, name)
        except KeyError as exc:
            raise TrainingDataError(f"{name}: a record lacks the field {exc}") from exc
        held = _held_out(article_of, validation_share, rng)
        data.validation_articles[name] = sorted(held)
        article_by_id = {}
        for row, article in zip(rows, article_of):
            article_by_id[str(row.get("id"))] = article
        for n, q in enumerate(questions):
            article = article_by_id.get(q.id) if name != SELQA_FILE else article_of[int(q.id.split("-")[1])]
            if article in held:
                data.validation.append(q)
            else:
                data.train.extend(q.pairs)
    return data
