"""The evaluation report: a Markdown file (default eval/reports/latest.md), a PNG chart of every
figure with its 95% bootstrap interval (same name, .png), and the per-question details as JSON
(same name, .json) for scripts.

The Markdown holds: the run's settings (split, machine, date, answerer, judge), the figures with
their intervals, counts and NaNs and thresholds, a breakdown by question category, and for the dev
split only the judge's failures and a table of every failed question (question, expected paragraphs,
cited paragraphs, the answer, why it failed), so whoever tunes on dev sees what went wrong. A report
on the test split (or on all questions) holds aggregate figures only, in the Markdown and the JSON:
the test split is frozen, and per-question outcomes would invite tuning on it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from eval.dataset import CATEGORIES
from eval.metrics import SPECS, AlceResult, JudgeFailure, MetricSummary, PerQuestion, QuestionRun, failure_reasons


@dataclass
class ReportData:
    split: str
    questions: int
    limit: int | None
    started: str
    machine: str
    answerer: str
    top_k: int
    runs: list[QuestionRun]
    scores: PerQuestion
    alce: list[AlceResult | None]
    summaries: list[MetricSummary]
    thresholds: list = field(default_factory=list)  # suite.Threshold
    thresholds_path: str = ""
    gate_ran: bool = False
    gate_failures: list = field(default_factory=list)  # suite.GateFailure
    judge: dict | None = None
    judge_failures: list[JudgeFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def per_question(self) -> bool:
        """Whether the report may show each question's outcome: on the dev split only."""
        return self.split == "dev"


def _fmt(x: float) -> str:
    return "NaN" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _cell(text: str, limit: int = 400) -> str:
    """Text made safe for one Markdown table cell."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _ids(ids) -> str:
    return "<br>".join(f"`{i}`" for i in ids) if ids else "—"


def write_chart(path: Path, summaries: list[MetricSummary], thresholds: list) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in summaries if not math.isnan(s.value)]
    bounds = {t.metric: t for t in thresholds}
    height = 0.42 * max(len(shown), 1) + 1.4
    fig, ax = plt.subplots(figsize=(8.5, height), dpi=110)
    colours = {"retrieval": "#3b75af", "answer": "#8e6bb8", "faithfulness": "#3a923a", "refusal": "#d6791f", "judge": "#7f7f7f"}
    for y, s in enumerate(reversed(shown)):
        colour = colours.get(s.spec.group, "#333333")
        low = s.value - s.low if not math.isnan(s.low) else 0
        high = s.high - s.value if not math.isnan(s.high) else 0
        ax.errorbar(s.value, y, xerr=[[max(low, 0)], [max(high, 0)]], fmt="o", color=colour, ecolor=colour, capsize=3, lw=1.5, clip_on=False)
        t = bounds.get(s.name)
        if t is not None:
            ax.plot([t.bound], [y], marker="|", markersize=14, mew=2, color="#c0392b")
        ax.text(1.02, y, f"{s.value:.2f}", va="center", fontsize=8, transform=ax.get_yaxis_transform())
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([s.spec.label + (" (lower is better)" if not s.spec.higher_is_better else "") for s in reversed(shown)], fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("score with 95% bootstrap interval; red bar: gate threshold", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Evaluation figures", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _category_rows(data: ReportData) -> list[str]:
    rows = ["| category | questions | answer/abstain right | cites a paragraph with the answer | ROUGE-L |",
            "|---|---:|---:|---:|---:|"]
    for category in CATEGORIES:
        idx = [i for i, r in enumerate(data.runs) if r.question.category == category]
        if not idx:
            continue
        right = sum(data.runs[i].abstained != data.runs[i].question.answerable for i in idx)
        ans = [i for i in idx if data.runs[i].question.answerable]
        cites = sum(1 for i in ans if not data.runs[i].abstained and data.runs[i].cites_reference)
        rouge = [data.scores["rouge_l"][i].value for i in ans if data.scores["rouge_l"][i] is not None and not data.scores["rouge_l"][i].is_nan]
        rows.append(f"| {category} | {len(idx)} | {right}/{len(idx)} | {f'{cites}/{len(ans)}' if ans else '—'} | "
                    f"{_fmt(sum(rouge) / len(rouge)) if rouge else '—'} |")
    return rows


def render_markdown(data: ReportData, chart_name: str) -> str:
    bounds = {t.metric: t for t in data.thresholds}
    failed_names = {f.metric for f in data.gate_failures}
    out = [f"# Evaluation report: {data.split} split", ""]
    out += [
        f"- Date: {data.started}; machine: {data.machine}; run took {data.seconds:.0f} s.",
        f"- Questions: {data.questions}" + (f" (first {data.limit} only, --limit)" if data.limit else "")
        + f"; answerer: {data.answerer}; top_k = {data.top_k}.",
        "- Intervals: 95% percentile bootstrap over questions, 1000 resamples, fixed seed.",
    ]
    if data.judge:
        out.append("- Judge: " + ", ".join(f"{k} = {v}" for k, v in data.judge.items()) + ".")
    else:
        out.append("- Judge: none (offline metrics only; pass --judge-url for ragas Faithfulness, ResponseRelevancy, FactualCorrectness).")
    if data.gate_ran:
        verdict = "FAILED: " + "; ".join(str(f) for f in data.gate_failures) if data.gate_failures else "passed"
        out.append(f"- Gate ({data.thresholds_path}): {verdict}.")
    for note in data.notes:
        out.append(f"- Note: {note}")
    out += ["", f"![figures with 95% intervals]({chart_name})", "", "## Figures", ""]
    out += ["| metric | value | 95% CI | n | NaN | population | threshold |", "|---|---:|---|---:|---:|---|---|"]
    for s in data.summaries:
        t = bounds.get(s.name)
        bound = (f"{'≥' if t.kind == 'floor' else '≤'} {t.bound:.3f}" + (" **FAILED**" if s.name in failed_names else "")) if t else ""
        direction = "" if s.spec.higher_is_better else " (lower is better)"
        out.append(f"| {s.spec.label}{direction} | {_fmt(s.value)} | [{_fmt(s.low)}, {_fmt(s.high)}] | {s.n} | {s.n_nan} | "
                   f"{s.spec.population} | {bound} |")
    out += ["", "Definitions: see the docstring of eval/metrics.py. ALCE citation recall/precision use the citation "
            "check of assistant/verify.py as the support criterion (no NLI model offline).", ""]
    out += ["## By category", ""] + _category_rows(data) + [""]

    if not data.per_question:
        out += ["## Per-question detail", "",
                f"Not shown for the {data.split} split: it holds aggregate figures only, so nobody tunes on test "
                f"questions ({len(data.judge_failures)} judge failures counted as NaN). Run `--split dev` for the detail.", ""]
        return "\n".join(out)

    if data.judge is not None:
        out += ["## Judge failures (counted as NaN)", ""]
        if data.judge_failures:
            out += ["| question | metric | error |", "|---|---|---|"]
            out += [f"| {f.question_id} | {f.metric} | {_cell(f.error, 200)} |" for f in data.judge_failures]
        else:
            out.append("None.")
        out.append("")

    failures = [(r, failure_reasons(r, a)) for r, a in zip(data.runs, data.alce)]
    failures = [(r, why) for r, why in failures if why]
    out += [f"## Failures ({len(failures)} of {len(data.runs)} questions)", ""]
    if failures:
        out += ["| id | category | question | expected paragraphs | cited paragraphs | answer | why |", "|---|---|---|---|---|---|---|"]
        for r, why in failures:
            q = r.question
            question = q.question
            if q.history:
                question = f"(after “{q.history[0].content}”) {question}"
            out.append(f"| {q.id} | {q.category} | {_cell(question, 250)} | {_ids(q.paragraph_ids)} | {_ids(r.cited_ids)} | "
                       f"{_cell(('[abstained] ' if r.abstained else '') + r.answer.answer)} | {_cell('; '.join(why), 200)} |")
    else:
        out.append("None.")
    out.append("")
    return "\n".join(out)


def to_json(data: ReportData) -> dict:
    """The report for scripts; the judge failures and each question's outcome on the dev split only."""
    aggregate = {
        "split": data.split, "questions": data.questions, "limit": data.limit, "date": data.started,
        "machine": data.machine, "answerer": data.answerer, "judge": data.judge, "notes": data.notes,
        "metrics": {s.name: {"value": s.value, "low": s.low, "high": s.high, "n": s.n, "nan": s.n_nan,
                             "population": s.n_population} for s in data.summaries},
        "gate": {"ran": data.gate_ran, "failures": [str(f) for f in data.gate_failures]},
        "judge_failure_count": len(data.judge_failures),
    }
    if not data.per_question:
        return aggregate
    return aggregate | {
        "judge_failures": [f.__dict__ for f in data.judge_failures],
        "questions_detail": [
            {
                "id": r.question.id, "category": r.question.category, "answerable": r.question.answerable,
                "abstained": r.abstained, "expected": list(r.question.paragraph_ids), "cited": r.cited_ids,
                "retrieved": r.retrieved_ids, "answer": r.answer.answer, "searched_for": r.answer.searched_for,
                "scores": {name: (None if vals[i] is None else vals[i].value) for name, vals in data.scores.items()},
                "failures": failure_reasons(r, a),
            }
            for i, (r, a) in enumerate(zip(data.runs, data.alce))
        ],
    }


def _json_safe(obj):
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def write_report(path: Path, data: ReportData) -> list[Path]:
    """Write PATH (Markdown), PATH.png and PATH.json; returns the three paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    chart = write_chart(path.with_suffix(".png"), [s for s in data.summaries if s.spec in SPECS], data.thresholds)
    path.write_text(render_markdown(data, chart.name), encoding="utf-8")
    json_path = path.with_suffix(".json")
    json_path.write_text(json.dumps(_json_safe(to_json(data)), indent=1, ensure_ascii=False), encoding="utf-8")
    return [path, chart, json_path]
