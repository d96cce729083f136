"""A question that names its document (assistant/named_documents.py): the document is searched again without
the naming words. The documents and questions are written for these tests."""

from __future__ import annotations

import pytest
from conftest import assistant_over

from assistant.named_documents import DocumentNames
from assistant.records import Document


def doc(id: str, title: str, publisher: str = "") -> Document:
    return Document(id=id, path=f"/{id}.md", title=title, publisher=publisher)


NAMES = DocumentNames([
    doc("csa-plan", "Evaluation Action Plan", "Coastal Standards Agency"),
    doc("ferry-framework", "FERB Monitoring and Evaluation Framework", "Ferry and Estuary Regulation Board"),
    doc("islands-treaty", "Agreement on the ferries of Great Britain and Northern Ireland", "Cabinet Office"),
    doc("speech", "Harbour Speech 2031", "Prime Minister's Office, 10 Downing Street"),
    doc("inquiry", "FINDINGS OF THE INQUIRY INTO FERRY SAFETY", ""),
    doc("rail-vision", "Connecting islands: a strategic vision for ferries", "Department for Transport"),
    doc("rail-plan", "Ferry workforce plan", "Department for Transport"),
    doc("pension-age", "Women's State Pension age decision", "Department for Work and Pensions"),
])


@pytest.mark.parametrize(
    "question, document, rest",
    [
        ("What are the three kinds of inspection described in the CSA action plan?", "csa-plan",
         "What are the three kinds of inspection described in the?"),
        ("Who chairs the review panel in the Coastal Standards Agency's Evaluation Action Plan?", "csa-plan",
         "Who chairs the review panel in the?"),
        ("How often does FERB publish its reviews?", "ferry-framework", "How often does publish its reviews?"),
        ("When does the DfT's strategic vision for ferries expect new routes?", "rail-vision",
         "When does the expect new routes?"),
    ],
)
def test_a_question_naming_its_document(question, document, rest):
    named = NAMES.named(question)
    assert [n.document_id for n in named] == [document]
    assert named[0].rest == rest


def test_a_question_naming_two_documents():
    named = NAMES.named("What do the CSA action plan and the FERB framework say about crew training?")
    assert [(n.document_id, n.phrase) for n in named] == [("csa-plan", "CSA action plan"), ("ferry-framework", "FERB framework")]
    assert {n.rest for n in named} == {"What do the and the say about crew training?"}


def test_a_publishers_acronym_names_the_one_document_it_published():
    """"How do the CSA and FERB ...?" names organisations; each published one document here, which is the one meant.
    Not a word that merely reads as the acronym ("sits" and the DSIT), nor the acronym of a publisher of two."""
    named = NAMES.named("How do the CSA and FERB use external peer review?")
    assert [(n.document_id, n.phrase) for n in named] == [("csa-plan", "CSA"), ("ferry-framework", "FERB")]
    names = DocumentNames([doc("space", "Response to the Lords committee on space", "Department for Science, Innovation and Technology"),
                           doc("csa-plan", "Evaluation Action Plan", "Coastal Standards Agency")])
    assert names.named("Who sits on the CSA's review panel?")[0].document_id == "csa-plan"
    assert [n.document_id for n in names.named("Who sits on the review panel?")] == []
    assert [n.document_id for n in NAMES.named("What does the DfT say about crew training?")] == []


@pytest.mark.parametrize(
    "question",
    [
        "When did ferry inspections become mandatory in Wales and in Northern Ireland?",  # a place, not a reference
        "What did the Prime Minister say about ferries?",  # a publisher alone names no document
        "How many people work on ferries?",  # common words name nothing
        "What does the Department for Transport plan say?",  # one publisher, two documents: which?
        "What share of the working-age population crews a ferry?",  # a hyphenated word is one word, no name
    ],
)
def test_no_document_named(question):
    assert NAMES.named(question) == []


CORPUS = {
    "csa-evaluation-action-plan.md": """# Evaluation Action Plan

Published by the Coastal Standards Agency, March 2031.

This Evaluation Action Plan sets out how the Coastal Standards Agency will evaluate its work on harbours.

The Action Plan is an opportunity to strengthen what the agency already does to evaluate its harbour work.

We will review the Evaluation Action Plan every year to make sure the Action Plan is having the intended impact.

The Action Plan is centred on building evaluation skills across the Coastal Standards Agency.

This Action Plan builds on the monitoring the Coastal Standards Agency already carries out at every harbour.

Chapter 3 of the Action Plan sets out the practical steps the agency will take to deliver this plan.

The Action Plan will be published on the agency's website, and staff will be briefed on the plan in April.

The CSA Action Plan, in its part 1, describes how the Coastal Standards Agency will publish the plan's evaluation work.

The CSA Action Plan, in its part 2, describes how the Coastal Standards Agency will fund the plan's evaluation work.

The CSA Action Plan, in its part 3, describes how the Coastal Standards Agency will staff the plan's evaluation work.

The CSA Action Plan, in its part 4, describes how the Coastal Standards Agency will audit the plan's evaluation work.

The CSA Action Plan, in its part 5, describes how the Coastal Standards Agency will share the plan's evaluation work.

The CSA Action Plan, in its part 6, describes how the Coastal Standards Agency will explain the plan's evaluation work.

The CSA Action Plan, in its part 7, describes how the Coastal Standards Agency will track the plan's evaluation work.

The CSA Action Plan, in its part 8, describes how the Coastal Standards Agency will report on the plan's evaluation work.

Evaluations are of three kinds: process, impact and value-for-money. Process evaluations ask whether the work
was delivered as intended, impact evaluations what changed because of it, and value-for-money evaluations
whether it was worth its cost.
""",
    "ferry-timetables.md": """# Ferry timetables 2031

Published by the Island Ferries Company, January 2031.

The winter timetable runs from November to March, with two crossings a day on every route.

Three common types of ticket are sold: single, return and season tickets, each at the port office or online.
""",
}


def test_a_title_in_capitals_has_words_not_acronyms():
    from assistant.named_documents import _acronyms

    assert _acronyms("FINDINGS OF THE INQUIRY INTO FERRY SAFETY") == set()
    assert _acronyms("FERB Monitoring and Evaluation Framework") >= {"ferb"}
    assert "csa" in _acronyms("Coastal Standards Agency")


def test_the_named_document_is_searched_without_its_name(tmp_path, monkeypatch):
    from assistant.named_documents import DocumentNames as Names

    assistant = assistant_over(tmp_path, CORPUS)
    question = "What are the three common types of evaluation described in the CSA action plan?"

    def cites_the_kinds(answer) -> bool:
        return any("process, impact and value-for-money" in (c.text or "") for c in answer.citations)

    assert cites_the_kinds(assistant.ask(question))
    # Without the second search, the paragraphs that name the plan crowd out the one that answers.
    monkeypatch.setattr(Names, "named", lambda self, q: [])
    assistant._names = None
    assert not cites_the_kinds(assistant.ask(question))
