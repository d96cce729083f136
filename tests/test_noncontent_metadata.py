"""Non-content paragraphs (ingest/noncontent.py) and the metadata a document's text states
(ingest/metadata.py), on text written for these tests: each role and each statement shape, and the
content that must stay content (a false positive loses an answer)."""

from __future__ import annotations

import pytest

from ingest.loaders import Block
from ingest.metadata import generic_title, iso_date, stated_metadata, title_from_blocks
from ingest.noncontent import ROLES, citation_entry, contents_entry, mark_roles, paragraph_role

# --- roles of single paragraphs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, section, kind, role",
    [
        # contents
        ("Contents", "", "paragraph", "contents"),
        ("Background and scope ............ 12", "", "paragraph", "contents"),
        ("Annex C: Survey questions …… 41", "Overview", "paragraph", "contents"),
        ("Getting started\n• 1. Why we measure 3\n• 2. What we count 5\n• 3. Who reports 9", "", "list", "contents"),
        ("Table of contents Preface 2 Our approach 4 1. Measuring demand 7 2. Meeting demand 11 3. Next steps 15",
         "", "paragraph", "contents"),
        ("What the panel heard", "Table of Contents", "paragraph", "contents"),
        ("Contents\n• 1. About this report\n• 2. What changed\n• 3. Costs", "", "list", "contents"),
        # notices
        ("© Crown copyright 2031", "", "paragraph", "notice"),
        ("Copyright © Northshire Water Trust 2029. All rights reserved.", "", "paragraph", "notice"),
        ("This publication is licensed under the terms of the Open Government Licence v3.0 except where otherwise "
         "stated. To view this licence, visit nationalarchives.gov.uk/doc/open-government-licence/version/3.",
         "", "paragraph", "notice"),
        ("To view this licence, visit the archive's website.", "", "paragraph", "notice"),
        ("Any enquiries regarding this publication should be sent to us at help@example.org", "", "paragraph", "notice"),
        ("ISBN 978-0-00-000000-0", "", "paragraph", "notice"),
        ("E01234567 09/31", "", "paragraph", "notice"),
        ("Printed on paper containing 75% recycled fibre content minimum", "", "paragraph", "notice"),
        ("Harbour at dusk by A. Painter, licensed under CC BY 4.0.", "Picture credits", "paragraph", "notice"),
        # banners
        ("Register to vote (/register-to-vote) Register by 3 May to vote in the local elections on 30 May.",
         "", "paragraph", "banner"),
        ("Skip to main content", "", "paragraph", "banner"),
        ("Is this page useful? Maybe Yes No", "", "paragraph", "banner"),
        ("Report a problem with this page", "", "paragraph", "banner"),
        ("Help us improve GOV.UK", "", "paragraph", "banner"),
        ("Print this page", "", "paragraph", "banner"),
        ("Back to top", "", "paragraph", "banner"),
        ("We use some essential cookies to make this website work.", "", "paragraph", "banner"),
        ("All content is available under the Open Government Licence v3.0, except where otherwise stated "
         "© Crown copyright", "", "paragraph", "banner"),
        ("[This page is intentionally left blank]", "", "paragraph", "banner"),
        # references
        ("[7] Okafor, N. (2019) Ferry timetables and rural isolation. Journal of Island Studies, 14(2), 33–51.",
         "", "paragraph", "references"),
        ("Lindqvist, B., Mortensen, K. and Ito, H. (2021). Waiting well. Care Quarterly 9(4): 201-219.",
         "", "paragraph", "references"),
        ("Coastal Board (2027): A review of harbour dredging (https://example.org/dredging)", "", "paragraph",
         "references"),
        ("Marsh Institute. ‘Counting the commuters’ 2018", "", "paragraph", "references"),
        ("14 The Harbour Trust, Annual review of ferry services, March 2026", "", "paragraph", "references"),
        ("15 As above, p. 12", "", "paragraph", "references"),
        ("Pell R, Ortiz M. Sleep and shift work. Occup Med 2018;68(2):91-97. doi:10.1000/xyz123",
         "", "paragraph", "references"),
        ("The Blue Book of Ferries (https://example.org/blue-book)", "Bibliography", "paragraph", "references"),
        ("River levels dashboard. Available at: https://example.org/levels (Accessed 3 May 2031)", "", "paragraph",
         "references"),
        ("References\n• Harbour Authority: Tide tables\n• Ferry Users Group: Survey results", "", "list", "references"),
    ],
)
def test_role_of_a_paragraph(text, section, kind, role):
    assert role in ROLES
    assert paragraph_role(text, section, kind) == role


@pytest.mark.parametrize(
    "text, section, kind",
    [
        # Content that mentions what notices and citations contain.
        ("The consultation on copyright reform closed in March; most respondents favoured a shorter term.", "",
         "paragraph"),
        ("Licensing fees rose by 4% (Smith 2020), and the regulator expects them to rise again in 2031.", "",
         "paragraph"),
        ("Smith (2020) found that waiting times fell when clinics opened on Saturdays.", "", "paragraph"),
        ("The data are published under the Open Government Licence so that councils can reuse them freely.", "",
         "paragraph"),
        ("Voters must register by 18 June to take part; the council will write to every household.", "",
         "paragraph"),
        # Numbers at the end of a line that are not page numbers.
        ("Waiting times fell from 14 weeks in 2029 to 9", "", "paragraph"),
        ("Phase 2", "", "paragraph"),
        ("Q3 2031", "", "paragraph"),
        ("We will publish the first results in 2031", "", "paragraph"),
        ("No 10 staff met No 10 advisers and No 10 officials on 3 occasions in 2020 with 4 guests", "", "paragraph"),
        # Body text under a Contents, References or Notes heading the converter kept.
        ("Below is a table setting out the thresholds and what to do when a reading is out of range.", "Contents",
         "paragraph"),
        ("This section lists the studies we drew on. We searched three databases and we included those published "
         "since 2010 that reported outcomes for adults.", "References", "paragraph"),
        ("3 Benefits management is the planning and tracking of the changes a project is meant to bring, "
         "so that they are measured. See the guide (https://example.org/benefits) [Accessed 1 May 2030]", "Notes",
         "paragraph"),
        # A paragraph of the body with footnotes run into it as list items.
        ("5.2 We recognise the role of ports in the economy. We will work with harbour boards to win new trade "
         "and will support investment in the estuary.\n• Okafor, N. (2019) Ferry timetables. Island Studies 14(2): "
         "33–51. ↩\n• Harbour Trust, Annual review, March 2026 ↩", "Trade", "list"),
        ("A reader comment: © Crown copyright 2031", "", "comment"),
    ],
)
def test_content_is_not_marked(text, section, kind):
    assert paragraph_role(text, section, kind) == ""


def test_contents_entry_shapes():
    assert contents_entry("Introduction ........ 4")
    assert contents_entry("1. Background 7", strict=False)
    assert contents_entry("a. Purpose of the review 7", strict=False)
    assert not contents_entry("1. Background 7")  # without a leader only in a list of entries
    assert not contents_entry("Figures for 2029", strict=False)
    assert not contents_entry("The rate was 7.", strict=False)


def test_citation_entry_shapes():
    assert citation_entry("[12] Dunmore Council. Housing needs survey. 2029.")
    assert citation_entry("Okafor N, Pell R. Ferry use. Isl Stud 2019;14(2):33-51.")
    assert not citation_entry("In 2019 Okafor showed that ferry use fell (Okafor, 2019).")
    assert not citation_entry("The review (available at the council offices) sets out twelve actions.")



def test_footnotes_that_point_at_web_pages_run_into_one_line():
    """A PDF's layout runs a page's footnotes into one line: each its number, a short title or none, an address."""
    assert citation_entry("14 https://www.example.org/ferries/timetable-review")
    assert citation_entry("14 https://www.example.org/ferries/timetable-review 15 For more information see: "
                          "https://www.example.org/ferries/ 16 https://www.example.org/harbour-board/minutes")
    assert paragraph_role("22 Harbour Board minutes, March 2031: https://www.example.org/minutes 23 "
                          "https://www.example.org/accounts", "Funding the ferries", "paragraph") == "references"
    # A numbered point that says something, with an address in it, is content.
    assert not citation_entry("3 The board will publish the timetable review at https://www.example.org/review and "
                              "consult ferry users for twelve weeks before any change is made.")
    assert not citation_entry("14 https://www.example.org/review sets out the case for a winter service. The board agreed it.")
    assert not citation_entry("In 2031 the board published https://www.example.org/review")



def test_a_numbered_footnote_ending_in_a_month_and_year_cites_a_publication():
    assert citation_entry("31 Harbour Research Unit Are ferry fares really rising? November 2030")
    assert citation_entry("12 Porthmellin Council, Ferry Users Survey - September 2031")
    assert citation_entry("7 Island Transport Review: independent report 14 March 2029")
    # A numbered point whose date a preposition introduces is a sentence, not a citation.
    assert not citation_entry("2 The ferry timetable will be reviewed in March 2032")
    assert not citation_entry("3 Ferry crossings rose every year until May 2031.")


# --- roles in context ---------------------------------------------------------------------------


def test_runs_of_entries_and_what_follows_a_contents_label():
    paragraphs = [
        ("Contents", "", "paragraph"),
        ("Foreword", "", "paragraph"),
        ("Why this plan matters", "", "paragraph"),
        ("© Crown copyright 2031", "", "paragraph"),
        ("Executive summary 3", "", "paragraph"),
        ("Our priorities 5", "", "paragraph"),
        ("4.1 Staffing", "", "paragraph"),
        ("The plan sets out how the service will recruit and keep staff over the next five years.", "", "paragraph"),
        ("Phase 2", "", "paragraph"),
    ]
    assert mark_roles(paragraphs) == ["contents", "contents", "contents", "notice", "contents", "contents", "contents",
                                      "", ""]


def test_one_entry_shaped_line_alone_is_content():
    assert mark_roles([("Ferry crossings rose every year.", "", "paragraph"), ("Summer timetable 2", "", "paragraph"),
                       ("Winter services were cut.", "", "paragraph")]) == ["", "", ""]


def test_a_contents_heading_that_ends_too_late_stops_counting():
    """Converted documents lose headings: body text under "Contents" ends the contents list there."""
    paragraphs = [
        ("Testing at home ..... 2", "Contents", "paragraph"),
        ("Driving ..... 4", "Contents", "paragraph"),
        ("Patients who use insulin should test before driving and every two hours while they drive.", "Contents",
         "paragraph"),
        ("Meters and strips", "Contents", "paragraph"),
    ]
    assert mark_roles(paragraphs) == ["contents", "contents", "", ""]


def test_a_role_the_loader_gave_stays():
    assert mark_roles([("Ferries", "", "banner"), ("Summer timetable 2", "", "paragraph"),
                       ("Winter timetable 4", "", "paragraph")]) == ["banner", "contents", "contents"]


def test_reference_sections():
    paragraphs = [
        ("Harbour Authority: Tide tables (https://example.org/tides)", "References", "paragraph"),
        ("Ferry Users Group survey, 2030", "References", "paragraph"),
        ("3 The survey counted return journeys only, so it understates the number of trips made by commuters.",
         "Notes", "paragraph"),
        ("4 Ferry Users Group, Survey of crossings, June 2030", "Notes", "paragraph"),
    ]
    assert mark_roles(paragraphs) == ["references", "references", "", "references"]


# --- stated metadata ----------------------------------------------------------------------------


def blocks(*lines: str, kind: str = "text") -> list[Block]:
    return [Block(kind, line) for line in lines]


@pytest.mark.parametrize(
    "text, iso",
    [
        ("21 February 2023", "2023-02-21"), ("21st Feb 2023", "2023-02-21"), ("February 21, 2023", "2023-02-21"),
        ("November 2023", "2023-11"), ("2023-02-21", "2023-02-21"), ("21/02/2023", "2023-02-21"),
        ("(V4) 02.2024", "2024-02"), ("2023", "2023"), ("no date here", ""),
    ],
)
def test_iso_date(text, iso):
    assert iso_date(text) == iso


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["Harbour strategy", "Published 21 February 2031"], {"date": "2031-02-21"}),
        (["Harbour strategy", "Published: 5 April 2031"], {"date": "2031-04-05"}),
        (["First published 3 March 2030; last updated 9 June 2031"], {"date": "2030-03-03"}),
        (["Updated 30 June 2031"], {"date": "2031-06-30"}),
        (["Date: June 2031"], {"date": "2031-06"}),
        (["Ferry review", "November 2031", "Introduction"], {"date": "2031-11"}),
        (["From: Department for Harbours | Published 2031-11-29; last updated 2032-03-02"],
         {"publisher": "Department for Harbours", "date": "2031-11-29"}),
        (["From: Coastal Agency | Published n/a; last updated 2032-03-02"],
         {"publisher": "Coastal Agency", "date": "2032-03-02"}),
        (["Presented to Parliament by the Secretary of State for Harbours", "by Command of His Majesty", "January 2032",
          "CP 9999"], {"date": "2032-01", "reference": "CP 9999"}),
        (["Ferry review", "Published by the Harbour Standards Agency, 2031."],
         {"publisher": "Harbour Standards Agency", "date": "2031"}),
        (["Ministry", "of Ferries", "Policy paper"], {"publisher": "Ministry of Ferries"}),
        (["Ferries", "Department for Harbours, Ferries & Coastal Affairs", "Policy paper"],
         {"publisher": "Department for Harbours, Ferries & Coastal Affairs"}),
        (["© Crown copyright 2031"], {"date": "2031"}),  # Crown copyright names no publisher
        (["© Estuary Research Trust 2030"], {"publisher": "Estuary Research Trust", "date": "2030"}),
        (["Author(s): Ada Okafor and Ben Pell"], {"author": "Ada Okafor and Ben Pell"}),
        (["Written by Dr Ada Okafor"], {"author": "Dr Ada Okafor"}),
        (["Prepared by: Ben Pell, Cora Ito"], {"author": "Ben Pell, Cora Ito"}),
        (["By Dr Ada Okafor,", "Ben Pell"], {"author": "Dr Ada Okafor, Ben Pell"}),
        # A PDF's layout runs the author's unit into the name: the name is its first two words after any title.
        (["Author: Ada Okafor Analytics Unit | Harbour Science Directorate"], {"author": "Ada Okafor"}),
        (["Author: Dr Ada Okafor Clinical Trials Unit"], {"author": "Dr Ada Okafor"}),
        (["Publication reference: PR9086"], {"reference": "PR9086"}),
        (["HC 123"], {"reference": "HC 123"}),
        (["Number CBP10999"], {"reference": "CBP10999"}),
        (["Number 10999"], {"reference": "CBP10999"}),
        (["ISBN 978-1-2345-6789-0"], {"reference": "ISBN 978-1-2345-6789-0"}),
        (["Harbour Research Paper Number 2031/016"], {"reference": "Research Paper Number 2031/016"}),
        (["Ada Okafor, Director of Ferries, October 2031"], {"date": "2031-10"}),
        # a GOV.UK publication page: its organisation stands above the document type, whatever its name's shape
        (["Coastal Skills Westshire", "Research and analysis", "Ferry crews to 2035", "Published 3 May 2031"],
         {"publisher": "Coastal Skills Westshire", "date": "2031-05-03"}),
        (["Harbourwatch", "Policy paper", "Ferry fares"], {"publisher": "Harbourwatch"}),
    ],
)
def test_stated_metadata(lines, expected):
    assert stated_metadata(blocks(*lines)) == expected


@pytest.mark.parametrize(
    "lines",
    [
        ["The terms of reference were published on 9 December 2031 and set out the scope."],
        ["Ferry use, Harbour Journal, Published: 2 December 2029."],  # a field of a citation
        ["Its response (published on 21 July 2031) set out the next steps."],
        ["By 2031, we will have doubled the number of crossings."],
        ["By working together, councils can share the cost."],
        ["Printed in the UK on behalf of the Controller of His Majesty’s", "Stationery Office"],
        ["We will work with the copyright holders to agree terms."],
        ["Author: Ada Okafor and the Analytics Unit"],  # a unit named alongside, not after, the name: say nothing
        ["Author: Ada Okafor Evaluation Unit"],  # "Evaluation Unit" may be a heading: say nothing
        ["GOV.UK", "Guidance", "Ferry fares"],  # a site name above the document type is no publisher
        ["Transport, travel and ferries", "Policy paper", "Ferry fares"],  # a breadcrumb is no publisher
    ],
)
def test_prose_states_nothing(lines):
    assert stated_metadata(blocks(*lines)) == {}


def test_imprints_at_either_end_and_lines_set_aside():
    middle = [f"Paragraph {n} of the body says something about ferries." for n in range(200)]
    found = stated_metadata(blocks("Ferry review", *middle, "Publication reference: PR1234"),
                            set_aside=["Ferry review (V2) 03.2031"])
    assert found == {"reference": "PR1234", "date": "2031-03"}
    # A statement in the middle of a long document is not an imprint.
    assert stated_metadata(blocks(*middle[:100], "Publication reference: PR1234", *middle[100:])) == {}


def test_a_published_statement_beats_a_cover_date_and_a_copyright_year():
    found = stated_metadata(blocks("March 2030", "© Crown copyright 2029", "Published 4 April 2031"))
    assert found["date"] == "2031-04-04"


# --- titles --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["GOV.UK", "Document Outline", "INTERIM REPORT", "JUNE 2031", "Page 1 of 6",
                                  "Presented to Parliament by the Secretary of State for Harbours", "report.pdf",
                                  "Ministry of Ferries", "Contents"])
def test_generic_titles(text):
    assert generic_title(text)


def test_title_skips_generic_headings_and_joins_a_broken_title():
    loaded = blocks("GOV.UK", "June 2031", kind="heading") + [
        Block("heading", "A review of ferry services to the", level=1),
        Block("heading", "northern islands", level=1),
        Block("text", "The review looked at every crossing."),
    ]
    assert title_from_blocks(loaded) == "A review of ferry services to the northern islands"


def test_title_in_plain_text_is_the_first_short_line_that_is_not_generic():
    assert title_from_blocks(blocks("Page 1 of 4", "Ferries and the islands", "The review looked at crossings.")) == \
        "Ferries and the islands"
    assert title_from_blocks(blocks("Contents", "© Crown copyright 2031")) == ""


def test_a_title_set_over_several_cover_lines_is_put_back_together():
    from ingest.loaders import Block
    from ingest.metadata import cover_title

    cover = [Block("text", "Westshire County Council"), Block("heading", "The Westshire Active Travel"),
             Block("heading", "and Road Safety Plan"), Block("heading", "2025-2030"),
             Block("text", "Making every journey safer for everyone who walks, cycles or drives in the county.")]
    assert cover_title(cover) == "The Westshire Active Travel and Road Safety Plan 2025-2030"
    # an organisation's name broken over lines, and generic words, name no document
    split_org = [Block("heading", "The Eastbrook"), Block("heading", "Community Health"), Block("heading", "NHS Trust"),
                 Block("heading", "Contents"), Block("heading", "Estates Strategy"), Block("text", "2024-2029")]
    assert cover_title(split_org) == "Estates Strategy 2024-2029"
    # prose first: no cover
    assert cover_title([Block("text", "This guidance explains how to register a birth within 42 days.")]) == ""


def test_a_first_heading_that_begins_a_cover_organisation_is_no_title(tmp_path):
    from ingest.pipeline import parse_document

    path = tmp_path / "estates.md"
    path.write_text("**The Eastbrook**\n\n**Community Health**\n\n**NHS Trust**\n\n**Estates Strategy**\n\n2024-2029\n\n"
                    "**Foreword**\n\nOur estate must serve patients for the next twenty years, and it will.\n", encoding="utf-8")
    document = parse_document(path, "estates", "default", {}, 10_000_000)
    assert document.title == "Estates Strategy 2024-2029"
    assert document.publisher == "Eastbrook Community Health NHS Trust"


def test_the_texts_author_beats_the_files_author_property():
    from ingest.metadata import merged_metadata

    # A PDF's Author property is most often the organisation: the person the text names writes it, the organisation publishes it.
    found = merged_metadata({"author": "Ada Okafor", "date": "2031-06"}, {"title": "Ferry plan", "author": "Harbour Standards Agency"})
    assert found == {"author": "Ada Okafor", "publisher": "Harbour Standards Agency", "date": "2031-06", "title": "Ferry plan"}
    # A publisher stated already stays; a property that is no organisation ("jsmith") publishes nothing.
    assert merged_metadata({"author": "Ada Okafor", "publisher": "Ferry Board"}, {"author": "Harbour Standards Agency"})["publisher"] == "Ferry Board"
    assert "publisher" not in merged_metadata({"author": "Ada Okafor"}, {"author": "jsmith"})
    # Otherwise the file's properties are what the publisher set, and win; an organisation there is the publisher.
    assert merged_metadata({"date": "2031-06", "title": "Ferry Plan"}, {"title": "Ferry plan 2031", "author": "Harbour Standards Agency"}) == {
        "date": "2031-06", "title": "Ferry plan 2031", "publisher": "Harbour Standards Agency"}
    assert merged_metadata({}, {"author": "Ada Okafor"}) == {"author": "Ada Okafor"}
    # An acronym there is spelled out where the text spells it out, and is the publisher too.
    from ingest.loaders import Block

    text = [Block("text", "This framework sets out how the Department for Harbours, Ferries and Tides (DHFT) evaluates.")]
    assert merged_metadata({}, {"author": "DHFT"}, text) == {"publisher": "Department for Harbours, Ferries and Tides"}
    assert merged_metadata({}, {"author": "DHFT"}) == {"publisher": "DHFT"}
    # An acronym of the name after "Department for" is the Department's.
    text = [Block("text", "I am pleased to introduce the Department for Harbours, Ferries & Tides (HFT) plan.")]
    assert merged_metadata({}, {"author": "HFT"}, text) == {"publisher": "Department for Harbours, Ferries & Tides"}
