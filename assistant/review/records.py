"""The typed records of consultation review, shared by the service, the CLI and the HTTP API.

A `Review` is a named set of `ReviewItem`s (one per question of a questions file), restricted to
some collections (None: every collection). Each item holds a drafted (then possibly edited) answer
with its citations, the sentences the citation check does not support (`unsupported`), its review
status (ITEM_STATUSES), its sign-off (reviewer, time, exact approved text and citations), its
comments and whether its cited sources changed since (`stale`, with the old and new paragraph
texts). Every change to an item appends an `AuditEntry`; the audit log is never rewritten.

`to_dict()` gives the JSON of each record (times are ISO-8601 UTC strings).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from assistant.answer import Citation
from assistant.errors import AssistantError

DRAFT = "draft"
APPROVED = "approved"
NEEDS_WORK = "needs-work"
REJECTED = "rejected"
ITEM_STATUSES = (DRAFT, APPROVED, NEEDS_WORK, REJECTED)
SYSTEM_ACTOR = "system"  # the actor of changes nobody made by hand (staleness)
LOCAL_REVIEWER = "local user"  # the reviewer in local single-user mode (no auth) when no name is given
MAX_NAME_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def clean_name(value) -> str:
    """A name someone typed (a reviewer's, a review's) on one line: control characters become spaces,
    trimmed, at most MAX_NAME_CHARS; "" when nothing is left."""
    return _CONTROL.sub(" ", str(value or "")).strip()[:MAX_NAME_CHARS].strip()


# The three errors are siblings (none subclasses another), so each maps to one HTTP status whatever
# order a handler checks them in: ReviewError 400, ReviewNotFound 404, ReviewConflict 409.
class ReviewError(AssistantError, ValueError):
    """A review request that cannot be done as asked (bad status, a citation out of scope, ...)."""


class ReviewNotFound(AssistantError, LookupError):
    """No such review or item, or the caller may not see it (the two are never told apart)."""


class ReviewConflict(AssistantError):
    """The request conflicts with the item's state: approving unsupported sentences without
    override, or an edit based on a version that has changed since (HTTP 409)."""


@dataclass
class ReviewComment:
    """A reviewer's comment on a review item."""

    author: str
    at: str
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StaleParagraph:
    """A cited paragraph whose text changed (or that was removed: new_text None) since it was cited."""

    paragraph_id: str
    old_text: str
    new_text: str | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ReviewItem:
    id: int
    review_id: int
    position: int  # 1-based, the question's order in the input
    question_id: str
    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    status: str = DRAFT
    unsupported: list[str] = field(default_factory=list)  # sentences the citation check does not support
    contradicted: list[str] = field(default_factory=list)  # of those, the ones the cited paragraphs contradict
    stale: bool = False
    stale_paragraphs: list[StaleParagraph] = field(default_factory=list)
    reviewer: str | None = None
    approved_at: str | None = None
    approved_answer: str | None = None
    approved_citations: list[str] = field(default_factory=list)  # paragraph ids, in marker order
    override: bool = False  # approved although some sentences were unsupported
    comments: list[ReviewComment] = field(default_factory=list)
    version: int = 1  # increases with every change; pass it back as expected_version
    abstained: bool = False
    confidence: float | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "review_id": self.review_id,
            "position": self.position,
            "question_id": self.question_id,
            "question": self.question,
            "answer": self.answer,
            "citations": [c.to_dict() for c in self.citations],
            "status": self.status,
            "unsupported": list(self.unsupported),
            "contradicted": list(self.contradicted),
            "stale": self.stale,
            "stale_paragraphs": [p.to_dict() for p in self.stale_paragraphs],
            "reviewer": self.reviewer,
            "approved_at": self.approved_at,
            "approved_answer": self.approved_answer,
            "approved_citations": list(self.approved_citations),
            "override": self.override,
            "comments": [c.to_dict() for c in self.comments],
            "version": self.version,
            "abstained": self.abstained,
            "confidence": self.confidence,
        }


@dataclass
class Review:
    id: int
    name: str
    collections: list[str] | None  # None: every collection (only unrestricted callers see it)
    created_by: str
    created_at: str
    items: list[ReviewItem] = field(default_factory=list)  # may be empty in listings

    def counts(self) -> dict[str, int]:
        """Items per status (every status present, zeros included), plus "stale"."""
        counts = {status: 0 for status in ITEM_STATUSES}
        for item in self.items:
            counts[item.status] += 1
        counts["stale"] = sum(item.stale for item in self.items)
        return counts

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "collections": list(self.collections) if self.collections is not None else None,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "items": [item.to_dict() for item in self.items],
        }


@dataclass
class AuditEntry:
    """One change of one field of one item (or of the review, item_id None). `before`/`after` are
    the values as text (JSON for lists), None where there was none."""

    id: int
    review_id: int
    item_id: int | None
    actor: str
    at: str
    field: str
    before: str | None
    after: str | None

    def to_dict(self) -> dict:
        return asdict(self)
