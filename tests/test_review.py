"""Consultation review (assistant/review): drafting, checking, sign-off, audit, staleness, export and
access, against a real SQLite file and a real PostgreSQL server (started here with initdb/pg_ctl on
127.0.0.1; the test fails, not skips, when PostgreSQL is not installed: CI installs it)."""

from __future__ import annotations

import io
import json
import threading

import pytest

from assistant.auth import Caller
from assistant.batch.records import Question, QuestionSet
from assistant.config import Config
from assistant.review.records import ReviewConflict, ReviewError, ReviewNotFound
from assistant.review.service import ReviewService
from tests.conftest import run_cli
from tests.postgres_helpers import fresh_database, postgres_server  # noqa: F401 - fixture

ALICE = Caller("alice", None)
BOB = Caller("bob", None)
QUESTIONS = ["Who is David Dalton?", "What is NHS Improvement?", "What is the capital of France?"]
INVENTED = "David Dalton was appointed Secretary of State for Health in 1997 [1]."
DALTON_PARAGRAPH = "kf-2014-leaders-reform-from-within#p4"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A fresh, empty review database of each kind."""
    return fresh_database(request.param, tmp_path, request)


@pytest.fixture()
def service(database_url, sources_data_dir):
    config = Config.from_env(data_dir=sources_data_dir).replace(database_url=database_url, llm_base_url=None)
    service = ReviewService.open(config)
    yield service
    service.close()


def _questions(texts=QUESTIONS) -> QuestionSet:
    return QuestionSet("questions.txt", [Question(f"q{i}", t) for i, t in enumerate(texts, start=1)])


@pytest.fixture()
def review(service, assistant):
    return service.create("Consultation 1", _questions(), assistant, ALICE)


def _item(review, question_id):
    return next(i for i in review.items if i.question_id == question_id)


# --- drafting, checking, sign-off -------------------------------------------------------------------


def test_create_drafts_every_question_of_a_questions_file(service, assistant, tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(QUESTIONS) + "\n", encoding="utf-8")
    from assistant.batch.readers import read_questions

    review = service.create("From a file", read_questions(path), assistant, ALICE)
    assert [i.question for i in review.items] == QUESTIONS
    assert {i.status for i in review.items} == {"draft"}
    dalton = _item(review, "q1")
    assert "Dalton" in dalton.answer and dalton.citations and not dalton.abstained
    assert dalton.unsupported == []  # the extractive draft passes its own check
    assert _item(review, "q3").abstained and not _item(review, "q3").citations
    data = dalton.to_dict()
    for key in ("id", "question", "answer", "citations", "status", "unsupported", "stale", "reviewer", "approved_at"):
        assert key in data
    assert data["citations"][0] == dalton.citations[0].to_dict()
    assert [r.id for r in service.list_reviews(ALICE)] == [review.id]
    assert service.get(review.id, BOB).items == review.items


class _Failing:
    """An assistant whose answering raises for one question (real embedder for the check)."""

    def __init__(self, assistant):
        self.inner, self.embedder, self.index = assistant, assistant.embedder, assistant.index

    def ask(self, question, collections=None, id=None):
        if "France" in question:
            raise RuntimeError("the LLM server went away")
        return self.inner.ask(question, collections=collections, id=id)


def test_a_failed_question_is_an_item_with_a_notice_never_dropped(service, assistant):
    review = service.create("Failing", _questions(), _Failing(assistant), ALICE)
    failed = _item(review, "q3")
    assert len(review.items) == 3 and failed.answer == ""
    assert "the LLM server went away" in failed.comments[0].text
    with pytest.raises(ReviewError, match="no answer to approve"):
        service.update_item(review.id, failed.id, ALICE, status="approved")


def test_an_unsupported_edit_is_flagged_and_approval_needs_override(service, assistant, review):
    item = _item(review, "q1")
    cited = [c.paragraph_id for c in item.citations][:1]
    edited = service.update_item(review.id, item.id, BOB, answer=INVENTED, citations=cited,
                                 expected_version=item.version, assistant=assistant)
    assert edited.unsupported == ["David Dalton was appointed Secretary of State for Health in 1997."]
    assert edited.version == item.version + 1
    with pytest.raises(ReviewConflict, match="not supported"):
        service.update_item(review.id, item.id, BOB, status="approved")
    assert service.get_item(review.id, item.id, BOB).status == "draft"
    approved = service.update_item(review.id, item.id, BOB, status="approved", override=True)
    assert approved.status == "approved" and approved.override and approved.reviewer == "bob"
    entries = [(e.field, e.after) for e in service.audit(review.id, BOB) if e.item_id == item.id]
    assert ("override", "true") in entries and ("status", "approved") in entries


def test_approving_a_supported_edit_records_who_when_and_exactly_what(service, assistant, review):
    item = _item(review, "q1")
    citation = item.citations[0]
    sentence = citation.quote.strip()
    text = f"{sentence} [1]"
    edited = service.update_item(review.id, item.id, BOB, answer=text, citations=[citation.paragraph_id],
                                 embedder=assistant.embedder)
    assert edited.unsupported == []
    approved = service.update_item(review.id, item.id, BOB, status="approved", comment="checked against the report",
                                   expected_version=edited.version)
    assert (approved.status, approved.reviewer, approved.override) == ("approved", "bob", False)
    assert approved.approved_answer == text and approved.approved_citations == [citation.paragraph_id]
    assert approved.approved_at and approved.approved_at.startswith("20")
    assert approved.comments[-1].text == "checked against the report"
    # an edit after approval clears the sign-off
    again = service.update_item(review.id, item.id, ALICE, answer=text + " More.", embedder=assistant.embedder)
    assert again.status == "draft" and again.reviewer is None and again.approved_answer is None


def test_redraft_answers_again_and_is_audited(service, assistant, review):
    item = _item(review, "q1")
    service.update_item(review.id, item.id, BOB, answer=INVENTED, citations=[item.citations[0].paragraph_id],
                        assistant=assistant)
    redrafted = service.update_item(review.id, item.id, BOB, redraft=True, assistant=assistant)
    assert redrafted.answer == item.answer and redrafted.unsupported == [] and redrafted.version == item.version + 2
    with pytest.raises(ReviewError, match="needs the assistant"):
        service.update_item(review.id, item.id, BOB, redraft=True)
    answers = [e.after for e in service.audit(review.id, BOB) if e.item_id == item.id and e.field == "answer"]
    assert answers == [item.answer, INVENTED, item.answer]


def test_a_redraft_holds_no_transaction_while_it_answers(service, assistant, review):
    """Another reviewer can write while an answer is being drafted (an LLM call may take many seconds);
    the redraft then finds the item changed and stores nothing over it."""
    item = _item(review, "q1")

    class CommentsWhileAnswering:  # the real assistant; another reviewer comments during its answer
        embedder = assistant.embedder

        def ask(self, *args, **kwargs):
            service.update_item(review.id, item.id, ALICE, comment="looking at this too")
            return assistant.ask(*args, **kwargs)

    with pytest.raises(ReviewConflict, match="changed since you opened it"):
        service.update_item(review.id, item.id, BOB, redraft=True, assistant=CommentsWhileAnswering())
    stored = service.get_item(review.id, item.id, BOB)
    assert stored.version == item.version + 1 and stored.comments[-1].text == "looking at this too"


def test_citations_out_of_the_index_or_bad_status_are_refused(service, assistant, review):
    item = _item(review, "q1")
    with pytest.raises(ReviewError, match="no paragraph nope#p1"):
        service.update_item(review.id, item.id, BOB, answer="x [1]", citations=["nope#p1"], assistant=assistant)
    with pytest.raises(ReviewError, match="unknown status"):
        service.update_item(review.id, item.id, BOB, status="done")
    assert service.get_item(review.id, item.id, BOB).version == item.version  # nothing written


def test_audit_log_holds_every_step_in_order_and_cannot_be_rewritten(service, assistant, review, database_url):
    item = _item(review, "q1")
    service.update_item(review.id, item.id, BOB, comment="first look")
    service.update_item(review.id, item.id, BOB, status="needs-work")
    service.update_item(review.id, item.id, ALICE, status="approved")
    entries = service.audit(review.id, ALICE)
    assert [e.id for e in entries] == sorted(e.id for e in entries)
    mine = [(e.actor, e.field, e.before, e.after) for e in entries if e.item_id == item.id]
    assert mine[0][:3] == ("alice", "answer", None)
    steps = [(a, f, b, c) for a, f, b, c in mine[1:] if f in ("comment", "status")]
    assert steps == [("bob", "comment", None, "first look"), ("bob", "status", "draft", "needs-work"),
                     ("alice", "status", "needs-work", "approved")]
    assert ("alice", "reviewer", None, "alice") in mine
    import sqlalchemy as sa

    for statement in ("UPDATE review_audit SET actor = 'mallory'", "DELETE FROM review_audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with service.engine.begin() as conn:
                conn.execute(sa.text(statement))
    assert service.audit(review.id, ALICE) == entries
    lines = service.export_audit(review.id, ALICE, "jsonl").decode().splitlines()
    assert [json.loads(line) for line in lines] == [e.to_dict() for e in entries]
    csv_text = service.export_audit(review.id, ALICE, "csv").decode()
    assert csv_text.splitlines()[0] == "id,review_id,item_id,actor,at,field,before,after"
    assert len(csv_text.strip().splitlines()) == len(entries) + 1


def test_the_tables_of_store_py_are_the_schema_migration_0001_makes(database_url, tmp_path):
    """store.py's tables (what the service reads and writes) and the migrations (what the database
    holds) are written separately: a column, type, nullability, index or key in one only is a diff."""
    import sqlalchemy as sa
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from assistant.review import store

    engine = store.open_engine(Config.from_env(data_dir=tmp_path).replace(database_url=database_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, store.metadata) == []
            # The comparison sees a difference when there is one.
            drifted = sa.MetaData()
            for table in store.metadata.tables.values():
                table.to_metadata(drifted)
            drifted.tables["review_items"].append_column(sa.Column("note", sa.Text, nullable=True))
            assert [d[0] for d in compare_metadata(context, drifted)] == ["add_column"]
    finally:
        engine.dispose()


def test_a_database_of_the_first_schema_is_migrated_and_its_items_kept(database_url, tmp_path):
    """Migration 0002 adds the items' contradicted sentences; items drafted before read as having none."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from assistant.review import store

    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        alembic_config = AlembicConfig()
        alembic_config.set_main_option("script_location", str(store.MIGRATIONS))
        alembic_config.attributes["connection"] = connection
        command.upgrade(alembic_config, "0001")
        columns = {c["name"] for c in sa.inspect(connection).get_columns("review_items")}
        assert "contradicted" not in columns and "unsupported" in columns
        review_id = connection.execute(store.reviews.insert().values(
            name="old", collections=None, created_by="alice", created_at="2026-01-01T00:00:00Z")).inserted_primary_key[0]
        connection.execute(store.items.insert().values(
            review_id=review_id, position=1, question_id="q1", question="Who?", answer="Someone. [1]", citations="[]",
            status="draft", unsupported='["Someone."]', stale=False, stale_paragraphs="[]", reviewer=None, approved_at=None,
            approved_answer=None, approved_citations="[]", override=False, version=1, abstained=False, confidence=None))
    engine.dispose()
    service = ReviewService.open(Config.from_env(data_dir=tmp_path).replace(database_url=database_url, llm_base_url=None))
    try:
        item = service.get(review_id, ALICE).items[0]
        assert (item.answer, item.unsupported, item.contradicted) == ("Someone. [1]", ["Someone."], [])
    finally:
        service.close()


def test_a_contradicting_edit_is_flagged_apart_and_approval_still_needs_override(service, assistant, review):
    item = _item(review, "q1")
    cited = [c.paragraph_id for c in item.citations if c.paragraph_id == DALTON_PARAGRAPH]
    assert cited, [c.paragraph_id for c in item.citations]
    faithful = "Key ingredients included setting specific goals for improvement. [1]"
    contradicting = "Salford Royal did not aim to become the safest organisation in the NHS. [1]"
    edited = service.update_item(review.id, item.id, BOB, answer=f"{faithful} {contradicting}", citations=cited, assistant=assistant)
    assert edited.unsupported == [contradicting[:-4]] and edited.contradicted == [contradicting[:-4]]
    assert edited.to_dict()["contradicted"] == edited.contradicted
    with pytest.raises(ReviewConflict, match=r"not supported by their citations \(1 contradicted by them\)"):
        service.update_item(review.id, item.id, BOB, status="approved")
    assert service.update_item(review.id, item.id, BOB, status="approved", override=True).override
    entries = [(e.field, e.after) for e in service.audit(review.id, BOB) if e.item_id == item.id]
    assert ("contradicted", json.dumps([contradicting[:-4]])) in entries
    # the faithful sentence alone passes
    clean = service.update_item(review.id, item.id, BOB, answer=faithful, citations=cited, assistant=assistant)
    assert clean.unsupported == [] and clean.contradicted == []


def test_a_stale_expected_version_is_a_conflict_and_the_first_edit_is_kept(service, assistant, review):
    item = _item(review, "q1")
    first = service.update_item(review.id, item.id, ALICE, comment="alice was here", expected_version=item.version)
    with pytest.raises(ReviewConflict, match="changed since you opened it"):
        service.update_item(review.id, item.id, BOB, status="rejected", expected_version=item.version)
    now = service.get_item(review.id, item.id, ALICE)
    assert now.version == first.version and now.status == "draft"
    assert [c.text for c in now.comments] == ["alice was here"]


def test_concurrent_writers_on_one_version_exactly_one_wins(service, review):
    item = _item(review, "q2")
    results, barrier = [], threading.Barrier(4)

    def edit(n):
        barrier.wait()
        try:
            service.update_item(review.id, item.id, Caller(f"r{n}"), comment=f"c{n}", expected_version=item.version)
            results.append("ok")
        except ReviewConflict:
            results.append("conflict")

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = service.get_item(review.id, item.id, ALICE)
    assert results.count("ok") == 1 and len(final.comments) == 1 and final.version == item.version + 1


# --- access ------------------------------------------------------------------------------------------


def test_a_scoped_caller_never_sees_another_collections_review(service, assistant):
    everything = service.create("All", _questions(QUESTIONS[:1]), assistant, ALICE)
    scoped = service.create("Default only", _questions(QUESTIONS[:1]), assistant, Caller("dee", ("default",)))
    assert scoped.collections == ["default"] and everything.collections is None
    dee, eve = Caller("dee", ("default",)), Caller("eve", ("hr",))
    assert [r.id for r in service.list_reviews(dee)] == [scoped.id]
    assert service.list_reviews(eve) == []
    item = scoped.items[0]
    for call in (lambda: service.get(scoped.id, eve), lambda: service.get(everything.id, dee),
                 lambda: service.audit(scoped.id, eve), lambda: service.export(scoped.id, eve, "docx"),
                 lambda: service.update_item(scoped.id, item.id, eve, status="approved")):
        with pytest.raises(ReviewNotFound, match=r"no review \d+$"):
            call()
    assert service.get_item(scoped.id, item.id, dee).version == 1
    from assistant.auth import Forbidden

    with pytest.raises(Forbidden):
        service.create("Sneaky", _questions(QUESTIONS[:1]), assistant, eve, collections=["default"])


def test_citing_a_paragraph_outside_the_reviews_collections_is_refused(service, assistant):
    review = service.create("HR only", _questions(QUESTIONS[:1]), assistant, ALICE, collections=["hr"])
    item = review.items[0]
    assert review.collections == ["hr"] and item.abstained  # nothing in "hr" to draft from
    outside = assistant.ask(QUESTIONS[0]).citations[0].paragraph_id  # a paragraph of "default"
    with pytest.raises(ReviewError, match="outside this review's collections"):
        service.update_item(review.id, item.id, ALICE, answer="Dalton ran Salford Royal [1].", citations=[outside],
                            assistant=assistant)
    assert service.get_item(review.id, item.id, ALICE).version == 1


# --- staleness -------------------------------------------------------------------------------------


def test_an_approved_answer_goes_stale_when_its_source_changes(database_url, copy_of_sources, tmp_path):
    from assistant.core import Assistant
    from ingest.pipeline import run_ingest

    config = Config.from_env(data_dir=tmp_path / "index").replace(database_url=database_url, llm_base_url=None)
    run_ingest([copy_of_sources], config, progress=False)
    assistant = Assistant.open(config=config)
    service = ReviewService.open(config)
    review = service.create("Fresh", _questions(QUESTIONS[:1]), assistant, ALICE)
    item = review.items[0]
    service.update_item(review.id, item.id, BOB, status="approved")
    cited = item.citations[0]
    source = copy_of_sources / f"{cited.document_id}.txt"
    text = source.read_text(encoding="utf-8")
    assert cited.text[:60] in text
    changed = cited.text[:60] + " It was later revised."
    source.write_text(text.replace(cited.text[:60], changed, 1), encoding="utf-8")

    report = run_ingest([copy_of_sources], config, progress=False)
    assert cited.document_id in report.changed
    assert any("review stale" in note for note in report.notes), report.notes
    now = service.get_item(review.id, item.id, BOB)
    assert now.stale and now.status == "needs-work" and now.reviewer is None
    stale = {p.paragraph_id: p for p in now.stale_paragraphs}
    assert stale[cited.paragraph_id].old_text == cited.text
    assert "It was later revised." in stale[cited.paragraph_id].new_text
    assert [i.id for i in service.stale(BOB)] == [item.id]
    system = [e for e in service.audit(review.id, BOB) if e.actor == "system"]
    assert ("status", "approved", "needs-work") in [(e.field, e.before, e.after) for e in system]
    with pytest.raises(ReviewConflict, match="sources have changed"):
        service.update_item(review.id, item.id, BOB, status="approved")
    service.close()


def test_ingest_without_a_review_database_creates_none(copy_of_sources, tmp_path):
    from ingest.pipeline import run_ingest

    config = Config.from_env(data_dir=tmp_path / "index").replace(database_url=None)
    run_ingest([copy_of_sources], config, progress=False)
    (copy_of_sources / "kf-2015-inner-stalin.txt").unlink()
    report = run_ingest([copy_of_sources], config, progress=False)
    assert report.removed and not (tmp_path / "index" / "reviews.db").exists()


# --- export ------------------------------------------------------------------------------------------


def test_export_docx_and_xlsx_read_back(service, assistant, review):
    import docx
    import openpyxl

    approved = service.update_item(review.id, _item(review, "q1").id, BOB, status="approved")
    service.update_item(review.id, _item(review, "q2").id, BOB, status="needs-work")
    document = docx.Document(io.BytesIO(service.export(review.id, ALICE, "docx")))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings == ["Consultation 1", "q1. Who is David Dalton?", "Sources", "Sign-off", "Outstanding"]
    body = [p.text for p in document.paragraphs]
    assert approved.approved_answer in body
    assert any(p.startswith("[1] ") and approved.citations[0].text in p for p in body)
    outstanding = body[body.index("Outstanding") + 1:]
    assert outstanding == ["q2. What is NHS Improvement? (needs-work)", "q3. What is the capital of France? (draft)"]
    assert _item(review, "q2").answer not in "\n".join(body)  # a draft is never exported as an answer
    rows = [[c.text for c in row.cells] for row in document.tables[0].rows]
    assert rows[0] == ["Question", "Reviewer", "Approved at", "Override"]
    assert rows[1] == ["q1. Who is David Dalton?", "bob", approved.approved_at, "no"]

    sheet = openpyxl.load_workbook(io.BytesIO(service.export(review.id, ALICE, "xlsx"))).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    header = table[0]
    assert header[:8] == ["position", "id", "question", "status", "answer", "citations", "reviewer", "approved_at"]
    assert [r[3] for r in table[1:]] == ["approved", "needs-work", "draft"]
    assert table[1][4] == approved.approved_answer and table[1][6] == "bob" and table[1][9] == "no"
    with pytest.raises(ReviewError, match="unknown export format"):
        service.export(review.id, ALICE, "pdf")


# --- the command line --------------------------------------------------------------------------------


def test_cli_create_list_export(sources_data_dir, tmp_path):
    questions = tmp_path / "questions.txt"
    questions.write_text("Who is David Dalton?\nWhat is the capital of France?\n", encoding="utf-8")
    env = {"ASSISTANT_DATABASE_URL": f"sqlite:///{tmp_path / 'reviews.db'}", "ASSISTANT_REVIEWER": "carol"}
    created = run_cli("review", "create", str(questions), "--name", "CLI review", data_dir=sources_data_dir, env=env)
    assert created.returncode == 0, created.stderr
    assert "review 1 'CLI review': 2 items drafted" in created.stdout
    listed = run_cli("review", "list", data_dir=sources_data_dir, env=env)
    assert listed.returncode == 0 and "CLI review\tcarol\t" in listed.stdout and "draft 2" in listed.stdout
    out = tmp_path / "out.docx"
    exported = run_cli("review", "export", "1", "--format", "docx", "--out", str(out), data_dir=sources_data_dir, env=env)
    assert exported.returncode == 0, exported.stderr
    import docx

    assert "Outstanding" in [p.text for p in docx.Document(str(out)).paragraphs]
    missing = run_cli("review", "show", "7", data_dir=sources_data_dir, env=env)
    assert missing.returncode == 1 and "no review 7" in missing.stderr
