"""Hybrid retrieval: a search query -> the best paragraphs, by dense and BM25 retrieval fused.

Dense retrieval asks Chroma (through llama-index) with one query embedding; BM25 asks the lexical
index with the query's stemmed content words. Every candidate of either is then given a dense
score that mixes its paragraph cosine with its best sentence's cosine (`sentence_weight`), and the
two rankings are fused by a weighted sum of min-max normalised scores (`fusion="convex"`, the
default) or by reciprocal rank fusion (`fusion="rrf"`, k=60). Defaults were chosen by measurement
on BEIR SciFact's train queries and checked on the evaluation set's dev split (docs/benchmarks.md).
Filters by collection and by document apply to both retrievers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from assistant.config import Config
from assistant.embedding import paragraph_vector
from assistant.index import Hit, Index
from assistant.records import Document, Paragraph
from assistant.text import content_terms


@dataclass
class Passage:
    """A retrieved paragraph with the evidence of why it was retrieved."""

    paragraph: Paragraph
    document: Document
    score: float  # fused
    dense: float = 0.0  # cosine similarity of the paragraph vector (0 if not among dense hits)
    lexical: float = 0.0  # BM25 score (0 if not among BM25 hits)
    dense_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class Ranking:
    """How candidates are ranked: the fusion and its weights (from the configuration)."""

    fusion: str  # "convex" or "rrf"
    dense_weight: float  # the dense side's share of the fusion
    sentence_weight: float  # dense score = (1 - w) * paragraph cosine + w * best sentence cosine
    rrf_k: int = 60

    @classmethod
    def from_config(cls, config: Config) -> "Ranking":
        return cls(config.fusion, config.dense_weight, config.sentence_weight, config.rrf_k)


@dataclass
class Candidates:
    """What both retrievers found for a query, before fusion (so it can be ranked more than one way)."""

    query: str
    query_vector: np.ndarray
    query_terms: list[str]
    dense: list[Hit]
    lexical: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)
    sentence_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # read once, by the rescoring or the answerer


@dataclass
class Retrieval:
    query: str
    query_vector: np.ndarray
    query_terms: list[str]
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)
    candidates: Candidates | None = None


def rrf(rankings: list[list[Hit]], k: int = 60, weights: list[float] | None = None) -> dict[str, float]:
    weights = weights or [1.0] * len(rankings)
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.paragraph_id] = fused.get(hit.paragraph_id, 0.0) + weight / (k + rank)
    return fused


def convex(rankings: list[list[Hit]], weights: list[float]) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights):
        if not ranking:
            continue
        scores = np.array([h.score for h in ranking])
        lo, hi = scores.min(), scores.max()
        span = (hi - lo) or 1.0
        for hit, score in zip(ranking, scores):
            fused[hit.paragraph_id] = fused.get(hit.paragraph_id, 0.0) + weight * (score - lo) / span
    return fused


def best_sentence_scores(query_vector: np.ndarray, sentence_vectors: dict[str, np.ndarray]) -> dict[str, float]:
    """Each paragraph's best sentence cosine to the query ("MaxP")."""
    return {pid: float((vectors @ query_vector).max()) if len(vectors) else 0.0 for pid, vectors in sentence_vectors.items()}


def mixed_dense_ranking(paragraph_cos: dict[str, float], best_sentence: dict[str, float], sentence_weight: float) -> list[Hit]:
    """Candidates ranked by (1 - w) * paragraph cosine + w * best sentence cosine, best first."""
    w = sentence_weight
    scored = [Hit(pid, (1 - w) * cos + w * best_sentence[pid]) for pid, cos in paragraph_cos.items() if pid in best_sentence]
    return sorted(scored, key=lambda h: (-h.score, h.paragraph_id))


class Retriever:
    def __init__(self, index: Index, embedder, config: Config):
        self.index = index
        self.embedder = embedder
        self.config = config
        self.ranking = Ranking.from_config(config)

    def search(
        self,
        query: str,
        k: int | None = None,
        collections: list[str] | None = None,
        documents: list[str] | None = None,
    ) -> Retrieval:
        return self.rank(self.candidates(query, collections, documents), self.ranking, k)

    def candidates(self, query: str, collections: list[str] | None = None, documents: list[str] | None = None) -> Candidates:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        vector = self.embedder.encode_one(query)
        timings["embed"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        dense = self.index.dense_search(vector, self.config.candidates, collections, documents)
        timings["dense"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        terms = content_terms(query)
        lexical = self.index.lexical_search(terms, self.config.candidates, collections, documents)
        timings["bm25"] = (time.perf_counter() - t) * 1000
        return Candidates(query, vector, terms, dense, lexical, timings)

    def rank(self, candidates: Candidates, ranking: Ranking, k: int | None = None) -> Retrieval:
        k = k or self.config.top_k
        timings = dict(candidates.timings_ms)
        dense, lexical = candidates.dense, candidates.lexical

        t = time.perf_counter()
        ranked_dense = self._rescore(candidates, ranking.sentence_weight) if ranking.sentence_weight > 0 else dense
        timings["rescore"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        weights = [ranking.dense_weight * 2, (1 - ranking.dense_weight) * 2]
        if ranking.fusion == "convex":
            fused = convex([ranked_dense, lexical], weights)
        else:
            fused = rrf([ranked_dense, lexical], ranking.rrf_k, weights)
        top_ids = sorted(fused, key=lambda pid: -fused[pid])[:k]
        paragraphs = self.index.paragraphs(top_ids)
        docs: dict[str, Document] = {}
        dense_by_id = {h.paragraph_id: (rank, h.score) for rank, h in enumerate(dense, 1)}
        lexical_by_id = {h.paragraph_id: (rank, h.score) for rank, h in enumerate(lexical, 1)}
        passages = []
        for pid in top_ids:
            paragraph = paragraphs.get(pid)
            if paragraph is None:  # deleted since the lexical index was built
                continue
            if paragraph.document_id not in docs:
                docs[paragraph.document_id] = self.index.document(paragraph.document_id)
            document = docs[paragraph.document_id]
            if document is None:
                continue
            d_rank, d_score = dense_by_id.get(pid, (None, 0.0))
            l_rank, l_score = lexical_by_id.get(pid, (None, 0.0))
            passages.append(Passage(paragraph, document, fused[pid], d_score, l_score, d_rank, l_rank))
        timings["fuse"] = (time.perf_counter() - t) * 1000
        return Retrieval(candidates.query, candidates.query_vector, candidates.query_terms, passages, timings, candidates)

    def sentence_vectors(self, candidates: Candidates | None, ids: list[str]) -> dict[str, np.ndarray]:
        """The sentence vectors of these paragraphs, read from the catalog once per query."""
        known = candidates.sentence_vectors if candidates is not None else {}
        missing = [pid for pid in ids if pid not in known]
        if missing:
            known.update(self.index.sentence_vectors(missing))
        return {pid: known[pid] for pid in ids if pid in known}

    def _rescore(self, candidates: Candidates, sentence_weight: float) -> list[Hit]:
        """The dense ranking of every candidate (dense or BM25) by a mix of its paragraph cosine and
        its best sentence's cosine. A paragraph vector is the mean of its sentences, which blurs a
        long paragraph whose one sentence answers the question; its best sentence does not. The
        sentence vectors are already in the catalog, so this costs one read of the candidates' rows."""
        vector = candidates.query_vector
        paragraph_cos = {h.paragraph_id: h.score for h in candidates.dense}
        ids = list(dict.fromkeys([h.paragraph_id for h in candidates.dense] + [h.paragraph_id for h in candidates.lexical]))
        sentence_vectors = self.sentence_vectors(candidates, ids)
        best = best_sentence_scores(vector, sentence_vectors)
        for pid in ids:
            if pid not in paragraph_cos and pid in sentence_vectors:
                # A BM25-only candidate: its paragraph vector from its sentences, by the one definition
                # (only the sentence vectors are read here, not the paragraph, so a list's lead-in is
                # not told from its items: the plain mean, as for any other paragraph).
                paragraph_cos[pid] = float(paragraph_vector(sentence_vectors[pid]) @ vector)
        return mixed_dense_ranking(paragraph_cos, best, sentence_weight)
