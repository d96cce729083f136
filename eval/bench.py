"""`assistant bench ...`: dispatch to the benchmarks, print and record their results (the helpers the
benchmarks share are in eval/bench_common.py, which imports none of them).

    assistant bench scifact PATH     retrieval quality on BEIR SciFact     (eval/bench_retrieval.py)
    assistant bench squad2 PATH      answer-or-abstain on SQuAD 2.0        (eval/bench_squad.py)
    assistant bench ingest PATH      ingest throughput against raw encode  (eval/bench_speed.py)
    assistant bench ingest-quality DIR  titles, split sentences, debris, pages (eval/bench_ingest_quality.py)
    assistant bench policy-qa DIR    the policy corpus's questions, scored by evidence quotes (eval/policy_qa.py)
    assistant bench claims [FILE]    the citation check on claims written blind, and its speed (eval/bench_claims.py)
    assistant bench ask [PATH]       warm ask latency, per stage           (eval/bench_speed.py)
    assistant bench startup          cold start of `python app.py`         (eval/bench_speed.py)
    assistant bench batch ...        batch answering                       (assistant/batch/bench.py)

Every benchmark prints a table of figures and, with --out DIR, writes them as JSON (with the machine
and the date) to DIR/<name>.json, beside any run files; those that define a section (ingest-quality,
policy-qa) append it to docs/benchmarks.md with --record. Expensive intermediate results (embeddings)
are cached under --cache (default ~/.cache/cited-assistant/bench), never in the repository.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np

from eval.bench_common import BenchInputError, BenchResult, out_dir

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_FILE = ROOT / "docs" / "benchmarks.md"


def machine() -> dict:
    """The machine the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "load_average_1_5_15": load,  # other processes share the cores: figures taken under load vary
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _jsonable(value):
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def report(result: BenchResult, args) -> int:
    """Print the tables; with --out, write DIR/<name>.json. Returns the exit code."""
    info = machine()
    print(f"# bench {result.name} — {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, "
          f"load {info['load_average_1_5_15']}, {info['date']}\n")
    for table in result.tables:
        print(table.render())
        print()
    folder = out_dir(args)
    if folder is not None:
        path = folder / f"{result.name}.json"
        payload = {"benchmark": result.name, "machine": info, "command": " ".join(["assistant", *sys.argv[1:]]) if sys.argv else "",
                   "figures": _jsonable(result.figures), "files": result.files}
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        result.files.append(str(path))
    for f in result.files:
        print(f"wrote {f}")
    return 0 if result.ok else 1


def commit_id() -> str:
    """`git describe` of the working tree the figures were measured on ("unknown" outside a checkout)."""
    import subprocess

    try:
        described = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return described.stdout.strip() or "unknown"


def record(result: BenchResult, path: Path | None = None) -> Path:
    """Append `result`'s section to docs/benchmarks.md: its heading with the date and commit, its description
    with the machine, then its recorded tables."""
    path = path or BENCHMARKS_FILE
    info = machine()
    lines = ["", f"## {result.record_heading} ({info['date'][:10]}, commit {commit_id()})", "",
             f"{result.record_description} Measured {info['date']} on {info['cpu']}, {info['cores']} cores, "
             f"{info['memory_gib']} GiB, Python {info['python']}, load average {info['load_average_1_5_15']}.", ""]
    for table in result.tables[: result.recorded_tables]:
        lines += [table.render().replace("## ", "### ", 1), ""]
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return path


def run(args) -> int:
    which = args.which
    if which == "batch":
        from assistant.batch.bench import bench_batch

        return bench_batch(args)
    if which == "scifact":
        from eval.bench_retrieval import bench_scifact as bench
    elif which == "squad2":
        from eval.bench_squad import bench_squad2 as bench
    elif which == "ingest":
        from eval.bench_speed import bench_ingest as bench
    elif which == "ask":
        from eval.bench_speed import bench_ask as bench
    elif which == "startup":
        from eval.bench_speed import bench_startup as bench
    elif which == "ingest-quality":
        from eval.bench_ingest_quality import bench_ingest_quality as bench
    elif which == "policy-qa":
        from eval.policy_qa import bench_policy_qa as bench
    elif which == "claims":
        from eval.bench_claims import bench_claims as bench
    else:  # argparse's choices make this unreachable from the CLI
        print(f"error: unknown benchmark {which!r}", file=sys.stderr)
        return 2
    try:
        result = bench(args)
    except BenchInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    code = report(result, args)
    if getattr(args, "record", False) and result.record_heading:
        print(f"appended to {record(result)}")
    return code
