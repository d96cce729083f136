"""Smoke tests of `assistant bench ...` on tiny data the tests write: each benchmark runs through the
real product (real embeddings, real index) and prints its figures; the metrics are checked on cases
whose answer is known. No timings are asserted."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from assistant.cli import main

TOPICS = [
    ("Volcanic eruptions", "Magma rises through the crust and erupts as lava. Ash clouds can disrupt flights for days."),
    ("Honey bees", "Honey bees communicate the location of flowers with a waggle dance. A colony has one queen."),
    ("Photosynthesis", "Plants convert sunlight, water and carbon dioxide into glucose. Oxygen is released as a by-product."),
    ("Glaciers", "Glaciers are slow rivers of ice. They carve U-shaped valleys as they advance and retreat."),
    ("Coral reefs", "Coral reefs are built by colonies of tiny polyps. Warming seas cause coral bleaching."),
    ("Black holes", "A black hole bends spacetime so strongly that light cannot escape. Its boundary is the event horizon."),
    ("Vaccines", "Vaccines train the immune system with a harmless antigen. Memory cells respond quickly to later infection."),
    ("Tides", "Tides are caused by the gravitational pull of the Moon and the Sun on the oceans."),
    ("Earthquakes", "Earthquakes happen when stress along a fault is suddenly released. Seismometers record the waves."),
    ("Bread baking", "Yeast ferments sugars and releases carbon dioxide, which makes bread dough rise."),
    ("Antibiotic resistance", "Bacteria that survive antibiotics pass on resistance genes. Overuse speeds this up."),
    ("Solar panels", "Photovoltaic cells turn sunlight directly into electricity using semiconductor junctions."),
    ("Migration of birds", "Many birds migrate thousands of kilometres, navigating by the stars and the magnetic field."),
    ("Sleep", "Deep sleep consolidates memories. Adults need seven to nine hours of sleep each night."),
    ("Rainforests", "Tropical rainforests hold more than half of the world's plant and animal species."),
    ("Steam engines", "A steam engine uses the pressure of boiling water to push a piston."),
    ("Blood types", "Blood types depend on antigens on red blood cells: A, B, AB and O."),
    ("Plate tectonics", "The lithosphere is broken into plates that drift on the mantle a few centimetres a year."),
    ("Chess openings", "The Sicilian Defence answers 1.e4 with c5 and leads to sharp, unbalanced games."),
    ("Tea", "Green and black tea come from the same plant; black tea leaves are oxidised before drying."),
]


@pytest.fixture()
def beir_folder(tmp_path) -> Path:
    """A 20-document BEIR-format folder; each query is its document's title, so BM25 must rank it first."""
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as fh:
        for n, (title, text) in enumerate(TOPICS):
            fh.write(json.dumps({"_id": f"d{n}", "title": title, "text": text}) + "\n")
    queries = {str(n): f"{TOPICS[n][0]}: how do they work?" for n in (0, 2, 5, 7, 9)}
    train = {str(n): f"What is known about {TOPICS[n][0].lower()}?" for n in (1, 3, 4, 6)}
    with (folder / "queries.jsonl").open("w") as fh:
        for qid, text in {**queries, **train}.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    # Two relevant documents for one query (the second one far down), so nDCG is not all ones.
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\td{q}\t1\n" for q in queries) + "0\td18\t1\n")
    # Train queries: the bench chooses its fusion weights on them (and must still write the product's run).
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\td{q}\t1\n" for q in train))
    return folder


def test_ranking_metrics():
    from eval.bench_retrieval import ndcg_at, recall_at

    rels = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "c"], rels) == pytest.approx(1.0)
    # one relevant document at rank 2 of two: (1/log2 3) / (1 + 1/log2 3)
    assert ndcg_at(["c", "a"], rels) == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    assert ndcg_at(["c", "d"], rels) == 0.0
    assert recall_at(["a", "x", "y"], rels, k=2) == 0.5
    assert recall_at(["x"] * 100 + ["a"], rels, k=100) == 0.0


def test_squad_scoring_helpers():
    from eval.bench_squad import auc, contains_answer, sample_questions, SquadQuestion

    assert contains_answer("It is located in France, in the north.", ["France"])
    assert not contains_answer("It is located in Francesca's house.", ["France"])
    assert contains_answer("The 10th and 11th centuries.", ["the 10th and 11th centuries"])
    assert auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert auc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert auc([0.5, 0.5], [True, False]) == 0.5
    questions = [SquadQuestion(str(i), "q", i % 3 == 0, [], "", "") for i in range(300)]
    sample = sample_questions(questions, 60)
    assert len(sample) == 60 and sum(q.is_impossible for q in sample) == 20
    assert sample == sample_questions(questions, 60)  # fixed seed
    assert [int(q.id) for q in sample] == sorted(int(q.id) for q in sample)


def test_bench_scifact_on_a_tiny_beir_folder(beir_folder, tmp_path, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert main(["bench", "scifact", str(beir_folder), "--out", str(out), "--cache", str(cache)]) == 0
    printed = capsys.readouterr().out
    assert "nDCG@10" in printed and "(PRODUCT, as configured)" in printed and "bge-small-en-v1.5" in printed
    figures = json.loads((out / "scifact.json").read_text())["figures"]
    runs = {r["name"]: r for r in figures["runs"]}
    assert figures["queries"] == 5 and figures["documents"] == 20
    bm25 = next(r for name, r in runs.items() if name.startswith("BM25"))
    # The title is in the query, so BM25 ranks each query's document first (query 0's second relevant
    # document shares none of its words: it costs that query some nDCG).
    assert bm25["ndcg@10"] > 0.9
    for r in runs.values():
        assert 0.0 <= r["ndcg@10"] <= 1.0 and 0.0 <= r["recall@100"] <= 1.0
    lines = (out / "scifact_hybrid.trec").read_text().splitlines()
    first = lines[0].split()
    assert len(first) == 6 and first[1] == "Q0" and first[3] == "1" and first[5] == "cited-assistant-hybrid-convex"
    assert {line.split()[5] for line in lines} == {"cited-assistant-hybrid-convex"}  # the product's fusion
    # The run file re-scores (trec_eval's reading: by score, ties by document id descending) to the
    # very figures the PRODUCT row prints.
    from eval.bench_retrieval import load_beir, read_trec, score_run

    rescored = score_run("file", read_trec(out / "scifact_hybrid.trec"), load_beir(beir_folder, "test").qrels)
    product = next(r for name, r in runs.items() if "(PRODUCT, as configured)" in name)
    assert (rescored.ndcg10, rescored.recall100) == (product["ndcg@10"], product["recall@100"])
    assert rescored.ndcg10 == figures["product_hybrid"]["ndcg@10"] and figures["product_hybrid"]["fusion"] == "convex"
    assert "CHOSEN ON TRAIN" in printed  # the tuning loops ran before the run file was written
    assert {line.split()[0] for line in lines} == {"0", "2", "5", "7", "9"}
    top = {line.split()[0]: line.split()[2] for line in lines if line.split()[3] == "1"}
    assert sum(top[q] == f"d{q}" for q in top) >= 4
    assert list(cache.glob("scifact-sentences-*.npy")), "sentence embeddings are cached"
    # A second run reads the cache and gives the same figures.
    assert main(["bench", "scifact", str(beir_folder), "--out", str(out), "--cache", str(cache)]) == 0
    assert json.loads((out / "scifact.json").read_text())["figures"]["runs"] == figures["runs"]


def test_bench_squad2_on_a_tiny_folder(tmp_path, capsys):
    folder = tmp_path / "squad2"
    folder.mkdir()
    paragraphs = [
        ("dev-00-000", "France", "Paris is the capital of France. The city lies on the river Seine and has about two million inhabitants."),
        ("dev-01-000", "Honey bee", "A honey bee colony has a single queen, which lays up to two thousand eggs a day in spring."),
        ("dev-02-000", "Mount Everest", "Mount Everest is the highest mountain above sea level. It was first climbed in 1953 by Edmund Hillary and Tenzing Norgay."),
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in paragraphs))
    (folder / "corpus_distractors.jsonl").write_text(json.dumps({"_id": "test-00-000", "title": "Tea", "text": "Black tea leaves are oxidised before drying."}) + "\n")
    questions = [
        ("q1", "What is the capital of France?", False, ["Paris"], "dev-00-000"),
        ("q2", "How many eggs does a honey bee queen lay a day?", False, ["up to two thousand", "two thousand"], "dev-01-000"),
        ("q3", "Who first climbed Mount Everest?", False, ["Edmund Hillary and Tenzing Norgay"], "dev-02-000"),
        ("q4", "What is the capital of the river Seine's delta region in Brazil?", True, [], "dev-00-000"),
        ("q5", "Who first climbed Mount Everest in winter without oxygen in 1812?", True, [], "dev-02-000"),
    ]
    with (folder / "questions.jsonl").open("w") as fh:
        for qid, text, impossible, answers, gold in questions:
            fh.write(json.dumps({"id": qid, "question": text, "is_impossible": impossible, "answers": answers,
                                 "answers_all": answers, "plausible_answers": [], "gold_doc_id": gold, "title": ""}) + "\n")
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert main(["bench", "squad2", str(folder), "--out", str(out), "--cache", str(cache)]) == 0
    printed = capsys.readouterr().out
    assert "decision accuracy" in printed and "over-refusal" in printed
    figures = json.loads((out / "squad2.json").read_text())["figures"]
    assert figures["questions"] == 5 and figures["unanswerable"] == 2
    assert figures["documents_indexed"] == 4 and figures["documents_not_one_paragraph"] == 0
    assert figures["gather_ask_disagreements"] == 0
    assert figures["answerable_gold_rank_1"] == 1.0  # each answerable question names its paragraph's topic
    rows = [json.loads(line) for line in (out / "squad2_rows.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["q1", "q2", "q3", "q4", "q5"]
    for r in rows:
        assert (r["cited_gold"] is None) == r["abstained"]
        assert 0.0 <= r["probability"] <= 1.0
        assert (r["best_sentence_has_gold"] is None) == r["is_impossible"]
    # The reader's best sentence holds the answer of each answerable question.
    assert figures["answerable_best_sentence_contains_gold"] == 1.0
    # Every figure the bench printed is recomputed from the rows it wrote.
    from eval.bench_squad import SquadRow, summarise

    again = summarise([SquadRow(**r) for r in rows], figures["threshold"])
    assert again == {k: figures[k] for k in again}


def test_bench_ingest_on_a_small_folder(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n, (title, text) in enumerate(TOPICS[:6]):
        (corpus / f"doc{n}.md").write_text(f"# {title}\n\n{text}\n\nA second paragraph, on {TOPICS[n + 6][1].lower()}\n")
    (corpus / "page.html").write_text("<html><head><title>A page</title></head><body><main><h1>A page</h1>"
                                      "<p>Paragraph one is here. It has two sentences.</p><ul><li>an item</li></ul></main></body></html>")
    assert main(["bench", "ingest", str(corpus), "--out", str(tmp_path / "out"), "--raw-sentences"]) == 0
    printed = capsys.readouterr().out
    assert "ingest paragraphs/s" in printed and "no-change re-ingest" in printed
    figures = json.loads((tmp_path / "out" / "ingest.json").read_text())["figures"]
    assert figures["documents_added"] == 7 and figures["reingest_unchanged"] == 7
    assert figures["paragraphs"] >= 13 and figures["raw_encode_paragraphs_per_s"] > 0
    assert figures["ratio_ingest_to_raw_paragraph_encode"] > 0 and figures["raw_encode_sentences_per_s"] > 0
    assert 0 < figures["encode_share_of_ingest"] <= 1
    assert 0 < figures["texts_encoded_in_ingest"] <= figures["sentences"]


def test_bench_ask_on_the_bundled_index(sources_data_dir, tmp_path, capsys):
    assert main(["bench", "ask", "--data-dir", str(sources_data_dir), "--rounds", "1", "--limit", "4", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for stage in ("embed", "dense", "bm25", "rescore", "fuse", "read", "compose", "total"):
        assert f"| {stage}" in printed
    figures = json.loads((tmp_path / "ask.json").read_text())["figures"]
    assert figures["asks"] == 4 and figures["stages_ms"]["total"]["p50"] > 0 and figures["stages_ms"]["read"]["p50"] > 0
    # The printed percentiles are recomputed from the per-ask measurements written beside them.
    from eval.bench_common import percentile

    for stage in ("read", "total"):
        assert figures["stages_ms"][stage]["p50"] == percentile(figures["per_ask_ms"][stage], 50)
    assert figures["wall_ms"]["p95"] == percentile(figures["per_ask_ms"]["wall"], 95)


def test_bench_startup_measures_a_server_until_ready(tmp_path, capsys):
    """The cold-start measurement on a tiny HTTP server that becomes ready after a delay."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import http.server, os, time
        started = time.time()
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ok = self.path == "/readyz" and time.time() - started > 0.5
                self.send_response(200 if ok else 503); self.end_headers(); self.wfile.write(b"ok")
            def log_message(self, *a): pass
        http.server.HTTPServer(("127.0.0.1", int(os.environ["ASSISTANT_PORT"])), H).serve_forever()
    """))
    data_dir = tmp_path / "index"
    assert main(["bench", "startup", str(script), "--rounds", "2", "--data-dir", str(data_dir), "--out", str(tmp_path / "out")]) == 0
    figures = json.loads((tmp_path / "out" / "startup.json").read_text())["figures"]
    assert figures["failed"] == 0 and len(figures["runs"]) == 2
    for run in figures["runs"]:
        assert run["ready_s"] >= 0.5 and run["port_answers_s"] <= run["ready_s"]
    assert "ready s" in capsys.readouterr().out


def test_bench_startup_reports_a_missing_app(tmp_path, capsys):
    assert main(["bench", "startup", str(tmp_path / "nope.py")]) == 1
    assert "does not exist" in capsys.readouterr().out


def test_bench_needs_its_data_folder(tmp_path, capsys):
    assert main(["bench", "scifact", str(tmp_path / "missing")]) == 2
    assert main(["bench", "squad2"]) == 2
    assert "needs PATH" in capsys.readouterr().err


def test_the_benchmarks_never_import_the_dispatcher_back():
    """eval/bench.py imports each benchmark to run it; they share eval/bench_common.py, never eval/bench.py."""
    from tests.conftest import imported_modules

    folder = Path(__file__).resolve().parents[1] / "eval"
    assert {"eval.bench_common", "eval.bench_squad", "eval.policy_qa"} <= imported_modules(folder / "bench.py")
    benchmarks = [*folder.glob("bench_*.py"), folder / "policy_qa.py", folder / "load_test.py"]
    assert len(benchmarks) >= 7
    assert [p.name for p in benchmarks if "eval.bench" in imported_modules(p)] == []
    assert not {m for m in imported_modules(folder / "bench_common.py") if m.startswith("eval")}
