"""The Assistant from llama-index (assistant/llama_index_adapters.py): the retriever and the query engine
over the real index of the bundled sources, checked with llama-index's own types and composed with a
llama-index retriever of its own (no LLM, no network)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.schema import NodeWithScore, TextNode

from conftest import ROOT

# eval/data/questions.jsonl, fact-03 (dev split), and its gold paragraph.
QUESTION = "How many acute trusts does the West Yorkshire Association of Acute Trusts bring together?"
GOLD = "ham-2024-politicians-support-nhs-leaders#p7"
OFF_TOPIC = "Who won the 2023 Rugby World Cup?"
METADATA_KEYS = {"document_id", "title", "publisher", "date", "url", "section", "page", "collection"}


def test_the_retriever_finds_the_evidence_paragraph_as_llama_index_nodes(assistant):
    retriever = assistant.as_retriever(similarity_top_k=3)
    assert isinstance(retriever, BaseRetriever)

    nodes = retriever.retrieve(QUESTION)

    assert 0 < len(nodes) <= 3
    assert all(isinstance(n, NodeWithScore) and isinstance(n.node, TextNode) for n in nodes)
    assert nodes[0].node.node_id == GOLD
    top = nodes[0].node
    assert "six acute trusts" in top.get_content()
    assert METADATA_KEYS <= set(top.metadata)
    assert top.metadata["document_id"] == top.ref_doc_id == GOLD.split("#")[0]
    assert top.metadata["collection"] == "default"
    assert top.metadata["title"].startswith("Politicians must support NHS leaders")
    scores = [n.score for n in nodes]
    assert scores == sorted(scores, reverse=True)


def test_the_query_engine_cites_the_evidence_first(assistant):
    engine = assistant.as_query_engine()
    assert isinstance(engine, BaseQueryEngine)

    response = engine.query(QUESTION)

    assert isinstance(response, Response)
    assert "six" in response.response and "[1]" in response.response
    assert response.metadata["status"] == "answered"
    assert response.metadata["searched_for"] == QUESTION
    citations = response.metadata["citations"]
    # The source nodes are the cited paragraphs, in marker order, and the metadata holds their citations.
    assert [n.node.node_id for n in response.source_nodes] == [c["paragraph_id"] for c in citations]
    assert [c["marker"] for c in citations] == list(range(1, len(citations) + 1))
    first = response.source_nodes[0]
    assert first.node.node_id == GOLD
    assert first.node.metadata["marker"] == 1 and first.node.metadata["quote"] in first.node.get_content()
    assert METADATA_KEYS <= set(first.node.metadata)
    assert first.node.metadata["collection"] == "default"
    assert first.score == pytest.approx(response.metadata["confidence"], abs=1e-4)
    assert set(citations[0]) >= {"marker", "paragraph_id", "document_id", "title", "quote", "page", "pages"}


def test_the_query_engine_abstains_off_topic_with_no_source_nodes(assistant):
    response = assistant.as_query_engine().query(OFF_TOPIC)

    assert response.metadata["status"] == "abstained"
    assert response.source_nodes == []
    assert response.metadata["citations"] == []
    assert "[1]" not in response.response


def test_a_streaming_query_yields_the_answer_then_fills_in_its_sources(assistant):
    response = assistant.as_query_engine(streaming=True).query(QUESTION)
    assert isinstance(response, StreamingResponse)

    text = "".join(response.response_gen)

    assert text == response.metadata["answer"]
    assert response.metadata["status"] == "answered"
    assert response.source_nodes[0].node.node_id == GOLD


def test_collection_scope_is_respected(assistant):
    in_scope = assistant.as_retriever(similarity_top_k=3, collections=["default"]).retrieve(QUESTION)
    assert in_scope[0].node.node_id == GOLD

    assert assistant.as_retriever(collections=["no-such-collection"]).retrieve(QUESTION) == []
    scoped = assistant.as_query_engine(collections=["no-such-collection"]).query(QUESTION)
    assert scoped.metadata["status"] == "abstained"
    assert scoped.source_nodes == []


def test_a_llama_index_fusion_retriever_composes_with_ours(assistant):
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever

    # num_queries=1: the question itself, no generated queries, so the (mock) LLM is never asked.
    fusion = QueryFusionRetriever(
        [assistant.as_retriever(similarity_top_k=5), assistant.as_retriever(similarity_top_k=5, collections=["default"])],
        llm=MockLLM(), mode="reciprocal_rerank", similarity_top_k=3, num_queries=1, use_async=False,
    )

    nodes = fusion.retrieve(QUESTION)

    assert nodes[0].node.node_id == GOLD
    assert len({n.node.node_id for n in nodes}) == len(nodes) == 3


def test_the_command_line_does_not_import_llama_index():
    code = "import sys, assistant.cli, assistant.core; print(any(m.startswith('llama_index') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
