"""Several app machines on one Chroma server (issue 13), with real parts on loopback: a real
`chroma run` started here, two real `assistant serve` processes (replicas) with separate, empty data
folders, and `assistant ingest` runs as a third process, one of them killed with SIGKILL.

The replicas answer alike (and as the embedded mode does on the same corpus), see a document added,
changed and removed by a later ingest within the poll bound while they keep serving, never serve a
half-written document, stay on the last complete corpus when an ingest is killed, and keep
collection scopes exactly as in embedded mode. The tests share one cluster and run in file order;
each uses its own collection for the documents it adds, so the corpus of "default" and "secret"
(the one the embedded comparison uses) never changes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, SOURCES, free_port, make_report_corpus, run_cli
from serving_helpers import (  # noqa: F401 - fixtures
    SECRET_DOC,
    SECRET_QUESTION,
    served_assistant,
    served_corpus,
    write_hostile_and_secret,
)

POLL_S = 1.0
# A replica must show an ingest's result within the poll interval plus the time to fetch the changed
# documents and rebuild BM25 (well under a second here; the slack covers a loaded 2-core CI machine).
VISIBLE_WITHIN_S = POLL_S + 10
ALL = {"Authorization": "Bearer tok-all"}
PUBLIC = {"Authorization": "Bearer tok-pub"}  # the "default" collection only
QUESTIONS = [
    "Who is David Dalton?",
    "What three conditions need to be met if Hunt's ideas are to gain traction?",
    "What did Stephen Dorrell say about NHS Improvement?",
    SECRET_QUESTION,
]


@dataclass
class Cluster:
    chroma_port: int
    replicas: list[str]
    base: Path

    @property
    def env(self) -> dict:
        return {"ASSISTANT_CHROMA_HOST": "127.0.0.1", "ASSISTANT_CHROMA_PORT": str(self.chroma_port),
                "ASSISTANT_LLM_BASE_URL": ""}

    def ingest(self, *args: str, extra_env: dict | None = None):
        """`assistant ingest ARGS` as its own process, with its own data folder (the lock file only)."""
        result = run_cli("ingest", *args, "-q", data_dir=self.base / "ingest-data", env={**self.env, **(extra_env or {})})
        assert result.returncode == 0, result.stdout + result.stderr
        return result


def _start_chroma(path: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("chroma run did not start")


def _start_replica(base: Path, name: str, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    data_dir = base / name  # empty, and no other process ever writes it
    data_dir.mkdir()
    full_env = {**os.environ, **env, "ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_CORPUS_POLL_S": str(POLL_S),
                "ASSISTANT_API_TOKENS": "tok-all,tok-pub:default"}
    log = open(base / f"{name}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--no-ingest", "--port", str(port)],
                            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"the replica at {url} exited with {proc.returncode}"
        try:
            if httpx.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One Chroma server holding the served corpus (the bundled sources and a hostile document in
    "default", a document in "secret"), ingested by separate processes, and two replicas."""
    base = tmp_path_factory.mktemp("replicas")
    chroma, chroma_port = _start_chroma(base / "chroma-server")
    replicas: list[subprocess.Popen] = []
    try:
        cluster = Cluster(chroma_port, [], base)
        hostile, secret = write_hostile_and_secret(base)
        cluster.ingest(str(SOURCES))
        cluster.ingest(str(hostile))
        cluster.ingest(str(secret), "--collection", "secret")
        for name in ("replica-a", "replica-b"):
            proc, url = _start_replica(base, name, cluster.env)
            replicas.append(proc)
            cluster.replicas.append(url)
        for proc, url in zip(replicas, cluster.replicas):
            _wait_ready(url, proc)
        yield cluster
    finally:
        for proc in replicas:
            proc.send_signal(signal.SIGINT)
        for proc in replicas:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        chroma.terminate()
        chroma.wait(timeout=30)


def ask(url: str, question: str, headers: dict = ALL, **body) -> dict:
    response = httpx.post(f"{url}/api/ask", json={"question": question, **body}, headers=headers, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def cited(answer: dict) -> list[str]:
    return [c["paragraph_id"] for c in answer["citations"]]


def sources(url: str, headers: dict = ALL) -> dict[str, dict]:
    response = httpx.get(f"{url}/api/sources", headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return {d["id"]: d for d in response.json()}


def wait_until(predicate, timeout: float, what: str) -> float:
    """Seconds until `predicate()` held; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


# --- the tests (in file order: the later ones add documents to collections of their own) ----------


def test_replicas_answer_alike_and_as_embedded(cluster, served_assistant):
    a, b = cluster.replicas
    for question in QUESTIONS:
        first, second = ask(a, question), ask(b, question)
        embedded = served_assistant.ask(question).to_dict()
        assert cited(first), (question, first["answer"])
        assert (first["answer"], cited(first)) == (second["answer"], cited(second)), question
        assert (first["answer"], cited(first)) == (embedded["answer"], cited(embedded)), question
        assert first["citations"] == second["citations"]
    assert sources(a) == sources(b)
    assert set(sources(a)) == {d.id for d in served_assistant.index.documents()}


def test_collection_scopes_as_in_embedded_mode(cluster, served_assistant):
    for url in cluster.replicas:
        # a token limited to "default" never sees the secret document, as embedded mode with that filter
        assert set(sources(url, PUBLIC)) == {d.id for d in served_assistant.index.documents(["default"])}
        assert httpx.get(f"{url}/api/sources/{SECRET_DOC}", headers=PUBLIC).status_code == 404
        assert httpx.get(f"{url}/api/sources/{SECRET_DOC}", headers=ALL).status_code == 200
        scoped = ask(url, SECRET_QUESTION, PUBLIC)
        embedded = served_assistant.ask(SECRET_QUESTION, collections=["default"]).to_dict()
        assert (scoped["answer"], cited(scoped)) == (embedded["answer"], cited(embedded))
        assert not any(pid.startswith(SECRET_DOC) for pid in cited(scoped))
        assert httpx.post(f"{url}/api/ask", json={"question": SECRET_QUESTION, "collections": ["secret"]},
                          headers=PUBLIC, timeout=60).status_code == 403
        full = ask(url, SECRET_QUESTION, ALL, collections=["secret"])
        embedded = served_assistant.ask(SECRET_QUESTION, collections=["secret"]).to_dict()
        assert cited(full) == cited(embedded) and cited(full)[0].startswith(SECRET_DOC + "#p")


class AskingLoop:
    """Asks both replicas in a loop from a thread; records every failure."""

    def __init__(self, urls: list[str]):
        self.urls = urls
        self.errors: list[str] = []
        self.asked = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for url in self.urls:
                try:
                    response = httpx.post(f"{url}/api/ask", json={"question": QUESTIONS[0]}, headers=PUBLIC, timeout=60)
                    if response.status_code != 200 or response.json()["status"] != "answered":
                        self.errors.append(f"{url}: {response.status_code} {response.text[:300]}")
                except Exception as exc:  # noqa: BLE001 - recorded, the test fails on it
                    self.errors.append(f"{url}: {exc!r}")
                self.asked += 1

    def __enter__(self) -> "AskingLoop":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=120)


def test_add_change_remove_reach_both_replicas_while_they_serve(cluster):
    folder = cluster.base / "live"
    folder.mkdir()
    note = folder / "blorvic.txt"
    question = "When does the Blorvic committee meet?"

    def everywhere(check) -> bool:
        return all(check(url) for url in cluster.replicas)

    with AskingLoop(cluster.replicas) as loop:
        note.write_text("Blorvic committee\n\nThe Blorvic committee meets on the first Monday of each month.\n")
        cluster.ingest(str(folder), "--collection", "live")
        added = wait_until(lambda: everywhere(lambda u: "blorvic#p1" in cited(ask(u, question))), VISIBLE_WITHIN_S, "added")

        note.write_text("Blorvic committee\n\nThe Blorvic committee meets on the last Friday of each quarter.\n")
        cluster.ingest(str(folder), "--collection", "live")
        changed = wait_until(lambda: everywhere(lambda u: "last Friday" in ask(u, question)["answer"]), VISIBLE_WITHIN_S, "changed")

        note.unlink()
        cluster.ingest(str(folder), "--collection", "live")
        removed = wait_until(
            lambda: everywhere(lambda u: httpx.get(f"{u}/api/sources/blorvic", headers=ALL).status_code == 404
                               and not any(p.startswith("blorvic#") for p in cited(ask(u, question)))),
            VISIBLE_WITHIN_S, "removed",
        )
        time.sleep(POLL_S)
    print(f"seen on both replicas after the ingest ended: added {added:.1f} s, changed {changed:.1f} s, "
          f"removed {removed:.1f} s; {loop.asked} questions asked meanwhile")
    assert loop.asked > 0 and not loop.errors, loop.errors[:5]


def test_a_half_written_document_is_never_served(cluster):
    """A writer killed between a document's rows and its record (made exact here by writing the rows
    and not the record): readers stay on the previous complete version, and never show a new document
    that has no record; the next ingest completes both."""
    from assistant.config import Config
    from assistant.embedding import get_embedder
    from assistant.index import Index
    from ingest.pipeline import content_hash, embed_documents, parse_document

    folder = cluster.base / "half"
    folder.mkdir()
    kestrel = folder / "kestrel.txt"
    kestrel.write_text("Kestrel rota\n\nThe Kestrel rota starts at seven in the morning.\n")
    cluster.ingest(str(folder), "--collection", "half")
    question = "When does the Kestrel rota start?"
    wait_until(lambda: all("seven" in ask(u, question)["answer"] for u in cluster.replicas), VISIBLE_WITHIN_S, "v1")

    kestrel.write_text("Kestrel rota\n\nThe Kestrel rota starts at nine in the evening.\n")
    (folder / "osprey.txt").write_text("Osprey roster\n\nThe Osprey roster is drawn up by the ward sister.\n")
    config = Config.from_env(data_dir=cluster.base / "writer").replace(
        chroma_host="127.0.0.1", chroma_port=cluster.chroma_port)
    embedder = get_embedder(None)
    writer = Index.open(config, embedder.name, create=True)
    documents = []
    for path, doc_id in ((kestrel, "kestrel"), (folder / "osprey.txt", "osprey")):
        document = parse_document(path, doc_id, "half", {}, config.max_file_bytes)
        assert document.content_hash == content_hash(path.read_bytes(), {}, "half", ".txt")
        documents.append(document)
    vectors = embed_documents(documents, embedder, 32)
    writer._write_vectors([(d, p, s) for d, (p, s) in zip(documents, vectors)])  # rows written, records not
    writer._server.bump_version()  # as if earlier documents of the run had been published
    time.sleep(3 * POLL_S + 1)
    for url in cluster.replicas:
        answer = ask(url, question)
        assert "seven" in answer["answer"] and "nine" not in answer["answer"], answer["answer"]
        assert "osprey" not in sources(url)
        page = httpx.get(f"{url}/api/sources/kestrel", headers=ALL).json()
        assert "seven" in page["paragraphs"][-1]["text"]

    result = cluster.ingest(str(folder), "--collection", "half")
    assert "added 1, changed 1" in result.stdout, result.stdout
    wait_until(lambda: all("nine" in ask(u, question)["answer"] and "osprey" in sources(u) for u in cluster.replicas),
               VISIBLE_WITHIN_S, "v2")


def test_killed_ingest_leaves_replicas_on_the_last_complete_corpus_and_resumes(cluster):
    import chromadb

    corpus = cluster.base / "bulk"
    make_report_corpus(corpus, 24)  # 24 documents x 60 sentences; groups of 512 sentences publish 8-9 documents each
    records = chromadb.HttpClient(host="127.0.0.1", port=cluster.chroma_port).get_collection("assistant-paragraphs-records")

    manifest = records.get(ids=["manifest"], include=["metadatas"])["metadatas"][0]
    assert manifest["embed_dim"] == 384 and manifest["embed_model"].endswith("all-MiniLM-L6-v2") and manifest["reader_version"]

    def published() -> int:
        return len(records.get(where={"collection": "bulk"}, include=[])["ids"])

    before = {url: ask(url, QUESTIONS[0]) for url in cluster.replicas}
    env = {**os.environ, **cluster.env, "ASSISTANT_DATA_DIR": str(cluster.base / "ingest-data"),
           "ASSISTANT_INGEST_GROUP_SENTENCES": "512"}
    proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "ingest", str(corpus), "--collection", "bulk", "-q"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and published() == 0:  # killed once a document is out
        time.sleep(0.05)
    time.sleep(0.3)  # most kills land while a group is being embedded, not while it is published
    assert proc.poll() is None, "the ingest finished before it could be killed; make the corpus bigger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = published()
    assert 0 < done < 24

    time.sleep(3 * POLL_S + 1)
    for url in cluster.replicas:
        bulk = {doc_id: d for doc_id, d in sources(url).items() if d["collection"] == "bulk"}
        # Every published document, complete; only one whose record the kill caught before its version
        # bump (milliseconds apart) may wait for the next run's first bump.
        assert max(1, done - 1) <= len(bulk) <= done and all(d["paragraphs"] == 20 for d in bulk.values()), (done, bulk)
        answer = ask(url, QUESTIONS[0])
        assert (answer["answer"], cited(answer)) == (before[url]["answer"], cited(before[url]))

    result = cluster.ingest(str(corpus), "--collection", "bulk")
    unchanged = int(result.stdout.split("unchanged ")[1].split(",")[0])
    added = int(result.stdout.split("added ")[1].split(",")[0])
    assert (unchanged, added) == (done, 24 - done), result.stdout  # finished documents are not redone
    wait_until(lambda: all(sum(d["collection"] == "bulk" for d in sources(u).values()) == 24 for u in cluster.replicas),
               VISIBLE_WITHIN_S, "the resumed ingest")
    for url in cluster.replicas:
        answer = ask(url, "What did report 1 find about ambulances?")
        assert any(pid.startswith("report-001#") for pid in cited(answer)), answer


def test_an_ingest_job_mirrors_the_corpus_only_when_a_review_needs_it(cluster, copy_of_sources, tmp_path, monkeypatch):
    """An ingest in server mode reads the server's records, not its paragraphs: a no-change re-ingest
    fetches no document. When a document that a signed-off review answer cites changes, the job
    mirrors the corpus to compare the cited text, and the answer goes stale, as in embedded mode."""
    from assistant.auth import Caller
    from assistant.batch.records import Question, QuestionSet
    from assistant.config import Config
    from assistant.core import Assistant
    from assistant.index_server import ServerStore
    from assistant.review.service import ReviewService
    from ingest.pipeline import run_ingest

    fetched: list[str] = []
    real_fetch = ServerStore.fetch

    def counting_fetch(self, records):  # the real fetch, counted
        fetched.extend(r.document.id for r in records)
        return real_fetch(self, records)

    monkeypatch.setattr(ServerStore, "fetch", counting_fetch)
    # A Chroma collection of its own on the cluster's server: the replicas' corpus is not touched.
    config = Config.from_env(data_dir=tmp_path / "writer").replace(
        chroma_host="127.0.0.1", chroma_port=cluster.chroma_port, chroma_collection="reviewed", llm_base_url=None,
        database_url=f"sqlite:///{tmp_path / 'reviews.db'}")
    first = run_ingest([copy_of_sources], config, progress=False)
    assert len(first.added) == len(list(copy_of_sources.glob("*.txt"))) and fetched == []

    again = run_ingest([copy_of_sources], config, progress=False)
    assert (again.added, again.changed, again.removed) == ([], [], []) and len(again.unchanged) == len(first.added)
    assert fetched == [], "a no-change re-ingest mirrored the corpus"

    reader = Assistant.open(config=config.replace(data_dir=tmp_path / "reader"))  # a replica: mirrors everything
    assert len(set(fetched)) == len(first.added)
    fetched.clear()
    service = ReviewService.open(config)
    alice, bob = Caller("alice", None), Caller("bob", None)
    review = service.create("Server mode", QuestionSet("q.txt", [Question("q1", QUESTIONS[0])]), reader, alice)
    item = review.items[0]
    service.update_item(review.id, item.id, bob, status="approved")
    cited_paragraph = item.citations[0]
    source = copy_of_sources / f"{cited_paragraph.document_id}.txt"
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace(cited_paragraph.text[:60], cited_paragraph.text[:60] + " It was later revised.", 1),
                      encoding="utf-8")

    changed = run_ingest([copy_of_sources], config, progress=False)
    assert changed.changed == [cited_paragraph.document_id]
    assert fetched, "the review check ran without the server's paragraphs"
    assert any("review stale" in note for note in changed.notes), changed.notes
    now = service.get_item(review.id, item.id, bob)
    assert now.stale and now.status == "needs-work"
    assert "It was later revised." in {p.paragraph_id: p for p in now.stale_paragraphs}[cited_paragraph.paragraph_id].new_text
    service.close()
