"""`assistant bench claims [FILE]`: the citation check (assistant/verify.py) on claims written blind,
and what it costs.

FILE (default eval/data/claims_test.jsonl, frozen: measure, never tune on it; eval/data/claims_dev.jsonl, 269
claims written blind over the policy dev documents, sharing no premise with the test set, is the one to choose
verifiers on: it is further from the training claims' writers than the held-out training documents are) holds
`{"id", "doc", "premise", "hypothesis", "label", "kind"}`: a claim (hypothesis) about a source passage
(premise), labelled entailment (faithful: paraphrase, summary, inference, pronoun resolved),
contradiction (negation, role swap, number, date, entity, antonym, quantifier) or neutral (an
unsupported addition, cause, attribution, overgeneralisation). Each claim is checked as an answer
sentence is against the paragraph it cites (`check_claims`).

Figures: faithful claims accepted (labelled supported), not-supported claims rejected (labelled
anything else), contradictions rejected, contradictions labelled contradicted, three-way accuracy;
per kind and per source (the bundled articles, the policy documents). Speed: checking a
three-sentence answer (three faithful paraphrases, each citing its passage, the passages' sentence
vectors precomputed as the index stores them) end to end, p50 and p90 over the answers, on this
machine's cores; and the verifier model's share of it. With an LLM server configured
(ASSISTANT_LLM_BASE_URL) and the bundled sources ingested: the time to the first streamed sentence
on bundled dev questions, the verifier's part of it, and the ratio to the same stream without it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from eval.bench_common import BenchInputError, BenchResult, Table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLAIMS = ROOT / "eval" / "data" / "claims_test.jsonl"
BUNDLED = ("ham-", "kf-", "nuffield-")  # the bundled articles' file names begin so (sources/)
EXPECTED = {"entailment": "supported", "contradiction": "contradicted", "neutral": "unsupported"}


def load_claims(path: Path) -> list[dict]:
    if not path.is_file():
        raise BenchInputError(f"{path}: no such claims file")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        missing = {"premise", "hypothesis", "label"} - set(row)
        if missing:
            raise BenchInputError(f"{path}: {row.get('id', '?')} lacks {sorted(missing)}")
    return rows


def claim_figures(gold: list[str], predicted: list[str]) -> dict:
    """The issue's figures: gold labels entailment/contradiction/neutral against predicted supported/contradicted/unsupported."""
    def share(pairs):
        pairs = list(pairs)
        return round(float(np.mean(pairs)), 4) if pairs else None

    return {
        "claims": len(gold),
        "faithful_accepted": share(p == "supported" for g, p in zip(gold, predicted) if g == "entailment"),
        "not_supported_rejected": share(p != "supported" for g, p in zip(gold, predicted) if g != "entailment"),
        "contradictions_rejected": share(p != "supported" for g, p in zip(gold, predicted) if g == "contradiction"),
        "contradictions_labelled_contradicted": share(p == "contradicted" for g, p in zip(gold, predicted) if g == "contradiction"),
        "three_way_accuracy": share(EXPECTED.get(g) == p for g, p in zip(gold, predicted)),
    }


class _Timed:
    """Wraps a verifier's `probabilities` to add up the seconds spent in it (restored by `close`)."""

    def __init__(self, verifier):
        self.verifier, self.seconds = verifier, 0.0
        original = verifier.probabilities

        def timed(pairs):
            started = time.perf_counter()
            try:
                return original(pairs)
            finally:
                self.seconds += time.perf_counter() - started

        verifier.probabilities = timed

    def close(self) -> None:
        del self.verifier.probabilities


def _answer_timings(rows: list[dict], embedder, verifier, answers: int) -> dict:
    """Seconds to check three-sentence answers (faithful, non-verbatim claims citing their passages)."""
    from assistant.verify import AnswerSentence, evidence_from_text, verify_sentences

    faithful = [r for r in rows if r["label"] == "entailment"][: 3 * answers]
    groups = [faithful[i : i + 3] for i in range(0, len(faithful) - 2, 3)]
    if not groups:
        return {}
    prepared = []
    for group in groups:  # as the index stores them: sentences split and encoded at ingest
        evidence = {n: evidence_from_text(f"p{n}", r["premise"], embedder) for n, r in enumerate(group, start=1)}
        prepared.append(([AnswerSentence(" ".join(r["hypothesis"].split()), [n]) for n, r in enumerate(group, start=1)], evidence))
    verify_sentences(*prepared[0], embedder, verifier=verifier)  # warm: models loaded, first-call costs paid
    totals, model = [], []
    for sentences, evidence in prepared:
        timer = _Timed(verifier)
        try:
            started = time.perf_counter()
            verify_sentences(sentences, evidence, embedder, verifier=verifier)  # encodes the sentences, as the LLM path does
            totals.append(time.perf_counter() - started)
            model.append(timer.seconds)
        finally:
            timer.close()
    return {"answers": len(totals), "p50_ms": round(1000 * float(np.percentile(totals, 50)), 1),
            "p90_ms": round(1000 * float(np.percentile(totals, 90)), 1),
            "model_p50_ms": round(1000 * float(np.percentile(model, 50)), 1)}


def _stream_timings(config, questions: list[str]) -> dict:
    """With an LLM server configured: seconds from asking to the first streamed (checked) sentence,
    and the verifier's part of them, over the bundled dev questions the LLM answers."""
    from assistant.answer import Answer
    from assistant.core import Assistant

    assistant = Assistant.open(config=config)
    assistant.warm_up()
    first, model = [], []
    for question in questions:
        timer = _Timed(assistant.verifier)
        started = time.perf_counter()
        try:
            for event in assistant.stream(question):
                if not isinstance(event, Answer):
                    first.append(time.perf_counter() - started)
                    model.append(timer.seconds)
                    break
            else:
                continue
        finally:
            timer.close()
    if not first:
        return {}
    without = [f - m for f, m in zip(first, model)]
    return {"questions": len(first), "first_sentence_p50_ms": round(1000 * float(np.percentile(first, 50)), 1),
            "verifier_part_p50_ms": round(1000 * float(np.percentile(model, 50)), 1),
            "ratio_to_the_stream_without_the_verifier": round(float(np.median(first) / np.median(without)), 3)}


def bench_claims(args) -> BenchResult:
    from assistant.claim_check import ClaimToCheck, check
    from assistant.config import Config
    from assistant.embedding import get_embedder
    from assistant.entailment import get_verifier

    path = Path(args.path) if args.path else DEFAULT_CLAIMS
    rows = load_claims(path)
    if args.limit:
        rows = rows[: args.limit]
    config = Config.from_env()
    embedder, verifier = get_embedder(config.embed_model_path), get_verifier(config.verifier_model_path)
    started = time.perf_counter()
    results = check([ClaimToCheck(str(r.get("id", i)), r["hypothesis"], r["premise"]) for i, r in enumerate(rows)], embedder, verifier)
    seconds = time.perf_counter() - started
    predicted = [r["label"] for r in results]
    gold = [str(r["label"]).lower() for r in rows]
    kinds = [str(r.get("kind") or "?").lower().replace(" ", "_") for r in rows]
    sources = ["bundled articles" if str(r.get("doc", "")).startswith(BUNDLED) else "policy documents" for r in rows]

    overall = claim_figures(gold, predicted)
    by_source = {s: claim_figures([g for g, x in zip(gold, sources) if x == s], [p for p, x in zip(predicted, sources) if x == s])
                 for s in sorted(set(sources))}
    by_kind = {}
    for kind in sorted(set(kinds)):
        picked = [(g, p) for g, p, k in zip(gold, predicted, kinds) if k == kind]
        right = [(p == "supported") == (g == "entailment") for g, p in picked]
        by_kind[kind] = {"label": picked[0][0], "claims": len(picked), "handled_right": round(float(np.mean(right)), 4)}
    timing = _answer_timings(rows, embedder, verifier, answers=getattr(args, "rounds", None) or 40)
    stream = {}
    if config.uses_llm:
        from eval.dataset import load_questions

        questions = [q.question for q in load_questions(split="dev") if q.answerable][: getattr(args, "rounds", None) or 20]
        stream = _stream_timings(config, questions)

    figures = {"claims_file": str(path), "verifier": verifier.version, "thresholds": dataclasses.asdict(verifier.thresholds),
               "overall": overall, "by_source": by_source, "by_kind": by_kind, "claims_per_s": round(len(rows) / seconds, 1),
               "three_sentence_answer": timing, "llm_stream": stream}
    main = Table(f"The citation check on {path.name} ({len(rows)} claims written blind; verifier {verifier.version})",
                 ["figure", "all", *by_source], note="target: faithful accepted >= 0.85, not-supported rejected >= 0.80, contradictions rejected >= 0.85")
    for key in ("faithful_accepted", "not_supported_rejected", "contradictions_rejected", "contradictions_labelled_contradicted", "three_way_accuracy", "claims"):
        main.add(key.replace("_", " "), overall[key], *(by_source[s][key] for s in by_source))
    kinds_table = Table("Handled right, by kind of claim (faithful: accepted; others: rejected)", ["kind", "gold label", "claims", "handled right"])
    for kind, f in by_kind.items():
        kinds_table.add(kind, f["label"], f["claims"], f["handled_right"])
    speed = Table("Checking a three-sentence answer against its cited paragraphs", ["figure", "value"],
                  note="target: at most 100 ms on 2 cores")
    for key, value in timing.items():
        speed.add(key.replace("_", " "), value)
    speed.add("claims checked per second (one at a time, passage split and encoded)", figures["claims_per_s"])
    for key, value in stream.items():
        speed.add(f"LLM stream ({config.llm_base_url}): {key.replace('_', ' ')}", value)
    return BenchResult("claims", figures, [main, kinds_table, speed], record_heading="The citation check on claims (issue 21)",
                       record_description=f"`assistant bench claims` on {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}, "
                                          f"verifier {verifier.version} (thresholds {verifier.thresholds}).",
                       recorded_tables=3)
