"""Follow-up questions -> a standalone search query.

With an LLM configured, the LLM rewrites (assistant/llm.py); without one, this deterministic rule
does: a question that leans on the conversation ("his organisation", "it", "that report") gets the
subject of the previous turns written in. The subject is the last named thing the user asked about
(a run of capitalised words, e.g. "David Dalton"), else the content words of the previous question.
A plural pronoun ("they", "their") takes the previous question's plural noun phrase when it has
one ("foundation trusts"), since a name is usually singular ("the King's Fund"); "he", "she" and
"his" take the last name that looks like a person's, not an organisation's.
"""

from __future__ import annotations

import re

from assistant.text import STOPWORDS

_PRONOUNS = {
    "he": "{s}", "she": "{s}", "him": "{s}", "her": "{s}'s", "his": "{s}'s", "hers": "{s}'s",
    "they": "{s}", "them": "{s}", "their": "{s}'s", "theirs": "{s}'s",
    "it": "{s}", "its": "{s}'s",
}
_DEICTIC = re.compile(r"\b(that|this|the|those|these) (report|document|article|blog|organisation|organization|trust|speech|"
                      r"person|man|woman|idea|proposal|approach|plan|body|team|system|post|comment|publication)\b", re.I)
_NAME_RUN = re.compile(r"\b([A-Z][\w’'\-]*(?:\s+(?:of|the|for|and|de|van)?\s*[A-Z][\w’'\-]*)*)")
_QUESTION_WORDS = {"Who", "What", "When", "Where", "Why", "How", "Which", "Is", "Are", "Was", "Were", "Did", "Does", "Do",
                   "Can", "Could", "Should", "Would", "Tell", "And", "But", "So", "The", "A", "An", "In", "On", "I"}


def needs_context(question: str) -> bool:
    lowered = re.findall(r"[a-z’']+", question.lower())
    return any(w in _PRONOUNS for w in lowered) or bool(_DEICTIC.search(question)) or len(lowered) <= 3


# Words that make a capitalised run an organisation or a thing rather than a person.
_NOT_A_PERSON = {"NHS", "Trust", "Trusts", "Fund", "Association", "Improvement", "Authority", "System", "Centre", "Center",
                 "Foundation", "Department", "Assembly", "Royal", "Group", "Council", "Service", "Services", "Agency",
                 "Commission", "Office", "Report", "Act", "Party", "Government", "University", "Hospital", "Institute",
                 "Company", "Ltd", "Inc", "Providers", "England", "Scotland", "Wales", "UK"}
_PERSONAL = {"he", "she", "him", "her", "his", "hers"}


def _names(text: str) -> list[str]:
    names = []
    for match in _NAME_RUN.finditer(text):
        words = [w for w in match.group(1).split() if w not in _QUESTION_WORDS]
        if words:
            names.append(re.sub(r"['’]s$", "", " ".join(words)))
    return names


def looks_like_a_person(name: str) -> bool:
    """"Stephen Dorrell" yes; "NHS Improvement", "the King's Fund", "Salford Royal" no."""
    words = re.sub(r"['’]s\b", "", name).split()
    return 2 <= len(words) <= 4 and all(w[:1].isupper() and w[1:].islower() for w in words) and not set(words) & _NOT_A_PERSON


def subject_of(text: str) -> str | None:
    """The last named thing in `text`: the longest capitalised run, preferring multi-word names."""
    best = None
    for name in _names(text):
        if best is None or len(name.split()) >= len(best.split()):
            best = name
    return best


def person_of(text: str) -> str | None:
    """The last name in `text` that looks like a person's ("he" refers to Stephen Dorrell, not
    to the NHS Improvement he spoke about)."""
    people = [n for n in _names(text) if looks_like_a_person(n)]
    return people[-1] if people else None


_PLURAL_PRONOUNS = {"they", "them", "their", "theirs"}
_WORD = re.compile(r"[A-Za-z][\w’'\-]*")


def plural_subject_of(text: str) -> str | None:
    """The last plural noun phrase of `text` ("foundation trusts"), with one modifier before it."""
    words = _WORD.findall(text)
    for i in range(len(words) - 1, -1, -1):
        word = words[i]
        lowered = word.lower()
        if lowered in STOPWORDS or word[0].isupper() or not lowered.endswith("s") or lowered.endswith(("ss", "us", "is")):
            continue
        if "'" in word or "’" in word:
            continue  # a possessive ("Fund's") names one thing
        before = words[i - 1] if i > 0 else ""
        modifier = before if before and before.lower() not in STOPWORDS and before.lower() not in _PRONOUNS else ""
        return f"{modifier} {word}".strip()
    return None


def rewrite(question: str, history: list[dict] | None) -> str:
    """A standalone search query for `question`, given the earlier turns."""
    if not history or not needs_context(question):
        return question
    previous_questions = [m.get("content", "") for m in history if m.get("role") == "user" and m.get("content")]
    if not previous_questions:
        return question
    subject = None
    for text in reversed(previous_questions):
        subject = subject_of(text)
        if subject:
            break
    plural = plural_subject_of(previous_questions[-1])
    person = next((p for p in map(person_of, reversed(previous_questions)) if p), None)
    if subject:
        def swap(match: re.Match) -> str:
            word = match.group(0)
            template = _PRONOUNS[word.lower()]
            if word.lower() in _PLURAL_PRONOUNS and plural:
                return template.format(s=plural).replace("s's", "s'")
            if word.lower() in _PERSONAL and person:
                return template.format(s=person)
            return template.format(s=subject)

        rewritten = re.sub(r"\b(" + "|".join(_PRONOUNS) + r")\b", swap, question, flags=re.I)
        rewritten = _DEICTIC.sub(lambda m: f"{subject}", rewritten) if rewritten == question else rewritten
        if rewritten != question:
            return rewritten
        return f"{question} ({subject})"
    keywords = [w for w in re.findall(r"[A-Za-z’'\-]+", previous_questions[-1]) if w.lower() not in STOPWORDS]
    return f"{question} ({' '.join(keywords)})" if keywords else question
