"""`assistant reader train-decision` (training/decision_train.py): the labels of the product's candidates, a
real run of a few steps over a small corpus written for this test (only its train documents are indexed), and
the refusals: questions about a document outside the train split, a folder that is not a corpus."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.reader import READER_DIR, load_cross_encoder, read_reader_json

DOCS = {
    "harbour_plan.md": """# Harbour improvement plan

The harbour board will dredge the north channel in 2025 so that larger ferries can berth.

The plan sets aside £4 million for new pontoons, to be built by a local contractor.

Fishing boats keep their moorings on the east quay while the works go on.
""",
    "library_review.md": """# Review of the county libraries

The review found that visits to the county's 14 libraries fell by a third between 2015 and 2020.

It recommends opening the larger libraries on Sunday afternoons.

Mobile library vans will continue to serve villages without a branch.
""",
    "dev_only.md": """# A development document

This text is in the dev split: training must never index it.
""",
}

QUESTIONS = [
    {"doc": "harbour_plan.md", "question": "Which channel will the harbour board dredge?", "is_impossible": False,
     "answers": ["the north channel"], "context": "The harbour board will dredge the north channel in 2025 so that larger ferries can berth."},
    {"doc": "harbour_plan.md", "question": "How much does the plan set aside for new pontoons?", "is_impossible": False,
     "answers": ["£4 million"], "context": "The plan sets aside £4 million for new pontoons, to be built by a local contractor."},
    {"doc": "harbour_plan.md", "question": "How many ferries use the harbour each week?", "is_impossible": True,
     "answers": [], "context": "The harbour board will dredge the north channel in 2025 so that larger ferries can berth."},
    {"doc": "library_review.md", "question": "How many libraries does the county have?", "is_impossible": False,
     "answers": ["14 libraries"], "context": "The review found that visits to the county's 14 libraries fell by a third between 2015 and 2020."},
    {"doc": "library_review.md", "question": "What is the libraries' annual budget?", "is_impossible": True,
     "answers": [], "context": "It recommends opening the larger libraries on Sunday afternoons."},
]


def _corpus(root: Path, questions=QUESTIONS) -> tuple[Path, Path]:
    corpus = root / "corpus"
    (corpus / "docs").mkdir(parents=True)
    for name, text in DOCS.items():
        (corpus / "docs" / name).write_text(text, encoding="utf-8")
    splits = {"train": ["harbour_plan.md", "library_review.md"], "dev": ["dev_only.md"], "test": []}
    (corpus / "splits.json").write_text(json.dumps(splits), encoding="utf-8")
    questions_file = root / "questions.jsonl"
    questions_file.write_text("".join(json.dumps({"id": f"q{i}", **q}) + "\n" for i, q in enumerate(questions)), encoding="utf-8")
    return corpus, questions_file


def test_labels_say_what_a_candidate_can_teach():
    from training.decision_train import label

    context = "The plan sets aside £4 million for new pontoons."
    assert label(True, ["£4 million"], context, "It sets aside £4 million for pontoons.", "It sets aside £4 million for pontoons.") == 1.0
    # Not the answer, in a paragraph without it: a negative. In the answer's paragraph: left out (it may say it in other words).
    assert label(True, ["£4 million"], context, "Fishing boats keep their moorings.", "Fishing boats keep their moorings.") == 0.0
    assert label(True, ["£4 million"], context, "Pontoons matter.", "Pontoons matter. It costs £4 million.") is None
    assert label(False, [], context, "The plan sets aside £4 million for new pontoons.", context) == 0.0


def test_a_few_steps_write_a_decision_model_from_the_train_documents_only(tmp_path, monkeypatch):
    import training.decision_train as decision_train

    monkeypatch.setattr(decision_train, "CACHE", tmp_path / "cache")
    corpus, questions = _corpus(tmp_path)
    out = tmp_path / "decision"
    code = decision_train.main(["--corpus", str(corpus), "--init", str(READER_DIR), "--out", str(out), "--questions", str(questions),
                                "--max-steps", "2", "--batch-size", "4", "--evaluations", "1"])
    assert code == 0
    record = read_reader_json(out)
    step = record["decision_training"]
    assert step["started_from"]["version"] == read_reader_json(READER_DIR)["version"]
    assert step["data"]["train_documents"] == ["harbour_plan.md", "library_review.md"]
    assert step["data"]["train_pairs"] > 0 and step["data"]["train_positive"] >= 1 and step["steps"] == 2
    linked = {p.name for p in (tmp_path / "cache").glob("decision-train-docs-*/*")}
    assert linked == {"harbour_plan.md", "library_review.md"}  # the dev document is never indexed
    assert "train-decision" in (out / "README.md").read_text()
    model = load_cross_encoder(out)
    scores = model.predict([("Which channel will be dredged?", "Harbour improvement plan | The board will dredge the north channel.")])
    assert len(scores) == 1
    assert not (out / "checkpoint" / "state.pt").exists()


def test_questions_about_other_documents_or_a_folder_without_splits_are_refused(tmp_path, monkeypatch, capsys):
    import training.decision_train as decision_train

    monkeypatch.setattr(decision_train, "CACHE", tmp_path / "cache")
    outside = [*QUESTIONS, {"doc": "dev_only.md", "question": "What split is this text in?", "is_impossible": False,
                            "answers": ["the dev split"], "context": "This text is in the dev split: training must never index it."}]
    corpus, questions = _corpus(tmp_path, outside)
    code = decision_train.main(["--corpus", str(corpus), "--init", str(READER_DIR), "--out", str(tmp_path / "d"), "--questions", str(questions)])
    assert code == 2 and "dev_only.md" in capsys.readouterr().err
    code = decision_train.main(["--corpus", str(tmp_path), "--init", str(READER_DIR), "--out", str(tmp_path / "d"), "--questions", str(questions)])
    assert code == 2 and "splits.json" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_the_command_is_documented():
    from tests.conftest import run_cli

    result = run_cli("reader", "train-decision", "--help", timeout=120)
    assert result.returncode == 0 and "--corpus" in result.stdout and "--init" in result.stdout


def test_a_follow_up_is_searched_with_its_previous_turn_and_judged_on_its_own_words(tmp_path, monkeypatch):
    """As in use: "Who will build them?" is searched for with the previous turn in brackets, its candidates are
    labelled against its answer, and the decision model learns from the question the user typed."""
    import training.decision_train as decision_train

    monkeypatch.setattr(decision_train, "CACHE", tmp_path / "cache")
    corpus, _ = _corpus(tmp_path)
    config = decision_train.train_index(decision_train.train_documents(corpus), log=lambda *_: None)
    follow_up = {"doc": "harbour_plan.md", "question": "Who will build them?", "is_impossible": False, "answers": ["a local contractor"],
                 "context": "The plan sets aside £4 million for new pontoons, to be built by a local contractor.",
                 "history": [{"role": "user", "content": "What new pontoons does the harbour plan fund?"},
                             {"role": "assistant", "content": "It sets aside £4 million for new pontoons."}]}
    (asked,) = decision_train.ask_questions([follow_up], config, log=lambda *_: None)
    assert asked.question == "Who will build them?"
    assert asked.searched_for.startswith("Who will build them? (What new pontoons does the harbour plan fund? It sets aside")
    answering = [c for c, y in zip(asked.candidates, asked.labels) if y == 1.0]
    assert answering and "local contractor" in answering[0]
