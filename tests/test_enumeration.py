"""Enumerations: a sentence that announces a list is answered with the list's items, each cited. The
rules are read on text written for these tests (assistant/enumeration.py), then the answer is checked
through the extractive chooser and, end to end, on the README's own example over the bundled sources."""

from __future__ import annotations

import numpy as np

from assistant.enumeration import Announcement, announcement, list_items, ordinal_position
from assistant.extractive import ReadSentence, choose
from assistant.records import Document, Paragraph
from assistant.retrieval import Passage
from ingest.segment import split_sentences


def document(*texts: str, sections: list[str] | None = None) -> list[Paragraph]:
    """Paragraphs 1..n of one document, each with its sentences; a text with bullet lines is a list."""
    sections = sections or [""] * len(texts)
    return [
        Paragraph("plan", n, text, section=section, kind="list" if "\n• " in text else "paragraph", sentences=split_sentences(text))
        for n, (text, section) in enumerate(zip(texts, sections), start=1)
    ]


def items_of(paragraphs: list[Paragraph], number: int, index: int) -> list[str]:
    """The items sentence `index` of paragraph `number` announces, as text."""
    paragraph = paragraphs[number - 1]
    return [i.paragraph.sentence_texts()[i.index] for i in list_items(paragraph, index, paragraphs[number:])]


# --- what announces a list -----------------------------------------------------------------------------

def test_announcements_and_their_counts():
    assert announcement("Three conditions need to be met if the reforms are to work.") == Announcement(3, "conditions", False)
    assert announcement("The plan sets out five priorities:") == Announcement(5, "priorities", True)
    assert announcement("There are 4 reasons for this.") == Announcement(4, "reasons", True)
    assert announcement("The following steps should be taken by every board.").firm
    assert announcement("Progress depends on the following:") == Announcement(None, None, True)
    assert announcement("Progress includes:") == Announcement(None, None, False)  # bullets only
    assert announcement("There are several reasons for this.") == Announcement(None, "reasons", False)


def test_numbers_that_announce_nothing():
    # A span of time, a list already given, a year, the next year: a number or "following", no list.
    for sentence in ["Three years ago the trust closed its maternity unit.", "These three conditions are hard to meet.",
                     "The 2023 review was published in March.", "In the following year the board resigned."]:
        assert announcement(sentence) is None, sentence
    # A count of things states how many there are; only a count of what the text goes on to say is firm.
    assert not announcement("The trust runs two hospitals.").firm


def test_ordinal_markers():
    assert ordinal_position("First, boards should publish waiting times.") == 1
    assert ordinal_position("Secondly there is the question of money.") == 2
    assert ordinal_position("The third and hardest condition is patience.", noun="conditions") == 3
    assert ordinal_position("The second is money.") == 2
    assert ordinal_position("Finally, ministers must stay out of operations.") < 0
    assert ordinal_position("Another reason is the cost of agency staff.", noun="reasons") == 0
    assert ordinal_position("Another hospital closed.", noun="reasons") is None
    assert ordinal_position("First Minister Ann Rhys opened the unit.") is None
    assert ordinal_position("Third-party providers run the car parks.") is None
    assert ordinal_position("Second homes are a separate matter.") is None
    assert ordinal_position("The third reading of the bill is in May.", noun="changes") is None


# --- where the items are -------------------------------------------------------------------------------

def test_a_list_paragraph_gives_its_bullets():
    paragraphs = document(
        "The board reviewed its targets in May. The strategy sets out four priorities:\n• faster diagnosis\n"
        "• more care in the community\n• a digital front door\n• a stable workforce",
        "The next review is due in 2026.",
    )
    assert items_of(paragraphs, 1, 1) == ["• faster diagnosis", "• more care in the community", "• a digital front door",
                                         "• a stable workforce"]


def test_ordinal_sentences_in_one_paragraph():
    paragraphs = document(
        "The review makes three recommendations. First, boards should publish their waiting times every month. "
        "Most already do so. Second, every trust should name a director for patient safety. The third is that "
        "inspections should be unannounced. The board accepted them all.",
        "Finally, the chair thanked the staff.",
    )
    assert items_of(paragraphs, 1, 0) == [
        "First, boards should publish their waiting times every month.",
        "Second, every trust should name a director for patient safety.",
        "The third is that inspections should be unannounced.",
    ]


def test_items_in_the_next_three_paragraphs():
    paragraphs = document(
        "Inspectors visited the hospital in June. They found three problems.",
        "Patients waited more than four hours in the emergency department. Some waited overnight.",
        "Nurses on the surgical wards were not trained to use the new infusion pumps.",
        "Cleaning records for the operating theatres were incomplete.",
        "The hospital has since appointed a new medical director.",
    )
    assert items_of(paragraphs, 1, 1) == [
        "Patients waited more than four hours in the emergency department.",
        "Nurses on the surgical wards were not trained to use the new infusion pumps.",
        "Cleaning records for the operating theatres were incomplete.",
    ]


def test_ordinal_paragraphs_with_elaboration_between_them():
    paragraphs = document(
        "We believe that two changes would make the biggest difference.",
        "First, the funding formula should follow patients. Money now follows buildings.",
        "That has been true since the 1990s and it shapes every budget.",
        "Second, councils should hold the budget for care at home.",
        "Second homes are a separate matter.",
    )
    assert items_of(paragraphs, 1, 0) == ["First, the funding formula should follow patients.",
                                         "Second, councils should hold the budget for care at home."]


def test_a_count_that_does_not_match_what_follows():
    # Five announced, three there before the next heading: the three are the answer, nothing is made up.
    paragraphs = document(
        "There are five reasons for this.",
        "Demand has grown faster than the budget.",
        "Recruitment abroad has slowed.",
        "Social care cannot discharge patients quickly.",
        "The board meets monthly.",
        sections=["Why waiting lists grew", "Why waiting lists grew", "Why waiting lists grew", "Why waiting lists grew", "Governance"],
    )
    assert items_of(paragraphs, 1, 0) == ["Demand has grown faster than the budget.", "Recruitment abroad has slowed.",
                                         "Social care cannot discharge patients quickly."]
    # Four changes announced, two ordinals follow: two items.
    paragraphs = document("Four changes are needed. First, pay nurses more. Second, build more beds. The minister disagreed.",
                          "The third reading of the bill is in May.")
    assert items_of(paragraphs, 1, 0) == ["First, pay nurses more.", "Second, build more beds."]


def test_a_number_that_announces_nothing_takes_nothing():
    paragraphs = document(
        "Three years ago the trust merged two hospitals.",
        "The merger saved money on estates.",
        "Staff surveys show morale has recovered.",
    )
    assert items_of(paragraphs, 1, 0) == []
    paragraphs = document("The trust runs two hospitals.", "The larger one is in the city centre.", "It has 600 beds.")
    assert items_of(paragraphs, 1, 0) == []


def test_items_after_a_colon_without_bullets():
    # A list written one short paragraph an item, ended by a longer paragraph of running text.
    paragraphs = document(
        "The board agreed the following actions:",
        "Publish waiting times monthly.",
        "Recruit forty nurses by March.",
        "The board also discussed at length the estates strategy, the car parks, the catering contract and the "
        "outcome of the staff survey, which it will return to at its next meeting in the autumn after the summer break.",
    )
    assert items_of(paragraphs, 1, 0) == ["Publish waiting times monthly.", "Recruit forty nurses by March."]


def test_unmarked_items_are_alike_and_are_sentences():
    # Three types announced; the next paragraph holds all three, the one after is running text.
    paragraphs = document(
        "The scenarios fall into three broad types:",
        "policy based - to meet a commitment; trend based - recent growth continues; economy wide - national projections",
        "The estimates cover direct jobs only.",
    )
    assert items_of(paragraphs, 1, 0) == [paragraphs[1].text]
    # A number left at a paragraph's start is no item.
    paragraphs = document("Officers referred fines for gatherings on the following four dates:",
                          "20 May 2020, 18 June 2020, 13 November 2020 and 14 January 2021", "6.", "7.")
    assert items_of(paragraphs, 1, 0) == ["20 May 2020, 18 June 2020, 13 November 2020 and 14 January 2021"]


def test_a_colon_before_a_quotation_announces_no_list():
    paragraphs = document(
        "The next day an adviser emailed the director saying:",
        "“Thank you so much for organising the drinks.”",
        "“It was lots of fun.”",
    )
    assert items_of(paragraphs, 1, 0) == []


# --- the answer: the announcement, then each item cited -------------------------------------------------

def read_sentences(paragraphs: list[Paragraph], logits: dict[tuple[int, int], float]) -> list[ReadSentence]:
    doc = Document("plan", "plan.txt", "The plan")
    out = []
    for (number, index), logit in logits.items():
        paragraph = paragraphs[number - 1]
        span = paragraph.sentences[index]
        out.append(ReadSentence(0, Passage(paragraph, doc, 1.0), index, span, paragraph.text[span.start : span.end], 0.5))
    return out


def test_the_answer_gives_the_items_each_cited():
    paragraphs = document(
        "Inspectors visited the hospital in June. They found three problems.",
        "Patients waited more than four hours in the emergency department.",
        "Nurses were not trained to use the new infusion pumps.",
        "Cleaning records for the operating theatres were incomplete.",
        "The hospital has since appointed a new medical director.",
    )
    # The reader read only the first paragraph and the last; it likes the announcement best.
    sentences = read_sentences(paragraphs, {(1, 0): -2.0, (1, 1): 4.0, (5, 0): 3.0})
    logits = [np.array([-2.0, 4.0, 3.0])]
    extract = choose(sentences, logits, following=lambda p: paragraphs[p.number:])
    cited = [(passage.paragraph.number, [s.text for s in chosen]) for passage, chosen in extract.groups]
    assert cited[:4] == [
        (1, ["Inspectors visited the hospital in June.", "They found three problems."]),  # "They" needs its sentence
        (2, ["Patients waited more than four hours in the emergency department."]),
        (3, ["Nurses were not trained to use the new infusion pumps."]),
        (4, ["Cleaning records for the operating theatres were incomplete."]),
    ]
    assert extract.listed == ["plan#p1", "plan#p2", "plan#p3", "plan#p4"]
    assert extract.passage_order()[:4] == extract.listed
    # Without the following paragraphs the announcement stands alone (nothing is made up).
    alone = choose(read_sentences(paragraphs, {(1, 0): -2.0, (1, 1): 4.0, (5, 0): 3.0}), logits)
    assert [p.paragraph.number for p, _ in alone.groups] == [1, 5] and alone.listed == []


def test_items_stop_in_order_when_the_word_budget_is_spent():
    long_item = " ".join(["word"] * 30) + "."
    paragraphs = document("There are three reasons for this.", f"Money is short. {long_item}", long_item, long_item)
    sentences = read_sentences(paragraphs, {(1, 0): 5.0})
    extract = choose(sentences, [np.array([5.0])], max_words=50, following=lambda p: paragraphs[p.number:])
    assert [p.paragraph.number for p, _ in extract.groups] == [1, 2]  # the third item would pass the budget


def test_readme_example_is_answered_with_its_three_conditions(assistant):
    answer = assistant.ask("What three conditions need to be met if Hunt's ideas are to gain traction?")
    assert not answer.abstained, answer.answer
    conditions = ["First, we need to recognise the time it takes to deliver continuous improvement from within.",
                  "Second, support needs to be provided to the 1.4 million staff working in the NHS",
                  "The third and most difficult condition is for politicians and national bodies to act"]
    markers = []
    for condition in conditions:
        assert condition in answer.answer
        citation = next(c for c in answer.citations if condition in c.quote)
        markers.append(citation.marker)
    assert len(set(markers)) == 3 and markers == sorted(markers)  # each its own paragraph, in the text's order
    announcement_citation = answer.citations[0]
    assert "three conditions need to be met" in announcement_citation.quote
    assert answer.answer.index("three conditions") < answer.answer.index(conditions[0])
