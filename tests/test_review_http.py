"""Consultation review over real HTTP on loopback (issue 14): create a review from an uploaded file,
read it, edit an answer into an unsupported claim and see it flagged, approval refused (409) then
given with override (audited), a stale expected_version refused with the first edit kept, the .docx
export read back, the audit downloads, paragraph search, and collection scoping (a review of another
collection is a 404, a requested collection outside the caller's scope a 403), on SQLite and on a
real PostgreSQL server."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest
from conftest import free_port
from postgres_helpers import fresh_database, postgres_server  # noqa: F401 - fixture
from serving_helpers import (  # noqa: F401 - fixtures
    SECRET_DOC,
    SECRET_QUESTION,
    ServerThread,
    served_assistant,
    served_corpus,
    wait_ready,
)

ALL = {"Authorization": "Bearer tok-all"}
PUBLIC = {"Authorization": "Bearer tok-pub"}  # scoped to "default"
SECRET = {"Authorization": "Bearer tok-sec"}  # scoped to "secret"
QUESTIONS = "Who is David Dalton?\nWhat is the capital of France?\n"
INVENTED = "David Dalton also breeds racing pigeons on the roof of the hospital [1]."
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def token_name(token: str) -> str:
    import hashlib

    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:8]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, served_corpus, served_assistant, tmp_path_factory):
    """The real HTTP app on loopback, its reviews in a fresh SQLite file or PostgreSQL database."""
    from assistant.config import Config
    from assistant.server import create_app

    database_url = fresh_database(request.param, tmp_path_factory.mktemp("reviews-http"), request)
    config = Config.from_env(data_dir=served_corpus).replace(
        llm_base_url=None, api_tokens=("tok-all", "tok-pub:default", "tok-sec:secret"), database_url=database_url,
    )
    with ServerThread(create_app(config, served_assistant), free_port()) as running:
        wait_ready(running.url)
        yield running.url


def create(url: str, headers: dict, text: str = QUESTIONS, **data) -> httpx.Response:
    return httpx.post(f"{url}/api/reviews", files={"file": ("consultation.txt", text.encode())}, data=data,
                      headers=headers, timeout=300)


def patch(url: str, review_id, item_id, headers: dict, **body) -> httpx.Response:
    return httpx.patch(f"{url}/api/reviews/{review_id}/items/{item_id}", json=body, headers=headers, timeout=120)


def test_create_edit_approve_conflict_export_and_audit(server):
    import docx

    created = create(server, ALL, name="Consultation 1")
    assert created.status_code == 200, created.text
    review = created.json()
    assert review["name"] == "Consultation 1" and len(review["items"]) == 2
    for item in review["items"]:
        for key in ("id", "question", "answer", "citations", "status", "unsupported", "stale", "reviewer", "approved_at"):
            assert key in item, key
    first, second = review["items"]
    assert first["question"] == "Who is David Dalton?" and first["status"] == "draft"
    assert "Salford Royal" in first["answer"] and first["citations"] and not first["unsupported"]
    assert set(first["citations"][0]) >= {"marker", "paragraph_id", "document_id", "title", "text", "quote"}
    assert second["abstained"] is True

    read = httpx.get(f"{server}/api/reviews/{review['id']}", headers=ALL)
    assert read.status_code == 200 and [i["id"] for i in read.json()["items"]] == [first["id"], second["id"]]
    listed = httpx.get(f"{server}/api/reviews", headers=ALL).json()
    assert review["id"] in [r["id"] for r in listed]

    # an edit that adds a claim its citation does not support is flagged
    cited = [c["paragraph_id"] for c in first["citations"]]
    edited_text = first["answer"].rstrip() + " " + INVENTED
    edited = patch(server, review["id"], first["id"], ALL, answer=edited_text, citations=cited,
                   expected_version=first["version"])
    assert edited.status_code == 200, edited.text
    edited = edited.json()
    assert edited["answer"] == edited_text
    assert any("pigeons" in s for s in edited["unsupported"]), edited["unsupported"]

    # approving it is refused, then allowed with override (and recorded)
    refused = patch(server, review["id"], first["id"], ALL, status="approved", expected_version=edited["version"])
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["status"] == 409
    approved = patch(server, review["id"], first["id"], ALL, status="approved", override=True,
                     expected_version=edited["version"])
    assert approved.status_code == 200, approved.text
    approved = approved.json()
    assert approved["status"] == "approved" and approved["override"] is True
    assert approved["reviewer"] == token_name("tok-all") and approved["approved_at"]

    # a change made on an old version is refused and the first edit is kept
    stale = patch(server, review["id"], first["id"], ALL, answer="Something else entirely.", citations=[],
                  expected_version=first["version"])
    assert stale.status_code == 409, stale.text
    kept = httpx.get(f"{server}/api/reviews/{review['id']}", headers=ALL).json()["items"][0]
    assert kept["answer"] == edited_text and kept["status"] == "approved" and kept["version"] == approved["version"]

    # the audit log: JSON, CSV and JSON lines
    audit = httpx.get(f"{server}/api/reviews/{review['id']}/audit", headers=ALL)
    assert audit.status_code == 200
    entries = audit.json()
    mine = [e for e in entries if e["item_id"] == first["id"]]
    assert any(e["field"] == "status" and e["after"] == "approved" and e["actor"] == token_name("tok-all") for e in mine)
    assert any(e["field"] == "override" for e in mine), [e["field"] for e in mine]
    assert any(e["field"] == "answer" and e["after"] == edited_text for e in mine)
    as_csv = httpx.get(f"{server}/api/reviews/{review['id']}/audit", params={"format": "csv"}, headers=ALL)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"] and ".csv" in as_csv.headers["content-disposition"]
    assert len(list(csv.reader(io.StringIO(as_csv.text)))) == len(entries) + 1
    as_jsonl = httpx.get(f"{server}/api/reviews/{review['id']}/audit", params={"format": "jsonl"}, headers=ALL)
    assert [json.loads(line)["id"] for line in as_jsonl.text.splitlines()] == [e["id"] for e in entries]

    # the .docx export, read back
    exported = httpx.get(f"{server}/api/reviews/{review['id']}/export", params={"format": "docx"}, headers=ALL)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == DOCX
    assert exported.headers["content-disposition"] == 'attachment; filename="Consultation-1.docx"'
    document = docx.Document(io.BytesIO(exported.content))
    text = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells)
    assert "pigeons" in text and "Who is David Dalton?" in text
    xlsx = httpx.get(f"{server}/api/reviews/{review['id']}/export", params={"format": "xlsx"}, headers=ALL)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert httpx.get(f"{server}/api/reviews/{review['id']}/export", params={"format": "pdf"}, headers=ALL).status_code == 422


def test_bad_requests(server):
    review = create(server, ALL).json()
    item = review["items"][0]
    assert patch(server, review["id"], item["id"], ALL, status="published").status_code in (400, 422)
    assert patch(server, review["id"], item["id"], ALL, citations=["no-such-doc#p1"], answer="x [1].").status_code in (400, 422)
    assert patch(server, review["id"], item["id"], ALL, surprise=1).status_code == 422
    assert patch(server, review["id"], 999999, ALL, comment="hello").status_code == 404
    assert httpx.get(f"{server}/api/reviews/999999", headers=ALL).status_code == 404
    assert create(server, ALL, text="").status_code == 422
    no_file = httpx.post(f"{server}/api/reviews", data={"name": "x"}, headers=ALL)
    assert no_file.status_code == 422
    assert httpx.get(f"{server}/api/reviews").status_code == 401  # no credentials
    # a comment is kept with its author
    commented = patch(server, review["id"], item["id"], ALL, comment="Check the date <b>please</b>")
    assert commented.status_code == 200
    assert commented.json()["comments"][-1]["text"] == "Check the date <b>please</b>"
    assert commented.json()["comments"][-1]["author"] == token_name("tok-all")


def test_a_scoped_caller_cannot_reach_another_collections_review(server):
    secret = create(server, SECRET, text=SECRET_QUESTION + "\n", name="Budget")
    assert secret.status_code == 200, secret.text
    secret = secret.json()
    assert secret["collections"] == ["secret"]
    assert [c["document_id"] for c in secret["items"][0]["citations"]] == [SECRET_DOC]
    item = secret["items"][0]
    for response in (
        httpx.get(f"{server}/api/reviews/{secret['id']}", headers=PUBLIC),
        patch(server, secret["id"], item["id"], PUBLIC, status="rejected"),
        httpx.get(f"{server}/api/reviews/{secret['id']}/audit", headers=PUBLIC),
        httpx.get(f"{server}/api/reviews/{secret['id']}/export", params={"format": "docx"}, headers=PUBLIC),
    ):
        assert response.status_code in (403, 404), (response.request.url, response.status_code)
        assert "forty million" not in response.text and SECRET_DOC not in response.text
    assert secret["id"] not in [r["id"] for r in httpx.get(f"{server}/api/reviews", headers=PUBLIC).json()]
    # asking for a collection outside the caller's scope is refused
    assert create(server, PUBLIC, collections="secret").status_code == 403
    # the unrestricted caller sees it; the owner can work on it
    assert httpx.get(f"{server}/api/reviews/{secret['id']}", headers=ALL).status_code == 200
    assert patch(server, secret["id"], item["id"], SECRET, comment="fine").status_code == 200


def test_paragraph_search_is_scoped(server):
    found = httpx.get(f"{server}/api/paragraphs/search", params={"q": "Salford Royal chief executive"}, headers=PUBLIC)
    assert found.status_code == 200
    results = found.json()
    assert results and {"paragraph_id", "document_id", "title", "paragraph", "text", "view"} <= set(results[0])
    assert any("Salford Royal" in r["text"] for r in results)
    by_id = httpx.get(f"{server}/api/paragraphs/search", params={"q": results[0]["paragraph_id"]}, headers=PUBLIC).json()
    assert by_id[0]["paragraph_id"] == results[0]["paragraph_id"]
    hidden = httpx.get(f"{server}/api/paragraphs/search", params={"q": "Quuxfield hospital capital budget"}, headers=PUBLIC)
    assert hidden.status_code == 200 and SECRET_DOC not in hidden.text
    hidden = httpx.get(f"{server}/api/paragraphs/search", params={"q": f"{SECRET_DOC}#p2"}, headers=PUBLIC)
    assert SECRET_DOC not in hidden.text
    visible = httpx.get(f"{server}/api/paragraphs/search", params={"q": "Quuxfield hospital capital budget"}, headers=SECRET)
    assert visible.json()[0]["document_id"] == SECRET_DOC


def test_local_mode_takes_the_reviewer_from_the_header(served_corpus, served_assistant, tmp_path):
    from assistant.config import Config
    from assistant.server import create_app

    config = Config.from_env(data_dir=served_corpus).replace(llm_base_url=None, database_url=f"sqlite:///{tmp_path / 'r.db'}")
    with ServerThread(create_app(config, served_assistant), free_port()) as running:
        wait_ready(running.url)
        review = create(running.url, {"X-Reviewer": "Alice Example"}).json()
        assert review["created_by"] == "Alice Example"
        item = review["items"][0]
        approved = patch(running.url, review["id"], item["id"], {}, status="approved")
        assert approved.status_code == 200, approved.text
        assert approved.json()["reviewer"] == "local user"
        # with auth configured the header is ignored (tested above: the reviewer is the token's name)


def test_the_reviewer_sees_the_nearest_passages_the_item_does_not_cite(assistant, tmp_path):
    """The item view lists the passages closest to the question that are not cited, escaped."""
    from assistant.auth import Caller
    from assistant.review.records import ReviewItem
    from assistant.review.ui import item_html, nearest_passages

    answer = assistant.ask("Who is David Dalton?")
    assert answer.citations
    item = ReviewItem(id=1, review_id=1, position=1, question_id="q1", question=answer.question, answer=answer.answer,
                      citations=answer.citations, status="draft", unsupported=[], stale=False, stale_paragraphs=[],
                      reviewer=None, approved_at=None, approved_answer=None, approved_citations=[], override=False,
                      comments=[], version=1, abstained=answer.abstained, confidence=answer.confidence)
    nearest = nearest_passages(assistant, Caller("reviewer"), item, k=3)
    cited = {c.paragraph_id for c in answer.citations}
    assert len(nearest) == 3 and not cited & {p["paragraph_id"] for p in nearest}
    html = item_html(item, "", nearest)
    assert "Nearest other passages" in html
    for passage in nearest:
        assert passage["paragraph_id"] in html
    hostile = [{**nearest[0], "text": "<script>alert(1)</script>"}]
    assert "<script>alert(1)" not in item_html(item, "", hostile)


def test_review_names_show_as_typed_in_markdown_messages():
    """A review's name goes into the tab's Markdown status line: nothing in it may become markup."""
    import html

    from markdown_it import MarkdownIt

    from assistant.review.records import MAX_NAME_CHARS, clean_name
    from assistant.text import esc_markdown

    name = "**Q3** _draft_ [see](javascript:alert(1)) `code` <b>x</b> & O'Neil #2 ~~old~~ 1. item | a \\ b"
    rendered = MarkdownIt().renderInline(f"**Review “{esc_markdown(name)}” created:**")
    assert rendered.count("<strong>") == 1 and "<a" not in rendered and "<code>" not in rendered and "<b>" not in rendered
    assert html.unescape(rendered) == f"<strong>Review “{name}” created:</strong>"
    assert clean_name(" Alice\x00\nExample\t") == "Alice Example" and clean_name(None) == ""
    assert len(clean_name("x" * 500)) == MAX_NAME_CHARS
