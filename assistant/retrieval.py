"""Hybrid retrieval: a search query -> the best paragraphs, by dense and BM25 retrieval fused.

Dense retrieval asks Chroma (through llama-index) with one query embedding; BM25 asks the lexical
index with the query's stemmed content words. The two rankings are fused by reciprocal rank
fusion (k=60) by default; `fusion="convex"` uses a weighted sum of min-max normalised scores.
Defaults were chosen by measurement (docs/benchmarks.md: SciFact and the evaluation set).
Filters by collection and by document apply to both retrievers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from assistant.config import Config
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


@dataclass
class Retrieval:
    query: str
    query_vector: np.ndarray
    query_terms: list[str]
    passages: list[Passage]
    timings_ms: dict[str, float] = field(default_factory=dict)


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


class Retriever:
    def __init__(self, index: Index, embedder, config: Config):
        self.index = index
        self.embedder = embedder
        self.config = config

    def search(
        self,
        query: str,
        k: int | None = None,
        collections: list[str] | None = None,
        documents: list[str] | None = None,
    ) -> Retrieval:
        k = k or self.config.top_k
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

        t = time.perf_counter()
        weights = [self.config.dense_weight * 2, (1 - self.config.dense_weight) * 2]
        if self.config.fusion == "convex":
            fused = convex([dense, lexical], weights)
        else:
            fused = rrf([dense, lexical], self.config.rrf_k, weights)
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
        return Retrieval(query, vector, terms, passages, timings)
