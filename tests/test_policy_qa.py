"""`assistant bench policy-qa`: the evidence-quote scorer on hand-made answers, the figures, and one run of
the command through the real ingest and Assistant on a corpus written here."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main
from eval import policy_qa
from eval.policy_qa import Question, aggregate, findable, load_questions, paragraph_holds, score

DOC_A = "harbour_dredging_policy.md"
DOC_B = "library_hours_2024.pdf"
FIRST = "The harbour authority dredges the main channel every two years, in spring."
SECOND = "Spoil from the channel is taken by barge to the licensed disposal site at sea."
SPANNING = "dredges the main channel every two years, in spring. Spoil from the channel is taken by barge"


def question(category="fact", answerable=True, evidence=((DOC_A, FIRST),), id="q1") -> Question:
    return Question(id=id, question="?", category=category, answerable=answerable, evidence=tuple(evidence))


def answered(*citations) -> dict:
    return {"status": "answered", "abstained": False,
            "citations": [{"paragraph_id": pid, "document_id": pid.split("#")[0], "text": text, "quote": text}
                          for pid, text in citations]}


ABSTAINED = {"status": "abstained", "abstained": True, "citations": []}


def test_a_citation_of_the_paragraph_holding_the_quote_is_evidence():
    outcome = score(question(), answered(("harbour-dredging-policy#p3", "Dredging. " + FIRST.upper())))
    assert (outcome.outcome, outcome.evidence_cited) == ("cited", ["harbour-dredging-policy#p3"])


def test_a_citation_of_another_paragraph_or_document_is_not():
    wrong_paragraph = score(question(), answered(("harbour-dredging-policy#p4", SECOND)))
    wrong_document = score(question(), answered(("library-hours-2024#p1", FIRST)))
    assert wrong_paragraph.outcome == wrong_document.outcome == "cited_wrong"
    assert wrong_paragraph.cited == ["harbour-dredging-policy#p4"] and wrong_paragraph.evidence_cited == []


def test_refusals_and_answers_to_unanswerable_questions():
    assert score(question(answerable=False, category="unanswerable_on_topic"), ABSTAINED).outcome == "abstained"
    assert score(question(answerable=False, category="unanswerable_on_topic"),
                 answered(("harbour-dredging-policy#p3", FIRST))).outcome == "answered"
    assert score(question(), ABSTAINED).outcome == "over_refused"
    assert score(question(), {"status": "failed", "abstained": True, "citations": []}).outcome == "failed"


def test_a_quote_spanning_two_paragraphs_is_held_by_either():
    spanning = question(evidence=((DOC_A, SPANNING),))
    assert score(spanning, answered(("harbour-dredging-policy#p3", FIRST))).outcome == "cited"
    assert score(spanning, answered(("harbour-dredging-policy#p4", SECOND))).outcome == "cited"
    # a paragraph wholly inside a longer quote
    assert paragraph_holds("in spring. Spoil from the channel", SPANNING)
    assert not paragraph_holds("The harbour authority publishes tide tables.", SPANNING)
    # a short quote running from a heading into the next paragraph
    assert paragraph_holds("Mark Grumbridge MHRA Telephone: 020 3080 7128", "Clinical aspects Mark Grumbridge")
    assert not paragraph_holds("Grumbridge MHRA Telephone: 020 3080 7128", "Clinical aspects Mark Grumbridge")


def test_word_share_and_layout_tolerance():
    assert paragraph_holds("The Harbour Authority dredges the main shipping channel every two years (in spring).", FIRST)
    assert paragraph_holds("the harbour author- ity dredges the main channel every two years, in spring.", FIRST)
    assert not paragraph_holds("The harbour authority was founded in 1850.", FIRST)
    # most words but not the numbers: another statement
    assert not paragraph_holds("Business rates in Northern Ireland rose.", "business to business in 2014) and in Northern Ireland in 2016.")
    assert paragraph_holds("Business to business from 2014, Northern Ireland 2016.", "business to business in 2014) and in Northern Ireland in 2016.")
    # one word is matched as text only, at word boundaries
    assert paragraph_holds("Action: quarantine the stock.", "Action")
    assert not paragraph_holds("Actions were taken.", "Action")


def test_metadata_questions_accept_the_header_paragraph():
    metadata = question(category="metadata", evidence=((DOC_B, "Published by the City Library Service"),))
    header = ("library-hours-2024#p0", "The document was published by City Libraries in 2024.")
    assert score(metadata, answered(header)).outcome == "cited"
    assert score(question(evidence=((DOC_B, "Published by the City Library Service"),)), answered(header)).outcome == "cited_wrong"
    other_header = ("harbour-dredging-policy#p0", "The document was published by the harbour authority.")
    assert score(metadata, answered(other_header)).outcome == "cited_wrong"


def test_a_header_answers_a_metadata_question_only_by_stating_the_field_asked():
    """"Who wrote it?" is not answered by a header sentence giving only its date (the answer must rest on a
    sentence that states the field); an organisation as author or publisher answers either question."""
    from assistant.records import Document
    from ingest.header import header_sentences, header_states

    def metadata(field):
        return Question(id="m", question="?", category="metadata", answerable=True,
                        evidence=((DOC_B, "Published by the City Library Service"),), metadata_field=field)

    dated = ("library-hours-2024#p0", "The document was published on 12 May 2024.")
    assert score(metadata("date"), answered(dated)).outcome == "cited"
    assert score(metadata("author"), answered(dated)).outcome == "cited_wrong"
    assert score(metadata("title"), answered(dated)).outcome == "cited_wrong"
    assert score(metadata(""), answered(dated)).outcome == "cited"  # no field named: any header, as before
    assert header_states("author", "The document was published by City Libraries in 2024.")
    assert header_states("publisher", "The document was written by Ada Okafor and published by City Libraries.")
    assert header_states("date", "The document was written by Ada Okafor and published in June 2022.")
    assert not header_states("date", "The document was written by Ada Okafor.")
    assert header_states("reference", "Its publication reference is CP 1478.") and not header_states("reference", "Its title is “CP”.")
    assert header_states("title", "Its title is “Library opening hours”.")
    # In the wording the header writes: each field's sentence states it.
    written = header_sentences(Document(id="d", path="/d.md", title="Library hours", author="Ada Okafor", publisher="City Libraries",
                                        date="2024-05-12", reference="CP 1478"), title_stated=True)
    for field in ("author", "publisher", "date", "reference", "title"):
        assert any(header_states(field, sentence) for sentence in written), (field, written)


def test_findable_says_whether_the_index_holds_a_quote():
    paragraphs = {DOC_A: [("harbour-dredging-policy#p1", FIRST)], DOC_B: [("library-hours-2024#p0", "The document was published in 2024.")]}
    assert findable(question(), paragraphs)
    assert not findable(question(evidence=((DOC_A, "Opening hours are 9 to 5."),)), paragraphs)
    assert findable(question(category="metadata", evidence=((DOC_B, "Published by the City Library Service"),)), paragraphs)


def test_document_ids_come_from_the_index_when_it_knows_them():
    renamed = {DOC_A: "harbour-dredging-policy-2"}
    outcome = score(question(), answered(("harbour-dredging-policy-2#p3", FIRST)), doc_ids=renamed)
    assert outcome.outcome == "cited"


def test_figures():
    multi = question(category="multi_doc", evidence=((DOC_A, FIRST), (DOC_B, "Opening hours are 9 to 5.")), id="m")
    follow = Question(id="f", question="And when?", category="follow_up", answerable=False, evidence=(),
                      history=(("user", "Who dredges?"), ("assistant", "The authority.")))
    outcomes = [
        score(question(id="a"), answered(("harbour-dredging-policy#p3", FIRST)), ms=10.0),
        score(question(id="b"), ABSTAINED, ms=20.0),
        score(multi, answered(("harbour-dredging-policy#p3", FIRST)), ms=30.0),
        score(follow, ABSTAINED, ms=40.0),
        score(question(category="unanswerable_off_topic", answerable=False, evidence=(), id="o"),
              answered(("harbour-dredging-policy#p3", FIRST)), ms=50.0),
    ]
    figures = aggregate(outcomes)
    assert figures["cited_evidence"] == {"rate": 2 / 3, "n": 2, "of": 3}
    assert figures["over_refused"]["n"] == 1
    assert figures["abstained"] == {"rate": 0.5, "n": 1, "of": 2}
    assert figures["near_misses_abstained"] == {"rate": 1.0, "n": 1, "of": 1}
    assert figures["off_topic_abstained"]["rate"] == 0.0
    assert figures["follow_up_accuracy"]["rate"] == 1.0
    assert (figures["multi_doc_cited"]["n"], figures["multi_doc_every_document_cited"]["n"]) == (1, 0)
    assert figures["cited_by_document"][DOC_B] == {"rate": 0.0, "n": 0, "of": 1}
    assert figures["cited_by_document"][DOC_A]["n"] == 2
    assert figures["ask_ms"]["p50"] == 30.0
    assert figures["targets"]["cited_evidence"]["met"] is False


def test_the_gate_compares_rates_with_their_bounds(tmp_path):
    figures = {"cited_evidence": {"rate": 0.72, "n": 72, "of": 100}, "over_refused": {"rate": 0.12, "n": 12, "of": 100},
               "metadata_cited": {"rate": None, "n": 0, "of": 0}, "questions": 100}
    bounds = tmp_path / "bounds.toml"
    bounds.write_text("[floors]\ncited_evidence = 0.70\n[ceilings]\nover_refused = 0.10\n")
    assert policy_qa.gate_failures(figures, bounds) == ["over_refused = 0.120 is above its ceiling 0.100"]
    bounds.write_text("[floors]\ncited_evidence = 0.75\nmetadata_cited = 0.5\n")
    assert policy_qa.gate_failures(figures, bounds) == ["cited_evidence = 0.720 is below its floor 0.750",
                                                        "metadata_cited = not computed is below its floor 0.500"]
    bounds.write_text("[floors]\nquestions = 10\n")  # a count, not a rate: a mistake in the bounds file
    with pytest.raises(policy_qa.BenchInputError, match="questions"):
        policy_qa.gate_failures(figures, bounds)
    # the committed bounds name figures the benchmark computes
    assert policy_qa.gate_failures(aggregate([]), policy_qa.GATE_FILE)


def test_load_questions_keeps_the_split_and_history(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [{"id": "d1", "split": "dev", "question": "Who?", "answerable": True, "reference": "x", "category": "follow_up",
             "evidence": [{"doc": DOC_A, "quote": FIRST}], "history": [{"role": "user", "content": "What?"}]},
            {"id": "t1", "split": "test", "question": "When?", "answerable": False, "reference": "", "category": "unanswerable_off_topic",
             "evidence": [], "history": []}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (dev,) = load_questions(path, "dev")
    assert (dev.id, dev.evidence_docs, dev.history_dicts) == ("d1", [DOC_A], [{"role": "user", "content": "What?"}])


# --- the command, end to end ---------------------------------------------------------------------

HARBOUR = """# Harbour dredging policy

The harbour authority dredges the main channel every two years, in spring. Dredging keeps the channel
deep enough for the ferry and for cargo ships of up to ten thousand tonnes.

Spoil from the channel is taken by barge to the licensed disposal site at sea. The licence is renewed
by the marine regulator every five years.
"""
LIBRARY = """# Library opening hours

The central library opens from nine in the morning to eight in the evening on weekdays. On Saturdays it
closes at five, and it is closed on Sundays and bank holidays.

Branch libraries open three days a week. Each branch publishes its own days on the noticeboard by the door.
"""


@pytest.fixture()
def tiny_policy_corpus(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "harbour_dredging_policy.md").write_text(HARBOUR, encoding="utf-8")
    (docs / "library_opening_hours.md").write_text(LIBRARY, encoding="utf-8")
    questions = tmp_path / "questions"
    questions.mkdir()
    rows = [
        {"id": "t-1", "question": "How often is the harbour channel dredged?", "answerable": True, "category": "fact",
         "evidence": [{"doc": "harbour_dredging_policy.md", "quote": "dredges the main channel every two years"}]},
        {"id": "t-2", "question": "When does the central library close on Saturdays?", "answerable": True, "category": "paraphrase",
         "evidence": [{"doc": "library_opening_hours.md", "quote": "On Saturdays it closes at five"}]},
        {"id": "t-3", "question": "What does the dredging cost each year?", "answerable": False, "category": "unanswerable_on_topic",
         "evidence": [{"doc": "harbour_dredging_policy.md", "quote": "The harbour authority dredges the main channel every two years, in spring."}]},
        {"id": "t-4", "question": "And on Sundays?", "answerable": False, "category": "follow_up", "evidence": [],
         "history": [{"role": "user", "content": "When does the central library open on weekdays?"},
                     {"role": "assistant", "content": "From nine in the morning to eight in the evening."}]},
    ]
    for split in ("dev", "test"):
        (questions / f"policy_{split}.jsonl").write_text(
            "".join(json.dumps({**r, "split": split, "reference": "", "history": r.get("history", [])}) + "\n" for r in rows))
    monkeypatch.setattr(policy_qa, "QUESTIONS_DIR", questions)
    return docs


def test_the_command_on_a_tiny_corpus(tiny_policy_corpus, tmp_path, capsys):
    data_dir, out = tmp_path / "index", tmp_path / "out"
    assert main(["bench", "policy-qa", str(tiny_policy_corpus), "--split", "dev", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cited evidence (answerable)" in printed and "By category" in printed
    figures = json.loads((out / "policy-qa-dev.json").read_text())["figures"]
    assert (figures["questions"], figures["answerable"], figures["unanswerable"]) == (4, 2, 2)
    assert figures["documents"] == 7  # the two documents and the five bundled sources, one index
    assert figures["missing_evidence_documents"] == []
    assert figures["evidence_findable"] == {"rate": 1.0, "n": 2, "of": 2}
    assert figures["ask_ms"]["p50"] > 0
    outcomes = [json.loads(line) for line in (out / "policy-qa-dev-questions.jsonl").read_text().splitlines()]
    assert [o["id"] for o in outcomes] == ["t-1", "t-2", "t-3", "t-4"]
    allowed = {True: {"cited", "cited_wrong", "over_refused"}, False: {"abstained", "answered"}}
    assert all(o["outcome"] in allowed[o["answerable"]] for o in outcomes), outcomes
    # the frozen split: aggregate figures only, nothing per question printed or written (the index is reused)
    test_out = tmp_path / "out-test"
    assert main(["bench", "policy-qa", str(tiny_policy_corpus), "--split", "test", "--data-dir", str(data_dir), "--out", str(test_out)]) == 0
    printed = capsys.readouterr().out.replace(str(tmp_path), "TMP")  # "pytest-1NN" in the path holds "t-1"
    assert [p.name for p in test_out.iterdir()] == ["policy-qa-test.json"]
    assert "t-1" not in printed and "#p" not in printed
    assert json.loads((test_out / "policy-qa-test.json").read_text())["figures"]["ingest"].startswith("added 0, changed 0")
    # --gate: the exit code says whether every figure is within eval/policy_thresholds.toml (two questions
    # cannot reach its floors on off-topic refusals and follow-ups, which this corpus has none of)
    assert main(["bench", "policy-qa", str(tiny_policy_corpus), "--split", "test", "--data-dir", str(data_dir), "--gate"]) == 1
    assert "policy gate FAILED" in capsys.readouterr().err
