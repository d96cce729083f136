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
from collections import Counter
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
            "train_pairs_by_source": dict(sorted(Counter(p.source for p in self.train).items())),
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


def _sentences(context: str) -> list[str]:
    return [context[s.start : s.end] for s in split_sentences(context)]


def squad_questions(rows: list[dict], source: str, rng: random.Random, other_paragraphs: int = 1) -> list[Question]:
    """SQuAD rows -> questions with one pair per sentence of the paragraph, and `other_paragraphs`
    sentences from other paragraphs of the same article (on topic, as retrieved passages are; never
    one holding an answer string)."""
    split_cache: dict[str, list[str]] = {}
    by_article: dict[str, list[str]] = {}
    for row in rows:
        if row["context"] not in split_cache:
            split_cache[row["context"]] = _sentences(row["context"])
            by_article.setdefault(row["title"], []).append(row["context"])
    out = []
    for row in rows:
        context = row["context"]
        sentences = split_cache[context]
        answers = [a for a in row.get("answers") or [] if a.strip()]
        impossible = bool(row.get("is_impossible"))
        labels = [0.0 if impossible else float(any(a in s for a in answers)) for s in sentences]
        if not impossible and not any(labels):
            continue  # the answer crosses a sentence boundary: no sentence holds it whole
        pairs = [
            Pair(row["question"], candidate_text(s, row["title"], "", sentences[i - 1] if i else None), label, str(row["id"]), source)
            for i, (s, label) in enumerate(zip(sentences, labels))
        ]
        others = [c for c in by_article[row["title"]] if c != context]
        for other in rng.sample(others, min(other_paragraphs, len(others))):
            other_sentences = split_cache[other]
            i = rng.randrange(len(other_sentences))
            if not any(a in other_sentences[i] for a in answers):
                pairs.append(Pair(row["question"], candidate_text(other_sentences[i], row["title"], "", other_sentences[i - 1] if i else None),
                                  0.0, str(row["id"]), source))
        out.append(Question(str(row["id"]), not impossible, tuple(pairs), source))
    return out


def squad_paragraphs(rows: list[dict]) -> list[tuple[str, list[str], list[str], str]]:
    """(title, sentences, questions, key) per paragraph, for the synthetic metadata examples."""
    found: dict[str, tuple[str, list[str], list[str], str]] = {}
    for row in rows:
        entry = found.setdefault(row["context"], (row["title"], _sentences(row["context"]), [], str(row["id"])))
        entry[2].append(row["question"])
    return list(found.values())


def selqa_questions(rows: list[dict], source: str, offset: int = 0) -> list[Question]:
    out = []
    for n, row in enumerate(rows, start=offset):
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


def load_training_data(folder: Path, validation_share: float = 0.12, seed: int = 13, limit: int | None = None,
                       other_paragraphs: int = 1, metadata: bool = True) -> TrainingData:
    """All pairs of the qa-train folder, whole articles held out for validation, with
    `other_paragraphs` on-topic negatives per SQuAD question and (`metadata`) the synthetic header
    examples of training/metadata_pairs.py. `limit` keeps the first N questions of each file (for
    smoke tests)."""
    from training.metadata_pairs import metadata_questions

    folder = Path(folder)
    if folder.name in BENCHMARK_FOLDER_NAMES:
        raise TrainingDataError(f"{folder} is a benchmark folder: train on ../shared/bench/qa-train, never on a benchmark")
    if not folder.is_dir():
        raise TrainingDataError(f"{folder} is not a folder (expected ../shared/bench/qa-train)")
    rng = random.Random(seed)
    data = TrainingData([], [])
    files: dict[str, list[dict]] = {}
    for name in (*SQUAD_FILES, SELQA_FILE):
        path = folder / name
        if not path.exists():
            raise TrainingDataError(f"{path} is missing")
        data.file_hashes[name] = sha256_of(path)
        files[name] = _read_jsonl(path)[:limit] if limit else _read_jsonl(path)
    # Whole articles are held out, chosen per file; an article held out in one file is held out of
    # training in every file (SelQA and SQuAD share some Wikipedia articles).
    try:
        for name, rows in files.items():
            data.validation_articles[name] = sorted(_held_out([r[_article_key(name)] for r in rows], validation_share, rng))
        held = {title for titles in data.validation_articles.values() for title in titles}
        for name, rows in files.items():
            key = _article_key(name)
            for part, chosen in (("train", [r for r in rows if r[key] not in held]), ("validation", [r for r in rows if r[key] in held])):
                if name == SELQA_FILE:
                    questions = selqa_questions(chosen, name, offset=0 if part == "train" else len(rows))
                else:
                    questions = squad_questions(chosen, name, rng, other_paragraphs)
                    if metadata:
                        questions += metadata_questions(squad_paragraphs(chosen), rng)
                if part == "train":
                    data.train.extend(p for q in questions for p in q.pairs)
                else:
                    data.validation.extend(questions)
    except KeyError as exc:
        raise TrainingDataError(f"a record lacks the field {exc}") from exc
    return data


def _article_key(name: str) -> str:
    return "article" if name == SELQA_FILE else "title"
