"""Questions about a document itself -> its header joins the passages.

"Who wrote the Evaluation Action Plan?", "When was the report published?", "What is the full title of the
May 2022 report?" ask about a document, not about what it says. Their answer is in the document's header
(`<document-id>#p0`, ingest/header.py), a paragraph whose few words ("The document was written by ...") share
little with the question, so retrieval, which ranks by what the question is about, often leaves it out in
favour of paragraphs that discuss the document's subject. When a question asks for an author, publisher,
publication date, title or reference, the headers of the documents retrieval found join the passages, and the
reader chooses between them and the text as for any other question: nothing is answered from a header that
the reader does not pick.

The rule is about the wording of questions, not about any document: it was written from the kinds of
metadata a header holds.
"""

from __future__ import annotations

import re

from ingest.header import HEADER_SUFFIX

# The documents whose headers join: those of the best passages, in retrieval order.
DOCUMENTS = 3

_ASKS = re.compile(
    r"\bwho\s+(?:wrote|authored|published|produced|issued|prepared|compiled|released|signed)\b"
    r"|\bauthors?\b|\bauthored\b|\bwritten\s+by\b|\bpublisher\b|\bpublished\s+by\b"
    r"|\b(?:which|what)\s+(?:organi[sz]ation|body|department|agency|authority|team|unit|office|ministry|government)\b"
    r".{0,40}\b(?:publish|produc|issu|writ|wrote|author|releas)"
    r"|\b(?:when|what\s+(?:date|day|month|year)|which\s+(?:date|month|year)|in\s+what\s+(?:month|year))\b"
    r".{0,80}\b(?:published|released|issued|written|dated|updated)\b"
    r"|\bpublication\s+(?:date|reference|number)\b|\bdate\s+of\s+publication\b"
    r"|\btitle\b|\btitled\b"
    r"|\breference\s+(?:number|no\.?|code)\b|\bISBN\b|\bcommand\s+paper\b",
    re.IGNORECASE,
)


def asks_about_the_document(question: str) -> bool:
    """Does `question` ask for a document's author, publisher, date, title or reference?"""
    return bool(_ASKS.search(question))


# Where a clause that tells the reader which document is meant begins: a relative pronoun, or a participle
# that describes the document ("... the plan that describes Level 1 evaluations", "... the guidance setting
# out five principles").
_DESCRIBING = re.compile(
    r",?\s+(?:that|which|whose|where|in\s+which|describing|setting\s+out|outlining|covering|recommending|proposing)\s+",
    re.IGNORECASE,
)
# The ask comes before the first clauses; reading every prefix of a long question would be quadratic.
MAX_DESCRIBING_CLAUSES = 3


def document_ask(question: str) -> str | None:
    """The part of a question about a document that asks, without the clause that describes the document:
    "Which body published the Evaluation Action Plan that describes Level 1 to Level 3 evaluations?" ->
    "Which body published the Evaluation Action Plan?". The description helps retrieval find the document,
    and draws the reader to the sentences it repeats, none of which says who published it; the header answers
    the ask. None when the question has no such clause, or the words before it do not ask about a document
    on their own ("When was the report that set out the targets published?")."""
    for n, match in enumerate(_DESCRIBING.finditer(question)):
        if n == MAX_DESCRIBING_CLAUSES:
            break
        ask = question[: match.start()].rstrip(" ,") + "?"
        if len(ask.split()) >= 4 and len(question[match.end():].split()) >= 3 and asks_about_the_document(ask):
            return ask
    return None


def header_ids(passages: list, documents: int = DOCUMENTS) -> list[str]:
    """The header paragraph ids of the first `documents` distinct documents among `passages` (retrieval
    order), those not already among them."""
    present = {p.paragraph.id for p in passages}
    found: list[str] = []
    for passage in passages:
        header = f"{passage.paragraph.document_id}{HEADER_SUFFIX}"
        if header not in found:
            found.append(header)
        if len(found) == documents:
            break
    return [pid for pid in found if pid not in present]
