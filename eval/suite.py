"""`assistant eval`: run the assistant on the evaluation set, score it, write the report, gate CI.

    assistant eval [--split dev|test|all] [--limit N] [--judge-url URL --judge-model NAME]
                   [--gate] [--thresholds FILE] [--report eval/reports/latest.md] [--data-dir DIR]

Steps: make sure the index at --data-dir holds the current sources/ (incremental ingest, so a
fresh clone works), ask every question of the split (follow-ups with their history), re-run the
retrieval of the query the assistant searched for to get the retrieved passages, score
(eval/metrics.py), write the report (eval/report.py), and with --gate compare the test-split
figures with eval/thresholds.toml (or --thresholds / $ASSISTANT_EVAL_THRESHOLDS): exit 1 when a
figure is below its floor (or above its ceiling), naming each one.

The judge (--judge-url, --judge-model) reads $ASSISTANT_JUDGE_API_KEY, and with
$ASSISTANT_JUDGE_JSON_SCHEMA=1 sends each call's JSON schema to the server for grammar-constrained
output (llama.cpp's server supports it; small models need it to produce parseable verdicts).

Exit codes: 0 ok (and gate passed), 1 gate failed or the set does not match the index, 2 bad usage.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from eval.dataset import DATASET_PATH, ROOT, DatasetError, load_questions, unknown_paragraphs

SOURCES = ROOT / "sources"
DEFAULT_THRESHOLDS = ROOT / "eval" / "thresholds.toml"


@dataclass(frozen=True)
class Threshold:
    metric: str
    bound: float
    kind: str  # "floor" (figure must be >= bound) or "ceiling" (<= bound)


@dataclass(frozen=True)
class GateFailure:
    metric: str
    value: float
    threshold: Threshold

    def __str__(self) -> str:
        if math.isnan(self.value):
            return f"{self.metric}: could not be computed (its {self.threshold.kind} is {self.threshold.bound:.3f})"
        relation = "below its floor" if self.threshold.kind == "floor" else "above its ceiling"
        return f"{self.metric} = {self.value:.3f} is {relation} {self.threshold.bound:.3f}"


def load_thresholds(path: Path) -> list[Threshold]:
    from eval.metrics import SPEC_BY_NAME

    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for section, kind in (("floors", "floor"), ("ceilings", "ceiling")):
        for metric, bound in data.get(section, {}).items():
            if metric not in SPEC_BY_NAME:
                raise ValueError(f"{path}: unknown metric {metric!r} in [{section}]")
            out.append(Threshold(metric, float(bound), kind))
    unknown = set(data) - {"floors", "ceilings", "meta"}
    if unknown:
        raise ValueError(f"{path}: unknown sections {sorted(unknown)}")
    return out


def check_gate(summaries, thresholds: list[Threshold]) -> list[GateFailure]:
    by_name = {s.name: s for s in summaries}
    failures = []
    for t in thresholds:
        summary = by_name.get(t.metric)
        if summary is None:
            continue  # e.g. a judge metric without a judge
        v = summary.value
        if math.isnan(v) or (t.kind == "floor" and v < t.bound) or (t.kind == "ceiling" and v > t.bound):
            failures.append(GateFailure(t.metric, v, t))
    return failures


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="q", file=sys.stderr, dynamic_ncols=True)


def ensure_index(config) -> str:
    """Ingest sources/ into the index incrementally (creates it on a fresh clone). Returns a note."""
    from ingest.pipeline import run_ingest

    report = run_ingest([SOURCES], config, progress=sys.stderr.isatty())
    changed = len(report.added) + len(report.changed) + len(report.removed)
    return f"sources/ ingested: {report.summary()}" if changed else ""


def ask_all(assistant, questions, progress: bool = True):
    from eval.metrics import QuestionRun

    runs = []
    bar = _progress_bar(len(questions), "asking") if progress else None
    for q in questions:
        answer = assistant.ask(q.question, history=q.history_dicts(), id=q.id)
        retrieval = assistant.retriever.search(answer.searched_for)
        refs = assistant.index.paragraphs(list(q.paragraph_ids)) if q.paragraph_ids else {}
        runs.append(QuestionRun(
            question=q,
            answer=answer,
            retrieved_ids=[p.paragraph.id for p in retrieval.passages],
            retrieved_texts=[p.paragraph.text for p in retrieval.passages],
            reference_texts=[refs[pid].text for pid in q.paragraph_ids],
        ))
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return runs


def _shown(path: Path) -> str:
    """A path as the report shows it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def describe_answerer(config) -> str:
    if config.uses_llm:
        return f"LLM answerer: {config.llm_model} at {config.llm_base_url} (citation-checked)"
    return "extractive answerer (no LLM)"


def run(args) -> int:
    from assistant.config import Config
    from assistant.core import Assistant
    from eval import metrics
    from eval.report import ReportData, write_report

    split = args.split
    limit = getattr(args, "limit", None)
    judge_url = getattr(args, "judge_url", None)
    thresholds_path = Path(getattr(args, "thresholds", None) or os.environ.get("ASSISTANT_EVAL_THRESHOLDS") or DEFAULT_THRESHOLDS)
    questions_path = Path(getattr(args, "questions", None) or DATASET_PATH)
    other_questions = questions_path.resolve() != DATASET_PATH.resolve()
    if args.gate and (split != "test" or other_questions):
        print("error: the gate is defined on the test split of the evaluation set (use --split test, no --questions)", file=sys.stderr)
        return 2
    if limit is not None and limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        questions = load_questions(questions_path, split=split)
        thresholds = load_thresholds(thresholds_path)
    except (DatasetError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if limit is not None:
        questions = questions[:limit]

    started = time.perf_counter()
    config = Config.from_env(data_dir=args.data_dir)
    notes = [n for n in [ensure_index(config)] if n]
    if other_questions:
        notes.append(f"questions from {questions_path}, not the evaluation set")
    assistant = Assistant.open(config=config)

    documents = assistant.index.documents()
    known = {p.id for d in documents for p in assistant.index.paragraphs_of(d.id)}
    missing = unknown_paragraphs(questions, known)
    if missing:
        print(f"error: {len(missing)} reference paragraph(s) of the set are not in the index at {config.data_dir}, "
              f"e.g. {missing[0][1]} ({missing[0][0]}): the set no longer matches sources/", file=sys.stderr)
        return 1
    source_ids = {d.id for d in documents if d.path.startswith(str(SOURCES.resolve()))}
    extra = [d.id for d in documents if d.id not in source_ids]
    if extra:
        notes.append(f"the index also holds {len(extra)} document(s) not in sources/ ({', '.join(extra[:5])}); "
                     "they compete in retrieval, so figures are not comparable with a sources-only index")

    runs = ask_all(assistant, questions)
    bar = _progress_bar(len(runs), "scoring")
    scores, alce_results = metrics.offline_scores(runs, assistant.embedder, progress=bar.update, index=assistant.index,
                                                  verifier=assistant.verifier)
    bar.close()

    judge_settings, judge_failures = None, []
    if judge_url:
        judge_settings = metrics.JudgeSettings(
            base_url=judge_url, model=args.judge_model or "default",
            api_key=os.environ.get("ASSISTANT_JUDGE_API_KEY", "not-needed"),
            json_schema=os.environ.get("ASSISTANT_JUDGE_JSON_SCHEMA", "") not in ("", "0", "false", "no"),
        )
        bar = _progress_bar(len(runs), "judging")
        judge, judge_failures = metrics.judge_scores(runs, judge_settings, assistant.embedder, progress=bar.update)
        bar.close()
        scores.update(judge)

    summaries = metrics.summarise_all(scores)
    gate_failures = check_gate(summaries, thresholds) if args.gate else []
    if args.gate and limit is not None:
        notes.append(f"gated on the first {limit} questions only (--limit)")

    data = ReportData(
        split=split,
        questions=len(questions),
        limit=limit,
        started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=f"{platform.node() or 'unknown'} ({platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()})",
        answerer=describe_answerer(config),
        top_k=config.top_k,
        runs=runs,
        scores=scores,
        alce=alce_results,
        summaries=summaries,
        thresholds=thresholds,
        thresholds_path=_shown(thresholds_path),
        gate_ran=bool(args.gate),
        gate_failures=gate_failures,
        judge=judge_settings.describe() if judge_settings else None,
        judge_failures=judge_failures,
        notes=notes,
        seconds=time.perf_counter() - started,
    )
    paths = write_report(Path(args.report), data)

    print_summary(summaries, thresholds)
    print(f"report: {', '.join(str(p) for p in paths)}")
    if args.gate:
        if gate_failures:
            print(f"gate FAILED on the {split} split ({thresholds_path}):", file=sys.stderr)
            for failure in gate_failures:
                print(f"  {failure}", file=sys.stderr)
            return 1
        print(f"gate passed: every figure within its threshold ({thresholds_path})")
    return 0


def print_summary(summaries, thresholds: list[Threshold]) -> None:
    bounds = {t.metric: t for t in thresholds}
    print(f"{'metric':<24} {'value':>6}  {'95% CI':<15} {'n':>4} {'NaN':>4}  threshold")
    for s in summaries:
        t = bounds.get(s.name)
        bound = f"{'>=' if t.kind == 'floor' else '<='} {t.bound:.3f}" if t else ""
        ci = f"[{s.low:.3f}, {s.high:.3f}]" if not math.isnan(s.low) else "-"
        value = f"{s.value:.3f}" if not math.isnan(s.value) else "NaN"
        print(f"{s.name:<24} {value:>6}  {ci:<15} {s.n:>4} {s.n_nan:>4}  {bound}")
