"""Which sentences the extractive answer chooses: the reader's logit with the retrieval prior
(assistant/extractive.py `choose`, RETRIEVAL_PRIOR). Text written for the tests."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.extractive import CHOICE_MARGIN, RETRIEVAL_PRIOR, ReadSentence, choose
from assistant.records import Document, Paragraph
from assistant.retrieval import Passage
from ingest.segment import split_sentences

DOC = Document("audit", "audit.txt", "The audit")
TEXTS = {
    1: "The audit covered 40 hospital trusts in 2023.",
    2: "Ward staffing was reviewed at each trust.",
}


def read(retrieval: dict[int, float], logits: dict[int, float]) -> tuple[list[ReadSentence], list[np.ndarray]]:
    """One sentence per paragraph: paragraph n retrieved with fused score retrieval[n] (in that rank order)
    and read by the reader with logit logits[n]."""
    sentences = []
    for rank, number in enumerate(sorted(retrieval, key=lambda n: -retrieval[n])):
        text = TEXTS[number]
        paragraph = Paragraph("audit", number, text, sentences=split_sentences(text))
        sentences.append(ReadSentence(rank, Passage(paragraph, DOC, retrieval[number]), 0, paragraph.sentences[0], text, 0.5))
    return sentences, [np.array([logits[s.passage.paragraph.number] for s in sentences])]


def first(extract) -> int:
    return extract.ranked[0].passage.paragraph.number


def test_a_close_call_goes_to_the_better_retrieved_paragraph():
    # The reader slightly prefers paragraph 2, which retrieval ranked far below paragraph 1.
    sentences, logits = read({1: 1.9, 2: 0.7}, {1: 3.0, 2: 3.5})
    extract = choose(sentences, logits)
    assert first(extract) == 1
    assert extract.best_logit == pytest.approx(3.0)  # the reader's own logit of the sentence chosen first
    assert extract.passage_order() == ["audit#p1", "audit#p2"]


def test_a_clear_reading_outweighs_retrieval():
    sentences, logits = read({1: 1.9, 2: 0.7}, {1: 1.0, 2: 6.0})
    assert first(choose(sentences, logits)) == 2


def test_without_a_retrieval_gap_the_reader_decides():
    sentences, logits = read({1: 1.2, 2: 1.2}, {1: 3.0, 2: 3.5})
    assert first(choose(sentences, logits)) == 2


def test_the_margin_for_a_second_sentence_counts_the_prior():
    # Paragraph 2's reading is close to paragraph 1's, but its retrieval score puts it beyond the margin.
    gap = (CHOICE_MARGIN + 0.5) / RETRIEVAL_PRIOR
    sentences, logits = read({1: 1.0 + gap, 2: 1.0}, {1: 3.0, 2: 3.0})
    assert [p.paragraph.number for p, _ in choose(sentences, logits).groups] == [1]
    sentences, logits = read({1: 1.0, 2: 1.0}, {1: 3.0, 2: 3.0})
    assert sorted(p.paragraph.number for p, _ in choose(sentences, logits).groups) == [1, 2]


def test_a_question_about_two_documents_is_answered_from_each():
    # Paragraph 2 is of another document and reads far below paragraph 1 (beyond the margin): an answer
    # about both documents still gives its best sentence, unless it is below the floor.
    from assistant.extractive import CHOICE_FLOOR

    other = Document("review", "review.txt", "The review")
    sentences, logits = read({1: 1.0, 2: 1.0}, {1: 4.0, 2: 4.0 - CHOICE_MARGIN - 1.0})
    sentences[1].passage.document = other
    assert [p.paragraph.number for p, _ in choose(sentences, logits).groups] == [1]
    assert [p.paragraph.number for p, _ in choose(sentences, logits, each_of=["audit", "review"]).groups] == [1, 2]
    sentences, logits = read({1: 1.0, 2: 1.0}, {1: 4.0, 2: CHOICE_FLOOR - 0.5})
    sentences[1].passage.document = other
    assert [p.paragraph.number for p, _ in choose(sentences, logits, each_of=["audit", "review"]).groups] == [1]
