"""Off-corpus questions are refused outright, on a small corpus of health and public policy written for
these tests: a question about what it never discusses is refused even when one of its words ("2023")
occurs, and a question about its topics in other words is still answered (assistant/off_corpus.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from assistant.config import Config
from assistant.off_corpus import MIN_SIMILARITY, coverage, off_corpus
from assistant.text import content_terms

CORPUS = {
    "harbourside-plan.txt": """Harbourside Hospitals NHS Trust: annual plan 2023/24

In 2023 the trust treated 410,000 patients in its two hospitals and six community clinics.

Ambulance crews waited on average 48 minutes to hand over patients at the emergency department in the winter of 2023. The trust has opened a handover bay staffed by two nurses, so that crews can return to the road within 30 minutes.

The trust will recruit 120 nurses from overseas during 2023 and open a nursery for the children of staff on the main site.

Waiting lists for hip and knee operations grew to 14 months. A surgical hub opening in 2024 is meant to shorten them.
""",
    "county-public-health.txt": """County public health strategy

Smoking rates in the county fell from 17 per cent in 2015 to 11 per cent in 2023. Stop-smoking services will now be offered in every pharmacy.

The council will fund free swimming for children under 16 to reduce childhood obesity.

Health visitors will offer every new parent a home visit in the first two weeks after a birth.
""",
    "care-workforce.txt": """Social care workforce report

Care homes in the region reported 900 vacancies in 2023. Most of them were for night shifts.

The council raised the hourly rate it pays home care agencies to £24 so that they can pay carers more.
""",
}


@pytest.fixture(scope="module")
def policy_assistant(tmp_path_factory):
    from assistant.core import Assistant
    from ingest.pipeline import run_ingest

    corpus = tmp_path_factory.mktemp("policy-corpus")
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = Config.from_env(data_dir=tmp_path_factory.mktemp("policy-index")).replace(llm_base_url=None)
    run_ingest([corpus], config, progress=False)
    return Assistant.open(config=config)


def unseen(index, terms: list[str]) -> set[str]:
    """The terms that occur in no paragraph."""
    return {t for t, rows in index.term_postings(terms)[1].items() if len(rows) == 0}


def sentence(text: str, similarity: float):
    """A retrieved sentence as off_corpus reads it: its text and its cosine to the question."""
    return SimpleNamespace(text=text, similarity=similarity)


@pytest.mark.parametrize("question", ["Who won the 2023 Rugby World Cup?", "How many moons does Jupiter have?",
                                      "What is a good recipe for lemon drizzle cake?", "asdkjh qwpoeiru zmxncb", "!!!! ????"])
def test_questions_the_corpus_never_discusses_are_refused(policy_assistant, question):
    answer = policy_assistant.ask(question)
    assert answer.abstained and answer.citations == [], answer.answer


def test_a_word_that_occurs_does_not_make_a_question_about_the_corpus(policy_assistant):
    index = policy_assistant.index
    terms = content_terms("Who won the 2023 Rugby World Cup?")
    assert "2023" in terms and "2023" not in unseen(index, terms)  # the year is all over the corpus ...
    assert coverage(index, terms) == 0.0  # ... too common to count; the rest occurs nowhere
    # However near the nearest sentences seem, a corpus that never uses these words is not about them;
    # only a sentence of running text that is really near the question could say otherwise.
    assert off_corpus(index, terms, [sentence("In 2023 the trust treated 410,000 patients.", 0.3)])
    assert off_corpus(index, terms, [sentence("2023", 0.9)])  # a fragment's similarity means nothing


@pytest.mark.parametrize("question", [
    "How long were paramedics stuck outside A&E before they could hand over their patients?",
    "Are chemists going to help people quit cigarettes?",  # not one of its words is in the corpus
    "How many empty posts do care homes have?",
    "When will the backlog for hip replacements come down?",
])
def test_questions_on_the_corpus_topics_in_other_words_are_not_refused(policy_assistant, question):
    index = policy_assistant.index
    assert unseen(index, content_terms(question))  # worded with words the corpus lacks
    grounds = policy_assistant.gather(question)
    assert not off_corpus(index, grounds.retrieval.query_terms, grounds.extract.ranked)


def test_a_question_in_other_words_is_answered(policy_assistant):
    answer = policy_assistant.ask("Is the council paying more for carers who look after people in their own homes?")
    assert not answer.abstained, answer.answer
    assert "care-workforce#p2" in {c.paragraph_id for c in answer.citations}


def test_coverage_counts_rare_terms_said_together(policy_assistant):
    index = policy_assistant.index
    assert coverage(index, ["ambul", "crew", "handov"]) == pytest.approx(1.0)  # one paragraph holds all three
    # Each occurs, never two together: no paragraph holds more than its own share.
    apart = coverage(index, ["swim", "nurseri", "vacanc"])
    assert 0.25 < apart < 0.4
    assert coverage(index, ["rugbi", "cup"]) == 0.0
    assert coverage(index, ["2023"]) is None  # generic in this corpus: nothing to judge by


def test_the_nearest_sentence_keeps_a_paraphrase(policy_assistant):
    index = policy_assistant.index
    terms = content_terms("Why are the young ones swimming for nothing?")
    assert coverage(index, terms) < 0.3
    near = sentence("The council will fund free swimming for children under 16 to reduce childhood obesity.", MIN_SIMILARITY + 0.1)
    assert not off_corpus(index, terms, [near])
    assert off_corpus(index, terms, [sentence(near.text, MIN_SIMILARITY - 0.1)])
