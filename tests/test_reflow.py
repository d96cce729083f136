"""Paragraphs rejoined across line, column and page breaks, and where their pages begin
(ingest/reflow.py, and the cleaner that uses it). The blocks are written here, shaped like what the
loaders give for a PDF or a Markdown file converted from one."""

from __future__ import annotations

from assistant.records import Paragraph
from ingest.cleaning import clean
from ingest.loaders import Block
from ingest.reflow import continues, page_starts, rejoin


def text(t: str, marks=(), kind="text", role="") -> Block:
    return Block(kind, t, page_marks=tuple(marks), role=role)


def test_a_sentence_broken_at_a_page_end_is_one_paragraph_again():
    blocks = [
        text("The board agreed that the new community services would be", [(0, 3)]),
        text("funded from the transformation budget until March 2026.", [(0, 4)]),
    ]
    (joined,) = rejoin(blocks)
    assert joined.text == ("The board agreed that the new community services would be funded from the "
                           "transformation budget until March 2026.")
    # the second page begins at "funded", the 11th word
    assert joined.page_marks == ((0, 3), (10, 4))


def test_a_word_hyphenated_across_blocks_is_joined_without_its_hyphen():
    blocks = [text("Services will move into com-", [(0, 7)]), text("munity settings over five years.", [(0, 8)])]
    (joined,) = rejoin(blocks)
    assert joined.text == "Services will move into community settings over five years."
    # "community" stays on page 7; page 8 begins at the next word
    assert joined.page_marks == ((0, 7), (5, 8))


def test_a_sentence_ending_on_a_function_word_continues_whatever_the_case():
    assert continues(text("The review was led by the"), text("Department of Health and Social Care."))
    assert continues(text("Partners include councils,"), text("NHS trusts and the voluntary sector."))


def test_closed_sentences_headings_and_lists_are_not_joined():
    assert continues(text("The plan was published in 2023."), text("it sets five priorities.")) is None
    # a short line with no closing punctuation may be a heading: only joined when it ends mid-clause
    assert continues(text("Our priorities"), text("reducing waiting times comes first.")) is None
    assert continues(text("Funding is confirmed for"), Block("heading", "Next steps")) is None
    # non-content blocks (a contents entry) never swallow body text
    assert continues(text("Introduction and scope", role="contents"), text("of the review is wide")) is None


def test_a_list_item_continued_on_the_next_line_stays_one_item():
    blocks = [Block("item", "Improve access to mental health support for"), text("young people and their families.")]
    (joined,) = rejoin(blocks)
    assert joined.kind == "item" and joined.text.endswith("for young people and their families.")


def test_page_starts_are_character_offsets_of_the_final_text():
    para = "Alpha beta gamma delta epsilon."
    block = text(para, [(0, 2), (3, 3)])
    starts = page_starts(para, [(0, block)])
    assert starts == [(0, 2), (para.index("delta"), 3)]
    p = Paragraph("doc", 1, para, page_starts=starts)
    assert p.pages == [2, 3]
    assert p.page_at(para.index("beta")) == 2 and p.page_at(para.index("epsilon")) == 3


def test_the_cleaner_carries_pages_into_paragraphs_lists_and_tables():
    blocks = [
        Block("heading", "Annual report", level=1, page_marks=((0, 1),)),
        text("Our work this year covered three areas, set out in the", [(0, 1)]),
        text("sections below and summarised in the table.", [(0, 2)]),
        Block("text", "We focused on:", page_marks=((0, 2),)),
        Block("item", "prevention;", page_marks=((0, 2),)),
        Block("item", "early diagnosis; and", page_marks=((0, 3),)),
        Block("item", "recovery.", page_marks=((0, 3),)),
        Block("table", "Area: Prevention; Budget: £2m\nArea: Recovery; Budget: £1m", page_marks=((0, 3), (4, 4))),
    ]
    doc = clean(blocks)
    assert doc.title == "Annual report"
    first, lst, table = doc.paragraphs
    assert first.text.endswith("set out in the sections below and summarised in the table.")
    assert first.page_starts == [(0, 1), (first.text.index("sections"), 2)]
    assert lst.kind == "list" and lst.text.splitlines()[0] == "We focused on:"
    assert lst.page_starts == [(0, 2), (lst.text.index("early"), 3)]
    assert table.kind == "table" and table.text.splitlines() == ["Area: Prevention; Budget: £2m", "Area: Recovery; Budget: £1m"]
    assert table.page_starts == [(0, 3), (table.text.index("Area: Recovery"), 4)]


def test_a_loader_role_makes_a_paragraph_non_content():
    blocks = [
        Block("heading", "A strategy", level=1),
        Block("text", "© Crown copyright 2024", role="notice"),
        Block("text", "The strategy sets out how services will change over the next five years."),
    ]
    doc = clean(blocks)
    kinds = {p.text: p.kind for p in doc.paragraphs}
    assert kinds["© Crown copyright 2024"] == "notice"
    assert kinds["The strategy sets out how services will change over the next five years."] == "paragraph"


def test_a_compound_the_document_writes_with_its_hyphen_keeps_it():
    blocks = [
        text("Every draft-origin record is checked twice before release."),
        text("A record of draft-"),
        text("origin status is flagged in the register."),
        text("Community nurses visit weekly."),
        text("Services move to com-"),
        text("munity settings."),
    ]
    joined = [b.text for b in rejoin(blocks)]
    assert "A record of draft-origin status is flagged in the register." in joined
    assert "Services move to community settings." in joined
