"""What the benchmarks (eval/bench_*.py, eval/policy_qa.py) share: their result and table records, the
input error, the --path/--cache/--out folders, cached embeddings, percentiles and JSON-lines reading.

It imports no benchmark, so each benchmark and the dispatcher (eval/bench.py) import it without a circle.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: eval/load_test.py needs only percentile
    import numpy as np

DEFAULT_CACHE = Path("~/.cache/cited-assistant/bench").expanduser()


class BenchInputError(Exception):
    """The benchmark cannot run on what it was given (missing data folder, wrong layout)."""


def require_path(args, what: str, default: str | None = None) -> Path:
    raw = getattr(args, "path", None) or default
    if not raw:
        raise BenchInputError(f"`assistant bench {args.which}` needs PATH: {what}")
    path = Path(raw).expanduser()
    if not path.exists():
        raise BenchInputError(f"{path} does not exist ({what})")
    return path


@dataclass
class Table:
    """A printed table: a title, column headers, rows of cells (numbers are formatted on print)."""

    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    note: str = ""

    def add(self, *cells) -> None:
        self.rows.append(list(cells))

    def render(self) -> str:
        def fmt(cell) -> str:
            if cell is None:
                return "-"
            if isinstance(cell, float):
                return f"{cell:.3f}" if abs(cell) < 10 else f"{cell:.1f}"
            return str(cell)

        cells = [[fmt(c) for c in row] for row in self.rows]
        widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(self.headers)]
        lines = [f"## {self.title}", ""]
        lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(self.headers, widths)) + " |")
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in cells:
            lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)


@dataclass
class BenchResult:
    """What one benchmark produced: figures (JSON-able), the tables to print, files written."""

    name: str
    figures: dict
    tables: list[Table] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    ok: bool = True
    # What `--record` appends to docs/benchmarks.md: a section with this heading and description, then the
    # first `recorded_tables` tables (the rest, e.g. per-document tables, stay in the printed output and JSON).
    record_heading: str = ""
    record_description: str = ""
    recorded_tables: int = 0


def cache_dir(args) -> Path:
    folder = Path(getattr(args, "cache", None) or DEFAULT_CACHE).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def out_dir(args) -> Path | None:
    if not getattr(args, "out", None):
        return None
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fingerprint(*parts: str) -> str:
    """A short stable key for cache files (model name, the texts encoded...)."""
    h = hashlib.sha1()
    for part in parts:
        h.update(part.encode("utf-8", "replace"))
        h.update(b"\0")
    return h.hexdigest()[:16]


@dataclass
class Encoded:
    vectors: np.ndarray
    seconds: float  # time the encoding took (when it was computed, possibly in an earlier run)
    cached: bool


def cached_encode(embedder, texts: list[str], cache: Path, label: str, batch_size: int = 32, quiet: bool = False) -> Encoded:
    """Embedder.encode(texts), cached as an .npy (plus a .json with the time it took) keyed by the
    model and the exact texts."""
    import time

    import numpy as np

    key = fingerprint(embedder.name, str(batch_size), *texts)
    path = cache / f"{label}-{key}.npy"
    meta = path.with_suffix(".json")
    if path.exists():
        vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            seconds = json.loads(meta.read_text()).get("seconds", float("nan")) if meta.exists() else float("nan")
            return Encoded(vectors, seconds, True)
    if not quiet:
        print(f"encoding {len(texts):,} texts ({label}); cached in {path}", file=sys.stderr, flush=True)
    embedder.model  # load the model first: its loading is not encoding time
    started = time.perf_counter()
    vectors = embedder.encode(texts, batch_size=batch_size)
    seconds = time.perf_counter() - started
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    meta.write_text(json.dumps({"seconds": seconds, "texts": len(texts), "model": embedder.name, "batch_size": batch_size}))
    return Encoded(vectors, seconds, False)


def percentile(values, q: float) -> float | None:
    """The q-th percentile of `values` (linear interpolation, as numpy's), None when there are none."""
    if len(values) == 0:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file (blank lines skipped)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
