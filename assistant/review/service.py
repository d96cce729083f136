"""ReviewService: the operations of consultation review, over the review database (store.py).

    service = ReviewService.open(config)        # creates/migrates the database
    review = service.create("Consultation 3", questions, assistant, caller)
    item = service.update_item(review.id, item_id, caller, answer="...", citations=[...],
                               expected_version=item.version, embedder=assistant.embedder)
    item = service.update_item(review.id, item_id, caller, status="approved", expected_version=...)
    service.audit(review.id, caller); service.export(review.id, caller, "docx")
    service.refresh_staleness(index)             # after an ingest: cited paragraphs that changed

Access: a review belongs to its collections (None: every collection, only unrestricted callers may
create or see it). A caller sees a review only when its collections are within the caller's; any
other review is reported as not found (`ReviewNotFound`), never as forbidden.

Every edited answer is checked again by the citation check (verify.support_report) against the
current text of the paragraphs it cites; approving an item with unsupported sentences needs
`override=True` (recorded in the audit), else `ReviewConflict`. `expected_version` guards against
lost updates: when the item changed since the caller read it, `ReviewConflict` and nothing is
written. Every changed field appends an AuditEntry; the audit log is never updated or deleted.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.auth import Caller
from assistant.config import Config
from assistant.review.records import (
    APPROVED,
    AuditEntry,
    Review,
    ReviewConflict,
    ReviewError,
    ReviewItem,
    ReviewNotFound,
)

EXPORT_FORMATS = ("docx", "xlsx")
AUDIT_FORMATS = ("csv", "jsonl")

__all__ = ["ReviewService", "ReviewError", "ReviewNotFound", "ReviewConflict", "EXPORT_FORMATS", "AUDIT_FORMATS", "APPROVED"]


class ReviewService:
    """The review operations over one review database. Safe to share between threads (each call
    uses its own database session)."""

    def __init__(self, engine, config: Config):
        self.engine = engine
        self.config = config

    @classmethod
    def open(cls, config: Config) -> "ReviewService":
        """Open (creating and migrating to the latest schema) the database of `config.database_url`,
        else `sqlite:///<data_dir>/reviews.db`."""
        raise NotImplementedError

    @classmethod
    def open_existing(cls, config: Config) -> "ReviewService | None":
        """Like `open`, but None when there is no review database yet (creates nothing)."""
        raise NotImplementedError

    # --- reviews ---------------------------------------------------------------------------------

    def create(self, name: str, questions, assistant, caller: Caller, collections: list[str] | None = None,
               progress: Callable[[int, int, float], None] | None = None) -> Review:
        """A new review of `questions` (a batch QuestionSet): every distinct question drafted with
        `assistant.ask` restricted to `caller.restrict(collections)`, as an item with status "draft"
        and its unsupported sentences. A question whose answering fails becomes an item with an
        empty answer and a comment saying why (never dropped). Raises ReviewError for an empty
        name, auth.Forbidden for collections outside the caller's scope."""
        raise NotImplementedError

    def list_reviews(self, caller: Caller) -> list[Review]:
        """The reviews the caller may see, newest first, with `items` empty (use `get`)."""
        raise NotImplementedError

    def get(self, review_id: int, caller: Caller) -> Review:
        """One review with all its items in order; ReviewNotFound if missing or not visible."""
        raise NotImplementedError

    def get_item(self, review_id: int, item_id: int, caller: Caller) -> ReviewItem:
        """One item of a review; ReviewNotFound if missing or not visible."""
        raise NotImplementedError

    # --- editing ---------------------------------------------------------------------------------

    def update_item(self, review_id: int, item_id: int, caller: Caller, *, answer: str | None = None,
                    citations: list[str] | None = None, status: str | None = None, comment: str | None = None,
                    override: bool = False, redraft: bool = False, expected_version: int | None = None,
                    assistant=None, embedder=None) -> ReviewItem:
        """Change one item and return it as stored.

        - `answer` / `citations` (paragraph ids; marker n is the n-th id): the new text and sources;
          the answer is checked again (needs `embedder`, or `assistant` for its embedder) against
          the current index text of those paragraphs. Citing a paragraph outside the review's (or
          the caller's) collections, or one not in the index, raises ReviewError.
        - `redraft=True`: answer the question again with `assistant` (replaces answer and citations).
        - `status`: one of ITEM_STATUSES. "approved" with unsupported sentences raises
          ReviewConflict unless `override=True`; approving records caller.name, the time, the exact
          text and citations. Any other status (or an edit) clears the sign-off.
        - `comment`: appended to the item's comments.
        - `expected_version`: when given and not the item's version, ReviewConflict, nothing written.

        Every changed field appends an AuditEntry (actor caller.name)."""
        raise NotImplementedError

    # --- audit, export, staleness ------------------------------------------------------------------

    def audit(self, review_id: int, caller: Caller) -> list[AuditEntry]:
        """Every audit entry of the review, oldest first."""
        raise NotImplementedError

    def export(self, review_id: int, caller: Caller, fmt: str) -> bytes:
        """The review as a .docx (fmt "docx": approved answers with numbered citations, the quoted
        paragraphs, sources, a sign-off table; items not approved under "Outstanding") or .xlsx
        (fmt "xlsx": one row per item). ReviewError for another format."""
        raise NotImplementedError

    def export_audit(self, review_id: int, caller: Caller, fmt: str = "csv") -> bytes:
        """The audit log as CSV (with a header row) or JSON lines (one AuditEntry.to_dict() a line)."""
        raise NotImplementedError

    def refresh_staleness(self, index) -> list[ReviewItem]:
        """Compare every item's cited paragraphs (their text when cited) with `index` (an
        assistant.index.Index); mark changed or removed ones stale, with old and new text, and
        return approved items to "needs-work" (audited, actor "system"). Returns the items whose
        staleness changed."""
        raise NotImplementedError

    def stale(self, caller: Caller) -> list[ReviewItem]:
        """Every stale item of the reviews the caller may see."""
        raise NotImplementedError
