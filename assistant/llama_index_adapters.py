"""The Assistant seen from llama-index: a retriever of paragraphs and a query engine of cited answers.

    retriever = assistant.as_retriever(similarity_top_k=5, collections=["policy"])
    retriever.retrieve("Who chairs the NHS Assembly?")       # [NodeWithScore], node ids are paragraph ids
    response = assistant.as_query_engine().query("Who chairs the NHS Assembly?")
    response.response, response.source_nodes, response.metadata["status"]

This module owns the translation both ways: a question (a llama-index `QueryBundle`) in, our
paragraphs and Answers out as llama-index's own types (`TextNode`, `NodeWithScore`, `Response`,
`StreamingResponse`), so any llama-index component that takes a retriever or a query engine (fusion
retrievers, routers, tools for agents) composes with them. Nothing here retrieves or answers: the
retriever is the hybrid retrieval of assistant/retrieval.py and the query engine is `Assistant.stream`,
with the same collection and document scoping as the CLI and the HTTP API. It imports llama-index at
module level, so `Assistant.as_retriever` / `as_query_engine` import it lazily.
"""

from __future__ import annotations

from collections.abc import Iterator

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from assistant.answer import Answer, Citation
from assistant.retrieval import Passage


def paragraph_node(paragraph_id: str, text: str, metadata: dict) -> TextNode:
    """A paragraph as a llama-index node: its id is the paragraph id, its source the document (as in the index)."""
    node = TextNode(id_=paragraph_id, text=text, metadata=metadata)
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=metadata["document_id"])
    return node


def passage_node(passage: Passage) -> NodeWithScore:
    """A retrieved paragraph, scored by its fused retrieval score."""
    paragraph, document = passage.paragraph, passage.document
    pages = paragraph.pages
    metadata = {
        "document_id": document.id, "title": document.title, "publisher": document.publisher, "date": document.date,
        "url": document.url, "section": paragraph.section, "page": pages[0] if pages else None,
        "collection": paragraph.collection,
    }
    return NodeWithScore(node=paragraph_node(paragraph.id, paragraph.text, metadata), score=passage.score)


def citation_node(citation: Citation, collection: str | None, score: float | None) -> NodeWithScore:
    """A cited paragraph; `page` is the page its quote starts on, `marker` and `quote` say how it is cited."""
    metadata = {
        "document_id": citation.document_id, "title": citation.title, "publisher": citation.publisher,
        "date": citation.date, "url": citation.url, "section": citation.section, "page": citation.page,
        "collection": collection, "marker": citation.marker, "quote": citation.quote,
    }
    return NodeWithScore(node=paragraph_node(citation.paragraph_id, citation.text, metadata), score=score)


class ParagraphRetriever(BaseRetriever):
    """The assistant's hybrid retrieval (dense + BM25, fused) as a llama-index retriever."""

    def __init__(self, assistant, similarity_top_k: int | None = None, collections: list[str] | None = None,
                 documents: list[str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._assistant = assistant
        self._top_k = similarity_top_k
        self._collections = collections
        self._documents = documents

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        retrieval = self._assistant.retriever.search(
            query_bundle.query_str, k=self._top_k, collections=self._collections, documents=self._documents)
        return [passage_node(p) for p in retrieval.passages]


class CitedQueryEngine(BaseQueryEngine):
    """`Assistant.stream` as a llama-index query engine: the cited answer (or the abstention) as a Response.

    `source_nodes` are the cited paragraphs in marker order, each scored by the reader's calibrated
    confidence behind the answer (Answer.confidence; a Citation carries no score of its own);
    `metadata` is `Answer.to_dict()` (status, searched_for, citations, ...). An abstention has no
    source nodes. With `streaming=True` the answer's pieces stream as `Assistant.stream` yields them
    and the StreamingResponse's source nodes and metadata are filled in once the stream is read."""

    def __init__(self, assistant, collections: list[str] | None = None, documents: list[str] | None = None,
                 streaming: bool = False, callback_manager=None):
        super().__init__(callback_manager)
        self._assistant = assistant
        self._collections = collections
        self._documents = documents
        self._streaming = streaming

    def _get_prompt_modules(self) -> dict:
        return {}  # no prompts of llama-index's: the wording is the assistant's own

    def _query(self, query_bundle: QueryBundle) -> Response | StreamingResponse:
        events = self._assistant.stream(query_bundle.query_str, collections=self._collections, documents=self._documents)
        if self._streaming:
            return self._streaming_response(events)
        answer = next(event for event in events if isinstance(event, Answer))
        return Response(answer.answer, self._source_nodes(answer), answer.to_dict())

    async def _aquery(self, query_bundle: QueryBundle) -> Response | StreamingResponse:
        return self._query(query_bundle)  # answering is CPU-bound in-process work; there is nothing to await

    def _streaming_response(self, events: Iterator[str | Answer]) -> StreamingResponse:
        response = StreamingResponse(response_gen=None)

        def pieces() -> Iterator[str]:
            for event in events:
                if isinstance(event, Answer):  # always last
                    response.source_nodes = self._source_nodes(event)
                    response.metadata = event.to_dict()
                else:
                    yield event

        response.response_gen = pieces()
        return response

    def _source_nodes(self, answer: Answer) -> list[NodeWithScore]:
        if answer.abstained:
            return []
        ids = [c.paragraph_id for c in answer.citations]
        paragraphs = self._assistant.index.paragraphs(ids)  # for each paragraph's collection
        return [
            citation_node(c, getattr(paragraphs.get(c.paragraph_id), "collection", None), answer.confidence)
            for c in answer.citations
        ]
