"""The reader: the shipped model loads offline and reads questions against sentences written for these
tests (none from the evaluation set); answers and abstentions through the whole assistant on a small
corpus; a document's header answers metadata questions; training runs for real on a tiny slice; a
missing or broken model is a clear error at start."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Config
from assistant.reader import DECISION_DIR, READER_DIR, Candidate, ReaderError, get_reader, load_cross_encoder
from tests.conftest import assistant_over, run_cli

CLINICS = """Riverside Health Trust annual review

The trust runs seventeen walk-in clinics across the county. Most of them open at eight in the morning and close at six.

The Riverside board met in March to discuss waiting times. Members agreed that waiting times had grown in every clinic.

The new chief nurse, Amara Okafor, joined the trust from a hospital in Leeds. She leads a team of forty senior nurses.
"""

FERRIES = """Island ferry timetable changes

The council has cut the winter ferry service to two crossings a day because of falling passenger numbers.

Harbour staff say the old ferry will be replaced by an electric vessel built in Norway.
"""

METADATA = """["riverside.txt"]
title = "Riverside Health Trust annual review"
author = "Jonah Pike"
publisher = "Riverside Health Trust"
date = "2023-05-12"

["ferries.txt"]
title = "Island ferry timetable changes"
"""


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    from assistant.core import Assistant
    from ingest.pipeline import run_ingest

    root = tmp_path_factory.mktemp("reader-corpus")
    folder = root / "docs"
    folder.mkdir()
    (folder / "riverside.txt").write_text(CLINICS)
    (folder / "ferries.txt").write_text(FERRIES)
    (folder / "metadata.toml").write_text(METADATA)
    config = Config.from_env(data_dir=root / "index").replace(llm_base_url=None)
    run_ingest([folder], config, progress=False)
    return Assistant.open(config=config)


def test_the_shipped_reader_loads_offline_and_is_small(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    size = sum(f.stat().st_size for f in READER_DIR.iterdir() if f.is_file())
    assert size <= 30 * 1024 * 1024, f"the reader folder is {size / 1e6:.1f} MB"
    meta = json.loads((READER_DIR / "reader.json").read_text())
    assert {"weights", "bias", "threshold", "top_k", "fitted_on"} <= set(meta["decision"])
    assert (READER_DIR / "README.md").read_text().count("sha256") >= 3  # the card names its data files
    model = load_cross_encoder()
    scores = model.predict([("How many walk-in clinics does the trust run?", "Annual review | The trust runs seventeen walk-in clinics."),
                            ("How many walk-in clinics does the trust run?", "Annual review | The board met in March.")])
    assert scores[0] > 0.5 > scores[1]


def test_the_shipped_decision_model_is_calibrated_for_the_shipped_reader():
    """The decision was fitted on the logits of the shipped reader's best sentences: a new reader needs
    `assistant reader calibrate` again before it ships, and this fails until it has been."""
    from assistant.extractive import DECISION_SENTENCES

    size = sum(f.stat().st_size for f in DECISION_DIR.iterdir() if f.is_file())
    assert size <= 30 * 1024 * 1024, f"the decision model folder is {size / 1e6:.1f} MB"
    decision = json.loads((DECISION_DIR / "reader.json").read_text())["decision"]
    reader_version = json.loads((READER_DIR / "reader.json").read_text())["version"]
    assert decision["reads"] == {"reader_version": reader_version, "sentences": DECISION_SENTENCES}
    assert "policy dev" in decision["threshold_on"] and "bundled dev" in decision["threshold_on"]
    card = (DECISION_DIR / "README.md").read_text()
    assert card.startswith("# The decision model") and reader_version in card


# (question, the sentence that answers it, sentences that share the question's words but do not)
RANKING = [
    ("Where did the new chief nurse work before she joined the trust?",
     "The new chief nurse, Amara Okafor, joined the trust from a hospital in Leeds.",
     ["The chief nurse said the trust needs more nurses.", "Nurses who join the trust work across the county."]),
    ("When did the board meet to discuss waiting times?",
     "The Riverside board met in March to discuss waiting times.",
     ["Waiting times will be discussed by the board at its next meeting.", "The board said waiting times matter to patients."]),
    ("How many crossings a day will the winter ferry make?",
     "The council has cut the winter ferry service to two crossings a day because of falling passenger numbers.",
     ["Winter ferry crossings are popular with tourists every day.", "The ferry makes a crossing in about forty minutes."]),
    ("Where will the new electric ferry be built?",
     "Harbour staff say the old ferry will be replaced by an electric vessel built in Norway.",
     ["The new ferry will be electric, staff say.", "Electric ferries are built to carry more passengers."]),
]


@pytest.mark.parametrize("question,answer,distractors", RANKING)
def test_the_answering_sentence_outranks_sentences_sharing_its_words(question, answer, distractors):
    reader = get_reader()
    candidates = [Candidate(s, "News") for s in [answer, *distractors]]
    scores = reader.score(question, candidates)
    assert scores[0] == max(scores), dict(zip([answer, *distractors], scores.round(2)))


def test_the_sentence_before_is_read_when_a_candidate_leans_on_it():
    from assistant.reader import candidate_text

    text = candidate_text("She leads a team of forty senior nurses.", "Review", "Staff", "The chief nurse is Amara Okafor.")
    assert text == "Review — Staff | (The chief nurse is Amara Okafor.) She leads a team of forty senior nurses."
    assert candidate_text("The trust runs clinics.", "Review", "", "Before.") == "Review | The trust runs clinics."


def test_a_count_in_words_is_an_answer(small_corpus):
    answer = small_corpus.ask("How many walk-in clinics does the trust run?")
    assert not answer.abstained, answer.answer
    assert answer.citations[0].paragraph_id == "riverside#p1"
    assert "seventeen" in answer.answer


def test_abstains_where_no_sentence_answers(small_corpus):
    for question in ("How many ambulances does the trust own?", "Who was the ferry captain in 1990?"):
        answer = small_corpus.ask(question)
        assert answer.abstained, (question, answer.answer)
        assert answer.citations == []
    # A near miss (the trust is named, its budget never is) is where the reader is weakest
    # (docs/benchmarks.md): it may answer it, but with less confidence than a question the text answers.
    near_miss = small_corpus.ask("What is the annual budget of the Riverside Health Trust?")
    answered = small_corpus.ask("Who is the new chief nurse at the trust?")
    assert not answered.abstained and near_miss.confidence < answered.confidence


def test_metadata_questions_cite_the_header(small_corpus):
    header = small_corpus.index.paragraphs(["riverside#p0"])["riverside#p0"]
    assert header.sentence_texts() == ["The document was written by Jonah Pike and published by Riverside Health Trust on 12 May 2023.",
                                       "Its title is “Riverside Health Trust annual review”."]
    who = small_corpus.ask("Who wrote the Riverside Health Trust annual review?")
    assert not who.abstained and who.citations[0].paragraph_id == "riverside#p0" and "Jonah Pike" in who.answer
    when = small_corpus.ask("When was the Riverside annual review published?")
    assert not when.abstained and when.citations[0].paragraph_id == "riverside#p0" and "12 May 2023" in when.answer
    # A document whose metadata states only a title, which its own first line states too, gets a header
    # naming it, and "What is the title of ...?" cites it; its own paragraphs keep their numbers.
    ids = [p.id for p in small_corpus.index.paragraphs_of("ferries")]
    assert ids == ["ferries#p0", "ferries#p1", "ferries#p2"]
    assert small_corpus.index.paragraphs(["ferries#p0"])["ferries#p0"].text == "Its title is “Island ferry timetable changes”."
    title = small_corpus.ask("What is the title of the document about the island ferries?")
    assert not title.abstained and title.citations[0].paragraph_id == "ferries#p0", title.answer


def test_a_document_stating_only_its_own_title_gets_a_header(tmp_path):
    from assistant.core import Assistant
    from assistant.records import Document
    from ingest.header import header_paragraph
    from ingest.pipeline import run_ingest

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "tides.md").write_text('---\ntitle: "Harbour tide tables explained"\n---\n\n'
                                     "High water at the harbour comes about fifty minutes later each day.\n"
                                     "\nThe tables give times in local time.\n", encoding="utf-8")
    config = Config.from_env(data_dir=tmp_path / "index").replace(llm_base_url=None)
    run_ingest([folder], config, progress=False)
    assistant = Assistant.open(config=config)
    header = assistant.index.paragraphs(["tides#p0"])["tides#p0"]
    assert header.text == "Its title is “Harbour tide tables explained”."
    answer = assistant.ask("What is the title of the guide to the harbour tide tables?")
    assert not answer.abstained and answer.citations[0].paragraph_id == "tides#p0", answer.answer
    # Not stated by the document: a sidecar's or the file name's title alone makes no header.
    assert header_paragraph(Document(id="notes", path="/data/notes.txt", title="Meeting notes")) is None
    assert header_paragraph(Document(id="notes", path="/data/notes.txt", title="Meeting notes"), title_stated=True) is not None


def test_grounds_are_in_the_readers_order(small_corpus):
    grounds = small_corpus.gather("Who is the chief nurse?")
    assert grounds.retrieval.passages[0].paragraph.id == "riverside#p3"
    assert "read" in grounds.timings_ms and grounds.answerable
    assert grounds.extract.best_logit == max(s.logit for s in grounds.extract.ranked)


def test_the_decision_model_reads_the_readers_best_sentences(small_corpus):
    from assistant.extractive import DECISION_SENTENCES, answerability, candidate_of

    question = "Who is the chief nurse?"
    grounds = small_corpus.gather(question)
    best = grounds.extract.ranked[:DECISION_SENTENCES]
    assert len(best) == DECISION_SENTENCES and small_corpus.decider is not small_corpus.reader
    own = small_corpus.decider.score(question, [candidate_of(s) for s in best])
    assert np.allclose(grounds.decision_logits, own, atol=1e-4)
    assert not np.allclose(grounds.decision_logits, [s.logit for s in best], atol=0.05)  # not the reader's scores
    assert grounds.confidence == pytest.approx(small_corpus.decider.decision.probability(grounds.decision_logits))
    assert grounds.timings_ms["decide"] > 0
    # A reader may decide for itself (a reader folder calibrated alone): its own logits are reused, not read again.
    _, logits = answerability(small_corpus.reader, question, grounds.extract.ranked, small_corpus.reader)
    assert logits == [s.logit for s in best]
    assert answerability(small_corpus.decider, question, [], small_corpus.reader) == (0.0, [])


# --- training ---------------------------------------------------------------------------------------------


def _tiny_qa_train(folder: Path) -> None:
    """A qa-train folder in the real formats, written for this test."""
    folder.mkdir()
    lake = "Lake Vostok lies under the ice of Antarctica. It is about 250 kilometres long. Russian scientists drilled into it in 2012."
    river = "The Clyde flows through Glasgow. Shipbuilding on the river peaked before 1914. Its estuary opens into the Firth of Clyde."
    squad2 = [
        {"id": "a1", "title": "Lake Vostok", "context": lake, "question": "How long is Lake Vostok?", "is_impossible": False, "answers": ["about 250 kilometres"]},
        {"id": "a2", "title": "Lake Vostok", "context": lake, "question": "Who drilled into Lake Vostok?", "is_impossible": False, "answers": ["Russian scientists"]},
        {"id": "a3", "title": "Lake Vostok", "context": lake, "question": "How deep is Lake Vostok?", "is_impossible": True, "answers": []},
        {"id": "b1", "title": "Clyde", "context": river, "question": "Which city does the Clyde flow through?", "is_impossible": False, "answers": ["Glasgow"]},
        {"id": "b2", "title": "Clyde", "context": river, "question": "When did shipbuilding on the Clyde end?", "is_impossible": True, "answers": []},
    ]
    squad11 = [{"id": "c1", "title": "Clyde", "context": river, "question": "Where does the estuary open?", "is_impossible": False,
                "answers": ["into the Firth of Clyde"]}]
    selqa = [{"question": "What lies under the ice?", "article": "Lake Vostok", "section": "Geography",
              "candidates": ["Lake Vostok lies under the ice of Antarctica.", "It is about 250 kilometres long."], "answers": [0], "selqa_split": "dev"},
             {"question": "What flows through Glasgow?", "article": "Clyde", "section": "Course",
              "candidates": ["The Clyde flows through Glasgow.", "Its estuary is wide."], "answers": [0], "selqa_split": "test"}]
    for name, rows in (("squad2_dev_other_half.jsonl", squad2), ("squad11_dev_extra_articles.jsonl", squad11), ("selqa_ass.jsonl", selqa)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_training_a_few_steps_writes_a_reader_that_loads_and_scores(tmp_path):
    from assistant.reader import Reader
    from training.reader_data import load_training_data

    data = tmp_path / "qa-train"
    _tiny_qa_train(data)
    loaded = load_training_data(data, validation_share=0.5)
    assert loaded.train and loaded.validation
    train_articles = {p.candidate.split(" | ")[0] for p in loaded.train}
    held = {t for titles in loaded.validation_articles.values() for t in titles}
    assert not train_articles & held  # whole articles are held out
    # An unanswerable question makes every sentence of its paragraph a "no".
    assert all(p.label == 0.0 for p in loaded.train + [p for q in loaded.validation for p in q.pairs] if p.group in ("a3", "b2"))

    out = tmp_path / "reader"
    code = run_cli("reader", "train", "--data", str(data), "--out", str(out), "--layers", "1", "--max-steps", "3",
                   "--batch-size", "4", "--evaluations", "1", "--validation-share", "0.5", timeout=600)
    assert code.returncode == 0, code.stderr[-2000:]
    assert "step 3/3" in code.stderr and "validation at step" in code.stderr
    shipped = {f.name for f in READER_DIR.iterdir()}
    assert {f.name for f in out.iterdir()} == shipped  # re-training writes the shipped layout
    meta = json.loads((out / "reader.json").read_text())
    assert meta["layers"] == 1 and meta["data"]["files_sha256"]["selqa_ass.jsonl"]
    assert meta["curves"]["validation"] and meta["training_seconds"] > 0
    reader = Reader(out, quantize=False)
    scores = reader.score("How long is Lake Vostok?", [Candidate("It is about 250 kilometres long.", "Lake Vostok"), Candidate("Glasgow.", "Clyde")])
    assert scores.shape == (2,) and all(abs(s) < 50 for s in scores)


def test_a_warm_start_begins_from_the_given_readers_weights():
    import torch

    from assistant.reader import Reader, ReaderError, read_reader_json
    from training.model_folder import bundled_base, load_base, warm_start

    layers = int(read_reader_json(READER_DIR)["layers"])
    tokenizer, model = load_base(bundled_base(), layers, None, 128)
    warm_start(model, READER_DIR, ReaderError, log=lambda _: None)
    model.eval()
    pairs = [("How long is Lake Vostok?", "Lake Vostok | It is about 250 kilometres long."), ("Who runs it?", "Clyde | The river is wide.")]
    with torch.no_grad():
        encoded = tokenizer([q for q, _ in pairs], [c for _, c in pairs], padding=True, truncation="only_second", return_tensors="pt")
        warm = model(**encoded).logits[:, 0].numpy()
    shipped = Reader(READER_DIR, quantize=False).score_pairs(pairs)
    assert np.allclose(warm, shipped, atol=0.02)  # float16 storage
    _, fresh = load_base(bundled_base(), layers, None, 128)
    with torch.no_grad():
        assert not np.allclose(fresh(**encoded).logits[:, 0].numpy(), shipped, atol=0.02)  # a new head scores otherwise
    _, other = load_base(bundled_base(), layers + 1, None, 128)
    with pytest.raises(ReaderError, match="layers"):
        warm_start(other, READER_DIR, ReaderError, log=lambda _: None)


def test_the_decision_threshold_holds_over_refusal_on_each_product_source():
    from training.reader_calibrate import fit

    rng = np.random.default_rng(0)

    def source(n, shift, refused_share=0.0):
        answerable = np.arange(n) % 3 != 0
        logits = [np.sort(rng.normal(shift * a - 1, 1.0, size=6))[::-1] for a in answerable]
        return logits, answerable, rng.random(n) < refused_share

    sources = {"bundled dev": source(90, 3.0), "policy dev": source(150, 1.0, 0.03), "held-out articles": source(200, 2.0)}
    decision = fit(sources, threshold_on=["bundled dev", "policy dev"], max_over_refusal=0.08)
    figures = decision["figures"]
    assert figures["bundled dev"]["over_refusal"] <= 0.08 and figures["policy dev"]["over_refusal"] <= 0.08
    # The harder source binds: the easier one keeps headroom, and the threshold is as high as the binding one allows.
    assert figures["policy dev"]["over_refusal"] > figures["bundled dev"]["over_refusal"]
    assert figures["policy dev"]["refused_anyway"] == int(sources["policy dev"][2].sum()) > 0
    looser = fit(sources, threshold_on=["bundled dev"], max_over_refusal=0.08)
    assert looser["threshold"] > decision["threshold"]


def test_training_refuses_a_benchmark_folder(tmp_path):
    bench = tmp_path / "squad2"
    bench.mkdir()
    result = run_cli("reader", "train", "--data", str(bench), "--out", str(tmp_path / "r"))
    assert result.returncode == 2 and "benchmark" in result.stderr


def test_a_follow_up_is_read_with_its_previous_turn_and_learns_from_that_turns_passage():
    """A follow-up record is paired as the product reads it (the previous turn in brackets), and the
    passage that answered the previous turn gives it hard negatives, never the follow-up's own answer."""
    import random

    from assistant.reader import candidate_text
    from training.reader_data import squad_questions

    row = {"id": "f1", "doc": "plan.md", "title": "The harbour plan",
           "history": [{"role": "user", "content": "What is the Tidal Board?"},
                       {"role": "assistant", "content": "The body that oversees the harbour works."}],
           "previous_context": "The Tidal Board oversees the harbour works. It meets every quarter.",
           "context": "The Tidal Board is chaired by Mira Osei. Its members serve three years.",
           "question": "Who chairs it?", "is_impossible": False, "answers": ["Mira Osei"]}
    standalone = {**row, "id": "s1", "history": None, "previous_context": None, "question": "Who chairs the Tidal Board?"}
    followup, plain = squad_questions([row, standalone], "followups.jsonl", random.Random(1), other_paragraphs=0)
    assert {p.question for p in followup.pairs} == {"Who chairs it? (What is the Tidal Board? The body that oversees the harbour works.)"}
    label_of = {p.candidate: p.label for p in followup.pairs}
    title = "The harbour plan"
    assert label_of[candidate_text("The Tidal Board is chaired by Mira Osei.", title)] == 1.0
    assert label_of[candidate_text("The Tidal Board oversees the harbour works.", title)] == 0.0
    assert label_of[candidate_text("It meets every quarter.", title, "", "The Tidal Board oversees the harbour works.")] == 0.0
    assert len(followup.pairs) == 4 and len(plain.pairs) == 2
    assert {p.question for p in plain.pairs} == {"Who chairs the Tidal Board?"}
    # A previous passage that holds the follow-up's answer gives no negative that is an answer.
    same = {**row, "previous_context": row["context"]}
    (only,) = squad_questions([same], "followups.jsonl", random.Random(1), other_paragraphs=0)
    assert sorted(p.label for p in only.pairs) == [0.0, 1.0]


def test_the_reader_data_and_the_metadata_pairs_do_not_import_each_other_both_ways():
    """reader_data uses metadata_pairs; both take Pair and Question from training/pairs.py (no import circle)."""
    from tests.conftest import imported_modules

    folder = Path(__file__).resolve().parents[1] / "training"
    assert "training.metadata_pairs" in imported_modules(folder / "reader_data.py")
    assert not {m for m in imported_modules(folder / "metadata_pairs.py") if m.startswith("training.reader")}
    assert {"training.pairs.Pair", "training.pairs.Question"} <= imported_modules(folder / "metadata_pairs.py")

# --- a missing or broken reader -----------------------------------------------------------------------------


def test_a_missing_or_corrupt_reader_is_a_clear_error_at_start(tmp_path, sources_data_dir):
    from assistant.core import Assistant

    broken = tmp_path / "reader"
    shutil.copytree(READER_DIR, broken)
    config = Config.from_env(data_dir=sources_data_dir).replace(llm_base_url=None, reader_model_path=str(broken))

    (broken / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ReaderError, match="corrupt"):
        Assistant.open(config=config)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ReaderError, match="incomplete"):
        Assistant.open(config=config)

    result = run_cli("ask", "Who is David Dalton?", data_dir=sources_data_dir, env={"ASSISTANT_READER_MODEL": str(broken)})
    assert result.returncode == 1 and "model.safetensors is missing" in result.stderr
    result = run_cli("serve", "--port", "1", "--no-ingest", data_dir=sources_data_dir, env={"ASSISTANT_READER_MODEL": str(broken)})
    assert result.returncode == 1 and "reader model" in result.stderr


def test_a_broken_decision_model_is_a_clear_error_at_start(tmp_path, sources_data_dir):
    broken = tmp_path / "decision"
    shutil.copytree(DECISION_DIR, broken)
    (broken / "reader.json").write_text("{not json")
    result = run_cli("ask", "Who is David Dalton?", data_dir=sources_data_dir, env={"ASSISTANT_DECISION_MODEL": str(broken)})
    assert result.returncode == 1 and "corrupt" in result.stderr and str(broken) in result.stderr
    result = run_cli("serve", "--port", "1", "--no-ingest", data_dir=sources_data_dir, env={"ASSISTANT_DECISION_MODEL": str(broken)})
    assert result.returncode == 1 and "corrupt" in result.stderr


def _dredging_plan(quay: str, front_matter: str, stages: int, survey: bool = True) -> str:
    also = ", and the plan publishes a survey of the berth after stage {n}" if survey else ""
    body = "\n\n".join(f"Stage {n} of the {quay} quay dredging plan moves {n * 1000} tonnes of silt from the harbour"
                        + also.format(n=n) + "." for n in range(1, stages + 1))
    return f'---\ntitle: "{quay.title()} quay dredging plan"\n{front_matter}\n---\n\n{body}\n'


def test_a_question_about_a_document_reads_the_headers_of_the_documents_found(tmp_path):
    """Retrieval ranks the header ("The document was written by ...") below the many paragraphs about the
    document's subject; a question asking for its author gets the headers of the documents found read anyway."""
    assistant = assistant_over(tmp_path, {
        "north.md": _dredging_plan("north", 'author: "Morwenna Tregear"\ndate: "2024-03-12"', 24),
        "moorings.md": '---\ntitle: "Harbour moorings review"\nauthor: "Idris Pengelly"\n---\n\n'
                       "The harbour moorings review counts the swing moorings in the outer harbour.\n"})
    for question in ("Who is the author of the north quay dredging plan?", "Who wrote the dredging plan for the north quay?"):
        assert "north#p0" not in [p.paragraph.id for p in assistant.retriever.search(question).passages]
        answer = assistant.ask(question)
        assert not answer.abstained and answer.citations[0].paragraph_id == "north#p0", answer.answer
        assert "Morwenna Tregear" in answer.answer


def test_an_answer_holds_one_documents_header(tmp_path):
    """Each header speaks of "the document": two in one answer (two plans by one publisher) would read as one
    document's."""
    publisher = 'publisher: "Porthmellin Harbour Board"'
    assistant = assistant_over(tmp_path, {"north.md": _dredging_plan("north", f'{publisher}\ndate: "2024-03-12"', 8, survey=False),
                                          "south.md": _dredging_plan("south", f'{publisher}\ndate: "2023-09-01"', 8, survey=False)})
    for question in ("When was the north quay dredging plan published?", "Who published the north quay dredging plan?"):
        answer = assistant.ask(question)
        cited = [c.paragraph_id for c in answer.citations]
        assert not answer.abstained and cited == ["north#p0"], answer.answer


def test_a_question_that_describes_its_document_is_answered_from_the_header(tmp_path):
    """"Which organisation published the plan that describes ...?": the description draws the reader to the
    sentences it repeats, none of which says who published the plan; the ask alone is read too, and the header
    that answers it joins the answer."""
    publisher = 'publisher: "Porthmellin Harbour Board"'
    assistant = assistant_over(tmp_path, {
        "north.md": _dredging_plan("north", f'{publisher}\ndate: "2024-03-12"', 6),
        "moorings.md": '---\ntitle: "Harbour moorings review"\nauthor: "Idris Pengelly"\n---\n\n'
                       "The harbour moorings review counts the swing moorings in the outer harbour.\n"})
    for question in ("Which organisation published the north quay dredging plan that describes moving silt from the harbour in stages?",
                     "Who published the dredging plan that sets out a survey of the berth after each stage of moving silt?"):
        answer = assistant.ask(question)
        assert not answer.abstained and "north#p0" in [c.paragraph_id for c in answer.citations], answer.answer
        assert "Porthmellin Harbour Board" in answer.answer, answer.answer


def test_the_ask_of_a_question_that_describes_its_document():
    from assistant.document_questions import document_ask

    assert document_ask("Which body published the Evaluation Action Plan that describes Level 1 to Level 3 evaluations?") == \
        "Which body published the Evaluation Action Plan?"
    assert document_ask("Who wrote the guidance, setting out five principles for open data?") == "Who wrote the guidance?"
    assert document_ask("What is the title of the report which recommends a new harbour wall?") == "What is the title of the report?"
    # The words before the clause do not ask on their own; a question with no describing clause; too little described.
    assert document_ask("When was the report that set out the dredging targets published?") is None
    assert document_ask("Who wrote the north quay dredging plan?") is None
    assert document_ask("Who wrote the plan that ended?") is None
    assert document_ask("What does the plan that the board adopted say about silt?") is None


def test_which_questions_ask_about_a_document():
    from assistant.document_questions import asks_about_the_document

    for question in ("Who wrote the review of harbour moorings?", "Who is the author of the plan?",
                     "Which organisation published the strategy?", "When was the guidance first published?",
                     "In what year was the report on ferries released?", "What is the full title of the 2022 report?",
                     "What is the publication reference of the paper?", "Who published the consultation response?",
                     "What date was the alert issued?", "What reference number does the alert carry?"):
        assert asks_about_the_document(question), question
    for question in ("How many tonnes of silt will stage two move?", "What does the plan say about publishing results?",
                     "Which body regulates harbour pilots?", "When will the dredging start?", "Who is the chief nurse?",
                     "What did the review find about swing moorings?"):
        assert not asks_about_the_document(question), question


def test_a_question_in_the_text_is_never_the_answer(tmp_path):
    """An FAQ line or table heading that asks the user's question shares the most words with it and answers
    nothing: the sentence that states the answer is given instead."""
    assistant = assistant_over(tmp_path, {"permits.md": (
        '---\ntitle: "Harbour parking permits"\npublisher: "Porthmellin Harbour Board"\n---\n\n'
        "Permits let residents park on the quay during the summer season.\n\n"
        "How often should a resident renew their quay parking permit\n\n"
        "The permit is checked by harbour staff on each visit, and the fee is paid at the office.\n\n"
        "Residents renew their quay parking permit every twelve months, from the date it was issued.\n\n"
        "Visitors may buy a day permit from the harbour office.\n")})
    for question in ("How often should a resident renew their quay parking permit?",
                     "How often do residents have to renew the parking permit for the quay?"):
        answer = assistant.ask(question)
        assert not answer.abstained and "every twelve months" in answer.answer, answer.answer
        assert "permits#p2" not in [c.paragraph_id for c in answer.citations], answer.answer


def test_which_sentences_ask():
    from assistant.text import is_question

    for sentence in ("Who can apply?", "How often should a patient test their ketone levels Type 1 diabetes",
                     "What we will do", "  Why does the harbour close in winter?  "):
        assert is_question(sentence), sentence
    for sentence in ("How the scheme works is set out below.", "The question is what to do next.", "Which is why we act.",
                     "“What next?” she asked.", "Residents renew their permit every twelve months."):
        assert not is_question(sentence), sentence
