"""The evaluation set: eval/data/questions.jsonl loaded into typed records, and checked.

Each line is one question written from the five documents in sources/:

    {"id", "split": "dev"|"test", "question", "answerable": bool,
     "reference": the reference answer ("" when unanswerable),
     "paragraph_ids": ids (`<document-id>#p<N>`) of every paragraph that contains the answer,
     "category": one of CATEGORIES,
     "history": [{"role": "user"|"assistant", "content": ...}, ...] for follow-ups, else []}

`dev` is for tuning the assistant. `test` is what the report and the CI gate are computed on: a frozen
split written from the five sources alone by an author who never saw the assistant's answers
(2026-11-30), run for the figures reported and the CI gate; never tune on it or copy its questions
into tests or code. (The earlier test split was used to find fixes, so it is now part of dev.) A `metadata`
question asks what a document's header states (author, publisher, date, title, address); its
reference paragraph is the header, `<document-id>#p0`.
This module owns the file format only; scoring lives in eval/metrics.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASET_PATH = ROOT / "eval" / "data" / "questions.jsonl"

SPLITS = ("dev", "test")
CATEGORIES = (
    "fact",
    "paraphrase",
    "list",
    "multi_doc",
    "comment",
    "unanswerable_on_topic",
    "unanswerable_off_topic",
    "follow_up",
    "metadata",
)
UNANSWERABLE_CATEGORIES = ("unanswerable_on_topic", "unanswerable_off_topic")


class DatasetError(ValueError):
    """The evaluation file is malformed (the message names the line and the problem)."""


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    split: str
    question: str
    answerable: bool
    reference: str
    paragraph_ids: tuple[str, ...]
    category: str
    history: tuple[Turn, ...] = field(default_factory=tuple)

    @property
    def documents(self) -> tuple[str, ...]:
        """The document ids the reference paragraphs belong to, in order, without repeats."""
        out: list[str] = []
        for pid in self.paragraph_ids:
            doc = pid.split("#", 1)[0]
            if doc not in out:
                out.append(doc)
        return tuple(out)

    def history_dicts(self) -> list[dict]:
        """The history in the shape `Assistant.ask(history=...)` takes."""
        return [{"role": t.role, "content": t.content} for t in self.history]


def _parse(line: str, number: int) -> EvalQuestion:
    where = f"line {number}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: not JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: not an object")
    missing = {"id", "split", "question", "answerable", "reference", "paragraph_ids", "category", "history"} - raw.keys()
    if missing:
        raise DatasetError(f"{where}: missing {sorted(missing)}")
    qid = raw["id"]
    if not isinstance(qid, str) or not qid:
        raise DatasetError(f"{where}: bad id")
    where = f"{where} ({qid})"
    if raw["split"] not in SPLITS:
        raise DatasetError(f"{where}: split must be one of {SPLITS}")
    if raw["category"] not in CATEGORIES:
        raise DatasetError(f"{where}: category must be one of {CATEGORIES}")
    if not isinstance(raw["question"], str) or not raw["question"].strip():
        raise DatasetError(f"{where}: empty question")
    if not isinstance(raw["answerable"], bool):
        raise DatasetError(f"{where}: answerable must be true or false")
    ids = raw["paragraph_ids"]
    if not isinstance(ids, list) or not all(isinstance(p, str) and "#p" in p for p in ids):
        raise DatasetError(f"{where}: paragraph_ids must be a list of '<document-id>#p<N>'")
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{where}: repeated paragraph id")
    reference = raw["reference"]
    if not isinstance(reference, str):
        raise DatasetError(f"{where}: reference must be a string")
    if raw["answerable"] and (not ids or not reference.strip()):
        raise DatasetError(f"{where}: an answerable question needs a reference answer and paragraph ids")
    if not raw["answerable"] and (ids or reference.strip()):
        raise DatasetError(f"{where}: an unanswerable question has no reference answer or paragraph ids")
    if raw["category"] in UNANSWERABLE_CATEGORIES and raw["answerable"]:
        raise DatasetError(f"{where}: category {raw['category']} must be unanswerable")
    history = raw["history"]
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and t.get("role") in ("user", "assistant") and isinstance(t.get("content"), str) for t in history
    ):
        raise DatasetError(f"{where}: history must be a list of {{role: user|assistant, content}}")
    if (raw["category"] == "follow_up") != bool(history):
        raise DatasetError(f"{where}: follow-ups (and only they) have a history")
    return EvalQuestion(
        id=qid,
        split=raw["split"],
        question=raw["question"].strip(),
        answerable=raw["answerable"],
        reference=reference.strip(),
        paragraph_ids=tuple(ids),
        category=raw["category"],
        history=tuple(Turn(t["role"], t["content"]) for t in history),
    )


def load_questions(path: Path | str = DATASET_PATH, split: str = "all") -> list[EvalQuestion]:
    """The questions of `split` ("dev", "test" or "all"), in file order. Raises DatasetError."""
    if split not in (*SPLITS, "all"):
        raise DatasetError(f"unknown split {split!r}")
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        q = _parse(line, number)
        if q.id in seen:
            raise DatasetError(f"line {number}: repeated id {q.id}")
        seen.add(q.id)
        questions.append(q)
    return [q for q in questions if split == "all" or q.split == split]


def unknown_paragraphs(questions: list[EvalQuestion], known_ids: set[str]) -> list[tuple[str, str]]:
    """(question id, paragraph id) for every reference paragraph that is not in `known_ids`."""
    return [(q.id, pid) for q in questions for pid in q.paragraph_ids if pid not in known_ids]
