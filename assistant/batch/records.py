"""The typed records of batch answering, passed between readers, runner, checkpoint and writers.

A `Question` is one non-blank question of the input; a `QuestionSet` is what a reader made of a
file (questions in input order, blank rows counted); a `Row` is one question with its outcome; a
`BatchResult` is every row plus the counts the summary reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from assistant.answer import ABSTAINED, ANSWERED, FAILED, STATUSES, Answer
from assistant.errors import AssistantError


class BadInput(AssistantError, ValueError):
    """The questions file (or the output path) cannot be used; the message says why and what to do."""


def question_key(text: str) -> str:
    """Questions equal up to case and spacing are the same question (answered once)."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    where: str = ""  # where it came from in the input, e.g. "row 4" or "line 7", for messages

    @property
    def key(self) -> str:
        return question_key(self.text)


@dataclass
class QuestionSet:
    source: str  # the input's file name
    questions: list[Question]  # non-blank, in input order, duplicates included
    blank: int = 0  # blank rows / lines / items skipped
    column: str = ""  # for tables: the column the questions came from
    notes: list[str] = field(default_factory=list)  # e.g. "no column named 'question': used 'Text'"

    def unique(self) -> list[Question]:
        """The first question of each distinct text, in input order."""
        seen: set[str] = set()
        out = []
        for q in self.questions:
            if q.key not in seen:
                seen.add(q.key)
                out.append(q)
        return out

    @property
    def duplicates(self) -> int:
        return len(self.questions) - len(self.unique())


@dataclass
class Row:
    """One input question and what became of it: an Answer, or the reason it failed."""

    question: Question
    answer: Answer | None = None
    error: str = ""
    duplicate_of: str | None = None  # id of the earlier question with the same text

    @property
    def status(self) -> str:
        """The Answer JSON's status (answered, abstained or failed), in every output format."""
        return FAILED if self.answer is None else self.answer.status

    @property
    def failure(self) -> str:
        """Why answering failed ("" when it did not)."""
        if self.status != FAILED:
            return ""
        return self.error or (self.answer.error if self.answer else "") or "unknown error"

    def answer_dict(self) -> dict:
        """The Answer JSON of DESIGN.md; a failed question is `Answer.failed` ("status": "failed", "error")."""
        answer = self.answer or Answer.failed(self.question.text, self.error)
        data = answer.to_dict()
        data["id"] = self.question.id
        data["question"] = self.question.text  # a duplicate keeps its own wording
        return data


@dataclass
class BatchResult:
    source: str
    rows: list[Row]
    blank: int = 0
    duplicates: int = 0
    resumed: int = 0  # distinct questions whose answers came from the checkpoint
    answered_now: int = 0  # distinct questions answered in this run
    elapsed_s: float = 0.0
    collections: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        c = Counter(r.status for r in self.rows)
        return {s: c.get(s, 0) for s in STATUSES}

    def summary(self) -> str:
        c = self.counts()
        parts = [f"{len(self.rows)} question{'s' if len(self.rows) != 1 else ''}: {c[ANSWERED]} answered, "
                 f"{c[ABSTAINED]} abstained (not in the sources), {c[FAILED]} failed"]
        extra = []
        if self.duplicates:
            extra.append(f"{self.duplicates} duplicate{'s' if self.duplicates != 1 else ''} answered once")
        if self.blank:
            extra.append(f"{self.blank} blank row{'s' if self.blank != 1 else ''} skipped")
        if self.resumed:
            extra.append(f"{self.resumed} answer{'s' if self.resumed != 1 else ''} taken from the checkpoint")
        if extra:
            parts.append("; ".join(extra))
        return "; ".join(parts)
