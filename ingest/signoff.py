"""Who signed a document's foreword: the sign-off at the end of a foreword, preface or message.

Reports and strategies open with a foreword that ends in its writer's name and role, set as short lines of
their own: "Phil Smith, Chair of Skills England.", "Tamara Finkelstein" / "Permanent Secretary, Department
for Environment, Food & Rural Affairs", "Justin Holliday (https://...), Chief Finance Officer". Users ask
"Who wrote the foreword?"; the name alone shares no word with that question, so retrieval rarely finds it.
The header (ingest/header.py) states it instead: "The foreword is signed by Phil Smith, Chair of Skills
England."

A sign-off is read only where the layout sets it apart, as the last short paragraphs of a section headed as a
foreword (or, where a converter promoted the bold name to a heading, a section named by a person whose only
paragraph is a role). It starts with a person's name (two to four capitalised words, an honorific or
post-nominals allowed, none of them a word that names an organisation or a document part), and a role follows
it, in the same paragraph or the next: a word that names one (Chair, Director, Secretary ...) or a phrase set
in title case ("Harbourmaster"). A name run into the foreword's prose by a PDF's layout is not found.
"""

from __future__ import annotations

import re

# A section heading that introduces a signed piece of writing; its word names it in the header.
_SIGNED_SECTION = re.compile(r"\b(foreword|preface|message from|introduction (?:from|by)|welcome from)\b", re.IGNORECASE)
_HONORIFIC = r"(?:(?:The\s+)?Rt\.?\s+Hon\.?|Dr\.?|Professor|Prof\.?|Sir|Dame|Baroness|Baron|Lord|Lady|Cllr\.?|Councillor|Mr\.?|Mrs\.?|Ms\.?|Miss)"
_NAME_WORD = r"[A-Z][a-z’'\-]+(?:-[A-Z][a-z’'\-]+)?"
_POSTNOMINAL = r"(?:MP|MSP|MS|AM|CBE|OBE|MBE|KC|QC|FRS|FREng|FMedSci|DBE|KBE|CB|PhD)"
_NAME = re.compile(rf"^(?:{_HONORIFIC}\s+)*((?:{_NAME_WORD})(?:\s+[A-Z]\.)?(?:\s+{_NAME_WORD}){{1,3}})(?:\s+{_POSTNOMINAL})*")
# Words that make a run of capitalised words an organisation, a place or a part of a document, not a person.
_NOT_A_NAME = {
    "department", "ministry", "agency", "office", "team", "board", "trust", "council", "government", "service", "services",
    "england", "wales", "scotland", "ireland", "britain", "kingdom", "nhs", "authority", "committee", "group", "unit",
    "strategy", "framework", "plan", "report", "review", "evaluation", "executive", "summary", "contents", "introduction",
    "foreword", "annex", "appendix", "chapter", "section", "part", "our", "the", "this", "we", "next", "steps", "health",
    "care", "state", "university",
}
# A role: what follows the name (a role word also ends a name: "Chris Grayling Secretary of State").
_ROLE = re.compile(
    r"\b(?:secretary|director|chair|chairman|chairwoman|chairperson|chief|officer|minister|adviser|advisor|executive|commissioner|"
    r"president|head|analyst|lead|leader|manager|governor|mayor|councillor|member|deputy|principal|dean|professor|"
    r"permanent|general|controller|registrar|ombudsman|inspector|champion|founder|trustee|editor|master|clerk)\b",
    re.IGNORECASE,
)
# Words a role set in title case leaves in lower case ("Curator of Maps").
_FUNCTION_WORDS = {"of", "for", "and", "the", "to", "in", "at", "on", "&"}
_URL_IN_BRACKETS = re.compile(r"\s*\((?:https?://|www\.)[^)]*\)")
MAX_SIGNOFF_WORDS = 16  # a sign-off paragraph is a line or two: longer is prose
MAX_SIGNOFF_PARAGRAPHS = 3


def _tidy(text: str) -> str:
    # Spaces collapsed first: on a long run of them the bracketed address's leading \s* would be quadratic.
    return " ".join(_URL_IN_BRACKETS.sub("", " ".join(text.split())).split()).strip(" .;,")


def _short(text: str) -> bool:
    return 0 < len(_tidy(text).split()) <= MAX_SIGNOFF_WORDS


def is_signed_section(heading: str) -> bool:
    """A foreword, a preface, an introduction by someone, a message or welcome from someone: a section signed."""
    return bool(_SIGNED_SECTION.search(heading or ""))


def person_name(text: str) -> str | None:
    """The person's name `text` starts with ("Rt Hon Chris Grayling MP Secretary of State" -> "Chris Grayling"),
    or None."""
    m = _NAME.match(_tidy(text))
    if not m:
        return None
    words = []
    for word in m.group(1).split():
        if _ROLE.fullmatch(word):
            break  # the role begins ("Chris Grayling Secretary of State")
        if word.lower().strip("’'") in _NOT_A_NAME:
            return None  # an organisation, a place or a part of a document ("Porthmellin Harbour Board")
        words.append(word)
    return " ".join(words) if len(words) >= 2 else None


def _signoff(lines: list[str]) -> str | None:
    """The sign-off the short `lines` at a section's end hold: the first line starting with a name, and the
    lines after it, when a role is among them."""
    for i, line in enumerate(lines):
        name = person_name(line)
        if name is None:
            continue
        rest = " ".join(_tidy(x) for x in lines[i:])
        after = rest[rest.find(name) + len(name):].strip(" ,;–-")
        if _ROLE.search(after) or _titled(after):
            return ", ".join(_tidy(x) for x in lines[i:])
    return None


def _titled(text: str) -> bool:
    """A role set in title case, as a sign-off sets one whatever its words ("Harbourmaster", "Curator of
    Maps"): one to ten words, the first and most of the others capitalised, no sentence punctuation."""
    words = [w for w in re.split(r"[\s,]+", text) if w]
    if not 1 <= len(words) <= 10 or re.search(r"[.!?:;]\s", text + " ") or not words[0][:1].isupper():
        return False
    content = [w for w in words if w.lower() not in _FUNCTION_WORDS]
    return bool(content) and sum(w[:1].isupper() for w in content) >= 0.75 * len(content)


def foreword_signoff(paragraphs: list) -> tuple[str, str] | None:
    """(what is signed, the sign-off) of the first signed section among `paragraphs` (cleaned paragraphs with
    `.text` and `.section`, in document order): ("foreword", "Phil Smith, Chair of Skills England"), or None."""
    sections: list[tuple[str, list[str]]] = []
    for p in paragraphs:
        if not sections or sections[-1][0] != p.section:
            sections.append((p.section, []))
        sections[-1][1].append(p.text)
    for at, (heading, texts) in enumerate(sections):
        m = _SIGNED_SECTION.search(heading or "")
        if not m:
            continue
        what = m.group(1).lower().split()[0]
        trailing: list[str] = []
        for text in reversed(texts):
            if not _short(text) or len(trailing) == MAX_SIGNOFF_PARAGRAPHS:
                break
            trailing.insert(0, text)
        found = _signoff(trailing)
        if found is None and at + 1 < len(sections):
            # A converter set the signer's name as a heading: the next section is named by a person, and holds
            # only their role.
            name_heading, after = sections[at + 1]
            if len(after) == 1 and _short(after[0]) and person_name(name_heading) and _short(name_heading):
                found = _signoff([name_heading, after[0]])
        if found:
            return what, found
        return None  # only the first signed section: a later "message" is seldom the document's foreword
    return None
