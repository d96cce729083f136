"""The evaluation splits stay apart: no test question rewords a dev or calibration question about the
same evidence (eval/split_overlap.py), and the check catches the rewordings issue 23 found."""

from __future__ import annotations

import json
from dataclasses import replace

from eval.dataset import load_questions
from eval.split_overlap import CALIBRATION_PATH, find_leaks, main

# The test questions issue 23 found rewording dev or calibration questions, and the five more the check
# found; all were moved to dev, ids kept.
MOVED_FROM_TEST = ("t-002 t-004 t-006 t-015 t-020 t-021 t-026 t-028 t-035 t-037 t-039 t-040 t-045 t-049 t-054 t-056 "
                   "t-061 t-063 t-066 t-067 t-078 t-079").split()


def _row(qid: str, split: str, question: str, paragraphs: list[str]) -> dict:
    answerable = bool(paragraphs)
    return {"id": qid, "split": split, "question": question, "answerable": answerable,
            "reference": "An answer." if answerable else "", "paragraph_ids": paragraphs,
            "category": "fact" if answerable else "unanswerable_on_topic", "history": []}


def _leaks(tmp_path, rows: list[dict]) -> set[tuple[str, str]]:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return {(leak.test_id, leak.dev_id) for leak in find_leaks(load_questions(path))}


def test_a_reworded_question_about_the_same_paragraph_leaks(tmp_path):
    rows = [
        _row("d-1", "dev", "How many staff work for the city council?", ["council#p3"]),
        _row("t-1", "test", "How many people are employed by the city council's staff?", ["council#p3"]),
        # the same words about another paragraph, and another question about the same paragraph: no leak
        _row("t-2", "test", "How many staff work for the city council?", ["council#p9"]),
        _row("t-3", "test", "When did the city council open its new library?", ["council#p3"]),
        # dev questions are never compared with each other
        _row("d-2", "dev", "How many staff work for the city council?", ["council#p3"]),
    ]
    assert _leaks(tmp_path, rows) == {("t-1", "d-1"), ("t-1", "d-2")}


def test_unanswerable_questions_leak_only_when_nearly_word_for_word(tmp_path):
    rows = [
        _row("d-1", "dev", "What was the council's total budget in 2023?", []),
        _row("t-1", "test", "What was the total budget of the council in 2023?", []),
        _row("t-2", "test", "What is the council's budget for 2025?", []),
    ]
    assert _leaks(tmp_path, rows) == {("t-1", "d-1")}


def test_the_check_catches_the_questions_moved_out_of_the_test_split():
    questions = load_questions() + load_questions(CALIBRATION_PATH)
    assert {q.split for q in questions if q.id in MOVED_FROM_TEST} == {"dev"}
    as_before = [replace(q, split="test") if q.id in MOVED_FROM_TEST else q for q in questions]
    assert {leak.test_id for leak in find_leaks(as_before)} == set(MOVED_FROM_TEST)


def test_no_test_question_rewords_a_dev_or_calibration_question(capsys):
    assert main([]) == 0, capsys.readouterr().out
