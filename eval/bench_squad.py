"""`assistant bench squad2 PATH`: answer or abstain on SQuAD 2.0, through the real product.

The paragraphs (corpus.jsonl and corpus_distractors.jsonl) are written one .txt file each (line
breaks inside a paragraph joined with a space, so each stays one paragraph), named by
their `_id` (so the product's document id is the slug of the `_id`) with their article titles in a
metadata.toml, and ingested with `ingest.pipeline.run_ingest` into a cached data folder (or
--data-dir). A fixed-seed sample of the questions (--limit, default 1000, stratified so the share of
unanswerable questions is the file's) is asked with `Assistant.ask` (extractive, no LLM).

Figures: accuracy of the answer/abstain decision, precision and recall of abstaining, over-refusal
on answerable questions, how often the cited paragraph is the gold one, how often the reader's best
sentence and the whole answer hold a gold answer string, beside always-abstain. Each question's
reader score and P(answerable) (from `Assistant.gather`, the grounds step that `Assistant.ask` runs)
are written to --out/squad2_rows.jsonl. The benchmark counts questions where `gather`'s decision
and `ask`'s differ (it should be zero). Nothing here is ever fitted or tuned on: the reader is
trained and calibrated on other data (training/).
"""

from __future__ import annotations

import json
import random
import re
import string
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eval.bench_common import BenchInputError, BenchResult, Table, cache_dir, fingerprint, out_dir, percentile, read_jsonl, require_path

DEFAULT_LIMIT = 1000
SEED = 2018
ALWAYS_ABSTAIN_PUBLISHED = 0.521  # EM/F1 of always abstaining on this split (shared/bench/README.md)


@dataclass
class SquadQuestion:
    id: str
    question: str
    is_impossible: bool
    answers: list[str]
    gold_doc_id: str
    title: str


@dataclass
class SquadRow:
    id: str
    is_impossible: bool
    abstained: bool
    probability: float
    best_logit: float  # the reader's best score
    gold_doc_id: str
    gold_rank: int | None  # 1-based rank of the gold paragraph among the passages handed to the answerer
    cited_gold: bool | None  # answered: the first citation is the gold paragraph (None when abstained)
    any_cited_gold: bool | None
    answer_has_gold: bool | None  # answered: the answer text contains a gold answer (SQuAD-normalised)
    best_sentence_has_gold: bool | None  # answerable: the reader's best sentence contains a gold answer
    gather_agrees: bool  # Assistant.gather's decision equals Assistant.ask's
    latency_ms: float


def grounds(assistant, question: str):
    """The product's grounds step for a question asked with no history (`Assistant.gather`, the
    first half of `Assistant.stream`): passages, the reader's scores and choice, P(answerable)."""
    from assistant.core import validate_question

    question = validate_question(question, assistant.config.max_question_chars)
    return assistant.gather(assistant.search_query(question, None))


# --- data ------------------------------------------------------------------------------------


def load_questions(folder: Path) -> list[SquadQuestion]:
    return [
        SquadQuestion(str(r["id"]), r["question"], bool(r["is_impossible"]), list(r.get("answers_all") or r.get("answers") or []),
                      str(r.get("gold_doc_id") or ""), r.get("title") or "")
        for r in read_jsonl(folder / "questions.jsonl")
    ]


def sample_questions(questions: list[SquadQuestion], limit: int | None, seed: int = SEED) -> list[SquadQuestion]:
    """A fixed-seed sample keeping the file's share of unanswerable questions, in file order."""
    if not limit or limit >= len(questions):
        return list(questions)
    rng = random.Random(seed)
    impossible = [i for i, q in enumerate(questions) if q.is_impossible]
    answerable = [i for i, q in enumerate(questions) if not q.is_impossible]
    n_impossible = round(limit * len(impossible) / len(questions))
    chosen = rng.sample(impossible, n_impossible) + rng.sample(answerable, limit - n_impossible)
    return [questions[i] for i in sorted(chosen)]


def write_corpus(folder: Path, target: Path) -> dict[str, str]:
    """The benchmark's paragraphs (corpus.jsonl and corpus_distractors.jsonl) as one .txt each."""
    rows = []
    for name in ("corpus.jsonl", "corpus_distractors.jsonl"):
        if (folder / name).exists():
            rows += read_jsonl(folder / name)
    if not rows:
        raise BenchInputError(f"{folder} has no corpus.jsonl: PATH must be the squad2 benchmark folder")
    return write_paragraph_files(rows, target)


def write_paragraph_files(rows: list[dict], target: Path) -> dict[str, str]:
    """One .txt per paragraph row ({"_id", "title", "text"}), named by its _id, titles in
    metadata.toml, each file rewritten only when it changed. Returns the document slug -> _id."""
    from ingest.pipeline import slugify

    target.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, str] = {}
    meta_lines = []
    for row in rows:
        doc_id = str(row["_id"])
        file_name = f"{doc_id}.txt"
        mapping[slugify(Path(file_name).stem)] = doc_id
        path = target / file_name
        # 27 SQuAD paragraphs hold line breaks inside formulas ("CO\n2"); as .txt lines they would split
        # into several paragraphs (and a short first line would become the title), so join them.
        text = " ".join(row["text"].split("\n")).strip() + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        meta_lines.append(f"[{json.dumps(file_name)}]\ntitle = {json.dumps(row.get('title') or doc_id, ensure_ascii=False)}\n")
    meta = target / "metadata.toml"
    content = "\n".join(meta_lines)
    if not meta.exists() or meta.read_text(encoding="utf-8") != content:
        meta.write_text(content, encoding="utf-8")
    return mapping


# --- scoring ---------------------------------------------------------------------------------


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_answer(answer_text: str, answers: list[str]) -> bool:
    haystack = f" {normalise_answer(answer_text)} "
    return any(f" {normalise_answer(a)} " in haystack for a in answers if normalise_answer(a))


def auc(scores: list[float], positive: list[bool]) -> float | None:
    """Area under the ROC curve (probability a random positive outscores a random negative; ties half)."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def ask_one(assistant, q: SquadQuestion, gold_doc: str) -> SquadRow:
    started = time.perf_counter()
    answer = assistant.ask(q.question, id=q.id)
    latency = (time.perf_counter() - started) * 1000
    ev = grounds(assistant, q.question)
    passages = [p.paragraph.document_id for p in ev.retrieval.passages]
    gold_rank = passages.index(gold_doc) + 1 if gold_doc in passages else None
    answered = not answer.abstained
    cited = [c.document_id for c in answer.citations]
    best_sentence = ev.extract.ranked[0].text if ev.extract.ranked else ""
    return SquadRow(
        id=q.id,
        is_impossible=q.is_impossible,
        abstained=answer.abstained,
        probability=ev.confidence,
        best_logit=ev.extract.best_logit,
        gold_doc_id=q.gold_doc_id,
        gold_rank=gold_rank,
        cited_gold=(bool(cited) and cited[0] == gold_doc) if answered else None,
        any_cited_gold=(gold_doc in cited) if answered else None,
        answer_has_gold=contains_answer(answer.answer, q.answers) if answered and q.answers else None,
        best_sentence_has_gold=contains_answer(best_sentence, q.answers) if not q.is_impossible and q.answers else None,
        gather_agrees=(ev.answerable == answered),
        latency_ms=latency,
    )


def summarise(rows: list[SquadRow], threshold: float) -> dict:
    answerable = [r for r in rows if not r.is_impossible]
    impossible = [r for r in rows if r.is_impossible]
    abstained = [r for r in rows if r.abstained]
    correct = sum(1 for r in rows if r.abstained == r.is_impossible)
    answered_ok = [r for r in answerable if not r.abstained]
    probs = [r.probability for r in rows]
    labels = [not r.is_impossible for r in rows]
    # The best accuracy any threshold on the current model's probability reaches on this sample (in-sample).
    best = max(((sum(1 for p, y in zip(probs, labels) if (p >= t) == y) / len(rows), t) for t in sorted(set(probs)) + [1.01]),
               default=(None, None))
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(impossible),
        "decision_accuracy": _ratio(correct, len(rows)),
        "always_abstain_accuracy": _ratio(len(impossible), len(rows)),
        "abstain_precision": _ratio(sum(1 for r in abstained if r.is_impossible), len(abstained)),
        "abstain_recall": _ratio(sum(1 for r in impossible if r.abstained), len(impossible)),
        "over_refusal": _ratio(sum(1 for r in answerable if r.abstained), len(answerable)),
        "answered_cite_gold_first": _ratio(sum(1 for r in answered_ok if r.cited_gold), len(answered_ok)),
        "answered_cite_gold_any": _ratio(sum(1 for r in answered_ok if r.any_cited_gold), len(answered_ok)),
        "answered_contains_gold_answer": _ratio(sum(1 for r in answered_ok if r.answer_has_gold), len(answered_ok)),
        "answerable_gold_retrieved_top_k": _ratio(sum(1 for r in answerable if r.gold_rank), len(answerable)),
        "answerable_gold_rank_1": _ratio(sum(1 for r in answerable if r.gold_rank == 1), len(answerable)),
        "unanswerable_on_topic_rank_1": _ratio(sum(1 for r in impossible if r.gold_rank == 1), len(impossible)),
        # SQuAD-style: 1 for abstaining on an unanswerable question, 1 for an answer holding a gold string.
        "squad_style_score": _ratio(sum(1 for r in impossible if r.abstained) + sum(1 for r in answered_ok if r.answer_has_gold), len(rows)),
        "probability_auc": auc(probs, labels),
        "answerable_best_sentence_contains_gold": _ratio(sum(1 for r in answerable if r.best_sentence_has_gold), len(answerable)),
        "answered_best_sentence_contains_gold": _ratio(sum(1 for r in answered_ok if r.best_sentence_has_gold), len(answered_ok)),
        "threshold": threshold,
        "best_threshold_in_sample": {"accuracy": best[0], "threshold": best[1]},
        "gather_ask_disagreements": sum(1 for r in rows if not r.gather_agrees),
        "ask_latency_ms_p50": percentile([r.latency_ms for r in rows], 50),
    }


def bench_squad2(args) -> BenchResult:
    from assistant.config import Config
    from assistant.core import Assistant
    from ingest.pipeline import run_ingest

    folder = require_path(args, "the SQuAD 2.0 benchmark folder, e.g. ../shared/bench/squad2")
    if not (folder / "questions.jsonl").exists():
        raise BenchInputError(f"{folder}/questions.jsonl is missing: PATH must be the squad2 benchmark folder")
    cache = cache_dir(args)
    corpus_key = fingerprint(*(str((folder / n).stat().st_size) for n in ("corpus.jsonl", "questions.jsonl")), str(folder.resolve()))
    corpus_dir = cache / f"squad2-corpus-{corpus_key}"
    mapping = write_corpus(folder, corpus_dir)
    data_dir = Path(args.data_dir) if getattr(args, "data_dir", None) else cache / f"squad2-index-{corpus_key}"
    config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None)
    print(f"ingesting {len(mapping):,} paragraphs into {data_dir} ...", file=sys.stderr, flush=True)
    ingest = run_ingest([corpus_dir], config, progress=False)
    assistant = Assistant.open(config=config)
    per_doc = {d.id: d.paragraph_count for d in assistant.index.documents()}
    not_one = {d: n for d, n in per_doc.items() if n != 1}
    slug_of = {v: k for k, v in mapping.items()}

    questions = load_questions(folder)
    sample = sample_questions(questions, getattr(args, "limit", None) or DEFAULT_LIMIT)
    assistant.warm_up()
    rows = []
    started = time.perf_counter()
    for n, q in enumerate(sample, 1):
        rows.append(ask_one(assistant, q, slug_of.get(q.gold_doc_id, q.gold_doc_id)))
        if n % 100 == 0:
            print(f"  {n}/{len(sample)} questions", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    figures = summarise(rows, assistant.decider.decision.threshold)
    figures["reader_version"] = assistant.reader.version
    figures["decision_model_version"] = assistant.decider.version
    figures.update({
        "corpus_paragraphs": len(mapping), "documents_indexed": len(per_doc), "documents_not_one_paragraph": len(not_one),
        "ingest_skipped": [f"{s.path}: {s.reason}" for s in ingest.skipped], "ingest_seconds": ingest.seconds,
        "seed": SEED, "seconds": seconds, "data_dir": str(data_dir),
        "always_abstain_full_split": ALWAYS_ABSTAIN_PUBLISHED,
    })

    t = Table(f"SQuAD 2.0 answer-or-abstain, {len(rows)} questions (seed {SEED}; {figures['unanswerable']} unanswerable), "
              f"{len(per_doc):,} paragraphs, extractive", ["figure", "value", "beside"])
    t.add("decision accuracy (answer iff answerable)", figures["decision_accuracy"], f"target >= 0.72 (issue 11); always abstain {figures['always_abstain_accuracy']:.3f} here, {ALWAYS_ABSTAIN_PUBLISHED} on the split")
    t.add("abstain precision (abstained -> unanswerable)", figures["abstain_precision"], None)
    t.add("abstain recall (unanswerable -> abstained)", figures["abstain_recall"], None)
    t.add("over-refusal (answerable -> abstained)", figures["over_refusal"], None)
    t.add("answered answerable: first citation is the gold paragraph", figures["answered_cite_gold_first"], None)
    t.add("answered answerable: any citation is the gold paragraph", figures["answered_cite_gold_any"], None)
    t.add("answered answerable: answer contains a gold answer", figures["answered_contains_gold_answer"], None)
    t.add("answered answerable: the reader's best sentence contains one", figures["answered_best_sentence_contains_gold"], "target >= 0.85 (issue 11)")
    t.add("all answerable: the reader's best sentence contains one", figures["answerable_best_sentence_contains_gold"], "whatever the decision")
    t.add("SQuAD-style score (abstain right, or answer holds gold)", figures["squad_style_score"], f"always abstain {ALWAYS_ABSTAIN_PUBLISHED}")
    t.add("answerable: gold paragraph among the passages", figures["answerable_gold_retrieved_top_k"], None)
    t.add("answerable: gold paragraph ranked first", figures["answerable_gold_rank_1"], None)
    t.add("unanswerable: on-topic paragraph ranked first", figures["unanswerable_on_topic_rank_1"], "BM25 alone: 0.77 (README)")
    t.add("ROC AUC of P(answerable)", figures["probability_auc"], f"threshold {figures['threshold']}, reader {figures['reader_version']}, decision model {figures['decision_model_version']}")
    best = figures["best_threshold_in_sample"]
    t.add("best accuracy of any threshold (in-sample)", best["accuracy"], f"at {best['threshold']:.3f}" if best["threshold"] is not None else None)
    t.add("ask latency p50 (ms)", figures["ask_latency_ms_p50"], None)
    t.add("gather/ask decision disagreements", figures["gather_ask_disagreements"], "should be 0")
    tables = [t]
    if not_one or ingest.skipped:
        tables[0].note = (f"{len(not_one)} documents did not come out as exactly one paragraph; "
                          f"{len(ingest.skipped)} files skipped by ingest (see the JSON).")
        figures["documents_not_one_paragraph_examples"] = dict(list(not_one.items())[:20])

    result = BenchResult("squad2", figures, tables)
    folder_out = out_dir(args)
    if folder_out is not None:
        path = folder_out / "squad2_rows.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for r in rows:
                # Every field summarise() reads: each printed figure can be recomputed from this file.
                fh.write(json.dumps(asdict(r)) + "\n")
        result.files.append(str(path))
    return result
