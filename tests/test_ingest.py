"""Ingest on the real sources and on files the tests make: cleaning, ids, loaders, incremental
updates, bad input, a killed ingest, and the Chroma server mode."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Config
from assistant.embedding import BUNDLED_MODEL_NAME
from assistant.errors import IndexModelMismatch
from assistant.index import Index
from ingest.cleaning import clean
from ingest.loaders import load
from ingest.pipeline import run_ingest
from tests.conftest import ROOT, SOURCES, free_port, make_report_corpus, run_cli

# Each document's own paragraphs, plus its header (#p0: every bundled document's metadata states a date).
EXPECTED_PARAGRAPHS = {
    "ham-2024-politicians-support-nhs-leaders": 15 + 1,
    "kf-2014-leaders-reform-from-within": 11 + 1,
    "kf-2015-inner-stalin": 9 + 1,
    "kf-end-top-down-reform": 7 + 1,
    "nuffield-2015-dorrell-nhs-improvement": 13 + 1,
}


def open_index(data_dir: Path) -> Index:
    return Index.open(Config.from_env(data_dir=data_dir), BUNDLED_MODEL_NAME)


def all_text(index: Index) -> str:
    return "\n".join(p.text for d in index.documents() for p in index.paragraphs_of(d.id))


# --- the real sources ------------------------------------------------------------------------


def test_paragraph_counts_and_metadata(sources_data_dir):
    index = open_index(sources_data_dir)
    counts = {d.id: d.paragraph_count for d in index.documents()}
    assert counts == EXPECTED_PARAGRAPHS
    nuffield = index.document("nuffield-2015-dorrell-nhs-improvement")
    assert nuffield.author == "Stephen Dorrell"
    assert nuffield.date == "2015-09-30"
    assert nuffield.url.startswith("https://www.nuffieldtrust.org.uk/")
    assert index.chroma_count() == sum(EXPECTED_PARAGRAPHS.values())
    header = index.paragraphs_of(nuffield.id)[0]
    assert header.id == "nuffield-2015-dorrell-nhs-improvement#p0" and header.kind == "header"
    assert header.sentence_texts() == [
        "The document was written by Stephen Dorrell and published by Nuffield Trust on 30 September 2015.",
        f"The document's web address is {nuffield.url}",
        "Its title is “What do leaders want from NHS Improvement? The view from Westminster”.",
    ]
    assert index.paragraphs_of("kf-2015-inner-stalin")[1].id == "kf-2015-inner-stalin#p1"  # the text's own numbers stay


def test_ids_stable_across_two_fresh_ingests(sources_data_dir, tmp_path):
    run_ingest([SOURCES], Config.from_env(data_dir=tmp_path / "again"), progress=False)
    first, second = open_index(sources_data_dir), open_index(tmp_path / "again")
    for doc in first.documents():
        a = [(p.id, p.text) for p in first.paragraphs_of(doc.id)]
        b = [(p.id, p.text) for p in second.paragraphs_of(doc.id)]
        assert a == b


@pytest.mark.parametrize(
    "furniture",
    ["Skip to content", "This content is more than five years old", "Watch Jeremy Hunt's speech", "Add your comment",
     "Suggested citation", "This content relates to the following topics", "COTS 2024", "Blog post", "Published: 30/09/2015"],
)
def test_furniture_removed(sources_data_dir, furniture):
    text = all_text(open_index(sources_data_dir))
    assert furniture.lower() not in text.lower()


def test_real_content_kept_and_pull_quotes_once(sources_data_dir):
    index = open_index(sources_data_dir)
    text = all_text(index)
    # A sentence from each document survives cleaning.
    for sentence in [
        "Virginia Mason, Salford Royal and others understand the simple truth",
        "the aim was to become the safest organisation in the NHS",
        "Aligning behind common goals and improvement methods offers the best hope",
        "Access to high-quality care services is inherently political",
        "embracing complementary approaches to reform",
    ]:
        assert sentence in text
    # The pull quote in Chris Ham's article appears in one paragraph only, not twice.
    quote = "The focus on collective action serves as a counterweight to organisational autonomy"
    assert sum(quote in p.text for p in index.paragraphs_of("ham-2024-politicians-support-nhs-leaders")) == 1
    # Headings are section metadata, not paragraphs.
    ham = index.paragraphs_of("ham-2024-politicians-support-nhs-leaders")
    assert all(p.text != "Capability and freedom for systems" for p in ham)
    assert any(p.section == "Capability and freedom for systems" for p in ham)


def test_comments_kept_with_metadata(sources_data_dir):
    paragraphs = open_index(sources_data_dir).paragraphs_of("kf-2014-leaders-reform-from-within")
    comments = [p for p in paragraphs if p.kind == "comment"]
    assert [(c.comment.author, c.comment.role, c.comment.date) for c in comments] == [
        ("Theresa Shaw", "", "19 June 2014"),
        ("david oliver", "Consultant Physician, Royal Berks", "20 June 2014"),
        ("Felicity Taylor", "National Medical Director's Clinical Fellow, NHS England", "20 June 2014"),
    ]
    assert comments[1].text.startswith("I put and FOI request")
    # Bylines are metadata, not text of the article.
    assert not any(p.text in ("Theresa Shaw", "Comment date") for p in paragraphs)


def test_bullets_grouped_with_lead_in(sources_data_dir):
    paragraphs = open_index(sources_data_dir).paragraphs_of("kf-end-top-down-reform")
    unit = next(p for p in paragraphs if "progressing from:" in p.text)
    assert unit.kind == "list"
    assert "large-scale structural reforms towards locally derived solutions" in unit.text
    assert "heroic" in unit.text and "supporting improvement ‘from within’" in unit.text
    focus = next(p for p in paragraphs if "should focus on:" in p.text)
    assert focus.text.count("•") == 11
    # Each bullet is a sentence of its own, with offsets into the paragraph.
    bullets = [focus.text[s.start : s.end] for s in focus.sentences if focus.text[s.start] == "•"]
    assert len(bullets) == 11 and bullets[1] == "• demarcating the role of politicians"


def test_sentences_have_offsets(sources_data_dir):
    paragraph = open_index(sources_data_dir).paragraphs_of("kf-2015-inner-stalin")[5]  # [0] is the header, #p0
    texts = paragraph.sentence_texts()
    assert texts[0].startswith("First, we need to recognise")
    assert len(texts) == 4
    assert all(paragraph.text[s.start : s.end] == t for s, t in zip(paragraph.sentences, texts))


def test_sources_commands(sources_data_dir):
    listed = run_cli("sources", data_dir=sources_data_dir)
    assert listed.returncode == 0
    assert "kf-2015-inner-stalin" in listed.stdout and "No more inner Stalin" in listed.stdout
    shown = run_cli("sources", "show", "kf-2015-inner-stalin", data_dir=sources_data_dir)
    assert shown.returncode == 0
    assert "[kf-2015-inner-stalin#p5]" in shown.stdout and "First, we need to recognise" in shown.stdout
    missing = run_cli("sources", "show", "nope", data_dir=sources_data_dir)
    assert missing.returncode == 2 and "no document 'nope'" in missing.stderr


# --- loaders on files the tests make -----------------------------------------------------------


def make_pdf(path: Path, paragraphs: list[str]) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    story = []
    for text in paragraphs:
        story += [Paragraph(text, styles["BodyText"]), Spacer(1, 18)]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Community care plans", level=1)
    document.add_paragraph("The district will open three new clinics in 2025 to shorten waiting times.")
    document.add_paragraph("The plan rests on these steps:")
    document.add_paragraph("hire forty community nurses", style="List Bullet")
    document.add_paragraph("extend evening opening hours", style="List Bullet")
    document.add_heading("Funding", level=2)
    document.add_paragraph("Funding comes from the regional budget agreed in March.")
    document.save(str(path))


def test_pdf_loader(tmp_path):
    path = tmp_path / "clinic.pdf"
    make_pdf(path, ["The hospital trust cut waiting times by a third in 2019.", "Volunteers staffed the new welcome desk."])
    doc = clean(load(path).blocks)
    texts = [p.text for p in doc.paragraphs]
    assert any("cut waiting times by a third in 2019" in t for t in texts)
    assert any("welcome desk" in t for t in texts)


def test_docx_loader_headings_and_lists(tmp_path):
    path = tmp_path / "plan.docx"
    make_docx(path)
    doc = clean(load(path).blocks)
    assert doc.title == "Community care plans"
    lists = [p for p in doc.paragraphs if p.kind == "list"]
    assert len(lists) == 1
    assert lists[0].text == "The plan rests on these steps:\n• hire forty community nurses\n• extend evening opening hours"
    funding = next(p for p in doc.paragraphs if p.text.startswith("Funding comes"))
    assert funding.section == "Funding"


def _cleaned_html(tmp_path, html: str):
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    return clean(load(path).blocks)


def test_html_loader_drops_scripts_and_navigation(tmp_path):
    doc = _cleaned_html(
        tmp_path,
        "<html><head><title>Ward news</title><script>alert('x')</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        "<main><h1>Ward news</h1><p>The ward reopened on Monday after a refit.</p>"
        "<p>Lead-in for the list:</p><ul><li>new beds</li><li>better lighting</li></ul>"
        "<p>Skip to content</p></main><footer>Copyright</footer></body></html>",
    )
    texts = [p.text for p in doc.paragraphs]
    assert doc.title == "Ward news"
    assert "The ward reopened on Monday after a refit." in texts
    assert "Lead-in for the list:\n• new beds\n• better lighting" in texts
    joined = " ".join(texts)
    assert "alert" not in joined and "Home" not in joined and "Copyright" not in joined and "Skip to content" not in joined


def test_html_loader_drops_sphinx_and_aria_furniture(tmp_path):
    """Generated documentation (Sphinx) marks its navigation with ARIA roles and class names, not <nav>."""
    doc = _cleaned_html(
        tmp_path,
        "<html><head><title>json module</title></head><body>"
        "<div class='related' role='navigation'><ul><li><a href='index.html'>index</a></li><li>modules |</li></ul></div>"
        "<div class='document'><div class='body' role='main'>"
        "<h1>json — JSON encoder<a class='headerlink' href='#json'>¶</a></h1>"
        "<p>The json module exposes an API familiar to users of pickle.</p></div></div>"
        "<div class='sphinxsidebar' role='navigation'><h3>Previous topic</h3><p>email — An email package</p></div>"
        "<div role='search'><p>Quick search</p></div>"
        "<div class='footer'>© Copyright 2001-2023, Python Software Foundation.</div></body></html>",
    )
    texts = [p.text for p in doc.paragraphs]
    assert texts == ["The json module exposes an API familiar to users of pickle."]
    assert doc.title == "json — JSON encoder"  # the "¶" anchor is gone too


def test_a_loader_change_reingests_only_its_format():
    from ingest.loaders import LOADER_VERSIONS
    from ingest.pipeline import content_hash

    raw = b"<p>The same bytes</p>"
    assert LOADER_VERSIONS.get(".html"), "the HTML loader changed its output, so its files carry a version"
    # Files of formats whose loader did not change keep the hash they had before versions existed.
    assert content_hash(raw, {}, "default", ".txt") == content_hash(raw, {}, "default")
    assert content_hash(raw, {}, "default", ".html") != content_hash(raw, {}, "default")
    assert content_hash(raw, {}, "default", ".HTML") == content_hash(raw, {}, "default", ".html")


def test_repeated_sentences_are_encoded_once(tmp_path):
    """Each distinct text is encoded once per group; every copy gets the same vector."""
    from assistant.config import Config
    from assistant.embedding import get_embedder
    from ingest.pipeline import embed_documents, parse_document

    repeated = "For example, the call returns a list."
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(
            f"The {name} function reads a file. {repeated}\n\nIt never writes. {repeated}\n", encoding="utf-8"
        )
    config = Config.from_env(data_dir=tmp_path / "index")
    docs = [parse_document(tmp_path / f"{n}.txt", n, "default", {}, config.max_file_bytes) for n in ("a", "b")]
    embedder = get_embedder(config.embed_model_path)
    seen: list[list[str]] = []

    class Counting:
        def encode(self, texts, batch_size=32):
            seen.append(list(texts))
            return embedder.encode(texts, batch_size=batch_size)

    vectors = embed_documents(docs, Counting(), 32)
    sentences = [s for d in docs for p in d.paragraphs for s in p.sentence_texts()]
    assert sentences.count(repeated) == 4
    assert len(seen) == 1 and seen[0].count(repeated) == 1 and len(seen[0]) == len(set(sentences))
    copies = [vecs[i] for doc, (_, sent_vectors) in zip(docs, vectors) for p, vecs in zip(doc.paragraphs, sent_vectors)
              for i, s in enumerate(p.sentence_texts()) if s == repeated]
    assert len(copies) == 4 and all(np.array_equal(copies[0], v) for v in copies)
    fresh = embedder.encode([repeated])[0]
    assert float(fresh @ copies[0]) > 0.999


def test_markdown_loader(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\nSome **bold** text about [nurses](http://x).\n\n## Later\n\n- one item\n- two items\n", encoding="utf-8")
    doc = clean(load(path).blocks)
    assert doc.title == "Notes"
    assert doc.paragraphs[0].text == "Some bold text about nurses."
    assert doc.paragraphs[1].text == "• one item\n• two items"


# --- incremental updates --------------------------------------------------------------------------


def test_incremental_add_change_remove(copy_of_sources, tmp_path):
    config = Config.from_env(data_dir=tmp_path / "data")
    first = run_ingest([copy_of_sources], config, progress=False)
    assert len(first.added) == 5

    again = run_ingest([copy_of_sources], config, progress=False)
    assert again.added == again.changed == again.removed == [] and len(again.unchanged) == 5
    assert again.paragraphs_embedded == 0

    changed = copy_of_sources / "kf-2015-inner-stalin.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nA new closing paragraph about winter pressures.\n", encoding="utf-8")
    (copy_of_sources / "extra.md").write_text("# Extra\n\nThe extra document mentions the Tredegar bedpan.\n", encoding="utf-8")
    (copy_of_sources / "kf-end-top-down-reform.txt").unlink()
    report = run_ingest([copy_of_sources], config, progress=False)
    assert report.changed == ["kf-2015-inner-stalin"]
    assert report.added == ["extra"]
    assert report.removed == ["kf-end-top-down-reform"]
    assert len(report.unchanged) == 3
    # Only the changed and the new document were embedded: 10 paragraphs and the header (#p0), and the
    # new one's paragraph and its header (its heading states its title).
    assert report.paragraphs_embedded == 10 + 1 + 1 + 1

    index = open_index(tmp_path / "data")
    assert index.document("kf-end-top-down-reform") is None
    assert index.paragraphs_of("kf-end-top-down-reform") == []
    assert index.paragraphs_of("kf-2015-inner-stalin")[-1].text == "A new closing paragraph about winter pressures."
    # Deleted from every index: Chroma and BM25 too.
    assert index.chroma_count() == index.paragraph_count()
    from assistant.text import content_terms

    hits = index.lexical_search(content_terms("progressing from large-scale structural reforms"), 50)
    assert all(not h.paragraph_id.startswith("kf-end-top-down-reform") for h in hits)


def test_collections_filter(copy_of_sources, tmp_path):
    config = Config.from_env(data_dir=tmp_path / "data")
    other = tmp_path / "other"
    other.mkdir()
    (other / "memo.txt").write_text("The finance memo says the Tredegar budget was frozen.\n", encoding="utf-8")
    run_ingest([copy_of_sources], config, progress=False)
    run_ingest([other], config, collection="finance", progress=False)
    index = open_index(tmp_path / "data")
    assert [d.id for d in index.documents(["finance"])] == ["memo"]
    from assistant.embedding import get_embedder

    vector = get_embedder().encode_one("Tredegar budget frozen")
    assert {h.paragraph_id.split("#")[0] for h in index.dense_search(vector, 5, collections=["finance"])} == {"memo"}
    assert "memo" not in {h.paragraph_id.split("#")[0] for h in index.dense_search(vector, 80, collections=["default"])}


def test_model_mismatch_is_a_clear_error(sources_data_dir):
    with pytest.raises(IndexModelMismatch, match="re-ingest"):
        Index.open(Config.from_env(data_dir=sources_data_dir), "some-other-model")


# --- bad input -----------------------------------------------------------------------------------------


def test_bad_files_are_skipped_with_reasons(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("A good document about community nursing in Leeds.\n", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage\n")
    (folder / "corrupt.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "table.xlsx").write_bytes(b"whatever")
    (folder / "latin1.txt").write_bytes("Les hôpitaux régionaux ont réduit les délais d'attente à Besançon.\n".encode("cp1252"))
    (folder / "big.txt").write_text("word " * 300_000, encoding="utf-8")
    config = Config.from_env(data_dir=tmp_path / "data").replace(max_file_bytes=1_000_000)
    report = run_ingest([folder], config, progress=False)
    assert sorted(report.added) == ["good", "latin1"]
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["binary.txt"]
    assert "PDF" in reasons["corrupt.pdf"]
    assert "DOCX" in reasons["corrupt.docx"]
    assert "unsupported file type .xlsx" == reasons["table.xlsx"]
    assert "over the 1 MB limit" in reasons["big.txt"]
    index = open_index(tmp_path / "data")
    assert "Besançon" in index.paragraphs_of("latin1")[0].text


def test_exit_status_nonzero_only_when_nothing_ingested(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    result = run_cli("ingest", str(folder), "-q", data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert "skipped" in result.stdout and "empty file" in result.stdout
    (folder / "ok.txt").write_text("Some real text about hospital discharge.\n", encoding="utf-8")
    result = run_cli("ingest", str(folder), "-q", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert "added 1" in result.stdout and "skipped 1" in result.stdout


def test_killed_ingest_leaves_a_working_index_and_resumes(tmp_path):
    corpus = tmp_path / "corpus"
    make_report_corpus(corpus, 24)  # 24 documents x 60 sentences: several embedding groups
    data_dir = tmp_path / "data"
    # Groups of 512 sentences: the 1,440 sentences make three groups, so a kill can land between commits.
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_INGEST_GROUP_SENTENCES="512")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ingest", str(corpus), "-q"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    catalog = data_dir / "catalog.sqlite3"
    deadline = time.time() + 240
    done_before_kill = 0
    while time.time() < deadline and proc.poll() is None:
        if catalog.exists():
            try:
                with sqlite3.connect(catalog, timeout=1) as db:
                    done_before_kill = db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
            except sqlite3.Error:
                done_before_kill = 0
            if done_before_kill > 0:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "ingest finished before it could be killed; make the corpus bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < done_before_kill < 24

    # The index still answers from what was finished.
    from assistant.core import Assistant

    answer = Assistant.open(config=Config.from_env(data_dir=data_dir)).ask("What did report 1 find about ambulances?")
    assert answer.answer

    result = run_cli("ingest", str(corpus), "-q", data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    index = open_index(data_dir)
    assert len(index.documents()) == 24
    unchanged = int(result.stdout.split("unchanged ")[1].split(",")[0])
    added = int(result.stdout.split("added ")[1].split(",")[0])
    assert unchanged >= done_before_kill and unchanged + added == 24
    assert index.chroma_count() == index.paragraph_count() == 24 * 20
    assert not index.lexical_is_stale


# --- the Chroma server mode ------------------------------------------------------------------------------


@pytest.fixture()
def chroma_server(tmp_path):
    import httpx

    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise RuntimeError("chroma run did not start")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_chroma_server_mode(chroma_server, tmp_path):
    import chromadb

    env = {"ASSISTANT_CHROMA_HOST": "127.0.0.1", "ASSISTANT_CHROMA_PORT": str(chroma_server)}
    result = run_cli("ingest", str(SOURCES), "-q", data_dir=tmp_path / "data", env=env)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "data" / "chroma").exists()  # nothing embedded locally
    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_server)
    assert client.get_collection("assistant-paragraphs").count() == sum(EXPECTED_PARAGRAPHS.values())
    asked = run_cli("ask", "--json", "Who is David Dalton?", data_dir=tmp_path / "data", env=env)
    assert asked.returncode == 0, asked.stderr
    assert "kf-2014-leaders-reform-from-within#p" in asked.stdout
