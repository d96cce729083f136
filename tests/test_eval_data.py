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


# The policy corpus's dev documents (../shared/bench/policy-corpus/splits.json): the only ones dev claims are over.
POLICY_DEV_DOCUMENTS = {
    "cpicb_blood_glucose_ketone_self_monitoring_guideline_2024.pdf", "beis_monitoring_evaluation_framework.pdf",
    "mhra_medical_safety_alert_transwarmer_infant_mattress.html", "dft_connecting_people_strategic_vision_for_rail_2017.html",
    "cabinet_office_sue_gray_report_gatherings_2022.md", "ukhsa_stats_guidance_clear_accessible_spreadsheets.md",
    "skills_england_assessment_of_priority_skills_to_2030.md", "fsa_evaluation_action_plan_2022.pdf",
}


def test_the_dev_claims_are_over_dev_documents_and_apart_from_the_test_claims():
    """eval/data/claims_dev.jsonl (claims written blind over the dev documents, for choosing between verifiers)
    names only dev documents, holds well-formed claims, and shares no premise with the frozen claim test set."""
    import re
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "eval" / "data"
    dev = [json.loads(line) for line in (data / "claims_dev.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    test = [json.loads(line) for line in (data / "claims_test.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]

    def squashed(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    assert len(dev) >= 250 and len({r["id"] for r in dev}) == len(dev)
    assert {r["doc"] for r in dev} <= POLICY_DEV_DOCUMENTS
    assert {r["label"] for r in dev} == {"entailment", "contradiction", "neutral"}
    assert all(r["premise"].strip() and r["hypothesis"].strip() and r["kind"] for r in dev)
    test_premises = [squashed(r["premise"]) for r in test]
    shared = [r["id"] for r in dev if any(squashed(r["premise"]) in t or t in squashed(r["premise"]) for t in test_premises)]
    assert not shared, shared


# The policy corpus's train documents (../shared/bench/policy-corpus/splits.json): the only ones training data is over.
POLICY_TRAIN_DOCUMENTS = {
    "cabinet_office_directgov_2010_and_beyond_lane_fox.md", "dbt_monitoring_and_evaluation_strategy_2023-2026.pdf",
    "dclg_housing_finance_household_expenditure_notes.html", "decc_onshore_wind_detailed_guide.html", "defra_evaluation_strategy_2023.pdf",
    "desnz_monitoring_and_evaluation_framework_2024.pdf", "dexeu_citizens_rights_no_deal_policy_paper_2018.md",
    "dft_evaluation_strategy_and_programme_2022.pdf", "dsit_govt_response_lords_space_economy_report_2026.pdf",
    "dwp_waspi_state_pension_age_communications_new_decision_2026.pdf", "hmrc_evaluation_framework_2021.pdf",
    "hoc_library_nhs_productivity_briefing_CBP10313_2025.md", "home_office_evaluation_strategy_2023.pdf",
    "home_office_reform_stop_and_search_statement_2014.html", "home_secretary_speech_apcc_2016.html",
    "leeds_health_and_wellbeing_strategy_2023-2030.md", "ltht_people_priorities_strategy_2024-2028.md", "mod_evaluation_strategy_2023.pdf",
    "moj_commons_statement_hmp_birmingham_2016.html", "moj_evaluation_and_prototyping_strategy_2023.pdf",
    "nhsbsa_maternity_exemption_certificate_guidance_2024.pdf", "ukhsa_stats_guidance_communicating_uncertainty.md",
    "ukhsa_stats_guidance_handling_missing_data.md", "ukhsa_stats_guidance_reproducible_analytical_pipelines_intro.md",
}


def test_training_data_is_over_train_documents_only():
    """Every record of training/data names the train document it was written over: no dev or test document's
    text may teach a shipped model. A follow-up carries its two turns and the passage that answered the first."""
    import json
    from pathlib import Path

    files = sorted((Path(__file__).resolve().parents[1] / "training" / "data").glob("*.jsonl"))
    assert files
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            record = json.loads(line)
            assert record.get("doc") in POLICY_TRAIN_DOCUMENTS, f"{path.name}:{n} names {record.get('doc')!r}"
            if "history" in record:
                roles = [turn["role"] for turn in record["history"]]
                assert roles == ["user", "assistant"] and record["previous_context"], f"{path.name}:{n}"
                assert bool(record["answers"]) != bool(record["is_impossible"]), f"{path.name}:{n}"
    assert POLICY_TRAIN_DOCUMENTS.isdisjoint(POLICY_DEV_DOCUMENTS)
