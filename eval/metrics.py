"""Scoring: per-question scores for every metric, summaries with 95% bootstrap intervals, and the
LLM-judge metrics. Owns the definitions of the figures the report shows and the gate checks.

Every metric is a ratio over a population of questions: each question in the population gives a
`Score(num, den)` and the figure is sum(num) / sum(den). A per-question mean (recall, ROUGE, ...)
has den = 1; a pooled share (support rate: supported sentences / sentences) has den = the count.
Questions outside the population get None; a metric that could not be computed for a question
(ragas returned NaN, the judge failed) gets NaN, and is counted and reported, never averaged in.
The 95% interval is a percentile bootstrap over the population's questions (1000 resamples, fixed
seed), so it says how much the figure depends on which questions happen to be in the set.

Offline metrics (no LLM):
- retrieval, with ragas: IDBasedContextRecall / IDBasedContextPrecision on the ids of the retrieved
  passages and, separately, of the cited paragraphs, against the reference paragraph ids;
  NonLLMContextRecall on the retrieved passages' text against the reference paragraphs' text;
- answers, with ragas: NonLLMStringSimilarity (Levenshtein) and RougeScore (ROUGE-L F1) of the
  answer text (markers removed) against the reference answer, on the answerable questions;
- faithfulness: ALCE citation recall and precision (Gao et al. 2023, "Enabling Large Language
  Models to Generate Text with Citations", metric code `compute_autoais`) and the support rate,
  written as ragas collections metrics (`alce_ragas_metrics`). ALCE decides whether passages entail
  a sentence with an NLI model; here that is the citation check of assistant/verify.py
  (`check_against`: the project's trained entailment model, assistant/entailment.py, over the
  paragraph, with the names-and-numbers rule; a verbatim piece is supported), the same definition
  the LLM answerer and the review use. Joint support by several citations is that check against
  their concatenation.
    * citation recall of an answer = share of its sentences jointly supported by their citations
      (a sentence citing nothing is unsupported);
    * citation precision = share of its citations that are not "irrelevant", a citation being
      irrelevant when its sentence is jointly supported, it does not support the sentence on its
      own, and the other citations still support it without it (ALCE's exact rule; citations of
      unsupported sentences count as imprecise);
    * support rate = all answer sentences pooled, share supported by at least one of the
      paragraphs they cite (verify.py's definition, the one the LLM answerer enforces).
  Abstentions assert nothing, so they are outside these populations.
- refusals: abstention recall (unanswerable questions the assistant declined), abstention precision
  (abstentions that were on unanswerable questions), over-refusal rate (answerable questions it
  declined; lower is better), decision accuracy (answer/abstain right), and "cites the answer":
  answerable questions answered with a citation of at least one reference paragraph.

Judge metrics (with --judge-url, any OpenAI-compatible server): ragas Faithfulness (against the
cited paragraphs), ResponseRelevancy (ragas AnswerRelevancy with the bundled MiniLM embeddings) and
FactualCorrectness (F1 against the reference), on the answered questions.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import numpy as np

from assistant.offline import switch_off_telemetry
from assistant.text import strip_markers
from eval.dataset import EvalQuestion

switch_off_telemetry()  # before ragas is imported: RAGAS_DO_NOT_TRACK and the HF offline switches

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20240601


# --- what the suite hands over --------------------------------------------------------------------


@dataclass
class QuestionRun:
    """One question of the set, what the assistant answered, and what retrieval found."""

    question: EvalQuestion
    answer: object  # assistant.answer.Answer
    retrieved_ids: list[str]  # the passages handed to the answerer, best first
    retrieved_texts: list[str]
    reference_texts: list[str]  # texts of question.paragraph_ids

    @property
    def abstained(self) -> bool:
        return bool(self.answer.abstained)

    @property
    def cited_ids(self) -> list[str]:
        out: list[str] = []
        for c in self.answer.citations:
            if c.paragraph_id not in out:
                out.append(c.paragraph_id)
        return out

    @property
    def answer_text(self) -> str:
        """The answer without its [n] markers."""
        return strip_markers(self.answer.answer).strip()

    @property
    def cites_reference(self) -> bool:
        return bool(set(self.cited_ids) & set(self.question.paragraph_ids))


@dataclass(frozen=True)
class Score:
    num: float
    den: float = 1.0

    @property
    def value(self) -> float:
        return self.num / self.den if self.den else math.nan

    @property
    def is_nan(self) -> bool:
        return math.isnan(self.num) or math.isnan(self.den)


NAN = Score(math.nan)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    label: str
    group: str  # retrieval | answer | faithfulness | refusal | judge
    population: str  # which questions count, in words
    higher_is_better: bool = True
    judge: bool = False


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("retrieved_id_recall", "IDBasedContextRecall (retrieved)", "retrieval", "answerable"),
    MetricSpec("retrieved_id_precision", "IDBasedContextPrecision (retrieved)", "retrieval", "answerable"),
    MetricSpec("cited_id_recall", "IDBasedContextRecall (cited)", "retrieval", "answerable"),
    MetricSpec("cited_id_precision", "IDBasedContextPrecision (cited)", "retrieval", "answerable, answered"),
    MetricSpec("non_llm_context_recall", "NonLLMContextRecall (retrieved)", "retrieval", "answerable"),
    MetricSpec("string_similarity", "NonLLMStringSimilarity", "answer", "answerable"),
    MetricSpec("rouge_l", "RougeScore (ROUGE-L F1)", "answer", "answerable"),
    MetricSpec("citation_recall", "ALCE citation recall", "faithfulness", "answered"),
    MetricSpec("citation_precision", "ALCE citation precision", "faithfulness", "answered"),
    MetricSpec("support_rate", "Support rate (sentences)", "faithfulness", "sentences of answered"),
    MetricSpec("cites_answer", "Cites a paragraph with the answer", "refusal", "answerable"),
    MetricSpec("abstention_recall", "Abstention recall", "refusal", "unanswerable"),
    MetricSpec("abstention_precision", "Abstention precision", "refusal", "abstained"),
    MetricSpec("over_refusal_rate", "Over-refusal rate", "refusal", "answerable", higher_is_better=False),
    MetricSpec("decision_accuracy", "Answer/abstain accuracy", "refusal", "all"),
    MetricSpec("faithfulness", "ragas Faithfulness", "judge", "answered", judge=True),
    MetricSpec("response_relevancy", "ragas ResponseRelevancy", "judge", "answered", judge=True),
    MetricSpec("factual_correctness", "ragas FactualCorrectness (F1)", "judge", "answerable, answered", judge=True),
)
SPEC_BY_NAME = {s.name: s for s in SPECS}
OFFLINE_METRICS = tuple(s.name for s in SPECS if not s.judge)
JUDGE_METRICS = tuple(s.name for s in SPECS if s.judge)

PerQuestion = dict[str, list[Score | None]]  # metric name -> one entry per QuestionRun


# --- ALCE citation recall / precision on top of the citation check -----------------------------


@dataclass
class SentenceVerdict:
    text: str
    markers: list[int]
    jointly_supported: bool  # by all its citations together (ALCE recall)
    supported: bool  # by at least one citation alone (support rate)
    precise_citations: int  # ALCE: citations that are not irrelevant


@dataclass
class AlceResult:
    sentences: list[SentenceVerdict] = field(default_factory=list)
    citations: int = 0

    @property
    def citation_recall(self) -> float:
        return sum(s.jointly_supported for s in self.sentences) / len(self.sentences) if self.sentences else math.nan

    @property
    def citation_precision(self) -> float:
        if not self.sentences:
            return math.nan
        return sum(s.precise_citations for s in self.sentences) / self.citations if self.citations else 0.0

    @property
    def supported_sentences(self) -> int:
        return sum(s.supported for s in self.sentences)

    @property
    def unsupported(self) -> list[SentenceVerdict]:
        return [s for s in self.sentences if not s.supported]


class EvidenceCache:
    """Paragraph -> verify.CitedParagraph (its sentences and their vectors), built once. With an index,
    the sentence spans and vectors stored at ingest are used when the text matches; otherwise
    the text is split and encoded as verify.py does."""

    def __init__(self, embedder, index=None):
        self.embedder = embedder
        self.index = index
        self._cache: dict[tuple[str, str], object] = {}

    def get(self, paragraph_id: str, text: str):
        from assistant.verify import evidence_from_text

        key = (paragraph_id, text)
        if key not in self._cache:
            spans, vectors = None, None
            if self.index is not None:
                stored = self.index.paragraphs([paragraph_id]).get(paragraph_id)
                if stored is not None and stored.text == text and stored.sentences:
                    spans = stored.sentences
                    vectors = self.index.sentence_vectors([paragraph_id]).get(paragraph_id)
            self._cache[key] = evidence_from_text(paragraph_id, text, self.embedder, spans, vectors)
        return self._cache[key]


def _joint(evidences: list):
    """One CitedParagraph standing for several paragraphs read together (ALCE concatenates passages)."""
    from assistant.records import Span
    from assistant.verify import CitedParagraph

    if len(evidences) == 1:
        return evidences[0]
    text, spans, offset = "", [], 0
    for e in evidences:
        spans.extend(Span(s.start + offset, s.end + offset) for s in e.spans)
        text += e.text + "\n"
        offset = len(text)
    return CitedParagraph("+".join(e.paragraph_id for e in evidences), text, spans, np.vstack([e.vectors for e in evidences]))


def alce(answer_text: str, cited: dict[int, tuple[str, str]], embedder, cache: EvidenceCache | None = None,
         verifier=None) -> AlceResult:
    """ALCE citation recall and precision of one answer. `cited` maps each marker to the
    (paragraph id, paragraph text) it points to; markers missing from it cite nothing."""
    from assistant.verify import check_against, split_answer

    cache = cache or EvidenceCache(embedder)
    sentences = split_answer(answer_text)
    if not sentences:
        return AlceResult()
    vectors = embedder.encode([s.text for s in sentences])
    evidence = {m: cache.get(pid, text) for m, (pid, text) in cited.items()}

    def supports(sentence: str, vector, markers: list[int]) -> bool:
        found = [evidence[m] for m in markers if m in evidence]
        return bool(found) and check_against(sentence, vector, 0, _joint(found), verifier).supported

    result = AlceResult()
    for s, v in zip(sentences, vectors):
        markers = list(dict.fromkeys(s.markers))
        result.citations += len(markers)
        alone = {m: supports(s.text, v, [m]) for m in markers}
        joint = any(alone.values()) or supports(s.text, v, markers)
        if joint and len(markers) > 1:
            precise = 0
            for m in markers:
                rest = [x for x in markers if x != m]
                if alone[m] or not supports(s.text, v, rest):
                    precise += 1
        else:
            precise = int(joint)
        result.sentences.append(SentenceVerdict(s.text, markers, joint, any(alone.values()), precise))
    return result


def alce_ragas_metrics(embedder, cache: EvidenceCache | None = None, verifier=None) -> dict:
    """ALCE citation recall, citation precision and the support rate as ragas collections metrics
    (`await metric.ascore(response=..., cited={marker: (paragraph_id, text)})`). The support rate's
    MetricResult carries (supported, total) sentences in `reason` for pooling."""
    from ragas.metrics.collections.base import BaseMetric
    from ragas.metrics.result import MetricResult

    shared = cache or EvidenceCache(embedder)
    memo: dict = {}

    def run(response: str, cited: dict[int, tuple[str, str]]) -> AlceResult:
        key = (response, tuple(sorted(cited.items())))
        if key not in memo:
            memo[key] = alce(response, cited, embedder, shared, verifier)
        return memo[key]

    class CitationRecall(BaseMetric):
        def __init__(self, name: str = "citation_recall", **kwargs):
            super().__init__(name=name, **kwargs)

        async def ascore(self, response: str, cited: dict) -> MetricResult:
            return MetricResult(value=run(response, cited).citation_recall)

    class CitationPrecision(BaseMetric):
        def __init__(self, name: str = "citation_precision", **kwargs):
            super().__init__(name=name, **kwargs)

        async def ascore(self, response: str, cited: dict) -> MetricResult:
            return MetricResult(value=run(response, cited).citation_precision)

    class SupportRate(BaseMetric):
        def __init__(self, name: str = "support_rate", **kwargs):
            super().__init__(name=name, **kwargs)

        async def ascore(self, response: str, cited: dict) -> MetricResult:
            r = run(response, cited)
            value = r.supported_sentences / len(r.sentences) if r.sentences else math.nan
            return MetricResult(value=value, reason=f"{r.supported_sentences}/{len(r.sentences)}")

    return {"citation_recall": CitationRecall(), "citation_precision": CitationPrecision(), "support_rate": SupportRate(), "_alce": run}


# --- the offline metrics ----------------------------------------------------------------------------


def _value(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _as_score(x) -> Score:
    v = _value(x)
    return NAN if math.isnan(v) else Score(v)


def offline_scores(runs: list[QuestionRun], embedder, progress=None, index=None,
                   verifier=None) -> tuple[PerQuestion, list[AlceResult | None]]:
    """Every offline metric for every question. `progress(n)` is called after each question;
    `index` (optional) supplies the sentence vectors stored at ingest for the citation check;
    `verifier` is its entailment model (default: the shipped one)."""
    from ragas.dataset_schema import SingleTurnSample
    from ragas.metrics._context_precision import IDBasedContextPrecision
    from ragas.metrics._context_recall import IDBasedContextRecall, NonLLMContextRecall
    from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore

    id_recall, id_precision, text_recall = IDBasedContextRecall(), IDBasedContextPrecision(), NonLLMContextRecall()
    similarity, rouge = NonLLMStringSimilarity(), RougeScore(rouge_type="rougeL", mode="fmeasure")
    alce_metrics = alce_ragas_metrics(embedder, EvidenceCache(embedder, index), verifier)

    scores: PerQuestion = {name: [] for name in OFFLINE_METRICS}
    alce_results: list[AlceResult | None] = []

    def put(name: str, score: Score | None) -> None:
        scores[name].append(score)

    for run in runs:
        q = run.question
        answered = not run.abstained
        if q.answerable:
            refs = list(q.paragraph_ids)
            put("retrieved_id_recall", _as_score(id_recall.single_turn_score(
                SingleTurnSample(retrieved_context_ids=run.retrieved_ids, reference_context_ids=refs))))
            put("retrieved_id_precision", _as_score(id_precision.single_turn_score(
                SingleTurnSample(retrieved_context_ids=run.retrieved_ids, reference_context_ids=refs))) if run.retrieved_ids else NAN)
            put("cited_id_recall", _as_score(id_recall.single_turn_score(
                SingleTurnSample(retrieved_context_ids=run.cited_ids, reference_context_ids=refs))))
            put("cited_id_precision", _as_score(id_precision.single_turn_score(
                SingleTurnSample(retrieved_context_ids=run.cited_ids, reference_context_ids=refs))) if answered else None)
            put("non_llm_context_recall", _as_score(text_recall.single_turn_score(
                SingleTurnSample(retrieved_contexts=run.retrieved_texts or [""], reference_contexts=run.reference_texts))))
            put("string_similarity", _as_score(similarity.score(reference=q.reference, response=run.answer_text).value))
            put("rouge_l", _as_score(rouge.score(reference=q.reference, response=run.answer_text).value))
            put("cites_answer", Score(float(answered and run.cites_reference)))
            put("over_refusal_rate", Score(float(run.abstained)))
            put("abstention_recall", None)
        else:
            for name in ("retrieved_id_recall", "retrieved_id_precision", "cited_id_recall", "cited_id_precision",
                         "non_llm_context_recall", "string_similarity", "rouge_l", "cites_answer", "over_refusal_rate"):
                put(name, None)
            put("abstention_recall", Score(float(run.abstained)))
        put("abstention_precision", Score(float(not q.answerable)) if run.abstained else None)
        put("decision_accuracy", Score(float(run.abstained != q.answerable)))

        if answered:
            cited = {c.marker: (c.paragraph_id, c.text) for c in run.answer.citations}
            result = alce_metrics["_alce"](run.answer.answer, cited)
            alce_results.append(result)
            put("citation_recall", _as_score(alce_metrics["citation_recall"].score(response=run.answer.answer, cited=cited).value))
            put("citation_precision", _as_score(alce_metrics["citation_precision"].score(response=run.answer.answer, cited=cited).value))
            put("support_rate", Score(result.supported_sentences, len(result.sentences)) if result.sentences else NAN)
        else:
            alce_results.append(None)
            for name in ("citation_recall", "citation_precision", "support_rate"):
                put(name, None)
        if progress:
            progress(1)
    return scores, alce_results


# --- summaries ---------------------------------------------------------------------------------------


@dataclass
class MetricSummary:
    spec: MetricSpec
    value: float  # NaN when no question could be scored
    low: float
    high: float
    n: int  # questions scored
    n_nan: int  # questions in the population that could not be scored
    n_population: int

    @property
    def name(self) -> str:
        return self.spec.name


def bootstrap_interval(nums, dens, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """95% percentile-bootstrap interval of sum(num)/sum(den), resampling questions."""
    nums, dens = np.asarray(nums, dtype=float), np.asarray(dens, dtype=float)
    if len(nums) == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(nums), size=(resamples, len(nums)))
    s_num, s_den = nums[idx].sum(axis=1), dens[idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(s_den > 0, s_num / np.where(s_den > 0, s_den, 1), np.nan)
    if np.all(np.isnan(values)):
        return math.nan, math.nan
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def summarise(spec: MetricSpec, scores: list[Score | None], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> MetricSummary:
    population = [s for s in scores if s is not None]
    good = [s for s in population if not s.is_nan]
    nums, dens = [s.num for s in good], [s.den for s in good]
    total_den = sum(dens)
    value = sum(nums) / total_den if good and total_den > 0 else math.nan
    low, high = bootstrap_interval(nums, dens, resamples, seed) if good else (math.nan, math.nan)
    return MetricSummary(spec, value, low, high, len(good), len(population) - len(good), len(population))


def summarise_all(scores: PerQuestion, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> list[MetricSummary]:
    return [summarise(SPEC_BY_NAME[name], values, resamples, seed) for name, values in scores.items()]


# --- failures -----------------------------------------------------------------------------------------


def failure_reasons(run: QuestionRun, alce_result: AlceResult | None) -> list[str]:
    """Why this question counts as a failure (empty: it does not)."""
    q = run.question
    reasons = []
    if q.answerable and run.abstained:
        reasons.append("abstained on an answerable question")
    elif q.answerable and not run.cites_reference:
        reasons.append("cites none of the expected paragraphs")
    if not q.answerable and not run.abstained:
        reasons.append("answered an unanswerable question")
    if alce_result is not None and alce_result.unsupported:
        reasons.append(f"{len(alce_result.unsupported)} of {len(alce_result.sentences)} sentences not supported by their citations")
    return reasons


# --- the judge ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgeSettings:
    base_url: str
    model: str
    api_key: str = "not-needed"
    temperature: float = 0.0
    max_tokens: int = 512
    timeout_s: float = 300.0
    max_retries: int = 1  # instructor re-asks after an output that does not validate
    strictness: int = 1  # ResponseRelevancy: questions generated per answer
    # Send each call's JSON schema in response_format ({"type": "json_object", "schema": ...}), which
    # llama.cpp's server turns into a grammar: small models then always produce valid output.
    # Off by default: other servers may reject the extra key.
    json_schema: bool = False

    def describe(self) -> dict:
        return {"base_url": self.base_url, "model": self.model, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "timeout_s": self.timeout_s, "max_retries": self.max_retries,
                "response_relevancy_strictness": self.strictness,
                "structured output": "instructor JSON mode" + (" + schema in response_format (grammar)" if self.json_schema else "")}


def judge_llm(settings: JudgeSettings):
    """The ragas LLM for a judge on an OpenAI-compatible server (ragas' llm_factory, JSON mode)."""
    from openai import AsyncOpenAI
    from ragas.llms import llm_factory

    client = AsyncOpenAI(base_url=settings.base_url, api_key=settings.api_key, timeout=settings.timeout_s, max_retries=0)
    llm = llm_factory(settings.model, provider="openai", client=client, temperature=settings.temperature,
                      max_tokens=settings.max_tokens, max_retries=settings.max_retries)
    if settings.json_schema:
        generate = llm.agenerate

        async def agenerate_with_schema(prompt, response_model):
            # One call at a time (judge_scores is sequential), so setting the per-call body is safe.
            llm.model_args["extra_body"] = {"response_format": {"type": "json_object", "schema": response_model.model_json_schema()}}
            return await generate(prompt, response_model)

        llm.agenerate = agenerate_with_schema
    return llm, client


def ragas_embeddings(embedder):
    """The bundled MiniLM (assistant.embedding.Embedder) behind ragas' modern embeddings interface."""
    from ragas.embeddings.base import BaseRagasEmbedding

    class MiniLMEmbeddings(BaseRagasEmbedding):
        def __init__(self):
            super().__init__()
            self.model = embedder.name

        def embed_text(self, text: str, **kwargs) -> list[float]:
            return embedder.encode([text])[0].tolist()

        async def aembed_text(self, text: str, **kwargs) -> list[float]:
            return self.embed_text(text)

        def embed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
            return embedder.encode(list(texts)).tolist()

        async def aembed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
            return self.embed_texts(texts)

    return MiniLMEmbeddings()


@dataclass
class JudgeFailure:
    question_id: str
    metric: str
    error: str


def judge_scores(runs: list[QuestionRun], settings: JudgeSettings, embedder, progress=None) -> tuple[PerQuestion, list[JudgeFailure]]:
    """ragas Faithfulness, ResponseRelevancy and FactualCorrectness on the answered questions.
    A call that fails or returns NaN gives a NaN score and a JudgeFailure, never an exception."""
    from ragas.metrics.collections import AnswerRelevancy, FactualCorrectness, Faithfulness

    llm, client = judge_llm(settings)
    faithfulness = Faithfulness(llm=llm)
    relevancy = AnswerRelevancy(llm=llm, embeddings=ragas_embeddings(embedder), strictness=settings.strictness)
    correctness = FactualCorrectness(llm=llm, mode="f1")

    scores: PerQuestion = {name: [] for name in JUDGE_METRICS}
    failures: list[JudgeFailure] = []

    async def one(name: str, run: QuestionRun, coro) -> Score:
        try:
            result = await asyncio.wait_for(coro, timeout=settings.timeout_s * 4)
            value = _value(result.value)
        except Exception as exc:  # noqa: BLE001 - a judge failure is a counted NaN, not a crash
            failures.append(JudgeFailure(run.question.id, name, f"{exc.__class__.__name__}: {str(exc)[:200]}"))
            return NAN
        if math.isnan(value):
            why = getattr(result, "reason", None) or (
                "ragas Faithfulness is NaN when the judge finds no statements in the answer" if name == "faithfulness" else "")
            failures.append(JudgeFailure(run.question.id, name, "the judge returned NaN" + (f" ({why})" if why else "")))
            return NAN
        return Score(value)

    async def all_runs() -> None:
        for run in runs:
            if run.abstained:
                for name in JUDGE_METRICS:
                    scores[name].append(None)
            else:
                q, response = run.question, run.answer_text
                contexts = [c.text for c in run.answer.citations] or run.retrieved_texts
                scores["faithfulness"].append(await one("faithfulness", run, faithfulness.ascore(
                    user_input=q.question, response=response, retrieved_contexts=contexts)))
                scores["response_relevancy"].append(await one("response_relevancy", run, relevancy.ascore(
                    user_input=q.question, response=response)))
                scores["factual_correctness"].append(await one("factual_correctness", run, correctness.ascore(
                    response=response, reference=q.reference)) if q.answerable else None)
            if progress:
                progress(1)
        await client.close()

    asyncio.run(all_runs())
    return scores, failures
