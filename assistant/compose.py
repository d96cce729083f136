"""Composing Answers: chosen sentences (or verified LLM sentences) -> answer text with [n] markers
and the Citation records. Shared by the extractive and the LLM answerers so that citations look
the same whichever answered.
"""

from __future__ import annotations

from assistant.answer import NOT_IN_SOURCES, Answer, Citation, NearPassage
from assistant.retrieval import Passage


def citation_for(marker: int, passage: Passage, quote: str) -> Citation:
    paragraph, document = passage.paragraph, passage.document
    comment_by = ""
    if paragraph.comment is not None:
        c = paragraph.comment
        comment_by = c.author + (f" ({c.role})" if c.role else "") + (f", {c.date}" if c.date else "")
    return Citation(
        marker=marker,
        paragraph_id=paragraph.id,
        document_id=document.id,
        title=document.title,
        publisher=document.publisher,
        date=document.date,
        url=document.url,
        paragraph=paragraph.number,
        text=paragraph.text,
        quote=quote,
        section=paragraph.section,
        comment_by=comment_by,
        page=paragraph.page_at(quote_offset(paragraph.text, quote)),
        pages=paragraph.pages,
    )


def quote_offset(text: str, quote: str) -> int:
    """Where the quote starts in its paragraph (0 when it cannot be found: the paragraph's first page)."""
    first = quote.split(" … ", 1)[0].strip()
    at = text.find(first) if first else -1
    return max(at, 0)


def render_group(sentences: list[str]) -> str:
    """Sentences of one paragraph as answer text; a list's lead-in and bullets read as one sentence."""
    parts: list[str] = []
    items: list[str] = []
    for text in sentences:
        if text.startswith("•"):
            items.append(text.lstrip("• ").rstrip(" .;"))
            continue
        if items:
            parts.append("; ".join(items) + ".")
            items = []
        parts.append(text)
    if items:
        if parts and parts[-1].rstrip().endswith(":"):
            parts[-1] = parts[-1].rstrip() + " " + "; ".join(items) + "."
        else:
            parts.append("; ".join(items) + ".")
    return " ".join(p.strip() for p in parts if p.strip())


def quote_of(passage: Passage, indices: list[int]) -> str:
    """The quoted sentences exactly as they stand in the paragraph: a run of adjacent sentences is
    one substring of the paragraph text; separate runs are joined by " … "."""
    spans = passage.paragraph.sentences
    text = passage.paragraph.text
    runs: list[list[int]] = []
    for i in sorted(set(indices)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return " … ".join(text[spans[a].start : spans[b].end] for a, b in runs)


def abstention(question: str, passages: list[Passage], reason: str = "") -> Answer:
    text = NOT_IN_SOURCES
    if passages:
        text += " The nearest passages are listed below; they do not answer it."
    nearest = [NearPassage(p.paragraph.id, p.document.title, p.paragraph.text) for p in passages[:3]]
    return Answer(question=question, answer=text, abstained=True, nearest=nearest, notice=reason)
