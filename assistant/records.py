"""The typed records that pass between ingest, the index and the answerer.

A `Document` is one source file; a `Paragraph` is the citable unit (`<document-id>#p<N>`),
carrying its sentences as character spans so an answer can quote exactly what it rests on.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

# Paragraph kinds that are not content: contents lists, copyright and licence notices, site banners,
# reference lists. They stay in the document (`assistant sources show`) but are never retrieved, so
# never an answer candidate (ingest/noncontent.py decides them).
NON_CONTENT_KINDS = ("contents", "notice", "banner", "references")
NON_CONTENT_LABELS = {"contents": "Contents list", "notice": "Copyright or licence notice", "banner": "Site banner",
                      "references": "Reference list"}


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
class CommentByline:
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
    # "paragraph", "list" (lead-in + bullets), "table" (rows), "comment", "header" (#p0), or one of NON_CONTENT_KINDS
    kind: str = "paragraph"
    sentences: list[Span] = field(default_factory=list)
    comment: CommentByline | None = None
    collection: str = "default"
    # Where each of the paragraph's pages begins: (character offset in `text`, 1-based page), the first at
    # offset 0. Empty for formats without pages (everything but PDF).
    page_starts: list[tuple[int, int]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return paragraph_id(self.document_id, self.number)

    @property
    def is_content(self) -> bool:
        return self.kind not in NON_CONTENT_KINDS

    @property
    def pages(self) -> list[int] | None:
        """[first page, last page] of the paragraph, or None without pages."""
        if not self.page_starts:
            return None
        return [self.page_starts[0][1], self.page_starts[-1][1]]

    def page_at(self, offset: int) -> int | None:
        """The page the character at `offset` of the text is on, or None without pages."""
        if not self.page_starts:
            return None
        i = bisect_right([start for start, _ in self.page_starts], max(offset, 0)) - 1
        return self.page_starts[max(i, 0)][1]

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
    reference: str = ""  # a publication reference the document states ("PR2086", "CP 1478", an ISBN)
    paragraphs: list[Paragraph] = field(default_factory=list)
    paragraph_count: int = 0
    dropped: list[DroppedLine] = field(default_factory=list)  # set by ingest; read back by Index.dropped_lines
    page_count: int | None = None  # PDF pages, set by ingest for its report (not stored)
