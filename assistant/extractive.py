"""The default answerer, no LLM: the reader chooses the sentences of the retrieved paragraphs that
answer the question, and the answer cites each one. Faithful by construction: every word of the
answer is a word of a cited paragraph.

1. Candidates: the sentences of the retrieved passages (each read with its document title, its
   section or comment byline, and the sentence before when it leans on it; assistant/reader.py). When
   there are more than `max_candidates`, the ones most like the question (sentence cosine, precomputed
   at ingest) and from the best-ranked passages are read first: the reader's cost grows with each one.
2. The reader scores every candidate against the question, and against each part of a two-part
   question ("What was X, and how long did Y take?").
3. Choice: the best sentence, the best of each part, and any other sentence the reader scores nearly as
   well and above even odds, within the word budget. A sentence that leans on the one before brings it,
   and a list item brings its lead-in (neither makes sense alone). When the best sentence announces a
   list ("three conditions need to be met"), its items come right after it, before any other sentence:
   the bullets, "First ... Second ..." sentences or next paragraphs that follow it (assistant/enumeration.py),
   each item's paragraph cited on its own.
4. Order: the best sentence's paragraph, then the paragraphs of the items it announces in document order,
   then the other paragraphs by the reader's best score in them; sentences in paragraph order.

The answer-or-abstain decision (`answerability`) is P(answerable): a second model, the decision model
(assistant/reader.py DECISION_DIR, a reader trained further on in-domain questions), reads the reader's best
DECISION_SENTENCES sentences, and its `Decision` turns their scores into a probability. Two models because
the in-domain questions that teach the decision cost the reader its sentence choice on the bundled
articles (docs/benchmarks.md): the reader keeps choosing, the decision model only judges.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.enumeration import announcement, list_items
from assistant.reader import Candidate, leans_on_previous
from assistant.records import Paragraph, Span
from assistant.retrieval import Passage
from assistant.text import is_question
from ingest.header import HEADER_KIND

# "What was X, and how long did Y take?" asks two things: each part gets its own reading.
_PART_SPLIT = re.compile(r",?\s+and\s+(?=(?:what|how|who|whom|which|why|when|where|is|are|was|were|does|did|do)\b)", re.I)
# Other sentences join the best one when the reader scores them within CHOICE_MARGIN logits of it and
# above CHOICE_FLOOR, up to MAX_SENTENCES in all. Chosen on the dev split, where the reader's best
# sentence lies in a paragraph holding the answer for 0.58 of answerable questions and the chosen
# ones for 0.79 (docs/benchmarks.md): the reader often ranks the answer second.
CHOICE_MARGIN = 2.0
CHOICE_FLOOR = -3.0
MAX_SENTENCES = 3
# The reader reads each sentence alone; retrieval has seen the whole paragraph (BM25 and the paragraph
# vector). Sentences are ranked by the reader's logit plus RETRIEVAL_PRIOR x their passage's fused
# retrieval score (the default convex fusion gives 0 to 2; RRF's scores, at most about 0.03, are some sixty
# times smaller, so there the prior all but vanishes). On 1,000 in-domain questions over the policy-corpus
# train documents, the weight that best predicts which sentence holds the answer is about 4.5 (top-1
# 0.749 -> 0.787; 2 gives 0.779); on the two dev splits 2 did best of 0-4, and 4 cost the bundled
# articles' cited recall (docs/benchmarks.md).
RETRIEVAL_PRIOR = 2.0
# The decision model reads the reader's best few sentences, not all it read: 3, 5, 10 and all measured
# alike on dev (docs/benchmarks.md), and each one read costs time.
DECISION_SENTENCES = 3


@dataclass
class ReadSentence:
    """A candidate sentence and the reader's score of it."""

    passage_rank: int
    passage: Passage
    index: int  # sentence number within the paragraph
    span: Span
    text: str
    similarity: float  # cosine to the question (for choosing what to read when there is too much)
    logit: float = float("-inf")  # the reader's score; -inf when it was not read

    @property
    def score(self) -> float:
        """What the choice ranks by: the reader's logit with its passage's retrieval score as a prior."""
        return self.logit + RETRIEVAL_PRIOR * self.passage.score


@dataclass
class Extract:
    """The sentences chosen, grouped per paragraph in answer order, and the reader's best score."""

    groups: list[tuple[Passage, list[ReadSentence]]]
    best_logit: float
    ranked: list[ReadSentence]  # every sentence read, best first
    # When the best sentence announces a list: its paragraph, then the paragraphs of the items, in order
    listed: list[str] = field(default_factory=list)

    def passage_order(self) -> list[str]:
        """Paragraph ids by the reader's best score in them, best first; the paragraphs of a list the
        best sentence announces right after its own."""
        best: dict[str, float] = {}
        for s in self.ranked:
            best.setdefault(s.passage.paragraph.id, s.score)
        order = sorted(best, key=lambda pid: -best[pid])
        if not self.listed:
            return order
        return self.listed + [pid for pid in order if pid not in self.listed]


def question_parts(question: str) -> list[str]:
    """The parts of a two-part question (empty for a one-part question)."""
    parts = [p.strip(" ,?") + "?" for p in _PART_SPLIT.split(question) if len(p.split()) >= 3]
    return parts if len(parts) > 1 else []


def section_of(passage: Passage) -> str:
    p = passage.paragraph
    if p.comment is not None:
        return f"comment by {p.comment.author}" + (f", {p.comment.role}" if p.comment.role else "")
    return p.section


def sentences_of(passages: list[Passage], sentence_vectors: dict[str, np.ndarray], query_vector: np.ndarray) -> list[ReadSentence]:
    out = []
    for rank, passage in enumerate(passages):
        paragraph = passage.paragraph
        spans = paragraph.sentences or [Span(0, len(paragraph.text))]
        vectors = sentence_vectors.get(paragraph.id)
        sims = vectors @ query_vector if vectors is not None and len(vectors) == len(spans) else np.zeros(len(spans))
        for i, span in enumerate(spans):
            out.append(ReadSentence(rank, passage, i, span, paragraph.text[span.start : span.end], float(sims[i])))
    return out


def to_read(sentences: list[ReadSentence], limit: int) -> list[ReadSentence]:
    """At most `limit` sentences: the most similar to the question, favouring better-ranked passages."""
    if len(sentences) <= limit:
        return sentences
    return sorted(sentences, key=lambda s: -(s.similarity - 0.02 * s.passage_rank))[:limit]


def candidate_of(sentence: ReadSentence) -> Candidate:
    paragraph = sentence.passage.paragraph
    previous = None
    if sentence.index > 0:
        span = paragraph.sentences[sentence.index - 1]
        previous = paragraph.text[span.start : span.end]
    return Candidate(sentence.text, sentence.passage.document.title, section_of(sentence.passage), previous)


def read(reader, question: str, sentences: list[ReadSentence], parts: list[str]) -> list[np.ndarray]:
    """The reader's logits of `sentences` for the question and for each of its parts."""
    candidates = [candidate_of(s) for s in sentences]
    return [reader.score(q, candidates) for q in [question, *parts]]


def choose(
    sentences: list[ReadSentence],
    logits: list[np.ndarray],
    max_words: int = 120,
    following: Callable[[Paragraph], Sequence[Paragraph]] | None = None,
    each_of: Sequence[str] = (),
) -> Extract:
    """Pick the answer sentences from the reader's scores (`logits[0]` the whole question's, then
    each part's) and group them per paragraph in answer order. `following(paragraph)` gives the
    paragraphs after one in its document (enumeration.paragraphs_after), where the items of a list the
    best sentence announces may be; without it, only items in the best sentence's paragraph are found.
    `each_of`: documents the question asks about together ("What do the rail vision and the skills
    assessment say about apprenticeships?"): the answer holds the best sentence of each, if it is read
    and scores above CHOICE_FLOOR."""
    if not sentences:
        return Extract([], float("-inf"), [])
    for s, logit in zip(sentences, logits[0]):
        s.logit = float(logit)
    # A question in the text ("How often should a patient test their ketone levels" heading a table, an FAQ's
    # "Who can apply?") shares the most words with the user's and answers nothing: never an answer sentence
    # (it may still come in as the lead-in of one that leans on it).
    answering = [i for i, s in enumerate(sentences) if not is_question(s.text)]
    ranked = sorted((sentences[i] for i in answering), key=lambda s: -s.score)
    if not ranked:
        return Extract([], float("-inf"), [])
    by_key = {(s.passage.paragraph.id, s.index): s for s in sentences}
    chosen: dict[tuple[str, int], ReadSentence] = {}
    words = 0

    def add(sentence: ReadSentence) -> bool:
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

    def neighbour(sentence: ReadSentence, index: int) -> ReadSentence | None:
        """Sentence `index` of the same paragraph, read or not."""
        paragraph = sentence.passage.paragraph
        if not 0 <= index < len(paragraph.sentences):
            return None
        found = by_key.get((paragraph.id, index))
        if found is None:
            span = paragraph.sentences[index]
            found = ReadSentence(sentence.passage_rank, sentence.passage, index, span, paragraph.text[span.start : span.end], 0.0, sentence.logit)
        return found

    def take(sentence: ReadSentence) -> bool:
        """A sentence with what it needs to make sense alone; False when the budget is spent."""
        needs = []
        if sentence.index > 0 and leans_on_previous(sentence.text):
            needs.append(neighbour(sentence, sentence.index - 1))
        if sentence.text.startswith("•"):
            # A list item brings its lead-in: "• pathology" says nothing without "Progress includes:".
            before = [neighbour(sentence, i) for i in range(sentence.index - 1, -1, -1)]
            needs.append(next((s for s in before if s is not None and not s.text.startswith("•")), None))
        if sentence.text.rstrip().endswith(":"):
            # A lead-in that announces a list is answered by the list that follows it.
            i = sentence.index + 1
            while (item := neighbour(sentence, i)) is not None and item.text.startswith("•"):
                needs.append(item)
                i += 1
        needs = [n for n in needs if n is not None]
        total = sum(len(s.text.split()) for s in [sentence, *needs] if (s.passage.paragraph.id, s.index) not in chosen)
        if chosen and words + total > max_words:
            return False
        for s in needs:
            add(s)
        return add(sentence)

    def item_sentence(paragraph: Paragraph, index: int) -> ReadSentence:
        """An item of the list the best sentence announces, as a sentence of the answer."""
        found = by_key.get((paragraph.id, index))
        if found is not None:
            return found
        announcing = ranked[0]
        passage = passages.get(paragraph.id) or Passage(paragraph, announcing.passage.document, 0.0)
        span = paragraph.sentences[index]
        return ReadSentence(announcing.passage_rank, passage, index, span, paragraph.text[span.start : span.end], 0.0, announcing.logit)

    passages = {s.passage.paragraph.id: s.passage for s in sentences}
    best = ranked[0].score
    take(ranked[0])
    lead = ranked[0].passage.paragraph
    listed: list[str] = []  # the list's paragraphs in answer order, when the best sentence announces one
    after = following(lead) if following is not None and announcement(ranked[0].text) is not None else []
    for item in list_items(lead, ranked[0].index, after):
        if not take(item_sentence(item.paragraph, item.index)):
            break  # the word budget is spent: the items so far, in order, never a later one alone
        listed += [pid for pid in (lead.id, item.paragraph.id) if pid not in listed]
    for part_logits in logits[1:]:
        take(sentences[max(answering, key=lambda i: part_logits[i])])
    for document_id in each_of:
        of_it = [s for s in ranked if s.passage.document.id == document_id and s.logit >= CHOICE_FLOOR]
        if of_it:
            take(of_it[0])
    for sentence in ranked[1:]:
        if len(chosen) >= MAX_SENTENCES + len(logits) - 1 or sentence.score < best - CHOICE_MARGIN or sentence.logit < CHOICE_FLOOR:
            break
        if sentence.passage.paragraph.kind == HEADER_KIND and any(
            c.passage.paragraph.kind == HEADER_KIND and c.passage.paragraph.id != sentence.passage.paragraph.id for c in chosen.values()
        ):
            continue  # a header speaks of "the document": two documents' headers in one answer would read as one
        if not take(sentence):
            break

    groups: dict[str, list[ReadSentence]] = {}
    for s in chosen.values():
        groups.setdefault(s.passage.paragraph.id, []).append(s)
    place = {pid: i for i, pid in enumerate(listed)}
    ordered = sorted(groups.items(), key=lambda kv: (place.get(kv[0], len(place)), -max(s.score for s in kv[1])))
    result = [(g[0].passage, sorted(g, key=lambda s: s.index)) for _, g in ordered]
    return Extract(result, ranked[0].logit, ranked, listed)


def answerability(decider, question: str, ranked: list[ReadSentence], reader=None) -> tuple[float, list[float]]:
    """P(answerable) and the decision model's logits of the reader's best DECISION_SENTENCES sentences
    (`ranked`, best first); (0.0, []) when none was read. When the decision model is the reader itself,
    its logits are reused rather than read again."""
    best = ranked[:DECISION_SENTENCES]
    if not best:
        return 0.0, []
    if decider is reader:
        logits = [s.logit for s in best]
    else:
        logits = [float(x) for x in decider.score(question, [candidate_of(s) for s in best])]
    return decider.decision.probability(logits), logits
