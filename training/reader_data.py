"""Training data for the reader: public question-answering sets -> (question, candidate, label) pairs.

Reads ../shared/bench/qa-train (never ../shared/bench/squad2, the benchmark):
- SQuAD 2.0 dev, the half that is not the benchmark, and SQuAD 1.1 dev's extra articles: each
  paragraph is split into sentences with the product's own splitter (ingest/segment.py); a sentence
  that contains one of the question's answer strings answers it. An unanswerable SQuAD 2.0 question
  makes every sentence of its on-topic paragraph a "no": the hard negatives that teach abstaining.
- SelQA answer-sentence selection: its candidate sentences and answer indices as given.

More data in the same SQuAD shape may join it:
- `qa_extra`: ../shared/bench/qa-train-extra's SQuAD-style files (UnAnsQ pairs, AddSent, NQ), for
  training only. A record on an article held out for validation is left out (AddSent reuses SQuAD
  1.1 dev paragraphs). Never WikiQA (training/data_files.py).
- `extra_data`: in-domain questions written over the policy-corpus train documents
  (`{"id","doc","title","context","question","is_impossible","answers"}`), seen `extra_repeat` times
  per epoch because they are few. Whole documents are held out for validation (`holdout_docs`), so
  the in-domain figures measure documents the reader never read.
- Follow-ups among the in-domain questions (a record with `history`, the earlier turns, and
  `previous_context`, the passage that answered the previous one) are read as the product reads them,
  with the previous turn in brackets, and the previous passage's sentences are their hard negatives.

Each candidate is written exactly as the product writes it at run time (`assistant.reader.candidate_text`:
title, section, the sentence before when the candidate leans on it). Whole articles are held out for
validation, so no validation paragraph or question is seen in training.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assistant.conversation import rewrite
from assistant.reader import candidate_text
from ingest.segment import split_sentences
from training.data_files import TrainingDataError, data_files, held_out_documents, plain_name, read_jsonl, sha256_of
from training.metadata_pairs import metadata_questions
from training.pairs import Pair, Question

SQUAD_FILES = ("squad2_dev_other_half.jsonl", "squad11_dev_extra_articles.jsonl")
SELQA_FILE = "selqa_ass.jsonl"
BENCHMARK_FOLDER_NAMES = {"squad2", "scifact"}
SQUAD_SHAPE = ("context", "question", "answers")
IN_DOMAIN_SHAPE = ("doc", *SQUAD_SHAPE)

__all__ = ["Pair", "Question", "TrainingData", "TrainingDataError", "load_training_data"]


@dataclass
class TrainingData:
    train: list[Pair]
    validation: list[Question]  # public: questions of the qa-train articles held out
    file_hashes: dict[str, str] = field(default_factory=dict)
    validation_articles: dict[str, list[str]] = field(default_factory=dict)
    in_domain_validation: list[Question] = field(default_factory=list)  # questions of the in-domain documents held out
    held_out_documents: list[str] = field(default_factory=list)
    repeats: dict[str, int] = field(default_factory=dict)  # source -> times its pairs are seen per epoch
    left_out: dict[str, int] = field(default_factory=dict)  # why -> records left out
    follow_up_questions: int = 0  # in-domain training questions with an earlier turn (their negatives include its passage)

    def repeat_of(self, pair: Pair) -> int:
        return self.repeats.get(pair.source, 1)

    def describe(self) -> dict:
        return {
            "train_pairs": len(self.train),
            "train_pairs_per_epoch": sum(self.repeat_of(p) for p in self.train),
            "train_positive": sum(1 for p in self.train if p.label > 0.5),
            "train_questions": len({p.group for p in self.train}),
            "train_pairs_by_source": dict(sorted(Counter(p.source for p in self.train).items())),
            "repeats": dict(sorted(self.repeats.items())),
            "validation_questions": len(self.validation),
            "validation_unanswerable": sum(1 for q in self.validation if not q.answerable),
            "validation_pairs": sum(len(q.pairs) for q in self.validation),
            "in_domain_validation_questions": len(self.in_domain_validation),
            "in_domain_validation_unanswerable": sum(1 for q in self.in_domain_validation if not q.answerable),
            "held_out_documents": self.held_out_documents,
            "files_sha256": self.file_hashes,
            "validation_articles": self.validation_articles,
            "left_out": self.left_out,
            "follow_up_questions": self.follow_up_questions,
        }


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
        asked = question_as_read(row)
        pairs = [
            Pair(asked, candidate_text(s, row["title"], "", sentences[i - 1] if i else None), label, str(row["id"]), source)
            for i, (s, label) in enumerate(zip(sentences, labels))
        ]
        pairs += previous_turn_negatives(row, asked, sentences, answers, source)
        others = [c for c in by_article[row["title"]] if c != context]
        for other in rng.sample(others, min(other_paragraphs, len(others))):
            other_sentences = split_cache[other]
            i = rng.randrange(len(other_sentences))
            if not any(a in other_sentences[i] for a in answers):
                pairs.append(Pair(asked, candidate_text(other_sentences[i], row["title"], "", other_sentences[i - 1] if i else None),
                                  0.0, str(row["id"]), source))
        out.append(Question(str(row["id"]), not impossible, tuple(pairs), source))
    return out


def question_as_read(row: dict) -> str:
    """The question as the reader reads it in the product: a follow-up (a record with `history`, the
    earlier turns as chat messages) is read as assistant/conversation.py writes its search query, with the
    previous turn in brackets when the question leans on it."""
    return rewrite(row["question"], row["history"]) if row.get("history") else row["question"]


def previous_turn_negatives(row: dict, asked: str, sentences: list[str], answers: list[str], source: str) -> list[Pair]:
    """A follow-up's hardest negatives: the sentences of the passage that answered the previous turn
    (`previous_context`), which the query names in brackets and retrieval finds first. Each is a "no"
    unless it holds one of this question's answers or is a sentence of its own context."""
    previous = row.get("previous_context")
    if not previous:
        return []
    theirs = _sentences(previous)
    own = set(sentences)
    return [Pair(asked, candidate_text(s, row["title"], "", theirs[i - 1] if i else None), 0.0, str(row["id"]), source)
            for i, s in enumerate(theirs) if s not in own and not any(a in s for a in answers)]


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


def _qa_train_file(folder: Path, name: str) -> Path:
    """`name` in the qa-train folder, or its staged .gz/.xz copy."""
    for candidate in (folder / name, folder / f"{name}.gz", folder / f"{name}.xz"):
        if candidate.exists():
            return candidate
    raise TrainingDataError(f"{folder / name} is missing")


def load_training_data(folder: Path, validation_share: float = 0.12, seed: int = 13, limit: int | None = None,
                       other_paragraphs: int = 1, metadata: bool = True, qa_extra: list | None = None,
                       extra_data: list | None = None, extra_repeat: int = 8, holdout_docs: int = 3, log=None) -> TrainingData:
    """All pairs of the qa-train folder, whole articles held out for validation, with
    `other_paragraphs` on-topic negatives per SQuAD question and (`metadata`) the synthetic header
    examples of training/metadata_pairs.py; then the SQuAD-style files of `qa_extra` (training only)
    and the in-domain questions of `extra_data` (`holdout_docs` documents held out). `limit` keeps the
    first N questions of each file (for smoke tests)."""

    folder = Path(folder)
    if folder.name in BENCHMARK_FOLDER_NAMES:
        raise TrainingDataError(f"{folder} is a benchmark folder: train on ../shared/bench/qa-train, never on a benchmark")
    if not folder.is_dir():
        raise TrainingDataError(f"{folder} is not a folder (expected ../shared/bench/qa-train)")
    rng = random.Random(seed)
    data = TrainingData([], [])
    files: dict[str, list[dict]] = {}
    for name in (*SQUAD_FILES, SELQA_FILE):
        path = _qa_train_file(folder, name)
        data.file_hashes[name] = sha256_of(path)
        files[name] = read_jsonl(path, limit)
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
        for path in data_files(qa_extra or [], SQUAD_SHAPE, log):
            name = plain_name(path)
            data.file_hashes[name] = sha256_of(path)
            rows = read_jsonl(path, limit)
            kept = [r for r in rows if r.get("title") not in held]
            if len(kept) < len(rows):
                data.left_out[f"{name}: on an article held out for validation"] = len(rows) - len(kept)
            data.train.extend(p for q in squad_questions(kept, name, rng, other_paragraphs) for p in q.pairs)
        _add_in_domain(data, data_files(extra_data or [], IN_DOMAIN_SHAPE, log), extra_repeat, holdout_docs, seed, limit, other_paragraphs, rng)
    except KeyError as exc:
        raise TrainingDataError(f"a record lacks the field {exc}") from exc
    return data


def _add_in_domain(data: TrainingData, paths: list[Path], repeat: int, holdout_docs: int, seed: int, limit: int | None,
                   other_paragraphs: int, rng: random.Random) -> None:
    """In-domain questions: the held-out documents' to `in_domain_validation`, the rest to training
    (seen `repeat` times per epoch)."""
    rows_by_file = {}
    for path in paths:
        data.file_hashes[plain_name(path)] = sha256_of(path)
        rows_by_file[plain_name(path)] = read_jsonl(path, limit)
    data.held_out_documents = held_out_documents([r["doc"] for rows in rows_by_file.values() for r in rows], holdout_docs, seed)
    held = set(data.held_out_documents)
    for name, rows in rows_by_file.items():
        trained = squad_questions([r for r in rows if r["doc"] not in held], name, rng, other_paragraphs)
        follow_ups = {str(r["id"]) for r in rows if r.get("history")}
        data.follow_up_questions += sum(1 for q in trained if q.id in follow_ups)
        data.train.extend(p for q in trained for p in q.pairs)
        data.in_domain_validation.extend(squad_questions([r for r in rows if r["doc"] in held], name, rng, other_paragraphs))
        data.repeats[name] = max(1, repeat)


def _article_key(name: str) -> str:
    return "article" if name == SELQA_FILE else "title"
