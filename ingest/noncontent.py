"""Non-content paragraphs: which cleaned paragraphs are a document's furniture rather than its content.

Four roles (ROLES):
- "contents": a table of contents: a section named Contents, lines ending in a page number or a dot
  leader ("Introduction ........ 4", "1. Background 7"), lists of such lines, a contents list run
  into one paragraph;
- "notice": copyright, licence and imprint notices ("© Crown copyright 2023", "This publication is
  licensed under the terms of the Open Government Licence ...", "ISBN ...", "Printed on paper ...");
- "banner": a web site's chrome printed into a document (an election or cookie banner, "Is this page
  useful?", "Skip to main content", "Back to top", the licence footer of a web page);
- "references": a section named References, Bibliography, Notes, Sources ..., and paragraphs shaped
  like citation entries ("[12] ...", author-year-title-journal, DOIs, "Available at: https://...").

Such paragraphs stay visible in `assistant sources show` but are never answer candidates. A false
positive loses an answer, so every rule is about a shape that content does not take: a notice
sentence must open like one (a paragraph that mentions "copyright reform" is content), a citation
entry must start like one (a sentence citing "(Smith 2020)" inline is content), and a paragraph
that reads as prose stays content even inside a Contents or Notes section.

Entry points: `paragraph_role(text, section, kind)` for one paragraph, `mark_roles(paragraphs)` for a
document's paragraphs in order (it also uses their neighbours: a run of "Title 7" lines is a contents
list where one such line alone is not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.records import NON_CONTENT_KINDS
from functools import lru_cache

ROLES = NON_CONTENT_KINDS  # the paragraph kinds these roles become (assistant/records.py)
CONTENTS, NOTICE, BANNER, REFERENCES = ROLES

_BULLET = re.compile(r"^\s*(?:[•·●▪◦‣∙\-\*–]|\d{1,3}[.)])\s+")
_URL = re.compile(r"\(?<?(?:https?://|www\.)\S+")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:https?://|www\.)[^)]*\)")
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")
_WORDS = re.compile(r"[^\W\d_][\w'’-]*")

# --- sections ---------------------------------------------------------------------------------

# Section numbering and labels in front of a section name: "7.", "Annex A:", "Appendix 2 -", "Section 3".
_SECTION_PREFIX = re.compile(
    r"^(?:(?:annex|appendix|section|part|chapter)\s+[\dA-Z]{1,3}\b\s*[:.–—-]?\s*|\d{1,2}(?:\.\d{1,2})*\.?\s+|[A-Z][.)]\s+)",
    re.IGNORECASE,
)
_CONTENTS_SECTIONS = {"contents", "table of contents", "contents page", "list of contents", "in this document",
                      "in this report", "in this guide"}
# Sections that hold only citations: every paragraph in them is a reference unless it reads as prose.
_REFERENCE_SECTIONS = {
    "references", "reference list", "list of references", "bibliography", "select bibliography", "sources",
    "sources and references", "references and sources", "further reading", "references and further reading",
    "works cited", "literature cited", "citations", "evidence sources", "key references", "bibliography and references",
}
# Sections of credits and licences: everything in them that is not prose is a notice.
_NOTICE_SECTIONS = {"image credits", "image credit", "photo credits", "photograph credits", "picture credits",
                    "photography credits", "copyright", "copyright notice", "licence", "license", "licensing",
                    "crown copyright", "legal notice", "legal notices"}
# Sections of notes: a note that explains (a definition, a caveat) is content; one that cites is a reference.
_NOTE_SECTIONS = {"notes", "endnotes", "end notes", "footnotes", "notes and references", "references and notes",
                  "notes and sources", "sources and notes"}


def _section_name(section: str) -> str:
    name = re.sub(r"[*_#]+", "", section).strip()
    name = _SECTION_PREFIX.sub("", name, count=1)
    return re.sub(r"\s+", " ", name).strip(" :.–—-").lower()


@lru_cache(maxsize=4096)  # a document's paragraphs share a few section names
def section_role(section: str) -> str:
    """The role a section's name gives its paragraphs: "contents", "references", "notice", "notes" (notes
    decide paragraph by paragraph), or ""."""
    name = _section_name(section)
    if name in _CONTENTS_SECTIONS:
        return CONTENTS
    if name in _REFERENCE_SECTIONS:
        return REFERENCES
    if name in _NOTE_SECTIONS:
        return "notes"
    if name in _NOTICE_SECTIONS:
        return NOTICE
    return ""


def _lines(text: str) -> list[str]:
    """A paragraph's lines without list bullets (a list paragraph is its lead-in and items, one a line)."""
    return [_BULLET.sub("", line, count=1).strip() for line in text.split("\n") if line.strip()]


def _is_prose(text: str) -> bool:
    """Reads as running text: two or more sentences, or one long one (a sentence ends after a lower-case letter)."""
    words = text.split()
    sentences = len(re.findall(r"[a-z)][.!?](?:\s|$)", text))
    return len(words) >= 25 and sentences >= 1 or len(words) >= 12 and sentences >= 2


# Words that make a sentence a clause of running text rather than a title or a citation's fields.
_CLAUSE_WORDS = re.compile(r"\b(?:is|are|was|were|will|would|should|can|could|must|has|have|had|we|our|you|your|"
                           r"this section|these|it|they|their|there)\b", re.IGNORECASE)


def _reads_as_prose(text: str) -> bool:
    """Prose with a clause in it: what a References section holds besides its entries (an introduction)."""
    return _is_prose(text) and bool(_CLAUSE_WORDS.search(_URL.sub("", text)))


def _is_sentence(text: str) -> bool:
    """One sentence of the body: eight words or more, a clause word, closing punctuation."""
    return len(text.split()) >= 8 and bool(re.search(r"[a-z)][.!?]$", text.strip())) and bool(_CLAUSE_WORDS.search(text))


# --- contents ---------------------------------------------------------------------------------

_LEADER = re.compile(r"(?:\.\s?){4,}|…{2,}|_{4,}|·{4,}|(?:\.\s?){2,}…|…(?:\.\s?){2,}")
_LEADER_PAGE = re.compile(r"(?:(?:\.\s?){4,}|…{2,}|_{4,}|·{4,})\s*\d{1,3}(?!\S)")
# An entry: a title, then (after a dot leader or a space) a page number or a lower-case roman numeral.
_ENTRY = re.compile(
    r"^(?P<title>.*?\S)(?:\s*(?P<leader>(?:\.\s?){2,}|…+|_{3,}|·{3,})\s*|\s+)(?P<page>\d{1,3}|[ivxl]{1,6})$"
)
_CONTENTS_LABEL = re.compile(r"(?:table of )?contents(?: page)?:?", re.IGNORECASE)
# A numbered section title: "4.1 What has NHS England proposed?", "Annex B: Methods", "2. Scope".
_NUMBERED_TITLE = re.compile(
    r"^(?:(?i:annex|appendix|section|part|chapter)\s+[\dA-Z]{1,3}\b|\d{1,2}(?:\.\d{1,2})*\.?)[.:)–—-]?\s+\S"
)


def contents_entry(line: str, strict: bool = True) -> bool:
    """ "Introduction ........ 4" (a dot leader: an entry wherever it is), or, when not `strict`,
    "1. Background 7" / "Executive summary 3": a short title that does not end a sentence, then a page number."""
    line = line.strip()
    if not line or not (line[-1].isdigit() or line[-1] in "ivxl"):
        return False
    m = _ENTRY.match(line)
    if not m:
        return False
    title = m.group("title").strip()
    if not _WORDS.search(title):
        return False
    if m.group("leader") and len(m.group("leader").replace(" ", "").replace("…", "...")) >= 3:
        return len(title.split()) <= 40
    if len(title.split()) > 18:
        return False
    if strict or m.group("page").isalpha():
        return False
    # Without a leader: a title (capitalised, not a sentence, not a date or a quantity) and a page number.
    title = re.sub(r"^[a-z][.)]\s+", "", title)  # "a. Purpose of the strategy 7": a lettered sub-entry
    if not (title[0].isupper() or title[0].isdigit() or title[0] in "‘'\"“"):
        return False
    if _SENTENCE_END.search(title) or re.search(r"[,;=%£$€+]$|\b(?:19|20)\d{2}$", title):
        return False
    last_word = title.split()[-1].lower()
    # "Q3 2025", "page 4", "Table 2", "figure 7", "in 14": a number that belongs to the phrase.
    return last_word not in {"page", "pages", "table", "figure", "fig", "chart", "box", "annex", "appendix", "section",
                             "paragraph", "paragraphs", "para", "paras", "chapter", "part", "step", "phase", "level",
                             "stage", "tier", "year", "years", "week", "weeks", "day", "days", "to", "of", "in",
                             "and", "or", "by", "than", "over", "under", "about", "around", "v", "version", "no",
                             "number", "grade", "band", "key", "type", "priority", "group", "cohort"}


_RUN_PAGE = re.compile(r"(?<=[^\W\d_]|[)’'”?])\s*(?:(?:\.\s?){2,}|…+)?\s+(\d{1,3})(?=\s+[A-Z\d‘'\"“]|\s*$)")


def _contents_run(text: str) -> bool:
    """A contents list run into one line: "Contents Foreword 3 Executive Summary 4 1. Introduction 6 ...":
    four or more titles each followed by a page number, the numbers never going down."""
    body = re.sub(r"^(?:table of contents|contents)\b[:\s]*", "", text.strip(), flags=re.IGNORECASE)
    starts_as_contents = len(body) < len(text.strip())
    if sum(word.isdigit() and len(word) <= 3 for word in body.split()) < 4 and not _LEADER.search(body):
        return False
    leaders = len(_LEADER.findall(body))
    # A page number follows a title's last word and comes before the next title's first (capitalised) word.
    pages = [int(n) for n in _RUN_PAGE.findall(body)]
    if leaders >= 3:
        return True
    if len(set(pages)) < 4 or any(b < a for a, b in zip(pages, pages[1:])):
        return False
    words = len(body.split())
    # Titles are short: a page number at least every ten words; prose has sentence ends between them.
    sentence_ends = len(re.findall(r"[a-z][.!?]\s+[A-Z]", body))
    return (starts_as_contents or words <= 10 * len(pages)) and sentence_ends <= len(pages) // 4


def _contents_role(text: str, in_contents_section: bool) -> bool:
    lines = _lines(text)
    if not lines:
        return False
    stripped = text.strip()
    if len(lines) == 1:
        line = lines[0]
        if contents_entry(line, strict=not in_contents_section) or _contents_run(line):
            return True
        if len(_LEADER_PAGE.findall(line)) >= 2:  # entries with dot leaders run together
            return True
        # Inside a Contents section, a short title line (a contents entry without its page number) is one.
        return in_contents_section and _entry_title(line)
    if _lead_in_is_content(lines, text):
        return False
    entries = sum(contents_entry(line, strict=False) or bool(_LEADER_PAGE.search(line)) or _contents_run(line)
                  for line in lines)
    if entries >= 2 and entries >= 0.6 * len(lines):
        return True
    if in_contents_section:
        return sum(_entry_title(line) for line in lines) >= 0.6 * len(lines) and not _is_prose(stripped)
    return False


def _entry_title(line: str) -> bool:
    """A contents entry without its page number: short and not a sentence (a title may be a question)."""
    return len(line.split()) <= 20 and not re.search(r"[.!:;,][\"'”’)\]]*$", line) and not _is_prose(line)


def _lead_in_is_content(lines: list[str], text: str) -> bool:
    """A list paragraph whose lead-in (its first line, not a bullet) is a sentence of the body: the
    paragraph is content whatever its items are (footnotes attached to the last paragraph of a page)."""
    first = text.strip().split("\n")[0]
    return (len(lines) > 1 and not _BULLET.match(first) and _is_prose(first) and not citation_entry(first)
            and not _LEADER.search(first))


# --- notices ------------------------------------------------------------------------------------

# Sentences that only a copyright, licence or imprint notice opens with (matched at a sentence's start).
_NOTICE_SENTENCE = re.compile(
    r"^(?:"
    r"(?:©|\(c\)|copyright\s*(?:©|\(c\)))\s*\S"  # "© Crown copyright 2023", "Copyright © NHS England 2024"
    r"|crown copyright\s+(?:19|20)\d{2}"
    r"|copyright\s+(?:19|20)\d{2}\b"
    r"|(?:this|the) (?:publication|document|report|information|work|material|content)s?(?: \(not including [^)]*\))?"
    r" (?:is|are) (?:licensed|available|published|reproduced|provided) (?:under|subject to)"
    r"|(?:this|the) (?:publication|document|report) is (?:also )?available (?:at|from|on|to download|for download|in)\b"
    r"|you may re-?use this (?:information|document|publication)"
    r"|(?:for more information and )?to view (?:a copy of )?this licen[cs]e"
    r"|where we have identified any third[- ]party copyright"
    r"|any (?:enquiries|queries|questions) (?:regarding|about|on|relating to) this (?:publication|document|report)"
    r"|(?:for )?enquiries (?:regarding|about) this (?:publication|document|report)"
    r"|isbn(?:[- ]1[03])?[:\s]*[\dxX][\d\s–-]{8,}"
    r"|issn[:\s]*\d{4}-?\d{3}[\dxX]"
    r"|e\d{8}\b"  # a Stationery Office "E-number"
    r"|printed (?:on paper|in the uk|in great britain|in the united kingdom|by)\b"
    r"|all rights reserved"
    r"|licensed under (?:the )?(?:open government|open parliament|creative commons|cc[ -]by)"
    r"|(?:cover )?(?:image|photo|photograph|illustration)s?(?: credits?)?[:\s].{0,120}\blicen[cs]ed under\b"
    r"|this information is provided subject to the conditions of the open parliament licen[cs]e"
    r"|(?:alternative|accessible) formats? (?:of this (?:publication|document) )?(?:is|are) available"
    r"|if you (?:need|require|would like) (?:a version of )?this (?:document|publication|information) in (?:a |an )?"
    r"(?:more )?(?:accessible|alternative|different) format"
    r")",
    re.IGNORECASE,
)
# Inside a notice sentence: the parts that give it away wherever it starts.
_NOTICE_INSIDE = re.compile(
    r"nationalarchives\.gov\.uk/doc/open-government-licen|psi@nationalarchives|information policy team, the national archives"
    r"|obtain permission from the copyright holders|on behalf of the controller of (?:his|her) majesty[’']s stationery office",
    re.IGNORECASE,
)


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z©(\d])|\n+", text)
    return [p.strip(" •") for p in parts if p.strip(" •")]


def _is_notice(text: str) -> bool:
    """Most of the paragraph (by characters) is notice sentences."""
    sentences = _sentences(text)
    if not sentences:
        return False
    notice = sum(len(s) for s in sentences if _NOTICE_SENTENCE.match(s) or _NOTICE_INSIDE.search(s))
    return notice >= 0.6 * sum(len(s) for s in sentences)


# --- banners ------------------------------------------------------------------------------------

# The chrome of a web page printed into a document, phrase by phrase; a paragraph made of nothing else is a banner.
_BANNER_PHRASES = [
    r"register to vote(?: \(/register-to-vote\))?",
    r"register by \d{1,2} \w+ to vote in the [\w ]{0,40}?elections?(?: on \d{1,2} \w+(?: \d{4})?)?",
    r"skip to (?:main )?content",
    r"cookies on [\w.]+",
    r"we use (?:some )?essential cookies to make this (?:website|site|service) work",
    r"we[’']?d (?:also )?like to (?:set|use) (?:additional|analytics) cookies[^.]*",
    r"we also use cookies set by other sites[^.]*",
    r"(?:accept|reject) (?:additional|analytics|all|optional) cookies",
    r"view cookies", r"cookie settings", r"change your cookie settings",
    r"you(?:[’']ve| have) (?:accepted|rejected) (?:additional|analytics) cookies",
    r"you can change your cookie settings at any time",
    r"hide (?:this |cookie )?message",
    r"is this page useful\??(?:\s*maybe)?(?:\s*yes)?(?:\s*no)?", r"yes,? this page is useful", r"no,? this page is not useful",
    r"thank you for your feedback",
    r"report a problem with this page", r"help us improve [\w.]+",
    r"don[’']?t include personal or financial information[^.]*",
    r"print this page", r"back to top", r"share this page", r"contents", r"gov\.uk", r"menu", r"search(?: gov\.uk)?",
    r"sign up for emails|get emails about this page",
    r"all content is available under the open government licen[cs]e v?3\.0,? except where otherwise stated",
    r"© crown copyright(?!\s*\d)",  # a web page's footer; with a year it is a publication's notice
    r"(?:\d{1,2}/\d{1,2}/\d{2,4},? )?\d{1,2}:\d{2}(?: ?[ap]m)?",  # a browser's print header: date and time
    r"https?://\S+ \d{1,3}/\d{1,3}",  # a browser's print footer: address and "page/pages"
    r"page \d{1,3} of \d{1,3}",
    r"\[?(?:this )?page (?:is )?(?:left )?intentionally (?:left )?blank\]?",  # print furniture
]
# Nothing but chrome phrases (an atomic group: a paragraph that does not open with one fails at once).
_BANNER = re.compile(rf"(?:\s*(?>(?:{'|'.join(_BANNER_PHRASES)})[.!]?))+\s*", re.IGNORECASE)
# Phrases that are chrome wherever they sit, even in a paragraph with other words ("... Register by 18 June to
# vote in the General Election on 4 July."): nothing in a document's own text takes this shape.
_BANNER_ANYWHERE = re.compile(
    r"register by \d{1,2} \w+ to vote in the [\w ]{0,40}?election|we use (?:some )?essential cookies to make this"
    r"|is this page useful\?|report a problem with this page|skip to main content",
    re.IGNORECASE,
)


def _is_banner(text: str) -> bool:
    stripped = text.strip()
    if len(stripped) > 400:  # chrome comes in short pieces; a long paragraph is checked for the giveaway phrases only
        return bool(_BANNER_ANYWHERE.search(stripped)) and not _is_prose(_BANNER_ANYWHERE.sub("", stripped))
    if _BANNER.fullmatch(stripped):
        return True
    # A short paragraph holding a phrase only chrome has (a banner run into a breadcrumb trail).
    return bool(_BANNER_ANYWHERE.search(stripped)) and not _is_prose(_BANNER_ANYWHERE.sub("", stripped))


# --- references ---------------------------------------------------------------------------------

_YEAR = r"(?:19|20)\d{2}[a-z]?"
_CITATION_MARKS = re.compile(
    r"\bdoi(?:\.org)?\s*[:/]\s*10\.\d{4,}|\bdoi\.org/|\bhttps?://dx\.doi\.org/"
    r"|\bavailable (?:at|from|online)\s*:?\s*[<(\[]?(?:https?://|www\.)"
    r"|\[?\(?(?:last )?accessed:?\s+(?:on\s+)?"
    r"(?:\d{1,2}(?:st|nd|rd|th)?\s+[A-Z][a-z]+\.?,?\s+\d{4}|\d{1,2}/\d{1,2}/\d{2,4}|[A-Z][a-z]+\s+\d{4})"
    r"|\bretrieved (?:on |from )"
    r"|\b\d{1,4}\s*\(\d{1,3}(?:[-–]\d{1,3})?\)\s*[:,]\s*(?:[a-z]?\d+|e\d+)"  # volume(issue): pages
    r"|;\s*\d{1,4}(?:\(\d{1,3}\))?:\s*[a-z]?\d+"  # Vancouver "2020;12(3):45"
    r"|\bet al\.?,?\s*\(?" + _YEAR +
    r"|\bpp?\.\s*\d+\s*[-–]\s*\d+"
    r"|↩",
    re.IGNORECASE,
)
# An entry's opening: "[12] ...", "Smith, J. (2020)", "Smith J, Jones K.", "HM Treasury (2018): ...",
# "Cabinet Office. ‘Title’ 2012".
# A surname has a lower-case letter ("Smith", "McDonald", "O'Brien"); initials are dotted ("J.", "J. K.") or a
# run of capitals ("JK"): the two never overlap, so matching a list of authors cannot backtrack.
_SURNAME = r"[A-Z](?:[a-z]|['’][A-Z])[\w'’-]*(?:[ -][A-Z](?:[a-z]|['’][A-Z])[\w'’-]*)?"
_INITIALS = r"(?:(?:[A-Z]\.\s?-?){1,3}|[A-Z]{1,3}\b)"
_CITATION_START = re.compile(
    r"^(?:"
    r"\[\d{1,3}\]\s*\S"
    rf"|{_SURNAME},?\s+{_INITIALS}(?:,|\.|\s(?:and|&)\s|\s\(" + _YEAR + r"\))"  # Smith, J., / Smith J, / Smith J. and
    rf"|(?>{_SURNAME},?\s+{_INITIALS},?\s*(?:and|&)?\s*)+\(?" + _YEAR +
    r"|[A-Z][\w&’'.,-]*(?:\s+[\w&’'.,-]+){0,10}?\s+\(" + _YEAR + r"(?:,\s*[\w ]+)?\)\s*[:.,]\s*\S"  # Org (2018): Title
    # Org. ‘Title’ 2012
    r"|[A-Z][\w&’'-]*(?:\s+[\w&’'-]+){0,8}\.\s+[‘'\"“][^’'\"”]{3,}[’'\"”]\s*,?\s*(?:\(?" + _YEAR + r")"
    r"|\d{1,3}\s+(?i:ibid|as above|op\.? cit|see (?:note|footnote))\b"  # a footnote pointing at another
    r")"
)
# A footnote: its number, a source and title separated by commas, a date at the end ("12 The King's Fund,
# Improving NHS productivity, July 2010").
_MONTHS = r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_FOOTNOTE = re.compile(
    rf"^\d{{1,3}}\s+[A-Z‘'\"“].*[,.]\s*(?:[\w’'-]+\s+){{0,3}}\(?(?:\d{{1,2}}\s+)?(?:{_MONTHS}\s+)?(?:19|20)\d{{2}}\)?\.?$"
)
# A footnote citing a publication by its title and date, without a separator before the date: "21 Institute for
# Fiscal Studies Is there really an NHS productivity crisis? November 2023". The date is a month and year (a day
# may lead) not introduced by a preposition, as a sentence's date is ("2 The plan will be reviewed in March 2031").
_DATED_FOOTNOTE = re.compile(
    rf"^\d{{1,3}}\s+[A-Z‘'\"“].*?(?<!\bin)(?<!\bby)(?<!\bon)(?<!\bfrom)(?<!\buntil)(?<!\bsince)(?<!\bbefore)(?<!\bafter)"
    rf"(?<!\bduring)(?<!\bof)(?<!\bto)(?<!\bat)(?<!\bfor)(?<!\bthe)\s+(?:\d{{1,2}}\s+)?{_MONTHS}\s+(?:19|20)\d{{2}}\.?$"
)
# A footnote pointing at a web page: its number, a title and date, the address last.
_LINKED_FOOTNOTE = re.compile(r"^\d{1,3}\s+[A-Z‘'\"“].*\s\(?<?(?:https?://|www\.)\S+$")


# A footnote's number and the few words of a title before its web address ("68 For more information see:").
_FOOTNOTE_OPENING = re.compile(r"\d{1,3}(?:\s+\S+){0,15}")
MAX_FOOTNOTE_TAIL = 6  # words after the last address ("accessed 3 May 2024")


def footnote_run(text: str) -> bool:
    """Footnotes that point at web pages, one or several run into one line by a PDF's layout: "67
    https://www.example.org/evaluation/ 68 For more information see: https://www.example.org/": each its
    number, at most a short title, and an address; nothing else."""
    stripped = text.strip()
    if not re.match(r"\d{1,3}\s", stripped):
        return False
    pieces = _URL.split(stripped)
    if len(pieces) < 2:
        return False  # no address
    openings, tail = pieces[:-1], pieces[-1]
    return (all(_FOOTNOTE_OPENING.fullmatch(p.strip(" .;,:")) for p in openings)
            and len(tail.split()) <= MAX_FOOTNOTE_TAIL and not re.search(r"[a-z][.!?]\s+[A-Z]", tail))


def citation_entry(text: str) -> bool:
    """A paragraph or list item shaped like a citation entry: it opens like one, or it is short and carries
    a citation's marks (a DOI, "Available at: https://...", "Accessed 3 May 2024", volume(issue): pages)."""
    stripped = _BULLET.sub("", text.strip(), count=1)
    if not stripped or len(stripped.split()) > 120:
        return False
    if _FOOTNOTE.match(stripped) and len(stripped.split()) <= 40 and not _is_prose(stripped):
        return True
    if _LINKED_FOOTNOTE.match(stripped) and len(stripped.split()) <= 60 and not _explains(stripped):
        return True
    if footnote_run(stripped):
        return True
    # Matched on the words joined by single spaces: a run of spaces would make the date's search quadratic.
    if len(stripped.split()) <= 30 and _DATED_FOOTNOTE.match(" ".join(stripped.split())) and not _is_prose(stripped):
        return True
    if _CITATION_START.match(stripped):
        # "Smith (2020) found that ..." opens like an entry too: an entry has no clause after the year.
        return not _is_prose(_URL.sub("", stripped)) or bool(_CITATION_MARKS.search(stripped))
    if _CITATION_MARKS.search(stripped):
        return len(stripped.split()) <= 80 and not _explains(stripped)
    return False


def _explains(text: str) -> bool:
    """Without its links and citation marks, the text still says something: a sentence of twelve words
    or more (a footnote that defines a term is content, one that only points at a source is not)."""
    rest = _URL.sub("", _CITATION_MARKS.sub("", _MD_LINK.sub(r"\1", text)))
    return len(rest.split()) >= 12 and bool(re.search(r"[a-z)][.!?](?:\s|$)", rest))


def _link_entry(text: str) -> bool:
    """A title that is a link and nothing more: "The Magenta Book (https://...)", "[Title](https://...)"."""
    stripped = _BULLET.sub("", text.strip(), count=1)
    rest = _URL.sub("", _MD_LINK.sub(r"\1", stripped)).strip(" .;")
    return rest != stripped.strip(" .;") and not _is_prose(rest) and len(rest.split()) <= 30


def _references_role(text: str, section: str) -> bool:
    lines = _lines(text)
    if not lines:
        return False
    named = section_role(section)
    if _lead_in_is_content(lines, text):
        return False
    if named == REFERENCES:
        return sum(_reads_as_prose(line) and not citation_entry(line) for line in lines) < 0.5 * len(lines)
    entries = sum(citation_entry(line) or (named == "notes" and _link_entry(line)) for line in lines)
    if len(lines) == 1:
        return entries == 1
    return entries >= 2 and entries >= 0.6 * len(lines)


# --- the decisions -----------------------------------------------------------------------------


def paragraph_role(text: str, section: str, kind: str) -> str:
    """The role that makes a paragraph non-content ("contents", "notice", "banner", "references"),
    or "" for content. `kind` is the cleaner's ("paragraph", "list", "table", "comment")."""
    if kind == "comment" or not text.strip():
        return ""
    if _CONTENTS_LABEL.fullmatch(text.strip()):
        return CONTENTS
    first, _, rest = text.strip().partition("\n")
    if rest and section_role(first) in (CONTENTS, REFERENCES):
        # A list led in by its own label ("Contents" / "References" and the entries under it).
        section = first
    if section_role(section) == NOTICE and len(text.split()) <= 40:  # a credit line: "Photo by ... Licensed under ..."
        return NOTICE
    if _is_banner(text):
        return BANNER
    if _is_notice(text):
        return NOTICE
    if kind != "table" and _contents_role(text, section_role(section) == CONTENTS):
        return CONTENTS
    if kind != "table" and _references_role(text, section):
        return REFERENCES
    return ""


def _weak_entry(text: str) -> bool:
    """One line that would be a contents entry in a list of them ("Executive summary 3")."""
    lines = _lines(text)
    return len(lines) == 1 and contents_entry(lines[0], strict=False)


def _contents_title(text: str) -> bool:
    """A line a contents list without page numbers is made of: short, capitalised, not a sentence."""
    line = text.strip()
    return ("\n" not in line and 0 < len(line.split()) <= 14 and (line[0].isupper() or line[0].isdigit())
            and not _SENTENCE_END.search(line))


def mark_roles(paragraphs: Sequence[tuple[str, str, str]]) -> list[str]:
    """The role of each (text, section, kind) of a document, in order. Besides `paragraph_role`, uses
    neighbours: lines like "Executive summary 3" are contents entries when two or more of them stand
    together, and after a paragraph that is just "Contents" the title lines that follow are its entries."""
    roles: list[str] = []
    run_section, section_trusted = None, True
    for text, section, kind in paragraphs:
        if section != run_section:
            run_section, section_trusted = section, True
        if kind in ROLES:  # a kind that is already a role (the loader knew it) stays, and counts for its neighbours
            roles.append(kind)
            continue
        role = paragraph_role(text, section if section_trusted else "", kind)
        if (not role and section_trusted and section_role(section) in (CONTENTS, REFERENCES)
                and (_reads_as_prose(text) or _is_sentence(text))):
            # Body text under a Contents or References heading: the heading that ends that section was missed
            # (converted documents lose headings), so its name says nothing about the paragraphs that follow.
            section_trusted = False
        roles.append(role)
    weak = [not role and kind != "table" and _weak_entry(text) for role, (text, _, kind) in zip(roles, paragraphs)]
    for i, is_weak in enumerate(weak):
        if not is_weak:
            continue
        # A neighbour that is an entry too (weak, or already a contents paragraph) makes a list of entries.
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(paragraphs)]
        if any(weak[j] or roles[j] == CONTENTS for j in neighbours):
            roles[i] = CONTENTS
    for i, (text, _, _) in enumerate(paragraphs):
        if roles[i] != CONTENTS:
            continue
        # The list goes on: after the label "Contents", any title lines; after entries, numbered titles
        # ("4.1 Staff morale") whose section the cleaner took for a heading of the body.
        label = bool(_CONTENTS_LABEL.fullmatch(text.strip()))
        j = i + 1
        while j < len(paragraphs) and not roles[j] and paragraphs[j][2] != "table" and _contents_title(paragraphs[j][0]):
            if not label and not _NUMBERED_TITLE.match(paragraphs[j][0]):
                break
            roles[j] = CONTENTS
            j += 1
    return roles
