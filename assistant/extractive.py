"""The default answerer, no LLM: choose the sentences of the retrieved paragraphs that answer the
question, put them in a readable order, and cite each. Faithful by construction: every word of
the answer is a word of a cited paragraph.

A question is answered through one or more *focuses*: the question itself, or its parts when it
asks two things ("What was X, and how long did Y take?"). For each focus, every sentence of the
retrieved paragraphs gets a score from
- its cosine to the focus (sentence vectors are precomputed at ingest: one query embedding),
- its paragraph's cosine to the focus (the context the sentence lives in),
- the IDF-weighted share of the focus's content words it contains (its paragraph's title, section
  and comment byline count at half weight), and a small prior for the paragraph's fused rank.
Selection is greedy with a novelty check (maximal marginal relevance); a sentence that starts
with a pronoun brings the one before it, and a paragraph that opens by pointing back ("These are
key questions ...", "A common feature of these two systems ...") brings what it points to from the
paragraphs before; a list item brings its lead-in; list questions gather the whole list, including
items spread over the following paragraphs ("First, ...", "Second, ...").

Attribution clauses ("According to the Times, ...") steer retrieval but are cut from the focus the
sentences are scored against: they say where to look, not what is asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant.records import Paragraph, Span
from assistant.refusal import Signals, answer_type_present
from assistant.retrieval import Passage
from assistant.text import content_terms

_PRONOUN_START = re.compile(r"^[‘'\"“]?(this|that|these|those|it|its|they|them|their|he|his|she|her|such|there|here|both|the latter|the former)\b", re.I)
_LIST_QUESTION = re.compile(
    r"\b(what|which|name|list)\b.*\b(two|three|four|five|six|seven|several|main|key|conditions|assumptions|ingredients|steps|ways|"
    r"approaches|examples|questions|lessons|things|reforms|areas|priorities|factors|recommendations|shifts|points)\b|^\s*list\b",
    re.I,
)
_COUNT_ANNOUNCED = re.compile(r"\b(two|three|four|five|six|seven|eight|several|a number of)\s+(\w+\s+)?(conditions|assumptions|points|things|"
                              r"steps|ways|priorities|lessons|questions|issues|principles|tests|reasons|ingredients|shifts|changes)\b", re.I)
_ORDINAL_START = re.compile(r"^(first|second|third|fourth|fifth|sixth|seventh|finally|lastly|the (first|second|third|fourth|fifth|sixth|final|last)\b)", re.I)
# A paragraph that opens by pointing back ("These are key questions ...", "A common feature of these
# two systems ...") rests on the paragraph(s) before it.
_BACK_COUNT = re.compile(r"\b(these|those|both)\s+(two|three|four|five)\b", re.I)
_COUNT = {"two": 2, "three": 3, "four": 4, "five": 5}
_ORDINAL_WORD = re.compile(r"\b(first|second|third|fourth|fifth|sixth|seventh)\b", re.I)
# Attribution clauses say where to look, not what to say: they steer retrieval, not sentence choice.
# The clause runs to its comma ("According to the Times, what ...") or to the question mark
# ("How many staff ... according to the King's Fund blog?").
_ATTRIBUTION = re.compile(r",?\s*\b(according to|as (described|reported|stated) (in|by)|in the view of)\b[^?,]*,?", re.I)
_PART_SPLIT = re.compile(r",?\s+and\s+(?=(?:what|how|who|whom|which|why|when|where|is|are|was|were|does|did|do)\b)", re.I)


@dataclass
class Focus:
    """One thing the question asks, with its embedding and content words."""

    text: str
    vector: np.ndarray
    terms: list[str]


@dataclass
class ScoredSentence:
    passage_rank: int
    passage: Passage
    index: int  # sentence number within the paragraph
    span: Span
    text: str
    similarity: float
    overlap: float
    score: float
    vector: np.ndarray


@dataclass
class Extract:
    """The sentences chosen, grouped per paragraph in answer order, and the answerability signals."""

    groups: list[tuple[Passage, list[ScoredSentence]]]
    signals: Signals
    ranked: list[ScoredSentence]


def is_list_question(question: str) -> bool:
    return bool(_LIST_QUESTION.search(question))


def focus_texts(question: str) -> list[str]:
    """The parts of the question to answer: attribution clauses removed, two-part questions split.
    The first item is always the whole (cleaned) question."""
    core = re.sub(r"\s+([?,.])", r"\1", _ATTRIBUTION.sub(" ", question)).strip(" ,")
    if len(content_terms(core)) < 2:
        core = question  # the attribution was most of the question: keep it whole
    core = core[:1].upper() + core[1:]
    parts = [p.strip(" ,?") + "?" for p in _PART_SPLIT.split(core) if len(p.split()) >= 3]
    return [core] + parts if len(parts) > 1 else [core]


def _context_terms(passage: Passage) -> set[str]:
    p = passage.paragraph
    byline = f"{p.comment.author} {p.comment.role}" if p.comment else ""
    return set(content_terms(f"{passage.document.title} {p.section} {byline}"))


def _speaker_terms(passage: Passage) -> set[str]:
    """The document's author speaks in its paragraphs ("What does Chris Ham say should be the
    priority?"), except in reader comments, whose speaker is the commenter (in the byline)."""
    if passage.paragraph.comment is not None or not passage.document.author:
        return set()
    return set(content_terms(passage.document.author))


def score_sentences(focus: Focus, passages: list[Passage], sentence_vectors: dict[str, np.ndarray], idf: dict[str, float]) -> list[ScoredSentence]:
    q_terms = set(focus.terms)
    total_idf = sum(idf.get(t, 0.0) for t in q_terms) or 1.0
    ordinal_match = _ORDINAL_WORD.search(focus.text)
    ordinal = ordinal_match.group(0) if ordinal_match else None
    scored: list[ScoredSentence] = []
    for rank, passage in enumerate(passages):
        paragraph = passage.paragraph
        vectors = sentence_vectors.get(paragraph.id)
        spans = paragraph.sentences or [Span(0, len(paragraph.text))]
        if vectors is None or len(vectors) != len(spans):
            continue
        sims = vectors @ focus.vector
        mean = vectors.mean(axis=0)
        paragraph_sim = float(mean @ focus.vector / (np.linalg.norm(mean) or 1.0))
        context = _context_terms(passage) | _speaker_terms(passage)
        for i, (span, sim) in enumerate(zip(spans, sims)):
            text = paragraph.text[span.start : span.end]
            terms = set(content_terms(text))
            overlap = (sum(idf.get(t, 0.0) for t in q_terms & terms) + 0.5 * sum(idf.get(t, 0.0) for t in (q_terms & context) - terms)) / total_idf
            score = 0.6 * float(sim) + 0.4 * paragraph_sim + 0.3 * overlap + 0.04 / (1 + rank)
            if ordinal and re.match(rf"^(the )?{ordinal}\b", text, re.I):
                score += 0.15  # "the third priority" -> "Third, the new team ..."
            if len(text.split()) < 5:
                score -= 0.1  # "The snag?" says nothing on its own
            scored.append(ScoredSentence(rank, passage, i, span, text, float(sim), overlap, score, vectors[i]))
    scored.sort(key=lambda s: -s.score)
    return scored


def signals_for(question: str, focus: Focus, passages: list[Passage], ranked: list[ScoredSentence], chosen_text: str,
                idf: dict[str, float], unseen: set[str] = frozenset()) -> Signals:
    q_terms = set(focus.terms)
    total_idf = sum(idf.get(t, 0.0) for t in q_terms) or 1.0
    unseen_share = sum(idf.get(t, 0.0) for t in q_terms & unseen) / total_idf if q_terms else 1.0
    if not ranked:
        return Signals(0.0, 0.0, 0.0, 0.0, 0.0, 3.0, answer_type_present(question, ""), unseen_share)
    best = ranked[0]
    best_terms = set(content_terms(best.passage.paragraph.text)) | _context_terms(best.passage)
    coverage = sum(idf.get(t, 0.0) for t in q_terms & best_terms) / total_idf
    # Rare terms: the question words that name what is asked about (IDF above the median of the question's).
    values = sorted(idf.get(t, 0.0) for t in q_terms)
    median = values[len(values) // 2] if values else 0.0
    rare = {t for t in q_terms if idf.get(t, 0.0) >= max(median, 1.0)}
    top_terms: set[str] = set()
    for passage in passages[:3]:
        top_terms |= set(content_terms(passage.paragraph.text)) | _context_terms(passage)
    rare_coverage = len(rare & top_terms) / len(rare) if rare else 1.0
    missing = min(3.0, float(len(rare - top_terms)))
    similarities = sorted((s.similarity for s in ranked), reverse=True)
    second = similarities[1] if len(similarities) > 1 else 0.0
    return Signals(
        top_dense=max((p.dense for p in passages), default=0.0),
        top_sentence=similarities[0],
        sentence_margin=similarities[0] - second,
        coverage=coverage,
        rare_coverage=rare_coverage,
        missing_rare=missing,
        answer_type=answer_type_present(question, chosen_text),
        unseen=unseen_share,
    )


def choose(
    question: str,
    focuses: list[Focus],
    passages: list[Passage],
    sentence_vectors: dict[str, np.ndarray],
    idf: dict[str, float],
    max_words: int = 120,
    document_paragraphs: Callable[[str], list[Paragraph]] | None = None,
    unseen: set[str] = frozenset(),
) -> Extract:
    """Pick the answer sentences. `focuses[0]` is the whole question; more focuses are its parts."""
    rankings = [score_sentences(f, passages, sentence_vectors, idf) for f in focuses]
    ranked = rankings[0]
    if not ranked:
        return Extract([], signals_for(question, focuses[0], passages, ranked, "", idf, unseen), ranked)

    list_question = is_list_question(question)
    chosen: dict[tuple[str, int], ScoredSentence] = {}
    words = 0

    def add(sentence: ScoredSentence) -> bool:
        nonlocal words
        key = (sentence.passage.paragraph.id, sentence.index)
        if key in chosen:
            return True
        n = len(sentence.text.split())
        if chosen and words + n > max_words:
            return False
        chosen[key] = sentence
        words += n
        return True

    by_key = {(s.passage.paragraph.id, s.index): s for s in ranked}

    def take(sentence: ScoredSentence) -> bool:
        """Add a sentence with what it needs to make sense; False when the budget is spent."""
        if sentence.text.rstrip().endswith("?"):
            # A rhetorical question ("The snag?") is answered by the sentence after it.
            answer = by_key.get((sentence.passage.paragraph.id, sentence.index + 1))
            if answer is not None and not answer.text.rstrip().endswith("?"):
                return add(sentence) and add(answer)
        if sentence.index > 0 and _PRONOUN_START.match(sentence.text):
            previous = by_key.get((sentence.passage.paragraph.id, sentence.index - 1))
            if previous is not None and not add(previous):
                return False
        if sentence.index == 0 and document_paragraphs is not None:
            antecedents = [a for a in _antecedents(sentence, document_paragraphs) if (a.passage.paragraph.id, a.index) not in chosen]
            needed = sum(len(s.text.split()) for s in antecedents + [sentence])
            if antecedents and chosen and words + needed > max_words:
                return False  # the sentence without what it points back to would not make sense
            for antecedent in antecedents:
                add(antecedent)
        paragraph = sentence.passage.paragraph
        if paragraph.kind == "list":
            items = [by_key.get((paragraph.id, i)) for i in range(len(paragraph.sentences))]
            lead = [s for s in items if s is not None and not s.text.startswith("•")]
            bullets = [s for s in items if s is not None and s.text.startswith("•")]
            if sentence.text.startswith("•") and lead:
                add(lead[-1])
            if list_question or (lead and sentence is lead[-1] and lead[-1].text.rstrip().endswith(":")):
                if lead and lead[-1].text.rstrip().endswith(":"):
                    add(lead[-1])
                    for b in bullets:
                        add(b)
        return add(sentence)

    # The best sentence of each part of the question first, then more of the whole question's.
    for ranking in rankings[1:] or []:
        if ranking:
            take(ranking[0])
    best = ranked[0].score
    margin = 0.12 if list_question else 0.06
    limit = 8 if list_question else 3
    for sentence in ranked:
        if sentence.score < best - margin or len(chosen) >= limit + len(rankings) - 1:
            break
        if any(float(sentence.vector @ c.vector) > 0.9 for c in chosen.values()):
            continue  # says again what a chosen sentence says
        if not take(sentence):
            break
        if not list_question and words >= max_words * 0.6:
            break

    def make_room(needed: int, keep: str) -> None:
        """Drop the weakest sentences of paragraphs other than `keep` until `needed` more words fit:
        a list question's answer is the list."""
        nonlocal words
        for key, sentence in sorted(chosen.items(), key=lambda kv: kv[1].score):
            if words + needed <= max_words:
                return
            if sentence.passage.paragraph.id != keep:
                del chosen[key]
                words -= len(sentence.text.split())

    extra_passages: list[Passage] = []
    if list_question and document_paragraphs is not None:
        extra_passages = _gather_enumerated(chosen, add, make_room, document_paragraphs)

    # Group per paragraph; documents in order of their best sentence, paragraphs in document order.
    groups: dict[str, list[ScoredSentence]] = {}
    for s in chosen.values():
        groups.setdefault(s.passage.paragraph.id, []).append(s)
    doc_order: dict[str, float] = {}
    for s in chosen.values():
        doc_order[s.passage.document.id] = max(doc_order.get(s.passage.document.id, -9.0), s.score)
    ordered = sorted(groups.values(), key=lambda g: (-doc_order[g[0].passage.document.id], g[0].passage.paragraph.number))
    result = [(g[0].passage, sorted(g, key=lambda s: s.index)) for g in ordered]
    chosen_text = " ".join(s.text for _, group in result for s in group)
    return Extract(result, signals_for(question, focuses[0], passages + extra_passages, ranked, chosen_text, idf, unseen), ranked)


def _antecedents(sentence: ScoredSentence, document_paragraphs: Callable[[str], list[Paragraph]]) -> list[ScoredSentence]:
    """What a paragraph-opening sentence points back to: "these two systems" -> the first sentence of
    each of the two paragraphs before; "These are key questions" -> the paragraph before (whole when
    short, else its last sentence); "It ..." / "This ..." -> the last sentence before. Nothing for a
    sentence that does not point back."""
    count_match = _BACK_COUNT.search(" ".join(sentence.text.split()[:8]))
    if not count_match and not _PRONOUN_START.match(sentence.text):
        return []
    passage = sentence.passage
    before = [p for p in document_paragraphs(passage.document.id) if p.number < passage.paragraph.number and p.sentences]
    if not before:
        return []

    if count_match:
        return [_stand_in(sentence, p, 0) for p in before[-_COUNT[count_match.group(2).lower()]:]]
    previous = before[-1]
    if re.match(r"^[‘'\"“]?(these|those|they|both)\b", sentence.text, re.I) and len(previous.text.split()) <= 70:
        return [_stand_in(sentence, previous, i) for i in range(len(previous.sentences))]
    return [_stand_in(sentence, previous, len(previous.sentences) - 1)]


def _stand_in(sentence: ScoredSentence, paragraph: Paragraph, index: int) -> ScoredSentence:
    """Sentence `index` of `paragraph` (not retrieved, or not scored), brought in by `sentence`: it
    borrows that sentence's scores and vector (the novelty check then treats them as one)."""
    span = paragraph.sentences[index]
    return ScoredSentence(sentence.passage_rank, Passage(paragraph, sentence.passage.document, score=0.0), index, span,
                          paragraph.text[span.start : span.end], sentence.similarity, 0.0, sentence.score, sentence.vector)


def _gather_enumerated(chosen: dict, add: Callable, make_room: Callable, document_paragraphs: Callable[[str], list[Paragraph]]) -> list[Passage]:
    """A chosen sentence announcing a count ("three conditions need to be met") is followed by the
    paragraphs that enumerate them ("First, ...", "Second, ...", "The third ..."): take the
    first sentence of each, making room for them by dropping the weakest other sentences."""
    announcing = [s for s in chosen.values() if _COUNT_ANNOUNCED.search(s.text) or re.search(r"\bimportant\b.*\.$|:$", s.text)]
    added: list[Passage] = []
    for sentence in announcing:
        passage = sentence.passage
        following = [p for p in document_paragraphs(passage.document.id) if p.number > passage.paragraph.number]
        items = []
        for paragraph in following:
            if not paragraph.sentences:
                continue
            first = paragraph.text[paragraph.sentences[0].start : paragraph.sentences[0].end]
            if _ORDINAL_START.match(first):
                items.append((paragraph, first))
            elif items:
                break  # the enumeration ended
            elif paragraph.number > passage.paragraph.number + 2:
                break  # no enumeration right after the announcement
        if items:
            make_room(sum(len(first.split()) for _, first in items), keep=passage.paragraph.id)
        for paragraph, _first in items:
            scored = _stand_in(sentence, paragraph, 0)
            if not add(scored):
                return added
            added.append(scored.passage)
    return added
