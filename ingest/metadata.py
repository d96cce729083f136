"""Metadata a document's text states about itself: publisher, author, date and publication reference,
read from the lines where imprints sit (the first blocks: cover, title page, imprint page; the last
blocks: back-page imprint), plus a fallback title rule.

What counts as a statement, by shape, never by document:
- date: "Published 21 February 2023", "Published: 5 April 2023", "First published ...; last updated ...",
  "Updated 30 June 2022", "Date: June 2022", the GOV.UK "From: <organisations> | Published <date>; last
  updated <date>" line, the date under "Presented to Parliament ... by Command of His Majesty", and a cover
  line that is only a date ("November 2023"). Dates become ISO: "2023-02-21", "2023-02" or "2023".
- publisher: "Published by X", "From: X", the line above a GOV.UK document type on a publication's cover
  ("Skills England" / "Research and analysis" / <title> / "Published 12 August 2025"), a line that is an
  organisation's name on the cover ("Department for Transport", "Ministry of Justice"; a name broken over
  several short lines is put back together), "© X 2023"
  where X is not "Crown copyright" (Crown copyright says who owns the text, not who published it).
- author: "Author(s): ...", "Written by ...", "Prepared by ...", "By <names>".
- reference: "Publication reference: PR2086", a command paper ("CP 1478", "Cm 9519"), a House of Commons
  paper ("HC 1025"), a Commons Library briefing number ("CBP10313", "Number 10313"), a research paper
  number, "ISBN 978-...".

Entry points: `stated_metadata(blocks)` and `title_from_blocks(blocks)`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.loaders import Block

HEAD_BLOCKS = 60
TAIL_BLOCKS = 40
COVER_LINES = 40  # where an organisation's name alone on a line is its publisher's

_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december")
_MONTH = r"(?i:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?)"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
# One date as written: "21 February 2023", "February 21, 2023", "February 2023", "2023-02-21", "21/02/2023", "2023".
_DATE = (
    rf"(?:{_DAY}\s+{_MONTH},?\s+{_YEAR}|{_MONTH}\s+{_DAY},?\s+{_YEAR}|{_MONTH},?\s+{_YEAR}"
    rf"|{_YEAR}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/{_YEAR}|\d{{1,2}}\.\d{{1,2}}\.{_YEAR}|{_YEAR})"
)


def iso_date(text: str) -> str:
    """ "21st February 2023" -> "2023-02-21", "Feb 2023" -> "2023-02", "02.2024" -> "2024-02", "2023" ->
    "2023", "21/02/2023" -> "2023-02-21" (day first, as in the UK); "" when `text` holds no date."""
    text = text.strip().lower()
    if m := re.search(rf"\b({_YEAR})-(\d{{2}})-(\d{{2}})\b", text):
        return _iso(m.group(1), int(m.group(2)), int(m.group(3)))
    if m := re.search(rf"\b(\d{{1,2}})[/.](\d{{1,2}})[/.]({_YEAR})\b", text):
        return _iso(m.group(3), int(m.group(2)), int(m.group(1)))
    if m := re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+({_MONTH}),?\s+({_YEAR})\b", text):
        return _iso(m.group(3), _month_number(m.group(2)), int(m.group(1)))
    if m := re.search(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+({_YEAR})\b", text):
        return _iso(m.group(3), _month_number(m.group(1)), int(m.group(2)))
    if m := re.search(rf"\b({_MONTH}),?\s+({_YEAR})\b", text):
        return _iso(m.group(2), _month_number(m.group(1)))
    if m := re.search(rf"\b(0?[1-9]|1[0-2])[./]({_YEAR})\b", text):  # "02.2024": a month and year
        return _iso(m.group(2), int(m.group(1)))
    if m := re.search(rf"\b({_YEAR})\b", text):
        return m.group(1)
    return ""


def _month_number(word: str) -> int:
    word = word.rstrip(".")[:3]
    return next((i for i, name in enumerate(_MONTH_NAMES, 1) if name.startswith(word)), 0)


def _iso(year: str, month: int, day: int = 0) -> str:
    if not 1 <= month <= 12:
        return year
    if day and 1 <= day <= 31:
        return f"{year}-{month:02d}-{day:02d}"
    return f"{year}-{month:02d}"


# --- what the lines state ------------------------------------------------------------------------

_NOT_A_DATE = re.compile(r"^(?:n/?a|none|tbc|-+)$", re.IGNORECASE)
# GOV.UK: "From: Department for Transport | Published 2017-11-29; last updated 2018-03-02".
_FROM_LINE = re.compile(r"^from:\s*(?P<orgs>[^|]+?)\s*(?:\||$)", re.IGNORECASE)
# A statement, not a sentence: "Published 21 February 2023" capitalised (wherever it stands: converted
# pages run the statement into their neighbours) or opening a line or a "|"/";" part in any case; never
# "the terms of reference were published on 9 December 2021", nor a field of a citation (", Published: ...").
_STATEMENT_START = r"(?:^|(?<=[|;])\s*|(?<=\s)(?<![,(]\s)(?=[A-Z]))"
_PUBLISHED = re.compile(
    _STATEMENT_START + rf"(?:(?:First|FIRST|first)\s+published|Published|PUBLISHED|(?<![\w ])published)(?:\s+on)?:?\s+"
    rf"(?P<date>{_DATE}|n/?a)\b")
_UPDATED = re.compile(
    _STATEMENT_START + rf"(?:(?:Last|LAST|last)\s+)?(?:Updated|UPDATED|updated)(?:\s+on)?:?\s+(?P<date>{_DATE})\b")
_DATE_LABEL = re.compile(
    rf"^(?:date(?: of (?:publication|issue))?|publication date|date published|issue date|date issued|issued)"
    rf"\s*[:\-–]?\s*(?P<date>{_DATE})\b", re.IGNORECASE)
_DATE_ALONE = re.compile(rf"^(?:{_DATE})$", re.IGNORECASE)
# An imprint or signature line ending in its date: "Commons Library Research Briefing, 23 July 2025",
# "Jane Smith, Director of Workforce, October 2021".
_DATED_LINE = re.compile(rf"^[A-Z][^.!?]{{2,120}},\s*(?P<date>{_DAY}\s+{_MONTH}\s+{_YEAR}|{_MONTH}\s+{_YEAR})$")
# A version line's date: "Guidance (V4) 02.2024", "Version 2, March 2023".
_VERSION_DATE = re.compile(rf"\(?\bv(?:ersion)?\s?\d+(?:\.\d+)?\)?,?\s+(?P<date>{_DATE}|\d{{1,2}}\.{_YEAR})$", re.IGNORECASE)
_PRESENTED = re.compile(r"^presented to parliament\b", re.IGNORECASE)
# "Presented to Parliament by ... by Command of His Majesty January 2026" (the date may be on a line of its own).
_PRESENTED_DATE = re.compile(rf"presented to parliament\b.{{0,200}}?\bby command of (?:his|her) majesty\.?,?\s*"
                             rf"(?P<date>{_DATE})?", re.IGNORECASE | re.DOTALL)
_LAID = re.compile(r"^(?:ordered by the house of commons to be printed|laid before)\b.*?(?P<date>" + _DATE + r")",
                   re.IGNORECASE)
_COPYRIGHT = re.compile(rf"^(?:©|\(c\)|copyright\s*©?)\s*(?P<holder>.+?)[,\s]+(?P<year>{_YEAR})\b", re.IGNORECASE)

# "Published by the Harbour Agency, 2031.", "This report was published by X in May 2031".
_PUBLISHED_BY = re.compile(r"^(?:this (?:report|document|publication|guidance) (?:is |was )?)?published by:?\s+"
                           r"(?:the\s+)?(?P<org>[A-Z][^.;|,]{2,100}?)(?:,?\s+(?:(?:on|in)\s+)?(?P<date>" + _DATE + r"))?"
                           r"\s*(?:[.;|]|$)", re.IGNORECASE)
_AUTHOR_LABEL = re.compile(r"^(?:author\(s\)|authors?|written by|prepared by|authored by|compiled by)\s*[:\-–]?\s*"
                           r"(?P<names>\S.{1,200})$", re.IGNORECASE)
_BY_LINE = re.compile(r"^(?:By|BY)\s+(?P<names>[A-Z].{1,150})$")
_NAME_TITLE = r"(?:Dr|Prof|Professor|Sir|Dame|Lord|Lady|Baroness|Mr|Mrs|Ms|Miss|Rt Hon|The Rt Hon)\.?"
_NAME = rf"(?:{_NAME_TITLE}\s+)*[A-Z][\w'’-]+(?:\s+(?:[A-Z]\.|[A-Z][\w'’-]+|de|van|von|der|le|la)){{0,3}}"
_NAMES = re.compile(rf"^{_NAME}(?:\s*(?:,|and|&)\s*{_NAME})*(?:,?\s+(?:MP|OBE|CBE|MBE|PhD|FRS))*[,.]?$")

_REFERENCES = [
    re.compile(r"\bpublication (?:reference|ref|number|no)\.?\s*[:\-–]?\s*(?P<ref>[A-Z]{0,6}\s?[\d][\w/-]*)", re.IGNORECASE),
    re.compile(r"^(?P<ref>(?:CP|Cm|Cmnd|Cd|Cmd)\.?\s?\d{1,5})$"),
    re.compile(r"^(?P<ref>HC\s?\d{1,5}(?:[-–]\w+)?)$"),
    re.compile(r"\b(?P<ref>CBP[- ]?\d{4,5})\b"),
    re.compile(r"^(?:briefing paper\s+)?number\s+(?P<ref>(?:CBP)?\s?\d{4,5})$", re.IGNORECASE),
    re.compile(r"\b(?P<ref>research paper (?:number|no\.?)\s+\d{4}/\d{1,4})\b", re.IGNORECASE),
    re.compile(r"^(?P<ref>ISBN(?:-1[03])?:?\s*97[89][\d\s–-]{10,16}\d)\b"),
]

# An organisation's name: the publishers of public-sector documents name themselves in a few shapes.
_ORG = re.compile(
    r"^(?:the\s+)?(?:"
    r"(?:Department|DEPARTMENT|Ministry|MINISTRY|Office|OFFICE)\s+(?:for|of|FOR|OF)\s+[A-Z][\w,&’' -]{2,80}"
    r"|(?:HM|His Majesty[’']s|Her Majesty[’']s)\s+"
    r"(?:Treasury|Revenue\s*(?:&|and)\s*Customs|Government|Prison[\w ]*|Courts[\w ]*|Land Registry|Passport Office)"
    r"|[A-Z][\w&’'-]*(?:\s+(?:[A-Z][\w&’'-]*|and|&|of|for|the|in|on)){0,8}\s+"
    r"(?:Office|Agency|Authority|Commission|Council|Trust|Board|Executive|Service|Services|Library|Institute|Foundation"
    r"|Committee|Regulator|Inspectorate|Ombudsman|Partnership|Directorate|Unit|Team|Division|Group|Centre|Society|College"
    r"|University|Association|Federation|Bank|Treasury|Cabinet Office|Home Office)"
    r"|NHS England|NHS Improvement|NHS England and NHS Improvement"
    r"|[A-Z][\w&’'-]*(?:\s+(?:[A-Z][\w&’'-]*|and|&|of|the)){0,8}\s+(?:NHS (?:Foundation )?Trust|Integrated Care Board|ICB)"
    r")$"
)
# Words that make an organisation-shaped line something else (a heading, a document type).
_NOT_ORG_WORDS = re.compile(
    r"\b(?:strategy|framework|report|plan|guidance|guide|review|evaluation|policy|paper|briefing|response|statement"
    r"|summary|contents|introduction|annex|appendix|foreword|chapter|section|table|figure|update|priorities"
    r"|stationery office)\b",
    re.IGNORECASE)


# GOV.UK's document types: a publication page names its organisation on the line above one ("Skills England" /
# "Research and analysis"), whatever the organisation's name looks like.
GOVUK_DOCUMENT_TYPES = {
    "research and analysis", "policy paper", "guidance", "statutory guidance", "detailed guide", "independent report",
    "corporate report", "official statistics", "accredited official statistics", "national statistics",
    "statistical data set", "transparency data", "consultation outcome", "open consultation", "closed consultation",
    "impact assessment", "speech", "press release", "news story", "correspondence", "decision", "notice", "form",
    "case study", "collection", "foi release", "promotional material", "regulation", "international treaty",
    "written statement to parliament", "oral statement to parliament", "authored article", "government response",
}
# The organisation line above a document type: a few capitalised words (and "and", "of", "for", "the", "&").
_COVER_ORG = re.compile(r"^[A-Z][\w&’'.-]*(?:\s+(?:[A-Z][\w&’'.-]*|and|of|for|the|&)){0,9}$")

# A line that stops mid-phrase: the next line goes on with it.
_OPEN_END = re.compile(r"(?:[,&]|\b(?:a|an|the|and|or|of|in|on|at|to|for|by|with|from)|\w+['’]s)$", re.IGNORECASE)


_ORG_WORD = re.compile(r"\b(?:Unit|Team|Office|Agency|Directorate|Department|Ministry|Council|Trust|Board|Service|Group"
                       r"|Committee|Institute|University|College|Centre|Ltd|Limited|Authority|Commission)\b")


def _org_name(text: str) -> str:
    name = re.sub(r"\s+", " ", text.strip().strip("*_")).strip(" .,:")
    if not 1 < len(name.split()) <= 12 or _NOT_ORG_WORDS.search(name) or not _ORG.match(name):
        return ""
    return re.sub(r"^the\s+", "", name, flags=re.IGNORECASE)


def _lines(blocks: Sequence[Block]) -> list[str]:
    """The lines of the blocks where imprints sit: the first HEAD_BLOCKS and the last TAIL_BLOCKS."""
    chosen = list(blocks[:HEAD_BLOCKS])
    if len(blocks) > HEAD_BLOCKS:
        chosen += blocks[max(HEAD_BLOCKS, len(blocks) - TAIL_BLOCKS):]
    lines = []
    for block in chosen:
        for line in block.text.split("\n"):
            line = re.sub(r"\s+", " ", line.replace("\\", "").strip(" *_#>\t•"))
            if line:
                lines.append(line)
    return lines


def _head_lines(blocks: Sequence[Block]) -> list[str]:
    return _lines(blocks[:HEAD_BLOCKS])


def _date(lines: list[str], head: list[str]) -> str:
    """The best stated date: a "Published" statement, else an "Updated" one, else the date of a
    "Presented to Parliament" imprint or a "Date:" label, else a cover line that is a date alone, else a
    dated imprint or signature line, else a version line's date, else the copyright year."""
    found: dict[str, str] = {}

    def note(kind: str, date: str) -> None:
        if date and kind not in found:
            found[kind] = date

    for i, line in enumerate(lines):
        if (m := _PUBLISHED.search(line)) and not _NOT_A_DATE.match(m.group("date")):
            note("published", iso_date(m.group("date")))
        if m := _UPDATED.search(line):
            note("updated", iso_date(m.group("date")))
        if m := _DATE_LABEL.match(line):
            note("labelled", iso_date(m.group("date")))
        if m := _LAID.match(line):
            note("presented", iso_date(m.group("date")))
        if (m := _PUBLISHED_BY.match(line)) and m.group("date"):
            note("published", iso_date(m.group("date")))
        if _PRESENTED.match(line) and (m := _PRESENTED_DATE.search(" ".join(lines[i : i + 4]))):
            if m.group("date") and not re.fullmatch(_YEAR, m.group("date")):
                note("presented", iso_date(m.group("date")))
        if m := _DATED_LINE.match(line):
            note("dated line", iso_date(m.group("date")))
        if m := _VERSION_DATE.search(line):
            note("version", iso_date(m.group("date")))
        if m := _COPYRIGHT.match(line):
            note("copyright", m.group("year"))
    # A cover line that is a date alone ("November 2023", "25 MAY 2022"); a bare year is too often a label.
    note("alone", next((iso_date(x) for x in head if _DATE_ALONE.match(x) and not re.fullmatch(_YEAR, x)), ""))
    order = ("published", "updated", "presented", "labelled", "alone", "dated line", "version", "copyright")
    return next((found[kind] for kind in order if kind in found), "")


def _publisher(lines: list[str], head: list[str]) -> str:
    for line in lines:
        if m := _FROM_LINE.match(line):
            return m.group("orgs").strip()
    for line in lines:
        if (m := _PUBLISHED_BY.match(line)) and (org := m.group("org").strip()):
            return org
    for above, line in zip(head[:COVER_LINES], head[1:COVER_LINES]):
        if line.strip(" *_").lower() in GOVUK_DOCUMENT_TYPES and _COVER_ORG.match(above := above.strip(" *_")):
            if above.lower() not in _GENERIC_HEADINGS:
                return above
    # An organisation named on the cover, maybe broken over up to four short lines ("Ministry" / "of Justice"),
    # standing on its own: not the end of a sentence broken over lines ("... on behalf of the" / "Stationery Office").
    for i in range(min(len(head), COVER_LINES)):
        if i and _OPEN_END.search(head[i - 1]):
            continue
        for width in (4, 3, 2, 1):
            window = head[i : i + width]
            # A name broken over lines comes in short pieces; a name on one line may be long.
            short_pieces = width == 1 or all(len(x.split()) <= 6 for x in window)
            if len(window) == width and short_pieces and (name := _org_name(" ".join(window))):
                return name
    for line in lines:
        holder = m.group("holder").strip() if (m := _COPYRIGHT.match(line)) else ""
        if holder and not re.match(r"crown\b", holder, re.IGNORECASE) and len(holder.split()) <= 8:
            return _org_name(holder) or holder
    return ""


def _author(lines: list[str]) -> str:
    for i, line in enumerate(lines):
        m = _AUTHOR_LABEL.match(line) or _BY_LINE.match(line)
        if m:
            names = re.sub(r"\s+", " ", m.group("names").split(" | ")[0])
            # Names broken over lines: "By Dr Ada Okafor," / "Ben Pell".
            if re.search(r"(?:,|\band|&)$", names) and i + 1 < len(lines) and _NAMES.match(lines[i + 1]):
                names = f"{names} {lines[i + 1]}"
            names = names.strip(" ,.;")
            if _NAMES.match(names) and not _NOT_ORG_WORDS.search(names) and not _ORG_WORD.search(names):
                return names
            if person := _person_before_unit(names):
                return person
    return ""


def _person_before_unit(names: str) -> str:
    """The person of an author line that runs their unit into their name, as a PDF's layout joins the lines
    "Author: Anna Cordes" / "Analytics Unit": "Anna Cordes Analytics Unit" -> "Anna Cordes". The name is taken
    as two words after any titles ("Dr Ada Okafor"), the commonest shape, and only when the rest is a unit's
    name (capitalised words ending in an organisation word: "Analytics Unit", "Clinical Trials Unit"). The line
    cannot tell "Mary Jane Smith Analytics Unit" from Mary Jane of the Smith Analytics Unit: a three-word name
    there loses its last word."""
    words = names.split()
    titles = 0
    while titles < len(words) and re.fullmatch(_NAME_TITLE, words[titles]):
        titles += 1
    person, unit = " ".join(words[: titles + 2]), " ".join(words[titles + 2 :])
    if not unit or not _NAMES.match(person) or _ORG_WORD.search(person) or _NOT_ORG_WORDS.search(names):
        return ""
    unit_words = unit.split()
    if not 1 < len(unit_words) <= 6 or not _ORG_WORD.fullmatch(unit_words[-1]):
        return ""
    return person if all(w[0].isupper() or w in ("and", "&", "of", "for") for w in unit_words) else ""


def merged_metadata(stated: dict[str, str], file_properties: dict[str, str], blocks: Sequence[Block] = ()) -> dict[str, str]:
    """What the text states (`stated_metadata` and the title) with the file's own properties (PDF document
    info, HTML <meta>, DOCX properties, front matter) over it: the properties are what the publisher set. Except
    the author: a PDF's Author property is most often the organisation (or whoever saved the file). An
    organisation there ("Harbour Standards Agency", or an acronym the text spells out: "BEIS" -> "Department
    for Business, Energy and Industrial Strategy", from `blocks`) publishes the document, unless a publisher is
    stated, and is never its author; an author the text names ("Author: Anna Cordes") beats any property."""
    found = dict(stated)
    for key, value in file_properties.items():
        if not value:
            continue
        if key == "author":
            organisation = _organisation(value, blocks)
            if organisation and not found.get("publisher"):
                found["publisher"] = organisation
            if organisation or (stated.get("author") and value != stated["author"]):
                continue
        found[key] = value
    return found


def _organisation(value: str, blocks: Sequence[Block]) -> str:
    """An author property that names an organisation, as the organisation's name; "" for anything else."""
    if name := _org_name(value):
        return name
    if re.fullmatch(r"[A-Z][A-Za-z&]{1,7}", value) and sum(c.isupper() for c in value) >= 2:  # "BEIS", "DWP", "DfT"
        from assistant.text import spelled_out_names

        text = " ".join(_lines(blocks))
        words = spelled_out_names(text).get(value.lower())
        # The name as the text writes it ("Department for Business, Energy & Industrial Strategy").
        found = re.search(r"[\s,&]+".join(re.escape(w) for w in words), text, re.IGNORECASE) if words else None
        if not found:
            return value
        # "Business, Energy & Industrial Strategy" spells BEIS; the name the text gives is the Department's.
        before = re.search(r"\b(?:Department|Ministry|Office)\s+(?:for|of)\s+(?:the\s+)?$", text[: found.start()])
        return text[before.start() if before else found.start() : found.end()]
    return ""


def _reference(lines: list[str]) -> str:
    for pattern in _REFERENCES:
        for line in lines:
            if m := pattern.search(line):
                ref = re.sub(r"\s+", " ", m.group("ref")).strip()
                if re.fullmatch(r"\d{4,5}", ref):  # "Number 10313": a Commons Library briefing number
                    ref = f"CBP{ref}"
                return ref.replace("CBP ", "CBP").replace("CBP-", "CBP")
    return ""


def stated_metadata(blocks: Sequence[Block], set_aside: Sequence[str] = ()) -> dict[str, str]:
    """What the text states about the document: keys publisher, author, date (ISO) and reference, only
    those found. `set_aside`: lines the loader left out of every block (running headers and footers, which
    often carry a version and date: "Guidance (V4) 02.2024"); they are read after the blocks."""
    lines, head = _lines(blocks) + _lines([Block("text", line) for line in set_aside]), _head_lines(blocks)
    found = {"publisher": _publisher(lines, head), "author": _author(lines), "date": _date(lines, head),
             "reference": _reference(lines)}
    return {key: value for key, value in found.items() if value}


# --- title ------------------------------------------------------------------------------------

# First headings that name no document: site names, viewer furniture, document types, cover labels.
_GENERIC_HEADINGS = {
    "gov.uk", "document outline", "outline", "contents", "table of contents", "interim report", "final report",
    "report", "research briefing", "briefing paper", "policy paper", "research and analysis", "corporate report",
    "guidance", "consultation", "consultation outcome", "consultation response", "speech", "news story",
    "press release", "statistics", "official statistics", "national statistics", "transparency data", "foreword",
    "summary", "executive summary", "introduction", "draft", "official", "official sensitive", "confidential",
    "not protectively marked", "this page is left intentionally blank", "this page intentionally left blank",
    "page intentionally left blank", "home", "menu", "skip to main content", "applies to england",
    "applies to england and wales", "applies to england, scotland and wales", "applies to england, scotland and wales",
    "applies to the uk", "independent report", "open consultation", "closed consultation", "notice", "form",
    "overview", "background", "main messages", "key messages", "key points", "at a glance", "acknowledgements",
}
_FILE_NAME = re.compile(r"^[\w.-]+\.(?:pdf|docx?|html?|md|txt|odt|rtf)$", re.IGNORECASE)
_PAGE_LABEL = re.compile(r"^page \d+(?: of \d+)?\b", re.IGNORECASE)


def generic_title(text: str) -> bool:
    """A heading that cannot be a document's title: a site name, a document type, a date, a page label,
    a file name, the "Presented to Parliament" imprint, an organisation's name alone, or a line that is not
    content (a banner, a notice, a contents line: ingest/noncontent.py)."""
    line = re.sub(r"\s+", " ", text.strip().strip("*_#[]() ")).strip()
    key = line.lower().strip(" .:")
    from ingest.noncontent import paragraph_role

    return (not re.search(r"[^\W\d_]{2}", line) or key in _GENERIC_HEADINGS or bool(_DATE_ALONE.match(line))
            or bool(paragraph_role(line, "", "paragraph"))  # a banner, a notice, a contents line
            or bool(_PAGE_LABEL.match(line)) or bool(_FILE_NAME.match(line)) or bool(_PRESENTED.match(line))
            or bool(_org_name(line)) or key.startswith("applies to "))


def _continues_title(previous: str, line: str) -> bool:
    """A title broken over several heading lines: the previous one stops on a function word or the next
    begins in lower case, or both are in capitals (a cover title set in capitals over several lines)."""
    last = previous.split()[-1].lower() if previous.split() else ""
    open_end = last in {"a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "by", "with", "from",
                        "into", "&", "-", "–", ":"} or previous.endswith((",", ":", "-", "–"))
    capitals = previous.isupper() and line.isupper() and len(previous) > 20
    return open_end or line[:1].islower() or capitals


def title_from_blocks(blocks: Sequence[Block]) -> str:
    """The document's title from its first blocks when the format's own metadata has none: the first
    heading that is not generic (see `generic_title`), with the heading lines that continue it; where the
    format marks no headings, the first short text line that is not generic. "" when there is none."""
    head = list(blocks[:HEAD_BLOCKS])
    headings = [b for b in head if b.kind == "heading"]
    candidates = headings or [b for b in head if b.kind == "text" and len(b.text.split()) <= 20]
    for block in candidates:
        text = re.sub(r"\s+", " ", block.text.strip().strip("*_#")).strip()
        if generic_title(text):
            continue
        title = text
        position = head.index(block)
        # Heading lines right after it (same level) that carry on the same title.
        for following in head[position + 1 : position + 4]:
            nxt = re.sub(r"\s+", " ", following.text.strip().strip("*_#")).strip()
            if following.kind != block.kind or following.level != block.level or generic_title(nxt):
                break
            if not _continues_title(title, nxt):
                break
            title = f"{title} {nxt}"
        return title
    return ""


# --- the cover -----------------------------------------------------------------------------------

_YEARS = re.compile(r"^(?:19|20)\d{2}(?:\s?[-–/]\s?(?:19|20)?\d{2})?$")  # "2024-2028", "2023/24", "2025"
_COVER_LINE_WORDS = 10


def _cover_lines(blocks: Sequence[Block]) -> list[str]:
    """The short lines a cover is set in: the headings and short text lines before the first prose."""
    lines = []
    for block in blocks[:HEAD_BLOCKS]:
        text = re.sub(r"\s+", " ", block.text.strip().strip("*_#")).strip()
        if block.kind not in ("heading", "text") or not text:
            continue
        if len(text.split()) > _COVER_LINE_WORDS or re.search(r"[.!?]$", text):
            break  # prose: the cover is over
        lines.append(text)
    return lines


def _cover_org_end(lines: list[str], i: int) -> int | None:
    """Where an organisation's name that starts at cover line i ends (exclusive), when lines i.. name one."""
    return next((j for j in range(min(len(lines), i + 4), i, -1) if _org_name(" ".join(lines[i:j]))), None)


def starts_cover_organisation(blocks: Sequence[Block], line: str) -> bool:
    """Whether `line` is a cover line that begins an organisation's name broken over lines ("The Leeds" of
    "The Leeds" / "Teaching Hospitals" / "NHS Trust"): the first heading of such a cover names no document."""
    lines = _cover_lines(blocks)
    line = re.sub(r"\s+", " ", line.strip().strip("*_#")).strip()
    return any(text == line and _cover_org_end(lines, i) for i, text in enumerate(lines))


def cover_title(blocks: Sequence[Block]) -> str:
    """A title set over several short cover lines, as covers converted to text are: skip the lines that name
    nothing (generic words, dates) and an organisation's name broken over lines ("The Leeds" / "Teaching
    Hospitals" / "NHS Trust"); then the first line, with the lines that continue it: one that goes on with the
    phrase (see `_continues_title`), a lone document-type word ("Strategy"), or the years it covers ("2024-2028").
    "" when the cover has no such line."""
    lines = _cover_lines(blocks)
    i = 0
    while i < len(lines):
        line = lines[i]
        if generic_title(line) or _YEARS.match(line):
            i += 1
            continue
        if (org_end := _cover_org_end(lines, i)) is not None:
            i = org_end
            continue
        title = line
        for following in lines[i + 1 : i + 4]:
            lone_type = len(following.split()) == 1 and bool(_NOT_ORG_WORDS.fullmatch(following))
            if _YEARS.match(following) or lone_type or (_continues_title(title, following) and not generic_title(following)):
                title = f"{title} {following}"
                if _YEARS.match(following):
                    break
            else:
                break
        return title
    return ""
