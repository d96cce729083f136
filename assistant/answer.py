"""The Answer: one type shared by the CLI, the HTTP API, the chat UI, batch answering and eval.

`Answer.to_dict()` gives the JSON contract of DESIGN.md:

    {"id", "question", "answer", "status", "abstained", "citations": [{"marker", "paragraph_id",
     "document_id", "title", "publisher", "date", "url", "paragraph", "text", "quote", "page", "pages"}],
     "searched_for",
     "timings_ms"}

plus a few optional fields (`notice`, `nearest`, `confidence`) that clients may ignore.

`status` is `answered`, `abstained` (the sources do not answer it) or `failed` (answering raised: an
LLM error, a timeout, any exception; the JSON then has an `error` message). It is derived, never
stored apart: an Answer with an `error` has failed, else `abstained` decides, so the two fields cannot
disagree. `abstained` stays for compatibility and is true whenever the answer asserts nothing (an
abstention or a failure); read `status` to tell them apart. `Answer.failed(question, error)` makes the
record of a failed question.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

NOT_IN_SOURCES = "The sources do not answer this question."

ANSWERED = "answered"
ABSTAINED = "abstained"
FAILED = "failed"
STATUSES = (ANSWERED, ABSTAINED, FAILED)
STATUS_DESCRIPTION = "answered; abstained (the sources do not answer it); failed (see `error`)"
# The keys `Answer.to_dict()` leaves out when empty; every other field of Answer, and `status`, is
# always there. The HTTP API's published schema is generated from this module (assistant/http/schema.py).
OPTIONAL_KEYS = ("notice", "nearest", "confidence", "error")


@dataclass
class Citation:
    marker: int
    paragraph_id: str
    document_id: str
    title: str
    publisher: str
    date: str
    url: str
    paragraph: int
    text: str  # the whole paragraph
    quote: str  # the sentence(s) of it the answer rests on
    section: str = ""
    comment_by: str = ""  # for a reader comment: "Name (role), date"
    page: int | None = None  # PDF: the 1-based page the quote starts on; None for formats without pages
    pages: list[int] | None = None  # PDF: [first, last] page of the paragraph

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def location(self) -> str:
        """Where the cited text is, as every output shows it: "¶6", or "¶6, p. 12" for a PDF."""
        return f"¶{self.paragraph}" + (f", p. {self.page}" if self.page else "")


@dataclass
class NearPassage:
    """A passage shown beside an abstention: what came closest, asserting nothing."""

    paragraph_id: str
    title: str
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Answer:
    """One answer (or abstention, or failure) with the paragraphs it cites."""

    question: str
    answer: str
    abstained: bool = field(metadata={
        "description": "kept for compatibility: true when the answer asserts nothing (abstained or failed)"})
    citations: list[Citation] = field(default_factory=list)
    searched_for: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    id: str | None = None
    notice: str = ""  # e.g. "The LLM server did not answer; this is the extractive answer."
    nearest: list[NearPassage] = field(default_factory=list)
    confidence: float | None = None  # the answerability score behind the abstain decision
    # why answering failed; non-empty means status "failed"
    error: str = field(default="", metadata={"description": "why answering failed (status failed only)"})

    @classmethod
    def failed(cls, question: str, error: str, id: str | None = None) -> "Answer":
        """The record of a question whose answering raised: asserts nothing, says why."""
        reason = error.strip() or "unknown error"
        return cls(question=question, answer=f"This question could not be answered: {reason}",
                   abstained=True, id=id, error=reason)

    @property
    def status(self) -> str:
        """`answered`, `abstained` or `failed` (see the module docstring)."""
        if self.error:
            return FAILED
        return ABSTAINED if self.abstained else ANSWERED

    def to_dict(self) -> dict:
        data = {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "status": self.status,
            "abstained": self.abstained or bool(self.error),
            "citations": [c.to_dict() for c in self.citations],
            "searched_for": self.searched_for,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.notice:
            data["notice"] = self.notice
        if self.nearest:
            data["nearest"] = [n.to_dict() for n in self.nearest]
        if self.confidence is not None:
            data["confidence"] = round(self.confidence, 4)
        if self.error:
            data["error"] = self.error
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Answer":
        return cls(
            id=data.get("id"),
            question=data["question"],
            answer=data["answer"],
            abstained=bool(data["abstained"]),
            citations=[Citation(**c) for c in data.get("citations", [])],
            searched_for=data.get("searched_for", ""),
            timings_ms=dict(data.get("timings_ms", {})),
            notice=data.get("notice", ""),
            nearest=[NearPassage(**n) for n in data.get("nearest", [])],
            confidence=data.get("confidence"),
            error=data.get("error") or ("unknown error" if data.get("status") == FAILED else ""),
        )

    def with_footnotes(self) -> str:
        """The answer text followed by its citations as footnotes (for copying, OpenAI clients)."""
        if not self.citations:
            return self.answer
        notes = [
            f"[{c.marker}] {c.title}{', ' + c.publisher if c.publisher else ''}{', ' + c.date if c.date else ''}, "
            f"{c.location} ({c.paragraph_id}){' ' + c.url if c.url else ''}: “{c.quote}”"
            for c in self.citations
        ]
        return self.answer + "\n\n" + "\n".join(notes)
