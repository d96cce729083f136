"""The evaluation suite: the set is well-formed against the real index, the metrics are right on
hand-made cases, `assistant eval` runs as a user runs it (gate passes on the current product, an
impossible threshold fails it, the report and chart are written, a fresh data folder is ingested
first), and the judge path runs end to end against a real llama.cpp server with SmolLM2."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from assistant.answer import Answer, Citation
from eval.dataset import ROOT, CATEGORIES, DatasetError, load_questions, unknown_paragraphs
from eval.metrics import QuestionRun, Score, alce, bootstrap_interval, offline_scores, summarise, SPEC_BY_NAME
from conftest import run_cli
from llama_server import llama_server  # noqa: F401 - the fixture

# --- the evaluation set ------------------------------------------------------------------------------


def test_dataset_is_well_formed_and_covers_what_the_issue_asks():
    questions = load_questions()
    by_split = Counter(q.split for q in questions)
    assert set(by_split) == {"dev", "test"}
    # The frozen test split (issue 11): written apart from the product, at least 60 questions, 20 of
    # them unanswerable (10 near misses), 8 two-turn follow-ups and 5 metadata questions.
    test = [q for q in questions if q.split == "test"]
    assert len(test) >= 60
    assert sum(not q.answerable for q in test) >= 20
    assert sum(q.category == "unanswerable_on_topic" for q in test) >= 10
    assert sum(q.category == "follow_up" for q in test) >= 8
    metadata = [q for q in test if q.category == "metadata"]
    assert len(metadata) >= 5 and all(any(pid.endswith("#p0") for pid in q.paragraph_ids) for q in metadata)
    assert {q.category for q in test} == set(CATEGORIES)
    assert all(q.category != "metadata" for q in questions if q.split == "dev")
    assert sum(not q.answerable for q in questions) >= 12
    follow_ups = [q for q in questions if q.category == "follow_up"]
    for q in follow_ups:
        assert [t.role for t in q.history] == ["user", "assistant"], q.id
    dalton = [q for q in follow_ups if q.history[0].content == "Who is David Dalton?" and "aim" in q.question]
    assert dalton and dalton[0].paragraph_ids == ("kf-2014-leaders-reform-from-within#p4",)
    assert "safest organisation" in dalton[0].reference
    assert all(len(q.documents) >= 2 for q in questions if q.category == "multi_doc" and q.split == "dev")
    assert all(all(pid.startswith("kf-2014-leaders-reform-from-within#") for pid in q.paragraph_ids)
               for q in questions if q.category == "comment")
    assert any(len(q.paragraph_ids) >= 3 for q in questions if q.category == "list")


def test_calibration_set_is_well_formed_and_apart_from_the_evaluation_set(assistant):
    """eval/data/calibration.jsonl: in-domain questions written apart from the evaluation set, for
    calibrating and checking the refusal decision (never part of the gate)."""
    calibration = load_questions(ROOT / "eval" / "data" / "calibration.jsonl")
    assert len(calibration) >= 40 and {q.split for q in calibration} == {"dev"}
    assert sum(not q.answerable for q in calibration) >= 20
    assert sum(q.category == "unanswerable_on_topic" for q in calibration) >= 12
    known = {p.id for d in assistant.index.documents() for p in assistant.index.paragraphs_of(d.id)}
    assert unknown_paragraphs(calibration, known) == []
    evaluation = load_questions()
    assert not {q.id for q in calibration} & {q.id for q in evaluation}
    assert not {q.question.lower() for q in calibration} & {q.question.lower() for q in evaluation}


def test_every_reference_paragraph_exists_in_the_real_index_and_holds_text(assistant):
    questions = load_questions()
    known = {p.id for d in assistant.index.documents() for p in assistant.index.paragraphs_of(d.id)}
    assert unknown_paragraphs(questions, known) == []
    # The comment questions point at reader comments, not at the article.
    comment_ids = {pid for q in questions if q.category == "comment" for pid in q.paragraph_ids}
    paragraphs = assistant.index.paragraphs(sorted(comment_ids))
    assert all(p.kind == "comment" for p in paragraphs.values()), {pid: p.kind for pid, p in paragraphs.items()}


def test_spot_checks_of_reference_paragraphs(assistant):
    """A few facts of the set, looked up in the paragraphs the set says hold them."""
    questions = {q.id: q for q in load_questions()}
    expectations = {
        "fact-02": "1.4 million",
        "fact-03": "six acute trusts",
        "fact-05": "NHS Improvement",
        "follow-01": "safest organisation in the NHS",
        "comment-04": "junior",
    }
    for qid, needle in expectations.items():
        texts = [p.text for p in assistant.index.paragraphs(list(questions[qid].paragraph_ids)).values()]
        assert any(needle in t for t in texts), qid
    three = assistant.index.paragraphs(list(questions["list-01"].paragraph_ids))
    starts = [three[pid].text[:9] for pid in questions["list-01"].paragraph_ids]
    assert starts == ["First, we", "Second, s", "The third"]
    five = assistant.index.paragraphs(list(questions["list-02"].paragraph_ids))
    assert [five[pid].text.split(",")[0] for pid in questions["list-02"].paragraph_ids] == ["First", "Second", "Third", "Fourth", "Fifth"]


@pytest.mark.parametrize(
    "line, problem",
    [
        ("not json", "not JSON"),
        ('{"id": "x"}', "missing"),
        ('{"id":"x","split":"train","question":"q","answerable":true,"reference":"r","paragraph_ids":["d#p1"],"category":"fact","history":[]}', "split"),
        ('{"id":"x","split":"dev","question":"q","answerable":true,"reference":"","paragraph_ids":["d#p1"],"category":"fact","history":[]}', "reference"),
        ('{"id":"x","split":"dev","question":"q","answerable":false,"reference":"","paragraph_ids":[],"category":"fact","history":[{"role":"user","content":"hi"}]}', "follow-ups"),
        ('{"id":"x","split":"dev","question":"q","answerable":true,"reference":"r","paragraph_ids":["d#p1"],"category":"unanswerable_on_topic","history":[]}', "must be unanswerable"),
        ('{"id":"x","split":"dev","question":"q","answerable":true,"reference":"r","paragraph_ids":["p1"],"category":"fact","history":[]}', "paragraph_ids"),
    ],
)
def test_malformed_lines_are_rejected(tmp_path, line, problem):
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(DatasetError, match=problem):
        load_questions(path)


# --- metrics on hand-made cases ---------------------------------------------------------------------------

P4 = ("David Dalton gave his perspective as chief executive of Salford Royal NHS Foundation Trust, one of the case "
      "studies in our report, where the aim was to become the safest organisation in the NHS. Key ingredients included "
      "setting specific goals for improvement and measuring progress towards them.")
P2 = ("In the week before Christmas, the Times reported that the Secretary of State for Health and Social Care, Victoria "
      "Atkins, had called in leaders of NHS trusts where patients have the longest waits in ambulances before being "
      "transferred to A&E departments.")
P7 = ("An example is the West Yorkshire Association of Acute Trusts (WYAAT), which brings together six acute trusts to "
      "deliver joined-up hospital services.")
# A sentence that merges a fact of P4 with one of P7: only the two read together support it.
JOINT = ("The aim at Salford Royal was to become the safest organisation in the NHS, and the West Yorkshire Association "
         "of Acute Trusts brings together six acute trusts.")


@pytest.fixture(scope="module")
def embedder():
    from assistant.embedding import get_embedder

    return get_embedder()


@pytest.mark.parametrize(
    "text, cited, recall, precision",
    [
        # a verbatim sentence of the cited paragraph
        ("Key ingredients included setting specific goals for improvement and measuring progress towards them. [1]",
         {1: ("a#p4", P4)}, 1.0, 1.0),
        # the same sentence citing a paragraph that does not say it
        ("Key ingredients included setting specific goals for improvement and measuring progress towards them. [1]",
         {1: ("b#p2", P2)}, 0.0, 0.0),
        # supported by [1]; [2] is irrelevant (alone it fails, and [1] still supports without it)
        ("Key ingredients included setting specific goals for improvement and measuring progress towards them. [1][2]",
         {1: ("a#p4", P4), 2: ("b#p2", P2)}, 1.0, 0.5),
        # needs both paragraphs: neither alone supports it, so both citations are precise (ALCE)
        (f"{JOINT} [1][2]", {1: ("a#p4", P4), 2: ("c#p7", P7)}, 1.0, 1.0),
        # a sentence citing nothing, and a marker pointing to no paragraph
        ("Salford Royal aimed to be the safest organisation in the NHS.", {}, 0.0, 0.0),
        ("Key ingredients included setting specific goals for improvement and measuring progress towards them. [3]",
         {1: ("a#p4", P4)}, 0.0, 0.0),
        # one supported sentence, one invented
        ("Key ingredients included setting specific goals for improvement and measuring progress towards them. [1] "
         "Victoria Atkins called in leaders of NHS trusts. [1]", {1: ("a#p4", P4)}, 0.5, 0.5),
    ],
)
def test_alce_citation_recall_and_precision(embedder, text, cited, recall, precision):
    result = alce(text, cited, embedder)
    assert result.citation_recall == pytest.approx(recall)
    assert result.citation_precision == pytest.approx(precision)


def test_joint_support_is_not_individual_support(embedder):
    result = alce(f"{JOINT} [1][2]", {1: ("a#p4", P4), 2: ("c#p7", P7)}, embedder)
    assert [(s.jointly_supported, s.supported) for s in result.sentences] == [(True, False)]


@pytest.mark.xfail(strict=False, reason="known weakness of the CPU-trained verifier 20261205-071247: a faithful merge that "
                   "rewords ('David Dalton led Salford Royal, which aimed ...') is read as a contradiction (P 0.98) against "
                   "the two paragraphs together; verifier 20261205-010226 supported it. Faithful claims accepted on blind "
                   "claims: 0.662 (docs/benchmarks.md)")
def test_a_reworded_merge_is_jointly_supported(embedder):
    text = ("David Dalton led Salford Royal, which aimed to become the safest organisation in the NHS, while the West "
            "Yorkshire Association of Acute Trusts brings together six acute trusts. [1][2]")
    result = alce(text, {1: ("a#p4", P4), 2: ("c#p7", P7)}, embedder)
    assert [(s.jointly_supported, s.supported) for s in result.sentences] == [(True, False)]


def test_bootstrap_interval_and_summaries():
    assert bootstrap_interval([1, 1, 1, 1], [1, 1, 1, 1]) == (1.0, 1.0)
    low, high = bootstrap_interval([0, 1] * 50, [1] * 100)
    assert 0.38 < low < 0.5 < high < 0.62
    assert bootstrap_interval([1, 0], [1, 1]) == bootstrap_interval([1, 0], [1, 1])  # fixed seed
    # pooled ratio: 3 of 4 sentences, not the mean of 1/1 and 2/3
    s = summarise(SPEC_BY_NAME["support_rate"], [Score(1, 1), Score(2, 3), None, Score(math.nan)])
    assert s.value == pytest.approx(3 / 4)
    assert (s.n, s.n_nan, s.n_population) == (2, 1, 3)
    empty = summarise(SPEC_BY_NAME["faithfulness"], [None, Score(math.nan)])
    assert math.isnan(empty.value) and empty.n_nan == 1


def _citation(marker: int, pid: str, text: str) -> Citation:
    doc, n = pid.split("#p")
    return Citation(marker, pid, doc, "t", "p", "", "", int(n), text, text)


def _run(qid: str, answerable: bool, answer: Answer, retrieved: list[str], refs: list[str], reference: str = "") -> QuestionRun:
    from eval.dataset import EvalQuestion

    q = EvalQuestion(qid, "test", "q?", answerable, reference if answerable else "", tuple(refs),
                     "fact" if answerable else "unanswerable_off_topic")
    texts = {"a#p4": P4, "b#p2": P2, "c#p7": P7}
    return QuestionRun(q, answer, retrieved, [texts.get(r, "other text") for r in retrieved], [texts[r] for r in refs])


def test_offline_scores_on_hand_made_runs(embedder):
    sentence = "Key ingredients included setting specific goals for improvement and measuring progress towards them."
    answered_right = Answer("q?", f"{sentence} [1] {P2} [2]", False, [_citation(1, "a#p4", P4), _citation(2, "b#p2", P2)])
    refused = Answer("q?", "The sources do not answer this question.", True)
    answered_wrong = Answer("q?", f"{P7} [1]", False, [_citation(1, "c#p7", P7)])
    runs = [
        _run("r1", True, answered_right, ["a#p4", "b#p2", "c#p7", "x#p1"], ["a#p4"], reference=sentence),
        _run("r2", True, refused, ["c#p7"], ["a#p4", "b#p2"], reference="Atkins."),
        _run("u1", False, refused, ["c#p7"], []),
        _run("u2", False, answered_wrong, ["c#p7"], []),
    ]
    scores, alce_results = offline_scores(runs, embedder)
    v = {name: [None if s is None else round(s.value, 4) for s in values] for name, values in scores.items()}
    assert v["retrieved_id_recall"] == [1.0, 0.0, None, None]
    assert v["retrieved_id_precision"] == [0.25, 0.0, None, None]
    assert v["cited_id_recall"] == [1.0, 0.0, None, None]
    assert v["cited_id_precision"] == [0.5, None, None, None]
    assert v["non_llm_context_recall"] == [1.0, 0.0, None, None]
    assert v["cites_answer"] == [1.0, 0.0, None, None]
    assert v["over_refusal_rate"] == [0.0, 1.0, None, None]
    assert v["abstention_recall"] == [None, None, 1.0, 0.0]
    assert v["abstention_precision"] == [None, 0.0, 1.0, None]
    assert v["decision_accuracy"] == [1.0, 0.0, 1.0, 0.0]
    assert v["citation_recall"] == [1.0, None, None, 1.0]
    assert v["support_rate"] == [1.0, None, None, 1.0]
    assert v["rouge_l"][0] > 0.3 and v["rouge_l"][1] < 0.2
    assert v["string_similarity"][0] > v["string_similarity"][1]
    assert alce_results[1] is None and len(alce_results[0].sentences) == 2


# --- the command ---------------------------------------------------------------------------------------------


def _metrics(report: Path) -> dict:
    return json.loads(report.with_suffix(".json").read_text())["metrics"]


# The gate itself runs on the test split once, in scripts/test.sh; the tests never run test questions.


@pytest.mark.slow
def test_eval_writes_the_report_with_each_failed_dev_question(sources_data_dir, tmp_path):
    report = tmp_path / "reports" / "latest.md"
    result = run_cli("eval", "--split", "dev", "--report", str(report), data_dir=sources_data_dir, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    text = report.read_text()
    assert "## Figures" in text and "## Failures" in text and "latest.png" in text
    assert "ALCE citation recall" in text and "Abstention precision" in text
    assert report.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = _metrics(report)
    assert metrics["decision_accuracy"]["population"] == len(load_questions(split="dev"))
    for name in ("retrieved_id_recall", "cited_id_recall", "rouge_l", "abstention_recall", "cites_answer"):
        assert 0.0 <= metrics[name]["value"] <= 1.0
        assert metrics[name]["low"] <= metrics[name]["value"] <= metrics[name]["high"]
    # every failed question is in the table, with its expected and cited paragraphs
    detail = json.loads(report.with_suffix(".json").read_text())["questions_detail"]
    for q in detail:
        if q["failures"]:
            assert f"| {q['id']} |" in text
            for pid in q["expected"]:
                assert f"`{pid}`" in text


@pytest.fixture()
def stand_in_test_split(tmp_path, monkeypatch):
    """A two-question evaluation set standing in for eval/data/questions.jsonl, so the gate runs without
    the real test split: one question sources/ answers, one it does not."""
    from eval import suite

    rows = [{"id": "x-1", "split": "test", "question": "Who is the chief executive of Salford Royal?", "answerable": True,
             "reference": "David Dalton.", "paragraph_ids": ["kf-2014-leaders-reform-from-within#p4"], "category": "fact",
             "history": []},
            {"id": "x-2", "split": "test", "question": "Who painted the Mona Lisa?", "answerable": False, "reference": "",
             "paragraph_ids": [], "category": "unanswerable_off_topic", "history": []}]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setattr(suite, "DATASET_PATH", path)
    return path


@pytest.mark.slow
def test_gate_fails_with_an_impossible_threshold_and_names_it(stand_in_test_split, sources_data_dir, tmp_path, monkeypatch, capsys):
    from assistant.cli import main

    thresholds = tmp_path / "impossible.toml"
    thresholds.write_text("[floors]\ndecision_accuracy = 1.01\nrouge_l = 0.0\n[ceilings]\nover_refusal_rate = -0.01\n")
    common = ["eval", "--split", "test", "--gate", "--data-dir", str(sources_data_dir)]
    monkeypatch.setenv("ASSISTANT_EVAL_THRESHOLDS", str(thresholds))
    assert main([*common, "--report", str(tmp_path / "r.md")]) == 1
    err = capsys.readouterr().err
    assert "gate FAILED" in err
    assert "decision_accuracy" in err and "below its floor 1.010" in err
    assert "over_refusal_rate" in err and "above its ceiling" in err
    assert "rouge_l" not in err
    # a test-split report holds aggregate figures only: no question, outcome or id
    report = tmp_path / "r.md"
    text = report.read_text()
    assert "## Figures" in text and "## Failures" not in text and "Mona Lisa" not in text and "x-1" not in text
    assert "questions_detail" not in json.loads(report.with_suffix(".json").read_text())
    # the same file through the option
    monkeypatch.delenv("ASSISTANT_EVAL_THRESHOLDS")
    assert main([*common, "--thresholds", str(thresholds), "--report", str(tmp_path / "r2.md")]) == 1
    assert "decision_accuracy" in capsys.readouterr().err


def test_bad_usage_exits_2(sources_data_dir, tmp_path):
    result = run_cli("eval", "--split", "dev", "--gate", "--report", str(tmp_path / "r.md"), data_dir=sources_data_dir)
    assert result.returncode == 2 and "test split" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[floors]\nno_such_metric = 0.5\n")
    result = run_cli("eval", "--split", "dev", "--thresholds", str(bad), "--report", str(tmp_path / "r.md"), data_dir=sources_data_dir)
    assert result.returncode == 2 and "no_such_metric" in result.stderr
    result = run_cli("eval", "--split", "test", "--gate", "--questions", "eval/data/calibration.jsonl",
                     "--report", str(tmp_path / "r.md"), data_dir=sources_data_dir)
    assert result.returncode == 2 and "evaluation set" in result.stderr


def test_eval_reads_another_question_file(sources_data_dir, tmp_path):
    report = tmp_path / "cal.md"
    result = run_cli("eval", "--questions", "eval/data/calibration.jsonl", "--split", "dev", "--limit", "3",
                     "--report", str(report), data_dir=sources_data_dir, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    text = report.read_text()
    assert "calibration.jsonl, not the evaluation set" in text and "Questions: 3" in text


@pytest.mark.slow
def test_eval_on_a_fresh_data_folder_ingests_the_sources_first(tmp_path):
    data_dir = tmp_path / "fresh"
    report = tmp_path / "r.md"
    result = run_cli("eval", "--split", "dev", "--limit", "2", "--report", str(report), data_dir=data_dir, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (data_dir).exists() and report.exists()
    assert "sources/ ingested" in report.read_text()


# --- the judge, end to end against llama.cpp ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.llm
def test_judge_path_against_llama_cpp_server(llama_server, sources_data_dir, tmp_path):  # noqa: F811
    report = tmp_path / "judged.md"
    result = run_cli(
        "eval", "--split", "dev", "--limit", "2", "--judge-url", llama_server.base_url, "--judge-model", "smollm2",
        "--report", str(report), data_dir=sources_data_dir, env={"ASSISTANT_JUDGE_JSON_SCHEMA": "1"}, timeout=1800,
    )
    assert result.returncode == 0, result.stdout + result.stderr + llama_server.log_tail()
    data = json.loads(report.with_suffix(".json").read_text())
    assert data["judge"]["model"] == "smollm2" and data["judge"]["base_url"] == llama_server.base_url
    answered = sum(1 for q in data["questions_detail"] if not q["abstained"])
    nan_total = 0
    for name in ("faithfulness", "response_relevancy", "factual_correctness"):
        m = data["metrics"][name]
        assert m["n"] + m["nan"] == m["population"]
        nan_total += m["nan"]
        if m["n"]:
            assert 0.0 <= m["value"] <= 1.0
    assert data["metrics"]["faithfulness"]["population"] == answered
    # NaNs are counted and each has a reason in the report
    assert len(data["judge_failures"]) == nan_total
    text = report.read_text()
    assert "Judge: base_url = " in text and "smollm2" in text and "## Judge failures" in text
    assert "POST /v1/chat/completions" in llama_server.log_tail(2000)
