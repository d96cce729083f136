"""A document's header: what its metadata states (title, author, publisher, date, reference, address), written
as a citable unit, paragraph `<document-id>#p0`, ahead of the document's own paragraphs (which keep
their numbers from 1, so adding the header moves no existing id).

"Who wrote X?" and "When was X published?" are then answered like any other question: retrieved,
read by the reader, and cited, the citation pointing at the header. The header is written as plain
sentences because the reader was trained on prose. A document whose metadata states nothing but a
title, stated in the document itself (a Markdown page's front matter or first heading, an HTML <title>, a
PDF's own title), still gets one ("Its title is ..."), so that "What is the title of ...?" has something to
cite. A title given only by a metadata sidecar or taken from the file name makes none: the sidecar's writer
knows it already, and many small documents sharing one sidecar title (a benchmark's paragraphs, an FAQ
exported one answer to a file) would each get a header holding nothing but the question's words.
"""

from __future__ import annotations

import re

from assistant.records import Document, Paragraph, Span

HEADER_NUMBER = 0
HEADER_SUFFIX = f"#p{HEADER_NUMBER}"  # a header's paragraph id is the document id and this
HEADER_KIND = "header"
# Bump when the header's wording changes: documents are then re-ingested (ingest/pipeline.py content_hash).
# 2: the publication reference, when the document states one. 3: a header for a document stating only its own title.
# 4: an author the text names wins over a PDF's Author property (ingest/metadata.py merged_metadata); a name run into its unit.
# 5: who signed the foreword (ingest/signoff.py).
HEADER_VERSION = "5"
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")


def date_in_words(date: str) -> str:
    """"2015-09-30" -> "on 30 September 2015", "2014-06" -> "in June 2014", "2015" -> "in 2015";
    anything else is given as written ("in spring 2015")."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", date.strip())
    if not m:
        return f"on {date.strip()}" if re.search(r"\d{1,2}\s+\w+\s+\d{4}", date) else f"in {date.strip()}"
    year, month, day = m.groups()
    if month and 1 <= int(month) <= 12:
        if day:
            return f"on {int(day)} {_MONTHS[int(month) - 1]} {year}"
        return f"in {_MONTHS[int(month) - 1]} {year}"
    return f"in {year}"


def header_sentences(document: Document, title_stated: bool = False, signed: tuple[str, str] | None = None) -> list[str]:
    """The header as sentences; `title_stated`: the document itself states its title (ingest's
    `document_metadata` found one); `signed`: what part of it is signed, and the sign-off ("foreword",
    "Phil Smith, Chair of Skills England"; ingest/signoff.py). The title comes last, alone: a sentence holding
    the title's words would look like an answer to every question about the document (the reader reads the
    title as context for each of its sentences anyway)."""
    facts = []
    if document.author:
        facts.append(f"written by {document.author}")
    published = "published"
    if document.publisher:
        published += f" by {document.publisher}"
    if document.date:
        published += f" {date_in_words(document.date)}"
    if published != "published":
        facts.append(published)
    sentences = []
    if facts:
        sentences.append(f"The document was {' and '.join(facts)}.")
    if document.reference:
        sentences.append(f"Its publication reference is {document.reference}.")
    if signed:
        sentences.append(f"The {signed[0]} is signed by {signed[1]}.")
    if re.match(r"https?://\S+$", document.url or ""):  # an address a reader can follow; never "javascript:..."
        sentences.append(f"The document's web address is {document.url}")
    if sentences or (title_stated and document.title.strip()):
        sentences.append(f"Its title is “{document.title}”.")
    return sentences


# What a header sentence says when it states a field, in the wording `header_sentences` writes. An organisation
# named as author or publisher answers a question about either.
_STATES = {
    "author": re.compile(r"\b(?:written|published) by\b"),
    "publisher": re.compile(r"\b(?:written|published) by\b"),
    "date": re.compile(r"\bpublished\b[^.]*?\b(?:on|in) [^.]*\d"),
    "reference": re.compile(r"\bpublication reference is\b"),
    "title": re.compile(r"\bIts title is\b"),
}


def header_states(field: str, text: str) -> bool:
    """Does header text `text` state the metadata `field` (author, publisher, date, reference, title)? Any
    header text counts for a field not named here."""
    pattern = _STATES.get(field)
    return pattern is None or bool(pattern.search(text))


def header_paragraph(document: Document, title_stated: bool = False, signed: tuple[str, str] | None = None) -> Paragraph | None:
    """The header unit of `document`, or None when its metadata states nothing but a title the document
    itself does not state (see the module's docstring)."""
    sentences = header_sentences(document, title_stated, signed)
    if not sentences:
        return None
    spans, text = [], ""
    for sentence in sentences:
        if text:
            text += " "
        spans.append(Span(len(text), len(text) + len(sentence)))
        text += sentence
    return Paragraph(
        document_id=document.id,
        number=HEADER_NUMBER,
        text=text,
        kind=HEADER_KIND,
        sentences=spans,  # set here, not by the splitter: a title may hold a "?" mid-sentence
        collection=document.collection,
    )
