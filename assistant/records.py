"""The typed records that pass between ingest, the index and the answerer.

A `Document` is one source file; a `Paragraph` is the citable unit (`<document-id>#p<N>`),
carrying its sentences as character spans so an answer can quote exactly what it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def paragraph_id(document_id: str, number: int) -> str:
    """The contract from DESIGN.md: `<document-id>#p<N>`, N 1-based in the cleaned document."""
    return f"{document_id}#p{number}"


def split_paragraph_id(pid: str) -> tuple[str, int]:
    document_id, _, number = pid.rpartition("#p")
    if not document_id or not number.isdigit():
        raise ValueError(f"not a paragraph id: {pid!r}")
    return document_id, int(number)


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class Comment:
    """A reader comment's byline: who wrote it, in what role, and when."""

    author: str
    role: str = ""
    date: str = ""


@dataclass
class Paragraph:
    document_id: str
    number: int
    text: str
    section: str = ""
    kind: str = "paragraph"  # "paragraph", "list" (lead-in + bullets) or "comment"
    sentences: list[Span] = field(default_factory=list)
    comment: Comment | None = None
    collection: str = "default"

    @property
    def id(self) -> str:
        return paragraph_id(self.document_id, self.number)

    def sentence_texts(self) -> list[str]:
        return [self.text[s.start : s.end] for s in self.sentences]


@dataclass(frozen=True)
class DroppedLine:
    """A line of the source that the cleaner left out of every paragraph, and why (page furniture,
    a repeat of body text, ...): `assistant sources show DOC --dropped` lists them."""

    text: str
    reason: str


@dataclass
class Document:
    id: str
    path: str
    title: str
    publisher: str = ""
    author: str = ""
    date: str = ""
    url: str = ""
    collection: str = "default"
    content_hash: str = ""
    paragraphs: list[Paragraph] = field(default_factory=list)
    paragraph_count: int = 0
    dropped: list[DroppedLine] = field(default_factory=list)  # set by ingest; read back by Index.dropped_lines
