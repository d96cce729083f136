"""Questions that name their documents -> the documents, and what the question asks of them.

"What are the three common types of evaluation described in the FSA action plan?" names its document ("the
FSA action plan": the publisher's acronym and words of the title) and asks something of it. Retrieval reads
the whole question, so the naming words pull towards the paragraphs that mention the document by its name
("This Action Plan is an opportunity to ...") and can push the paragraph that answers out of the passages.
So when a question names a document, that document is searched again with the naming words taken out
("What are the three common types of evaluation described in?"), and what this finds joins the passages. The
reader still reads the whole question against every sentence.

What names a document: the words of its title and publisher (stemmed, as the lexical index has them), the
acronyms in them ("BEIS") and those they spell ("Food Standards Agency" -> "fsa", "Department for Transport"
-> "dft"). A naming phrase is a run of such words of one document, joined only by "the", "of", "and", "for",
"&", "a", "an" (a possessive "'s" is read off): "the DfT's rail vision", "Skills England's assessment". It names
the document when it holds a word of the title and either
- at least MIN_NAME_TERMS name words, one of them rare among the documents' names (in at most RARE_SHARE of
  them), and it reads as a reference: after a determiner ("the", "its") or with a possessive ("in Northern
  Ireland" names no document whose title says "Northern Ireland"); or
- is one acronym, written as one, of its title or publisher that no other document's name has ("according to
  BEIS", "How do the FSA and BEIS use peer review?": the one document each published);
and when no other document's name holds the phrase as well. A question may name several documents ("What do the
DfT rail vision and the Skills England assessment say about apprenticeships?"): each is searched without the
naming phrases, and the answer gives each one's best sentence (assistant/extractive.py `choose`). The rule is
about how questions name documents, not about any document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.text import STOPWORDS, content_terms, spelled_out_names

MIN_NAME_TERMS = 2
RARE_SHARE = 0.10
# Words that may join a naming phrase's name words: "the Department for Transport's rail vision".
_JOINERS = {"the", "of", "and", "for", "&", "a", "an"}
# Words before a phrase that refers to a document: "the FSA action plan", "its Evaluation Action Plan".
_DETERMINERS = {"the", "its", "their", "this", "that", "his", "her", "our"}
_TOKEN = re.compile(r"[A-Za-z0-9&]+(?:[-‐][A-Za-z0-9&]+)*(?:['’][A-Za-z]+)?")  # "working-age" is one word
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)


@dataclass(frozen=True)
class NamedDocument:
    """The document a question names, the naming phrase as written, and the question without it."""

    document_id: str
    phrase: str
    rest: str


@dataclass(frozen=True)
class _Name:
    title: frozenset[str]  # stemmed content terms and acronyms of the title
    publisher: frozenset[str]  # those of the publisher
    acronyms: frozenset[str]  # the acronyms among them

    @property
    def keys(self) -> frozenset[str]:
        return self.title | self.publisher


def _acronyms(text: str) -> set[str]:
    """The acronyms of a title or publisher, lower-cased: written in it ("BEIS", "DfT") and spelled by its
    names ("Food Standards Agency" -> "fsa"). A name set in capitals ("FINDINGS OF THE INVESTIGATION") has
    words in capitals, not acronyms."""
    words = re.findall(r"[A-Za-z]+", text)
    if not words or sum(w.isupper() for w in words) > len(words) // 2:
        return set()
    written = {t.lower() for t in re.findall(r"\b[A-Z][A-Za-z&]*[A-Z][a-z]?\b", text)
               if sum(c.isupper() for c in t) >= 2 and t.lower() not in STOPWORDS}
    return written | set(spelled_out_names(text))


def _name_keys(text: str) -> frozenset[str]:
    """Stemmed content terms of a title or publisher, and its acronyms."""
    return frozenset(content_terms(text)) | frozenset(_acronyms(text))


class DocumentNames:
    """The names of an index's documents (title and publisher), to find the one a question names."""

    def __init__(self, documents) -> None:
        self._names: dict[str, _Name] = {}
        for document in documents:
            title, publisher = document.title or "", document.publisher or ""
            self._names[document.id] = _Name(_name_keys(title), _name_keys(publisher),
                                             frozenset(_acronyms(title) | _acronyms(publisher)))
        count = max(1, len(self._names))
        # Each name word with the documents whose names hold it: a question is matched against the documents
        # its words name, not against every document of a large corpus.
        self._holders: dict[str, set[str]] = {}
        for document_id, name in self._names.items():
            for key in name.keys:
                self._holders.setdefault(key, set()).add(document_id)
        self._frequency = {key: len(holders) for key, holders in self._holders.items()}
        self._rare = max(1, int(RARE_SHARE * count))

    @staticmethod
    def _token_keys(token: str) -> set[str]:
        bare = _POSSESSIVE.sub("", token)
        return {bare.lower(), *content_terms(bare)} if bare.lower() not in STOPWORDS else set()

    def named(self, question: str) -> list[NamedDocument]:
        """The documents `question` names (see the module docstring), in the order it names them: none, one, or
        more ("What do the DfT rail vision and the Skills England assessment say about apprenticeships?"). Each
        one's `rest` is the question without any of the naming phrases."""
        tokens = list(_TOKEN.finditer(question))
        token_keys = [self._token_keys(t.group(0)) for t in tokens]
        found: list[tuple[float, str, int, int]] = []  # (weight, document, first token, last token)
        candidates = set().union(*(self._holders.get(k, ()) for keys in token_keys for k in keys))
        for document_id in sorted(candidates):
            name = self._names[document_id]
            keys_of = [keys & name.keys for keys in token_keys]
            i = 0
            while i < len(tokens):
                if not keys_of[i]:
                    i += 1
                    continue
                j, last = i, i
                while j + 1 < len(tokens) and (keys_of[j + 1] or tokens[j + 1].group(0).lower() in _JOINERS):
                    j += 1
                    if keys_of[j]:
                        last = j
                span = [keys for keys in keys_of[i : last + 1] if keys]
                referred = (i > 0 and tokens[i - 1].group(0).lower() in _DETERMINERS) or any(
                    _POSSESSIVE.search(t.group(0)) for t in tokens[i : last + 1])
                written = [tokens[k].group(0) for k in range(i, last + 1) if keys_of[k]]
                if self._names_it(span, name, referred, written) and not self._shared(span, document_id):
                    weight = sum(1.0 / min(self._frequency[k] for k in keys) for keys in span)
                    found.append((weight, document_id, i, last))
                i = last + 1
        # The heaviest phrase first; a phrase overlapping a heavier one is not another name, and a document
        # named twice is named once.
        found.sort(key=lambda f: (-f[0], f[2]))
        chosen: list[tuple[str, int, int]] = []
        taken: list[tuple[int, int]] = []
        for weight, document_id, first, last in found:
            if any(first <= l and f <= last for f, l in taken):
                continue
            taken.append((first, last))
            if all(d != document_id for d, _, _ in chosen):
                chosen.append((document_id, first, last))
        chosen.sort(key=lambda c: c[1])
        rest = question
        for _, first, last in reversed(chosen):
            rest = f"{rest[: tokens[first].start()]} {rest[tokens[last].end() :]}"
        rest = re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s+", " ", rest)).strip()
        return [NamedDocument(d, question[tokens[f].start() : tokens[l].end()], rest) for d, f, l in chosen]

    def _shared(self, span: list[set[str]], document_id: str) -> bool:
        """Whether another document's name holds a word of each of the phrase's name words as well ("monitoring
        and evaluation" is in three titles): the phrase names none of them."""
        sharing = set.intersection(*(set().union(*(self._holders.get(k, ()) for k in keys)) for keys in span))
        return bool(sharing - {document_id})

    def _names_it(self, span: list[set[str]], name: _Name, referred: bool, written: list[str]) -> bool:
        """Whether the name words of a phrase (each word's keys; `written`: the words as the question writes
        them) name the document: see the module docstring. `referred`: the phrase follows a determiner or holds
        a possessive ("the FSA action plan", "Skills England's assessment"), as a reference to a document does
        ("in Northern Ireland" is none)."""
        if len(span) == 1:
            # One word: an acronym, written as one ("BEIS", "DfT"; not "sits"), that no other document's name has.
            # Its title's or its publisher's: "How do the FSA and BEIS use peer review?" names the one document
            # the Food Standards Agency published.
            word = _POSSESSIVE.sub("", written[0])
            return (sum(c.isupper() for c in word) >= 2 and word.lower() in name.acronyms
                    and self._frequency[word.lower()] == 1)
        if not any(keys & name.title for keys in span):
            return False  # a publisher alone ("the Prime Minister") names no one document
        rare = any(min(self._frequency[k] for k in keys) <= self._rare for keys in span)
        return referred and len(span) >= MIN_NAME_TERMS and rare
