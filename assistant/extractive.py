"""The default answerer, no LLM: choose the sentences of the retrieved paragraphs that answer the
question, put them in a readable order, and cite each. Faithful by construction: every word of
the answer is a word of a cited paragraph.

Sentence score = cosine to the question (precomputed sentence vectors, one query embedding) plus
IDF-weighted overlap with the question's content words, plus a small prior for the paragraph's
fused rank. Selection is greedy with a novelty check (maximal marginal relevance), pulls in the
previous sentence when a chosen one starts with a pronoun, keeps a list's lead-in with its items,
and gathers the items of list questions from several paragraphs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.records import Span
from assistant.refusal import Signals, expected_type, type_present
from assistant.retrieval import Passage, Retrieval
from assistant.text import content_terms

_PRONOUN_START = re.compile(r"^[‘'\"“]?(this|that|these|those|it|its|they|them|their|he|his|she|her|such|there|here|both|the latter|the former)\b", re.I)
_LIST_QUESTION = re.compile(
    r"\b(what|which|name|list)\b.*\b(two|three|four|five|six|seven|several|main|key|conditions|assumptions|ingredients|steps|ways|"
    r"approaches|examples|questions|lessons|things|reforms|areas|priorities|factors|recommendations|shifts|points)\b|^\s*list\b",
    re.I,
)
_ORDINAL_START = re.compile(r"^(first|second|third|fourth|fifth|sixth|finally|lastly)\b", re.I)


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


def score_sentences(retrieval: Retrieval, sentence_vectors: dict[str, np.ndarray], idf: dict[str, float]) -> list[ScoredSentence]:
    q_terms = set(retrieval.query_terms)
    total_idf = sum(idf.get(t, 0.0) for t in q_terms) or 1.0
    scored: list[ScoredSentence] = []
    for rank, passage in enumerate(retrieval.passages):
        paragraph = passage.paragraph
        vectors = sentence_vectors.get(paragraph.id)
        spans = paragraph.sentences or [Span(0, len(paragraph.text))]
        if vectors is None or len(vectors) != len(spans):
            continue
        sims = vectors @ retrieval.query_vector
        for i, (span, sim) in enumerate(zip(spans, sims)):
            text = paragraph.text[span.start : span.end]
            terms = set(content_terms(text))
            overlap = sum(idf.get(t, 0.0) for t in q_terms & terms) / total_idf
            score = float(sim) + 0.35 * overlap + 0.08 / (1 + rank)
            scored.append(ScoredSentence(rank, passage, i, span, text, float(sim), overlap, score, vectors[i]))
    scored.sort(key=lambda s: -s.score)
    return scored


def signals_for(question: str, retrieval: Retrieval, ranked: list[ScoredSentence], idf: dict[str, float]) -> Signals:
    if not ranked:
        return Signals(0.0, 0.0, 0.0, 0.0, 0.0, 3.0, type_present(expected_type(question), ""))
    q_terms = set(retrieval.query_terms)
    total_idf = sum(idf.get(t, 0.0) for t in q_terms) or 1.0
    best = ranked[0]
    best_paragraph_terms = set(content_terms(f"{best.passage.document.title} {best.passage.paragraph.section} {best.passage.paragraph.text}"))
    coverage = sum(idf.get(t, 0.0) for t in q_terms & best_paragraph_terms) / total_idf
    # Rare terms: the question words that name what is asked about (IDF above the median of the question's).
    values = sorted(idf.get(t, 0.0) for t in q_terms)
    median = values[len(values) // 2] if values else 0.0
    rare = {t for t in q_terms if idf.get(t, 0.0) >= max(median, 1.0)}
    top_terms: set[str] = set()
    for passage in retrieval.passages[:3]:
        top_terms |= set(content_terms(f"{passage.document.title} {passage.paragraph.section} {passage.paragraph.text}"))
    rare_coverage = len(rare & top_terms) / len(rare) if rare else 1.0
    missing = min(3.0, float(len(rare - top_terms)))
    second = ranked[1].similarity if len(ranked) > 1 else 0.0
    top_text = " ".join(s.text for s in ranked[:3])
    return Signals(
        top_dense=max((p.dense for p in retrieval.passages), default=0.0),
        top_sentence=best.similarity,
        sentence_margin=best.similarity - second,
        coverage=coverage,
        rare_coverage=rare_coverage,
        missing_rare=missing,
        answer_type=type_present(expected_type(question), top_text),
    )


def choose(question: str, retrieval: Retrieval, sentence_vectors: dict[str, np.ndarray], idf: dict[str, float], max_words: int = 120) -> Extract:
    ranked = score_sentences(retrieval, sentence_vectors, idf)
    signals = signals_for(question, retrieval, ranked, idf)
    if not ranked:
        return Extract([], signals, ranked)

    list_question = is_list_question(question)
    best = ranked[0].score
    margin = 0.22 if list_question else 0.12
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
    for sentence in ranked:
        if sentence.score < best - margin:
            break
        if any(float(sentence.vector @ c.vector) > 0.9 for c in chosen.values()):
            continue  # says again what a chosen sentence says
        # A sentence that starts with a pronoun needs the one before it to make sense.
        if sentence.index > 0 and _PRONOUN_START.match(sentence.text):
            previous = by_key.get((sentence.passage.paragraph.id, sentence.index - 1))
            if previous is not None and (previous.passage.paragraph.id, previous.index) not in chosen:
                if not add(previous):
                    continue
        # A list item needs its lead-in; a list question takes the whole list.
        paragraph = sentence.passage.paragraph
        if paragraph.kind == "list":
            items = [by_key.get((paragraph.id, i)) for i in range(len(paragraph.sentences))]
            lead = [s for s in items if s is not None and not s.text.startswith("•")]
            bullets = [s for s in items if s is not None and s.text.startswith("•")]
            if sentence.text.startswith("•") and lead:
                add(lead[-1])
            if list_question or not sentence.text.startswith("•"):
                if lead and lead[-1].text.rstrip().endswith(":"):
                    add(lead[-1])
                    for b in bullets:
                        add(b)
        if not add(sentence):
            break
        if len(chosen) >= (8 if list_question else 4) and paragraph.kind != "list":
            break
        if not list_question and words >= max_words * 0.6:
            break

    # Group per paragraph; documents in order of their best sentence, paragraphs in document order.
    groups: dict[str, list[ScoredSentence]] = {}
    for s in chosen.values():
        groups.setdefault(s.passage.paragraph.id, []).append(s)
    doc_order: dict[str, float] = {}
    for s in chosen.values():
        doc_order[s.passage.document.id] = max(doc_order.get(s.passage.document.id, -9.0), s.score)
    ordered = sorted(
        groups.values(),
        key=lambda g: (-doc_order[g[0].passage.document.id], g[0].passage.paragraph.number),
    )
    result = [(g[0].passage, sorted(g, key=lambda s: s.index)) for g in ordered]
    return Extract(result, signals, ranked)
