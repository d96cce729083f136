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

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from assistant.answer import Answer, Citation
from assistant.auth import Caller
from assistant.config import Config
from assistant.review.records import (
    APPROVED,
    DRAFT,
    ITEM_STATUSES,
    NEEDS_WORK,
    SYSTEM_ACTOR,
    AuditEntry,
    Review,
    ReviewComment,
    ReviewConflict,
    ReviewError,
    ReviewItem,
    ReviewNotFound,
    StaleParagraph,
)

EXPORT_FORMATS = ("docx", "xlsx")
AUDIT_FORMATS = ("csv", "jsonl")

__all__ = ["ReviewService", "ReviewError", "ReviewNotFound", "ReviewConflict", "EXPORT_FORMATS", "AUDIT_FORMATS", "APPROVED"]

# The item columns whose changes are audited, and how each is written in the audit (text).
_AUDITED = ("answer", "citations", "unsupported", "contradicted", "status", "stale", "stale_paragraphs", "reviewer", "approved_at",
            "approved_answer", "approved_citations", "override", "abstained")


def now() -> str:
    """The current time, ISO-8601 UTC to the microsecond."""
    return datetime.now(timezone.utc).isoformat()


def _audit_text(name: str, value) -> str | None:
    if value is None:
        return None
    if name == "citations":
        return json.dumps([c.paragraph_id for c in value])
    if name == "stale_paragraphs":
        return json.dumps([p.to_dict() for p in value], ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _visible(collections: list[str] | None, caller: Caller) -> bool:
    """A review is visible to callers whose scope covers all its collections."""
    if caller.collections is None:
        return True
    return collections is not None and set(collections) <= set(caller.collections)


@dataclass
class _Draft:
    """What drafting one question produced."""

    answer: Answer | None
    error: str
    unsupported: list[str]
    contradicted: list[str] = field(default_factory=list)


class ReviewService:
    """The review operations over one review database. Safe to share between threads (each call
    uses its own connection and transaction)."""

    def __init__(self, engine, config: Config):
        self.engine = engine
        self.config = config
        self._index = None

    @classmethod
    def open(cls, config: Config) -> "ReviewService":
        """Open (creating and migrating to the latest schema) the database of `config.database_url`,
        else `sqlite:///<data_dir>/reviews.db`."""
        from assistant.review import store

        return cls(store.open_engine(config), config)

    @classmethod
    def open_existing(cls, config: Config) -> "ReviewService | None":
        """Like `open`, but None when there is no review database yet (creates nothing)."""
        from pathlib import Path

        if not config.database_url and not (Path(config.data_dir) / "reviews.db").is_file():
            return None  # the common case, answered without importing SQLAlchemy
        from assistant.review import store

        return cls.open(config) if store.exists(config) else None

    def close(self) -> None:
        self.engine.dispose()

    # --- reviews ---------------------------------------------------------------------------------

    def create(self, name: str, questions, assistant, caller: Caller, collections: list[str] | None = None,
               progress: Callable[[int, int, float], None] | None = None) -> Review:
        """A new review of `questions` (a batch QuestionSet): every distinct question drafted with
        `assistant.ask` restricted to `caller.restrict(collections)`, as an item with status "draft"
        and its unsupported sentences; repeated questions become items sharing that draft. A question
        whose answering fails becomes an item with an empty answer and a comment saying why (never
        dropped). Raises ReviewError for an empty name or no questions, auth.Forbidden for
        collections outside the caller's scope."""
        from assistant.review import store

        name = (name or "").strip()
        if not name:
            raise ReviewError("a review needs a name")
        if not questions.questions:
            raise ReviewError(f"{questions.source} has no questions")
        scope = caller.restrict(collections)
        drafts = self._draft_all(questions, assistant, scope, progress)
        at = now()
        with self.engine.begin() as conn:
            review_id = conn.execute(store.reviews.insert().values(
                name=name, collections=store.dumps(sorted(scope)) if scope is not None else None,
                created_by=caller.name, created_at=at)).inserted_primary_key[0]
            store.append_audit(conn, review_id, None, caller.name, at, "review", None,
                               f"created {name!r} from {questions.source} ({len(questions.questions)} questions)")
            for position, question in enumerate(questions.questions, start=1):
                self._insert_item(conn, review_id, position, question, drafts[question.key], caller.name, at)
        return self.get(review_id, caller)

    def _draft_all(self, questions, assistant, scope, progress) -> dict[str, _Draft]:
        from assistant.batch.runner import answer_one

        started = time.perf_counter()
        unique = questions.unique()
        drafts: dict[str, _Draft] = {}
        for done, question in enumerate(unique, start=1):
            answer, error = answer_one(assistant, question, scope)
            unsupported, contradicted = _checked(answer, assistant.embedder, getattr(assistant, "verifier", None)) if answer is not None else ([], [])
            drafts[question.key] = _Draft(answer, error, unsupported, contradicted)
            if progress:
                progress(done, len(unique), time.perf_counter() - started)
        return drafts

    def _insert_item(self, conn, review_id: int, position: int, question, draft: _Draft, actor: str, at: str) -> None:
        from assistant.review import store

        answer = draft.answer
        if answer is not None and answer.error:  # answered "failed": keep the reason, assert nothing
            draft = _Draft(None, answer.error, [])
            answer = None
        item_id = conn.execute(store.items.insert().values(
            review_id=review_id, position=position, question_id=question.id, question=question.text,
            answer=answer.answer if answer else "",
            citations=store.dumps([c.to_dict() for c in answer.citations] if answer else []),
            status=DRAFT, unsupported=store.dumps(draft.unsupported), contradicted=store.dumps(draft.contradicted), stale=False, stale_paragraphs="[]",
            reviewer=None, approved_at=None, approved_answer=None, approved_citations="[]", override=False,
            version=1, abstained=bool(answer.abstained) if answer else True,
            confidence=answer.confidence if answer else None)).inserted_primary_key[0]
        store.append_audit(conn, review_id, item_id, actor, at, "answer", None, answer.answer if answer else "")
        if answer is None:
            text = f"drafting failed: {draft.error}"
            conn.execute(store.comments.insert().values(item_id=item_id, author=SYSTEM_ACTOR, at=at, text=text))
            store.append_audit(conn, review_id, item_id, SYSTEM_ACTOR, at, "comment", None, text)

    def list_reviews(self, caller: Caller) -> list[Review]:
        """The reviews the caller may see, newest first, with `items` empty (use `get`)."""
        from assistant.review import store

        with self.engine.connect() as conn:
            rows = conn.execute(store.reviews.select().order_by(store.reviews.c.id.desc())).all()
        reviews = [_review(row) for row in rows]
        return [r for r in reviews if _visible(r.collections, caller)]

    def get(self, review_id: int, caller: Caller) -> Review:
        """One review with all its items in order; ReviewNotFound if missing or not visible."""
        with self.engine.connect() as conn:
            review = self._review(conn, review_id, caller)
            review.items = self._items(conn, review_id)
        return review

    def get_item(self, review_id: int, item_id: int, caller: Caller) -> ReviewItem:
        """One item of a review; ReviewNotFound if missing or not visible."""
        with self.engine.connect() as conn:
            self._review(conn, review_id, caller)
            return self._item(conn, review_id, item_id)

    def _review(self, conn, review_id: int, caller: Caller) -> Review:
        from assistant.review import store

        row = conn.execute(store.reviews.select().where(store.reviews.c.id == review_id)).first()
        review = _review(row) if row is not None else None
        if review is None or not _visible(review.collections, caller):
            raise ReviewNotFound(f"no review {review_id}")
        return review

    def _items(self, conn, review_id: int, item_id: int | None = None) -> list[ReviewItem]:
        from assistant.review import store

        query = store.items.select().where(store.items.c.review_id == review_id)
        if item_id is not None:
            query = query.where(store.items.c.id == item_id)
        rows = conn.execute(query.order_by(store.items.c.position)).all()
        ids = [row.id for row in rows]
        notes: dict[int, list[ReviewComment]] = {i: [] for i in ids}
        if ids:
            query = store.comments.select().where(store.comments.c.item_id.in_(ids)).order_by(store.comments.c.id)
            for row in conn.execute(query):
                notes[row.item_id].append(ReviewComment(row.author, row.at, row.text))
        return [_item(row, notes[row.id]) for row in rows]

    def _item(self, conn, review_id: int, item_id: int) -> ReviewItem:
        found = self._items(conn, review_id, item_id)
        if not found:
            raise ReviewNotFound(f"review {review_id} has no item {item_id}")
        return found[0]

    # --- editing ---------------------------------------------------------------------------------

    def update_item(self, review_id: int, item_id: int, caller: Caller, *, answer: str | None = None,
                    citations: list[str] | None = None, status: str | None = None, comment: str | None = None,
                    override: bool = False, redraft: bool = False, expected_version: int | None = None,
                    assistant=None, embedder=None) -> ReviewItem:
        """Change one item and return it as stored.

        - `answer` / `citations` (paragraph ids; marker n is the n-th id): the new text and sources;
          the answer is checked again (needs `embedder`, or `assistant` for its embedder) against
          the current index text of those paragraphs. Citing a paragraph outside the review's (or
          the caller's) collections, or one not in the index, raises ReviewError. An edit of an
          approved item clears its sign-off and makes it a draft again (unless `status` is given).
        - `redraft=True`: answer the question again with `assistant` (replaces answer and citations).
        - `status`: one of ITEM_STATUSES. "approved" with unsupported sentences (or stale sources)
          raises ReviewConflict unless `override=True`; approving records caller.name, the time, the
          exact text and citations. Any other status clears the sign-off.
        - `comment`: appended to the item's comments.
        - `expected_version`: when given and not the item's version, ReviewConflict, nothing written.

        Every changed field appends an AuditEntry (actor caller.name)."""
        if status is not None and status not in ITEM_STATUSES:
            raise ReviewError(f"unknown status {status!r}; use one of {', '.join(ITEM_STATUSES)}")
        if comment is not None and not comment.strip():
            raise ReviewError("the comment is empty")
        redrafted = None
        if redraft:
            # Answering may take an LLM call of many seconds: it runs outside any transaction, and the
            # write below stores it only if the item is still the version it was drafted from.
            with self.engine.connect() as conn:
                review = self._review(conn, review_id, caller)
                item = self._item(conn, review_id, item_id)
            self._check_version(item, expected_version)
            redrafted = self._redrafted(item, review, caller, assistant)
        with self.engine.begin() as conn:
            review = self._review(conn, review_id, caller)
            item = self._item(conn, review_id, item_id)
            self._check_version(item, expected_version if redrafted is None else redrafted.version)
            new = item if redrafted is None else redrafted
            if answer is not None or citations is not None:
                new = self._edited(new, review, caller, answer, citations, assistant, embedder)
            if status is not None:
                new = self._with_status(new, status, caller, override)
            elif new.status == APPROVED and (new.answer, _ids(new)) != (item.answer, _ids(item)):
                new = self._with_status(new, DRAFT, caller, False)
            self._write(conn, review_id, item, new, caller.name, comment)
            return self._item(conn, review_id, item_id)

    @staticmethod
    def _check_version(item: ReviewItem, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != item.version:
            raise ReviewConflict(
                f"the item changed since you opened it (you had version {expected_version}, it is now "
                f"version {item.version}); reload it and apply your change again")

    def _write(self, conn, review_id: int, old: ReviewItem, new: ReviewItem, actor: str, comment: str | None) -> None:
        """Store `new` over `old` (only if nobody changed it meanwhile) and audit every changed field."""
        from assistant.review import store

        changed = [f for f in _AUDITED if getattr(old, f) != getattr(new, f)]
        at = now()
        if changed:
            values = _columns(new)
            values["version"] = old.version + 1
            result = conn.execute(store.items.update()
                                  .where(store.items.c.id == old.id, store.items.c.version == old.version)
                                  .values(**values))
            if result.rowcount != 1:
                raise ReviewConflict("the item changed since you opened it; reload it and apply your change again")
        elif comment is not None:  # a comment alone is a change too: it bumps the version
            bumped = conn.execute(store.items.update()
                                  .where(store.items.c.id == old.id, store.items.c.version == old.version)
                                  .values(version=old.version + 1))
            if bumped.rowcount != 1:
                raise ReviewConflict("the item changed since you opened it; reload it and apply your change again")
        for name in changed:
            store.append_audit(conn, review_id, old.id, actor, at, name,
                               _audit_text(name, getattr(old, name)), _audit_text(name, getattr(new, name)))
        if comment is not None:
            conn.execute(store.comments.insert().values(item_id=old.id, author=actor, at=at, text=comment.strip()))
            store.append_audit(conn, review_id, old.id, actor, at, "comment", None, comment.strip())

    def _redrafted(self, item: ReviewItem, review: Review, caller: Caller, assistant) -> ReviewItem:
        if assistant is None:
            raise ReviewError("redrafting needs the assistant")
        answer = assistant.ask(item.question, collections=self._scope(review, caller), id=item.question_id)
        if answer.error:
            raise ReviewError(f"redrafting failed: {answer.error}")
        unsupported, contradicted = _checked(answer, assistant.embedder, getattr(assistant, "verifier", None))
        return replace(item, answer=answer.answer, citations=list(answer.citations), unsupported=unsupported, contradicted=contradicted,
                       abstained=answer.abstained, confidence=answer.confidence, stale=False, stale_paragraphs=[])

    def _edited(self, item: ReviewItem, review: Review, caller: Caller, text: str | None, ids: list[str] | None,
                assistant, embedder) -> ReviewItem:
        """The item with its answer and/or citations replaced, checked against the current index."""
        text = item.answer if text is None else text.strip()
        ids = _ids(item) if ids is None else [str(i).strip() for i in ids]
        if not text:
            raise ReviewError("the answer is empty")
        if len(set(ids)) != len(ids):
            raise ReviewError("a paragraph is cited twice; cite each once (marker n is the n-th paragraph)")
        embedder = embedder or getattr(assistant, "embedder", None)
        if embedder is None:
            raise ReviewError("checking an edited answer needs the embedder (pass assistant or embedder)")
        index = getattr(assistant, "index", None) or self._open_index(embedder)
        cited = self._citations(ids, item, review, caller, index)
        checked = Answer(question=item.question, answer=text, abstained=False, citations=cited)
        unsupported, contradicted = _checked(checked, embedder, getattr(assistant, "verifier", None))
        return replace(item, answer=text, citations=cited, unsupported=unsupported, contradicted=contradicted, abstained=False,
                       stale=False, stale_paragraphs=[])

    def _citations(self, ids: list[str], item: ReviewItem, review: Review, caller: Caller, index) -> list[Citation]:
        """Citation records for paragraph ids, from the index, refusing ones out of scope."""
        paragraphs = index.paragraphs(ids)
        missing = [i for i in ids if i not in paragraphs]
        if missing:
            raise ReviewError(f"no paragraph {', '.join(missing)} in the index")
        allowed = set(review.collections) if review.collections is not None else None
        outside = [i for i in ids if not caller.allows(paragraphs[i].collection)
                   or (allowed is not None and paragraphs[i].collection not in allowed)]
        if outside:
            raise ReviewError(f"paragraph(s) {', '.join(outside)} are outside this review's collections")
        from assistant.compose import citation_for
        from assistant.retrieval import Passage

        previous = {c.paragraph_id: c.quote for c in item.citations}
        out = []
        for marker, pid in enumerate(ids, start=1):
            paragraph = paragraphs[pid]
            document = index.document(paragraph.document_id)
            # the quote: as before for a paragraph cited before, else its first sentence
            quote = previous.get(pid) or (paragraph.sentence_texts() or [paragraph.text])[0]
            out.append(citation_for(marker, Passage(paragraph=paragraph, document=document, score=0.0), quote))
        return out

    def _with_status(self, item: ReviewItem, status: str, caller: Caller, override: bool) -> ReviewItem:
        if status != APPROVED:
            return replace(item, status=status, reviewer=None, approved_at=None, approved_answer=None,
                           approved_citations=[], override=False)
        if not item.answer.strip():
            raise ReviewError("there is no answer to approve: write one or redraft it first")
        problems = []
        if item.unsupported:
            contradicted = [s for s in item.unsupported if s in set(item.contradicted)]
            problems.append(f"{len(item.unsupported)} sentence(s) are not supported by their citations"
                            + (f" ({len(contradicted)} contradicted by them)" if contradicted else "") + ": "
                            + " | ".join(item.unsupported))
        if item.stale:
            problems.append("its cited sources have changed since they were cited")
        if problems and not override:
            raise ReviewConflict("cannot approve: " + "; ".join(problems) + ". Edit it, or approve with override.")
        return replace(item, status=APPROVED, reviewer=caller.name, approved_at=now(), approved_answer=item.answer,
                       approved_citations=_ids(item), override=bool(problems))

    def _scope(self, review: Review, caller: Caller) -> list[str] | None:
        return caller.restrict(review.collections)

    def _open_index(self, embedder):
        if self._index is None:
            from assistant.index import Index

            self._index = Index.open(self.config, embedder.name)
        return self._index

    # --- audit, export, staleness ------------------------------------------------------------------

    def audit(self, review_id: int, caller: Caller) -> list[AuditEntry]:
        """Every audit entry of the review, oldest first."""
        from assistant.review import store

        with self.engine.connect() as conn:
            self._review(conn, review_id, caller)
            rows = conn.execute(store.audit_log.select().where(store.audit_log.c.review_id == review_id)
                                .order_by(store.audit_log.c.id)).all()
        return [AuditEntry(r.id, r.review_id, r.item_id, r.actor, r.at, r.field, r.before, r.after) for r in rows]

    def export(self, review_id: int, caller: Caller, fmt: str) -> bytes:
        """The review as a .docx (fmt "docx": approved answers with numbered citations, the quoted
        paragraphs, sources, a sign-off table; items not approved under "Outstanding") or .xlsx
        (fmt "xlsx": one row per item). ReviewError for another format."""
        from assistant.review import export

        if fmt not in EXPORT_FORMATS:
            raise ReviewError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
        review = self.get(review_id, caller)
        return export.write_docx(review) if fmt == "docx" else export.write_xlsx(review)

    def export_audit(self, review_id: int, caller: Caller, fmt: str = "csv") -> bytes:
        """The audit log as CSV (with a header row) or JSON lines (one AuditEntry.to_dict() a line)."""
        from assistant.review import export

        if fmt not in AUDIT_FORMATS:
            raise ReviewError(f"unknown audit format {fmt!r}; use one of {', '.join(AUDIT_FORMATS)}")
        return export.write_audit(self.audit(review_id, caller), fmt)

    def refresh_staleness(self, index) -> list[ReviewItem]:
        """Compare every item's cited paragraphs (their text when cited) with `index` (an
        assistant.index.Index); mark changed or removed ones stale, with old and new text, and
        return approved items to "needs-work" (audited, actor "system"). An item whose sources are
        back to the cited text is no longer stale. Returns the items whose staleness changed."""
        from assistant.review import store

        with self.engine.connect() as conn:
            rows = conn.execute(store.items.select().order_by(store.items.c.id)).all()
        items = [_item(row, []) for row in rows if json.loads(row.citations)]
        current = index.paragraphs(sorted({c.paragraph_id for i in items for c in i.citations}))
        changed = []
        for item in items:
            stale = _stale_paragraphs(item, current)
            if stale == item.stale_paragraphs and item.stale == bool(stale):
                continue
            new = replace(item, stale=bool(stale), stale_paragraphs=stale)
            if stale and new.status == APPROVED:
                new = self._with_status(new, NEEDS_WORK, Caller(SYSTEM_ACTOR), False)
            with self.engine.begin() as conn:
                try:
                    self._write(conn, item.review_id, item, new, SYSTEM_ACTOR, None)
                except ReviewConflict:
                    continue  # edited meanwhile: that edit re-cited the current text
            changed.append(new)
        return changed

    def stale(self, caller: Caller) -> list[ReviewItem]:
        """Every stale item of the reviews the caller may see, by review then position."""
        from assistant.review import store

        visible = {r.id for r in self.list_reviews(caller)}
        with self.engine.connect() as conn:
            rows = conn.execute(store.items.select().where(store.items.c.stale.is_(True))
                                .order_by(store.items.c.review_id, store.items.c.position)).all()
            return [self._item(conn, row.review_id, row.id) for row in rows if row.review_id in visible]


# --- rows <-> records ------------------------------------------------------------------------------


def _ids(item: ReviewItem) -> list[str]:
    return [c.paragraph_id for c in item.citations]


def _stale_paragraphs(item: ReviewItem, current: dict) -> list[StaleParagraph]:
    out = []
    for c in item.citations:
        paragraph = current.get(c.paragraph_id)
        if paragraph is None:
            out.append(StaleParagraph(c.paragraph_id, c.text, None))
        elif paragraph.text != c.text:
            out.append(StaleParagraph(c.paragraph_id, c.text, paragraph.text))
    return out


def _checked(answer: Answer, embedder, verifier) -> tuple[list[str], list[str]]:
    """The citation check on an answer: its sentences not supported by their citations, and those of
    them that the cited paragraphs contradict (a subset, flagged apart in the review)."""
    from assistant.verify import support_report

    report = support_report(answer, embedder, verifier)
    return [s.text for s in report if not s.supported], [s.text for s in report if s.contradicted]


def _review(row) -> Review:
    collections = json.loads(row.collections) if row.collections is not None else None
    return Review(row.id, row.name, collections, row.created_by, row.created_at, [])


def _item(row, comments: list[ReviewComment]) -> ReviewItem:
    return ReviewItem(
        id=row.id, review_id=row.review_id, position=row.position, question_id=row.question_id,
        question=row.question, answer=row.answer,
        citations=[Citation(**c) for c in json.loads(row.citations)], status=row.status,
        unsupported=json.loads(row.unsupported), contradicted=json.loads(row.contradicted or "[]"), stale=bool(row.stale),
        stale_paragraphs=[StaleParagraph(**p) for p in json.loads(row.stale_paragraphs)],
        reviewer=row.reviewer, approved_at=row.approved_at, approved_answer=row.approved_answer,
        approved_citations=json.loads(row.approved_citations), override=bool(row.override),
        comments=comments, version=row.version, abstained=bool(row.abstained), confidence=row.confidence)


def _columns(item: ReviewItem) -> dict:
    """The stored columns of an item's mutable fields."""
    from assistant.review.store import dumps

    return {
        "answer": item.answer, "citations": dumps([c.to_dict() for c in item.citations]), "status": item.status,
        "unsupported": dumps(item.unsupported), "contradicted": dumps(item.contradicted), "stale": item.stale,
        "stale_paragraphs": dumps([p.to_dict() for p in item.stale_paragraphs]), "reviewer": item.reviewer,
        "approved_at": item.approved_at, "approved_answer": item.approved_answer,
        "approved_citations": dumps(item.approved_citations), "override": item.override,
        "abstained": item.abstained, "confidence": item.confidence,
    }
