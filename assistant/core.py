"""The Assistant: a question (and the conversation so far) in, an Answer out.

    assistant = Assistant.open(data_dir=".assistant")
    answer = assistant.ask("Who is David Dalton?", history=[])
    answer.to_dict()

Flow: validate -> standalone search query -> hybrid retrieval -> the reader scores the candidate
sentences -> extractive sentences and the answerability decision -> (with an LLM configured: a generated answer, every sentence checked
against its citations; on any LLM failure, the extractive answer with a notice) -> Answer.
Models and the index open once per Assistant; one Assistant is safe to share between threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answer import Answer
from assistant.compose import abstention, citation_for, quote_of, render_group
from assistant.config import Config
from assistant.errors import BadQuestion
from assistant.text import content_terms, name_phrases


@dataclass
class Grounds:
    """What the answer rests on, before it is worded: passages, chosen sentences, answerability."""

    searched_for: str
    retrieval: object  # assistant.retrieval.Retrieval; its passages in the reader's order
    extract: object  # assistant.extractive.Extract
    confidence: float  # P(answerable): the decision model's reading of the reader's best sentences (0.0: none read)
    answerable: bool
    timings_ms: dict
    about_the_sources: bool = True  # False: refused as off-corpus whatever the reader's confidence
    decision_logits: list = field(default_factory=list)  # the decision model's logits of those sentences, best first


def _merged(passages: list, extra: list) -> list:
    """`passages` followed by those of `extra` that are not among them (each paragraph once)."""
    merged = list(passages)
    seen = {p.paragraph.id for p in merged}
    for passage in extra:
        if passage.paragraph.id not in seen:
            seen.add(passage.paragraph.id)
            merged.append(passage)
    return merged


def validate_question(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        raise BadQuestion("the question must be text")
    question = question.strip()
    if not question:
        raise BadQuestion("the question is empty")
    if len(question) > max_chars:
        raise BadQuestion(f"the question is {len(question):,} characters long; the limit is {max_chars:,}")
    return question


# Passages a second search of a document the question names adds, and how many named documents are searched
# (assistant/named_documents.py).
NAMED_DOCUMENT_PASSAGES = 3
MAX_NAMED_DOCUMENTS = 3


class Assistant:
    def __init__(self, config: Config, index, embedder):
        from assistant.entailment import get_verifier
        from assistant.reader import get_decision_model, get_reader
        from assistant.retrieval import Retriever

        self.config = config
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, embedder, config)
        self.reader = get_reader(config.reader_model_path, config.reader_int8)  # a missing or broken reader fails here, at start
        self.decider = get_decision_model(config.decision_model_path, config.reader_int8)  # answer or abstain
        # The citation check's model (assistant/verify.py): loaded on first use, at start when an LLM answers.
        self.verifier = get_verifier(config.verifier_model_path)
        self._names = None  # (index generation, DocumentNames), read on first use
        self._llm = None
        if config.uses_llm:
            from assistant.llm_answer import LLMAnswerer

            self._llm = LLMAnswerer(config, embedder, index, verifier=self.verifier)

    @classmethod
    def open(cls, data_dir=None, config: Config | None = None, **overrides) -> "Assistant":
        """Open the index in `data_dir` (default: ASSISTANT_DATA_DIR or .assistant/).
        Raises IndexNotReady (no index yet) or IndexModelMismatch (built with another model)."""
        from assistant.embedding import get_embedder
        from assistant.index import Index

        config = config or Config.from_env(data_dir=data_dir, **overrides)
        if data_dir is not None and config.data_dir != Path(data_dir):
            config = config.replace(data_dir=Path(data_dir))
        embedder = get_embedder(config.embed_model_path)
        index = Index.open(config, embedder.name)
        return cls(config, index, embedder)

    def warm_up(self) -> None:
        """Load the models and the indexes now rather than on the first question."""
        self.reader.load()
        self.decider.load()
        if self._llm is not None:
            self.verifier.load()
        self.ask("warm up")

    # --- llama-index (assistant/llama_index_adapters.py; imported here so the CLI starts without it) ---

    def as_retriever(self, similarity_top_k: int | None = None, collections=None, documents=None, **kwargs):
        """A llama-index BaseRetriever of paragraphs (node id = paragraph id), scoped like `ask`."""
        from assistant.llama_index_adapters import ParagraphRetriever

        return ParagraphRetriever(self, similarity_top_k, collections, documents, **kwargs)

    def as_query_engine(self, collections=None, documents=None, streaming: bool = False, **kwargs):
        """A llama-index BaseQueryEngine of cited answers (source nodes = cited paragraphs, in marker order)."""
        from assistant.llama_index_adapters import CitedQueryEngine

        return CitedQueryEngine(self, collections, documents, streaming, **kwargs)

    # --- answering ------------------------------------------------------------------------

    def search_query(self, question: str, history: list[dict] | None) -> str:
        from assistant.conversation import rewrite

        if history and self._llm is not None:
            rewritten = self._llm.rewrite(question, history)
            if rewritten:
                return rewritten
        return rewrite(question, history)

    def ask(
        self,
        question: str,
        history: list[dict] | None = None,
        collections: list[str] | None = None,
        documents: list[str] | None = None,
        id: str | None = None,
    ) -> Answer:
        answer = None
        for event in self.stream(question, history, collections, documents, id):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: list[dict] | None = None,
        collections: list[str] | None = None,
        documents: list[str] | None = None,
        id: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield text pieces as the answer is produced, then the final Answer (always last).
        With an LLM, only sentences that passed the citation check are yielded (assistant/llm_answer.py),
        and the final Answer's text is exactly the yielded pieces joined."""
        question = validate_question(question, self.config.max_question_chars)
        started = time.perf_counter()
        timings: dict[str, float] = {}

        t = time.perf_counter()
        searched_for = self.search_query(question, history)
        if searched_for != question:
            timings["rewrite"] = (time.perf_counter() - t) * 1000

        grounds = self.gather(searched_for, collections, documents, question)
        timings.update(grounds.timings_ms)
        retrieval = grounds.retrieval

        t = time.perf_counter()
        if grounds.answerable:
            extractive = self._extractive_answer(question, grounds.extract)
        else:
            extractive = abstention(question, retrieval.passages)
        extractive.confidence = grounds.confidence
        timings["compose"] += (time.perf_counter() - t) * 1000

        answer = extractive
        if self._llm is not None and retrieval.passages:
            t = time.perf_counter()
            answer = yield from self._llm.stream_answer(question, retrieval, extractive)
            timings["llm"] = (time.perf_counter() - t) * 1000
        else:
            yield answer.answer

        timings["total"] = (time.perf_counter() - started) * 1000
        answer.question = question
        answer.searched_for = searched_for
        answer.timings_ms = timings
        answer.id = id
        yield answer

    def gather(self, searched_for: str, collections=None, documents=None, question: str | None = None) -> Grounds:
        """Retrieve for the standalone query `searched_for`, let the reader choose sentences, decide
        answerability (everything but the wording). `question`, the user's own words when `searched_for`
        was rewritten from them, is what the decision judges (assistant/conversation.py `judged_question`)."""
        from assistant.conversation import judged_question
        from assistant.document_questions import asks_about_the_document, document_ask, header_ids
        from assistant.enumeration import paragraphs_after
        from assistant.extractive import answerability, choose, question_parts, read, sentences_of, to_read
        from assistant.off_corpus import off_corpus

        retrieval = self.retriever.search(searched_for, collections=collections, documents=documents)
        timings = dict(retrieval.timings_ms)
        passages = list(retrieval.passages)
        parts = question_parts(searched_for)
        for part in parts[1:]:
            # A later part of a two-part question gets its own retrieval, keeping the names of the
            # whole question ("what office had he held" alone names nobody).
            names = [n for n in name_phrases(searched_for) if n not in part]
            query = f"{part} {' '.join(names)}".strip()
            passages = _merged(passages, self._search_more(query, 3, timings, collections, documents))
        about_the_document = asks_about_the_document(question or searched_for)
        named = [] if about_the_document else self._document_names().named(searched_for)
        named = [n for n in named[:MAX_NAMED_DOCUMENTS] if documents is None or n.document_id in documents]
        if named and len(content_terms(named[0].rest)) < 2:
            named = []  # the question is all name: nothing to search for without it
        for document in named:
            # "... described in the FSA action plan?": the naming words pull towards paragraphs that name the
            # document; its own search without them finds the ones that answer (assistant/named_documents.py).
            found = self._search_more(document.rest, NAMED_DOCUMENT_PASSAGES, timings, collections, [document.document_id])
            passages = _merged(passages, found)
        reading = parts
        if about_the_document:
            # "Who wrote ...?", "When was ... published?": the documents' headers, which retrieval ranks low.
            # Judged on the user's own words: a follow-up's query carries the previous question ("Who wrote ...").
            passages = _merged(passages, self._headers(header_ids(passages), passages))
            # "Which body published the plan that describes ...?": the ask without the description is read as a
            # part of the question, so the sentence that answers it (the header's) joins the answer.
            ask = document_ask(question or searched_for)
            if ask:
                reading = [*parts, ask]

        t = time.perf_counter()
        vectors = self.retriever.sentence_vectors(retrieval.candidates, [p.paragraph.id for p in passages])
        sentences = to_read(sentences_of(passages, vectors, retrieval.query_vector), self.config.reader_candidates)
        logits = read(self.reader, searched_for, sentences, reading)
        timings["read"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        # A question about two or more named documents is answered from each of them.
        each_of = [n.document_id for n in named] if len(named) > 1 else []
        extract = choose(sentences, logits, self.config.max_answer_words, lambda p: paragraphs_after(self.index, p), each_of)
        passages = _merged(passages, [passage for passage, _ in extract.groups])  # a list's items may follow the passages
        decided = time.perf_counter()
        judged = judged_question(question, searched_for) if question else searched_for
        confidence, decision_logits = answerability(self.decider, judged, extract.ranked, self.reader)
        timings["decide"] = (time.perf_counter() - decided) * 1000
        # A question about what the sources never discuss ("asdkjh qwpoeiru", "!!!!", "Who won the 2023
        # Rugby World Cup?") is refused whatever the reader makes of the nearest sentences.
        about_the_sources = not off_corpus(self.index, retrieval.query_terms, sentences)
        answerable = bool(extract.groups) and about_the_sources and confidence >= self.decider.decision.threshold
        # The LLM and the list of nearest passages get the passages in the reader's order.
        rank = {pid: i for i, pid in enumerate(extract.passage_order())}
        retrieval.passages = sorted(passages, key=lambda p: rank.get(p.paragraph.id, len(rank)))
        timings["compose"] = (time.perf_counter() - t) * 1000 - timings["decide"]
        return Grounds(searched_for, retrieval, extract, confidence, answerable, timings, about_the_sources, decision_logits)

    def _search_more(self, query: str, k: int, timings: dict[str, float], collections, documents) -> list:
        """The passages of one more search within a question's scope, its time added to `timings`."""
        found = self.retriever.search(query, k=k, collections=collections, documents=documents)
        for key in ("embed", "dense", "bm25", "rescore", "fuse"):
            timings[key] = timings.get(key, 0.0) + found.timings_ms.get(key, 0.0)
        return found.passages

    def _document_names(self):
        """The documents' names (assistant/named_documents.py), read again when the index has changed."""
        from assistant.named_documents import DocumentNames

        generation = self.index.generation
        if self._names is None or self._names[0] != generation:
            self._names = (generation, DocumentNames(self.index.documents()))
        return self._names[1]

    def _headers(self, ids: list[str], passages: list) -> list:
        """Passages for the header paragraphs `ids` (those that exist), scored as the weakest of `passages`."""
        from assistant.retrieval import Passage

        documents = {p.document.id: p.document for p in passages}
        floor = min((p.score for p in passages), default=0.0)
        found = self.index.paragraphs(ids)
        return [Passage(found[pid], documents[found[pid].document_id], floor) for pid in ids
                if pid in found and found[pid].document_id in documents]

    def _extractive_answer(self, question, extract) -> Answer:
        parts = []
        citations = []
        for marker, (passage, sentences) in enumerate(extract.groups, start=1):
            parts.append(f"{render_group([s.text for s in sentences])} [{marker}]")
            citations.append(citation_for(marker, passage, quote_of(passage, [s.index for s in sentences])))
        return Answer(question=question, answer=" ".join(parts), abstained=False, citations=citations)
