"""The trained citation check (assistant/entailment.py, assistant/verify.py) and the ways it is used:
`assistant verify` (assistant/claim_check.py), the LLM path's contradicted sentences, and the shipped
model folder. The claims here were written for these tests about a made-up passage, not taken from
any evaluation or training set. `POST /api/verify` is tested over real HTTP in tests/test_server.py,
the review's contradicted flag in tests/test_review.py."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from assistant.entailment import LABELS, VERIFIER_DIR, Thresholds, get_verifier, read_verifier_json
from assistant.verify import (
    CONTRADICTED,
    SUPPORTED,
    UNSUPPORTED,
    check_against,
    check_claims,
    decide,
    evidence_from_text,
)
from tests.conftest import run_cli

PASSAGE = ("The Harwick council will open two new public libraries in 2026. Both libraries will be paid for by the "
           "Harwick Arts Trust, not by council tax. The council expects the libraries to lend 80,000 books a year. "
           "Opening hours will be set after a public consultation in the spring.")

# Decided by the names-and-numbers rule, whatever the model reads: never supported.
RULE_CLAIMS = [
    "The libraries are expected to lend 95,000 books a year.",
    "The Brensham Arts Trust will pay for the two new libraries.",
    "The Harwick council will open two new public libraries in 2029.",
]
# Decided by the trained model: (claim, the label it should get).
MODEL_CLAIMS = [
    ("The Harwick Arts Trust will pay for the two new libraries.", SUPPORTED),
    ("Harwick council plans to open two new public libraries in 2026.", SUPPORTED),
    ("Before setting opening hours, the council will consult the public.", SUPPORTED),
    ("The new libraries will be paid for by council tax.", CONTRADICTED),
    ("The Harwick council will close two public libraries in 2026.", CONTRADICTED),
    ("The council does not expect the libraries to lend any books.", CONTRADICTED),
    ("The libraries will also host a cafe run by local volunteers.", UNSUPPORTED),
    ("Ambulance crews were told to cut handover delays at the hospital.", UNSUPPORTED),  # about something else
]
MODEL_FLOOR = 0.75  # of the not-supported MODEL_CLAIMS labelled exactly as expected (contradicted vs unsupported)


@pytest.fixture(scope="module")
def embedder():
    from assistant.embedding import get_embedder

    return get_embedder(None)


def test_the_decision_rule_is_the_thresholds_and_the_facts():
    t = Thresholds(supported=0.6, contradicted=0.7)
    assert decide(0.61, 0.1, False, t) == SUPPORTED
    assert decide(0.99, 0.0, True, t) == UNSUPPORTED  # a missing name or number is never supported
    assert decide(0.99, 0.8, True, t) == CONTRADICTED
    assert decide(0.59, 0.71, False, t) == CONTRADICTED
    assert decide(0.59, 0.69, False, t) == UNSUPPORTED


@pytest.mark.parametrize("claim", RULE_CLAIMS)
def test_a_claim_whose_names_or_numbers_the_passage_lacks_is_never_supported(embedder, claim):
    verdict = check_claims([("c", claim, PASSAGE)], embedder)[0]
    assert verdict.label != SUPPORTED, verdict
    assert verdict.label == CONTRADICTED or verdict.reason.startswith("not in the cited paragraph"), verdict
    assert verdict.evidence and verdict.evidence in PASSAGE


@pytest.mark.parametrize("claim, paragraph, missing", [
    # A name written as its acronym on one side and in full on the other is the same name.
    ("The working group meets DESNZ, the FCDO and Defra every month.",
     "The working group meets representatives from DESNZ, the Foreign, Commonwealth and Development Office and the "
     "Department for Environment, Food and Rural Affairs every month.", []),
    ("The Department for Energy Security and Net Zero asks for an evaluation plan.",
     "For every significant business case, DESNZ asks for an evaluation plan.", []),
    ("The guidance was written by the DfE.", "The Department for Education wrote the guidance.", []),
    ("The guidance was written by the Department for Education.", "The DfE wrote the guidance.", []),
    # Initials that spell another name are not it.
    ("The FBI asks for an evaluation plan.", "The Food Standards Agency asks for an evaluation plan.", ["fbi"]),
    ("The guidance was written by the Department for Transport.", "The DfE wrote the guidance.", ["department", "transport"]),
])
def test_names_and_their_acronyms(claim, paragraph, missing):
    from assistant.verify import _missing_facts

    assert _missing_facts(claim, paragraph) == missing


def _verdicts(embedder, cases):
    verdicts = check_claims([(str(n), claim, PASSAGE) for n, (claim, _) in enumerate(cases)], embedder)
    assert all(0.0 <= v.score <= 1.0 and v.evidence in PASSAGE for v in verdicts)
    return [(claim, expected, v.label, round(v.score, 3)) for (claim, expected), v in zip(cases, verdicts)]


def test_contradictions_additions_and_unrelated_claims_are_not_supported(embedder):
    """The side of the check that protects users: nothing here may be shown as supported, and an
    explicit contradiction is labelled so."""
    got = _verdicts(embedder, [c for c in MODEL_CLAIMS if c[1] != SUPPORTED])
    assert [g for g in got if g[2] == SUPPORTED] == []
    assert sum(g[1] == g[2] for g in got) / len(got) >= MODEL_FLOOR, got


@pytest.mark.xfail(strict=False, reason="known weakness of the CPU-trained verifier: close paraphrases are read as "
                   "contradictions (2 of these 3 accepted by verifier 20261205-071247, 1 by the one before); faithful claims accepted on blind claims: docs/benchmarks.md")
def test_faithful_paraphrases_are_supported(embedder):
    got = _verdicts(embedder, [c for c in MODEL_CLAIMS if c[1] == SUPPORTED])
    assert all(g[2] == SUPPORTED for g in got), got


def test_a_verbatim_sentence_is_supported_without_the_model(embedder):
    class NoModel:
        thresholds = Thresholds()

        def probabilities(self, pairs):
            raise AssertionError("a verbatim sentence needs no model")

    sentence = "Both libraries will be paid for by the Harwick Arts Trust, not by council tax."
    evidence = evidence_from_text("p", PASSAGE, embedder)
    check = check_against(sentence, embedder.encode_one(sentence), 1, evidence, NoModel())
    assert check.label == SUPPORTED and check.score == 1.0 and check.verbatim
    assert [evidence.sentence(i) for i in check.best_sentences] == [sentence]


def test_a_long_paragraph_is_read_in_windows_around_the_closest_sentences(embedder):
    from assistant.verify import WHOLE_WORDS

    filler = " ".join(f"Sentence {n} of the minutes records a routine item about parking permits." for n in range(1, 12))
    paragraph = filler + " " + PASSAGE
    assert len(paragraph.split()) > WHOLE_WORDS
    read = []

    class Recorder:
        thresholds = get_verifier().thresholds

        def probabilities(self, pairs):
            read.extend(p for p, _ in pairs)
            return get_verifier().probabilities(pairs)

    claim = "The new libraries will be paid for by council tax."
    evidence = evidence_from_text("p", paragraph, embedder)
    check = check_against(claim, embedder.encode_one(claim), 1, evidence, Recorder())
    assert check.label == CONTRADICTED
    assert "not by council tax" in " ".join(evidence.sentence(i) for i in check.best_sentences)
    assert 1 <= len(read) <= 4 and all(len(r.split()) < len(paragraph.split()) for r in read)
    assert "council tax" in read[0]  # the window around the closest sentence comes first


def test_the_shipped_verifier_folder():
    meta = read_verifier_json(VERIFIER_DIR)
    assert tuple(meta["labels"]) == LABELS
    assert meta["decision"]["supported"] > 0 and meta["decision"]["contradicted"] > 0
    size_mb = sum(f.stat().st_size for f in VERIFIER_DIR.iterdir() if f.is_file()) / 1e6
    assert size_mb <= 30
    card = (VERIFIER_DIR / "README.md").read_text(encoding="utf-8")
    assert "## The decision" in card and str(meta["decision"]["supported"]) in card


# --- assistant verify ---------------------------------------------------------------------------------


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")


def test_verify_cli_checks_a_file_of_claims(tmp_path):
    claims = tmp_path / "claims.jsonl"
    verbatim = "Both libraries will be paid for by the Harwick Arts Trust, not by council tax."
    _write(claims, [{"id": "a", "claim": verbatim, "source": PASSAGE}, "",
                    {"id": 7, "claim": RULE_CLAIMS[0], "source": PASSAGE}])
    out = tmp_path / "out" / "verdicts.jsonl"
    result = run_cli("verify", str(claims), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "7"]
    assert all(set(r) == {"id", "label", "score", "evidence"} for r in rows)
    assert (rows[0]["label"], rows[0]["score"], rows[0]["evidence"]) == (SUPPORTED, 1.0, verbatim)
    assert rows[1]["label"] in (CONTRADICTED, UNSUPPORTED) and rows[1]["score"] < 1.0
    assert "The council expects the libraries to lend 80,000 books a year." in rows[1]["evidence"]
    assert result.stdout.startswith("checked 2 claims: 1 supported, ")


@pytest.mark.parametrize("rows,message", [
    ([{"id": "a", "claim": "x y z", "source": PASSAGE}, "{not json"], "line 2: not JSON"),
    ([{"id": "a", "claim": "x y z", "source": PASSAGE}, "", {"id": "b", "claim": "", "source": PASSAGE}], "line 3: 'claim' is missing or empty"),
    ([{"id": "a", "claim": "x y z", "source": PASSAGE}, {"id": "a", "claim": "u v w", "source": PASSAGE}], "line 2: the id 'a' was given already"),
    ([{"id": "a", "claim": "x y z"}], "line 1: 'source' is missing"),
    (["[1, 2]"], "line 1: expected an object"),
    ([{"id": "a", "claim": "x y z", "source": "s " * 20_000}], "give the passage the claim rests on"),
])
def test_verify_cli_refuses_bad_input_whole_and_writes_nothing(tmp_path, rows, message):
    claims, out = tmp_path / "claims.jsonl", tmp_path / "out.jsonl"
    _write(claims, rows)
    result = run_cli("verify", str(claims), "--out", str(out))
    assert result.returncode == 2 and message in result.stderr and str(claims) in result.stderr
    assert not out.exists()


def test_verify_cli_refuses_a_file_that_is_not_utf8(tmp_path):
    claims, out = tmp_path / "claims.jsonl", tmp_path / "out.jsonl"
    claims.write_bytes(b'{"id": "a", "claim": "caf\xe9", "source": "x"}\n')
    result = run_cli("verify", str(claims), "--out", str(out))
    assert result.returncode == 2 and "not UTF-8" in result.stderr and not out.exists()


# --- the LLM path: contradicted sentences are never shown, and are logged ---------------------------


def test_a_contradicted_llm_sentence_is_left_out_and_logged(assistant, caplog):
    from assistant.llm_answer import LLMAnswerer

    question = "What was the aim at Salford Royal?"
    retrieval = assistant.retriever.search(question, k=3)
    config = assistant.config.replace(llm_base_url="http://127.0.0.1:9/v1")  # never contacted here
    answerer = LLMAnswerer(config, assistant.embedder, assistant.index)
    numbered = answerer._number(retrieval.passages)
    target = next(n.marker for n in numbered if n.passage.paragraph.id == "kf-2014-leaders-reform-from-within#p4")
    text = (f"Key ingredients included setting specific goals for improvement [{target}]. "
            f"Salford Royal did not aim to become the safest organisation in the NHS [{target}].")
    with caplog.at_level(logging.WARNING, logger="assistant.llm"):
        answer = answerer.verified_answer(question, text, numbered, retrieval.passages)
    assert answer.answer == "Key ingredients included setting specific goals for improvement. [1]"
    assert "did not aim" not in answer.answer
    assert "contradicted by them" in answer.notice
    logged = [r.getMessage() for r in caplog.records if r.name == "assistant.llm"]
    assert any("contradicts" in m and "did not aim" in m for m in logged)


def test_unrelated_training_pairs_set_a_claim_against_another_documents_passage():
    import random

    from training.verifier_data import UNRELATED, NliPair, unrelated_pairs

    pairs = [NliPair(f"passage {d}-{n}", f"claim {d}-{n}", LABELS.index("entailment"), "f.jsonl", "paraphrase", f"doc{d}")
             for d in range(3) for n in range(10)]
    made = unrelated_pairs(pairs, 0.5, random.Random(0))
    assert len(made) == 15
    for pair in made:
        own = next(p for p in pairs if p.hypothesis == pair.hypothesis)
        assert pair.doc != own.doc and pair.premise != own.premise
        assert (LABELS[pair.label], pair.kind, pair.source) == ("neutral", UNRELATED, UNRELATED)
    assert unrelated_pairs(pairs, 0.0, random.Random(0)) == []


def test_a_verifier_warm_start_begins_from_the_shipped_verifiers_weights():
    import torch

    from assistant.entailment import LABELS, VERIFIER_DIR, Verifier, VerifierError, read_verifier_json
    from assistant.reader import READER_DIR
    from training.model_folder import bundled_base, load_base, warm_start

    layers = int(read_verifier_json(VERIFIER_DIR)["layers"])
    tokenizer, model = load_base(bundled_base(), layers, list(LABELS), 128)
    warm_start(model, VERIFIER_DIR, VerifierError, log=lambda _: None)
    model.eval()
    pairs = [("The board met in March and approved the budget.", "The budget was approved by the board."),
             ("The board met in March and approved the budget.", "The board rejected the budget.")]
    with torch.no_grad():
        encoded = tokenizer([p for p, _ in pairs], [h for _, h in pairs], padding=True, truncation="only_first", return_tensors="pt")
        warm = torch.softmax(model(**encoded).logits, dim=1).numpy()
    assert np.allclose(warm, Verifier(VERIFIER_DIR).probabilities(pairs), atol=0.02)  # float16 storage
    with pytest.raises(VerifierError, match="3 output"):
        warm_start(model, READER_DIR, VerifierError, log=lambda _: None)  # a reader's one-logit head is not a verifier's
