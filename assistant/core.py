"""The Assistant: a question (and the conversation so far) in, an Answer out.

    assistant = Assistant.open(data_dir=".assistant")
    answer = assistant.ask("Who is David Dalton?", history=[])
    answer.to_dict()

Flow: validate -> standalone search query -> hybrid retrieval -> extractive sentences and the
answerability decision -> (with an LLM configured: a generated answer, every sentence checked
against its citations; on any LLM failure, the extractive answer with a notice) -> Answer.
Models and the index open once per Assistant; one Assistant is safe to share between threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from assistant.answer import Answer
from assistant.compose import abstention, citation_for, quote_of, render_group
from assistant.config import Config
from assistant.errors import BadQuestion


def validate_question(question: object, max_chars: int) -> str:
    if not isinstance(question, str):
        raise BadQuestion("the question must be text")
    question = question.strip()
    if not question:
        raise BadQuestion("the question is empty")
    if len(question) > max_chars:
        raise BadQuestion(f"the question is {len(question):,} characters long; the limit is {max_chars:,}")
    return question


class Assistant:
    def __init__(self, config: Config, index, embedder):
        from assistant.retrieval import Retriever

        self.config = config
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, embedder, config)
        self._llm = None
        if config.uses_llm:
            from assistant.llm_answer import LLMAnswerer

            self._llm = LLMAnswerer(config, embedder)

    @classmethod
    def open(cls, data_dir=None, config: Config | None = None, **overrides) -> "Assistant":
        """Open the index in `data_dir` (default: ASSISTANT_DATA_DIR or .assistant/).
        Raises IndexNotReady (no index yet) or IndexModelMismatch (built with another model)."""
        from assistant.embedding import get_embedder
        from assistant.index import Index

        config = config or Config.from_env(data_dir=data_dir, **overrides)
        if data_dir is not None and config.data_dir != data_dir:
            config = config.replace(data_dir=__import__("pathlib").Path(data_dir))
        embedder = get_embedder(config.embed_model_path)
        index = Index.open(config, embedder.name)
        return cls(config, index, embedder)

    def warm_up(self) -> None:
        """Load the models and the indexes now rather than on the first question."""
        self.ask("warm up")

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
        The final Answer is authoritative: verification may drop streamed LLM sentences."""
        from assistant.extractive import choose
        from assistant.refusal import load_model

        question = validate_question(question, self.config.max_question_chars)
        started = time.perf_counter()
        timings: dict[str, float] = {}

        t = time.perf_counter()
        searched_for = self.search_query(question, history)
        if searched_for != question:
            timings["rewrite"] = (time.perf_counter() - t) * 1000

        retrieval = self.retriever.search(searched_for, collections=collections, documents=documents)
        timings.update(retrieval.timings_ms)

        t = time.perf_counter()
        ids = [p.paragraph.id for p in retrieval.passages]
        vectors = self.index.sentence_vectors(ids)
        idf = self.index.idf(retrieval.query_terms)
        extract = choose(question, retrieval, vectors, idf, self.config.max_answer_words)
        model = load_model()
        confidence = model.probability(extract.signals)
        answerable = bool(extract.groups) and confidence >= model.threshold
        extractive = self._extractive_answer(question, retrieval, extract) if answerable else abstention(question, retrieval.passages)
        extractive.confidence = confidence
        timings["compose"] = (time.perf_counter() - t) * 1000

        answer = extractive
        if self._llm is not None and retrieval.passages:
            t = time.perf_counter()
            answer = yield from self._llm.stream_answer(question, retrieval, extractive, history)
            timings["llm"] = (time.perf_counter() - t) * 1000
        else:
            yield answer.answer

        timings["total"] = (time.perf_counter() - started) * 1000
        answer.question = question
        answer.searched_for = searched_for
        answer.timings_ms = timings
        answer.id = id
        yield answer

    def _extractive_answer(self, question, retrieval, extract) -> Answer:
        parts = []
        citations = []
        for marker, (passage, sentences) in enumerate(extract.groups, start=1):
            parts.append(f"{render_group([s.text for s in sentences])} [{marker}]")
            citations.append(citation_for(marker, passage, quote_of(passage, [s.index for s in sentences])))
        return Answer(question=question, answer=" ".join(parts), abstained=False, citations=citations)
