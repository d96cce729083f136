"""Word-level text helpers shared by the lexical index, the answerer and the citation check, the
[n] citation markers of an answer, and HTML escaping for every page that shows text.

One tokenizer for all of them, so "organisations" in a question matches "organisation" in a
paragraph the same way everywhere.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

# Lucene's English stop words plus question words and fillers that carry no topic.
STOPWORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then there these
    they this to was will with what which who whom whose when where why how does did do done doing has have had
    having i me my we our you your he him his she her its them those am been being were would could should
    can may might must shall about above after again against all any because before below between both
    during each few from further here more most nor off once only other out over own same so some than too
    under until up very s t just don now also said says say according tell told give given please""".split()
)

_WORD = re.compile(r"[A-Za-z0-9£$€%][A-Za-z0-9£$€%'’.\-]*[A-Za-z0-9%]|[A-Za-z0-9]")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased word tokens, with possessive 's removed."""
    out = []
    for w in _WORD.findall(text):
        w = w.lower().replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        out.append(w.strip(".'-"))
    return [w for w in out if w]


def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def content_terms(text: str) -> list[str]:
    """Stemmed words that are not stop words: what the BM25 index and overlap checks count."""
    stemmer = _stemmer()
    return stemmer.stemWords([w for w in words(text) if w not in STOPWORDS])


NUMBER_RE = re.compile(r"(?<![\w.])(?:£|\$|€)?\d[\d,]*(?:\.\d+)?(?:\s?(?:%|per cent|million|billion|bn|m)\b)?")


def numbers(text: str) -> set[str]:
    """Numbers as written, normalised (commas dropped): an answer must not invent any."""
    return {re.sub(r"[,\s]", "", m.group(0)).lower() for m in NUMBER_RE.finditer(text)}


# What looks like a name, the one place that says so: a capitalised word (not at a sentence start,
# where every word is capitalised), and a run of two or more capitalised words ("David Dalton",
# "Health Secretary"; at a sentence start too, since a query is not prose).
_NAME_WORD = re.compile(r"(?<=[a-z,;:]\s)([A-Z][a-zA-Z’'\-]+)")
_NAME_PHRASE = re.compile(r"\b[A-Z][a-z’']+(?:\s+[A-Z][a-z’']+)+")


def capitalised_names(text: str) -> set[str]:
    """Capitalised words not at a sentence start, lower-cased: a rough set of names an answer must not invent."""
    return {m.group(1).lower() for m in _NAME_WORD.finditer(text)}


# A name and its acronym: "Department for Environment, Food and Rural Affairs" is "Defra", "Foreign,
# Commonwealth and Development Office" is "FCDO". The short words inside a name do not count.
_NAME_TOKEN = re.compile(r"[A-Za-z][A-Za-z’'\-]*|[,&]")
_INSIDE_A_NAME = {"for", "of", "and", "the", "on", "in", ",", "&"}
MIN_ACRONYM = 3  # letters: two-letter initials match too much by chance
MAX_ACRONYM = 8  # capitalised words: a longer run (a heading in capitals) names no acronym, and would cost n^2


def spelled_out_names(text: str) -> dict[str, list[str]]:
    """Each name of two or more capitalised words in `text` under its acronym (lower-cased), with its words:
    every run of capitalised words and the short words inside them, from a capitalised word to one at most
    MAX_ACRONYM capitalised words later ("Department for Education" under "dfe"; "Department for
    Environment, Food and Rural Affairs" under "defra"), acronyms of MIN_ACRONYM letters or more."""
    runs: list[list[str]] = [[]]
    for token in _NAME_TOKEN.findall(text):
        if token[0].isupper() or (token.lower() in _INSIDE_A_NAME and runs[-1]):
            runs[-1].append(token)
        elif runs[-1]:
            runs.append([])
    out: dict[str, list[str]] = {}
    for run in runs:
        capitals = [i for i, t in enumerate(run) if t[0].isupper()]
        for a, start in enumerate(capitals):
            for end in capitals[a + 1 : a + MAX_ACRONYM]:
                part = run[start : end + 1]
                name_words = [t for t in part if t not in {",", "&"}]
                for acronym in ("".join(t[0] for t in name_words if t.lower() not in _INSIDE_A_NAME),
                                "".join(t[0] for t in name_words)):  # "DfE" keeps the "f" of "for"
                    if len(acronym) >= MIN_ACRONYM:
                        out.setdefault(acronym.lower(), [w.lower() for w in name_words])
    return out


def name_phrases(text: str) -> list[str]:
    """Runs of two or more capitalised words, as written, in order: the names a question mentions."""
    return _NAME_PHRASE.findall(text)


# A sentence that asks rather than states: it ends with "?", or opens with a question word and has no full
# stop (an FAQ heading run into the text: "How often should a patient test their ketone levels").
_QUESTION_OPENING = re.compile(r"^\W*(?:how|what|when|where|why|who|whom|which|whose)\b", re.IGNORECASE)


def is_question(sentence: str) -> bool:
    """Does `sentence` ask something? A question restates what is asked; it never answers it."""
    text = sentence.strip()
    return text.endswith("?") or (bool(_QUESTION_OPENING.match(text)) and not text.endswith((".", "!", "”", '"')))


CITATION_MARKER = re.compile(r"\[(\d{1,3})\]")  # "[3]" in an answer: it cites the third numbered passage
_MARKER_AND_SPACE = re.compile(r"\s*" + CITATION_MARKER.pattern)


def strip_markers(text: str) -> str:
    """`text` without its [n] citation markers (nor the space before each)."""
    return _MARKER_AND_SPACE.sub("", text)


def esc(text: object) -> str:
    """HTML-escape anything shown on a page (quotes too, so it is safe inside attributes); None is ""."""
    return html.escape("" if text is None else str(text), quote=True)


# Markdown's ASCII punctuation that can start markup; "#" only outside the entities `esc` writes ("&#x27;").
_MARKDOWN_PUNCTUATION = re.compile(r"[\\`*_{}\[\]()+\-.!|~]|(?<!&)#")


def esc_markdown(text: object) -> str:
    """`esc(text)` for a Markdown message: also Markdown's punctuation backslash-escaped, so that a name
    like "**x** [y](z)" shows as typed, never as emphasis, a link, code or a heading."""
    return _MARKDOWN_PUNCTUATION.sub(lambda m: "\\" + m.group(0), esc(text))
