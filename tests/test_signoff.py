"""Who signed a foreword (ingest/signoff.py): read from the short lines that end a foreword, stated in the
header, and answered from it. The documents are written for these tests."""

from __future__ import annotations

from dataclasses import dataclass

from conftest import assistant_over


@dataclass
class P:
    text: str
    section: str


def _document(foreword_end: list[str], heading: str = "Foreword", after: list[P] | None = None) -> list[P]:
    body = [P("The harbour board has agreed a ten-year plan for the quay, the moorings and the lifeboat station.", heading),
            P("I want to thank the harbour users who answered our survey last winter.", heading)]
    body += [P(text, heading) for text in foreword_end]
    body += after if after is not None else [P("Stage one of the dredging plan moves silt from the inner harbour.", "Executive summary")]
    return body


def test_a_signoff_is_the_name_and_role_ending_a_foreword():
    from ingest.signoff import foreword_signoff

    assert foreword_signoff(_document(["Morwenna Tregear, Chair of the Porthmellin Harbour Board."])) == \
        ("foreword", "Morwenna Tregear, Chair of the Porthmellin Harbour Board")
    # Name and role on lines of their own; an honorific and post-nominals; a web address after the name.
    assert foreword_signoff(_document(["Idris Pengelly", "Harbour Master"])) == ("foreword", "Idris Pengelly, Harbour Master")
    assert foreword_signoff(_document(["Rt Hon Jory Penrose MP Minister for Ports"], heading="Ministerial foreword")) == \
        ("foreword", "Rt Hon Jory Penrose MP Minister for Ports")
    assert foreword_signoff(_document(["Dr Kerensa Nance (https://example.org/people/kerensa-nance), Chief Executive"])) == \
        ("foreword", "Dr Kerensa Nance, Chief Executive")
    assert foreword_signoff(_document(["Tamsin Hocking", "Chief Executive"], heading="Preface")) == ("preface", "Tamsin Hocking, Chief Executive")
    # A role no word list names, set in title case as sign-offs set roles.
    assert foreword_signoff(_document(["Jory Penrose, Harbourmaster"])) == ("foreword", "Jory Penrose, Harbourmaster")
    assert foreword_signoff(_document(["Kerensa Nance", "Keeper of the Quay Records"])) == ("foreword", "Kerensa Nance, Keeper of the Quay Records")
    # A converter set the name as a heading: the next section is named by a person and holds only the role.
    assert foreword_signoff(_document([], after=[P("Director of Harbour Operations", "Loveday Trezise"),
                                                 P("Stage one moves silt from the inner harbour.", "Our plan")])) == \
        ("foreword", "Loveday Trezise, Director of Harbour Operations")


def test_no_signoff_where_the_foreword_ends_otherwise():
    from ingest.signoff import foreword_signoff, person_name

    # Prose, an organisation, a name with no role, a closing line, no foreword at all.
    assert foreword_signoff(_document(["We look forward to working with every harbour user on this plan over the next ten years."])) is None
    assert foreword_signoff(_document(["Porthmellin Harbour Board", "Harbour Office"])) is None
    assert foreword_signoff(_document(["Morwenna Tregear"])) is None
    assert foreword_signoff(_document(["Thank you."])) is None
    assert foreword_signoff(_document(["Morwenna Tregear", "with best wishes"])) is None
    assert foreword_signoff([P("Morwenna Tregear, Chair of the Board.", "Key messages")]) is None
    # "Key messages", not a message from anyone; a section named by a person that is prose.
    assert foreword_signoff(_document([], after=[P("Loveday Trezise joined the board in 2019 and has led the dredging work "
                                                   "since then, with a team of six.", "Loveday Trezise")])) is None
    assert person_name("Evaluation Team") is None and person_name("Skills England") is None
    assert person_name("Rt Hon Jory Penrose MP Minister for Ports") == "Jory Penrose"


def test_who_signed_the_foreword_is_answered_from_the_header(tmp_path):
    text = ('---\ntitle: "Porthmellin harbour plan"\npublisher: "Porthmellin Harbour Board"\n---\n\n'
            "# Porthmellin harbour plan\n\n## Foreword\n\n"
            "The harbour board has agreed a ten-year plan for the quay, the moorings and the lifeboat station.\n\n"
            "I want to thank the harbour users who answered our survey last winter.\n\n"
            "Morwenna Tregear, Chair of the Porthmellin Harbour Board.\n\n"
            "## Executive summary\n\n"
            + "\n\n".join(f"Stage {n} of the dredging plan moves {n * 1000} tonnes of silt from the inner harbour." for n in range(1, 9)) + "\n")
    assistant = assistant_over(tmp_path, {"harbour.md": text})
    header = assistant.index.paragraphs(["harbour#p0"])["harbour#p0"]
    assert "The foreword is signed by Morwenna Tregear, Chair of the Porthmellin Harbour Board." in header.sentence_texts()
    for question in ("Who signed the foreword to the Porthmellin harbour plan?", "Who wrote the foreword of the harbour plan?"):
        answer = assistant.ask(question)
        assert not answer.abstained and "Morwenna Tregear" in answer.answer, answer.answer


def test_a_role_under_the_signers_name_is_kept_though_the_body_names_it_too():
    """A PDF's caption under a photo ("Loveday Trezise", then "Harbour Master"): the name is read as a heading, and
    the role, which the body also names ("... the Harbour Master will ..."), is not a pull quote to drop."""
    from ingest.cleaning import clean
    from ingest.loaders import Block
    from ingest.signoff import foreword_signoff

    blocks = [Block("heading", "Porthmellin harbour plan", level=1), Block("heading", "Foreword", level=2),
              Block("text", "The harbour board has agreed a ten-year plan for the quay, the moorings and the lifeboat station."),
              Block("text", "From next spring the Harbour Master will publish the mooring waiting list every month."),
              Block("heading", "Loveday Trezise", level=3), Block("text", "Harbour Master"),
              Block("heading", "Executive summary", level=2),
              Block("text", "Stage one of the dredging plan moves silt from the inner harbour to the quay.")]
    doc = clean(blocks)
    assert ("Loveday Trezise", "Harbour Master") in [(p.section, p.text) for p in doc.paragraphs]
    assert foreword_signoff(doc.paragraphs) == ("foreword", "Loveday Trezise, Harbour Master")
    # Outside a sign-off, a short line the body repeats is still a pull quote: under a heading that is not a name.
    blocks[4] = Block("heading", "Mooring lists", level=3)
    assert "Harbour Master" not in [p.text for p in clean(blocks).paragraphs]


def test_long_runs_of_spaces_are_read_in_linear_time():
    """A converter's page of blanks is bad input, not a reason to hang an ingest: each rule that reads a paragraph
    collapses spaces before a pattern that could backtrack on them (quadratic: minutes for these; linear: well
    under a second). The bound is loose on purpose: it catches a quadratic pattern, not a slow machine."""
    import time

    from assistant.document_questions import document_ask
    from ingest.noncontent import citation_entry, paragraph_role
    from ingest.signoff import foreword_signoff

    blank = " " * 500_000
    started = time.perf_counter()
    assert not citation_entry(f"1 A{blank}x")
    assert paragraph_role(f"12 Harbour Board minutes{blank}x", "Notes", "paragraph") in ("", "references")
    signed = foreword_signoff([P(f"Morwenna{blank}Tregear (", "Foreword"), P(f"Chair of the Board{blank}", "Foreword")])
    assert signed is not None and signed[1].startswith("Morwenna Tregear")  # the spaces collapsed, the name read
    assert document_ask("Which body published the plan " + "that " * 20_000 + "?") == "Which body published the plan?"
    assert time.perf_counter() - started < 20
