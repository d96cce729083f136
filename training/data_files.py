"""Training data files: which files a path names, reading them (plain, gzip or xz JSON lines), their
hashes, and which documents of the in-domain data are held out.

A path may be one file or a folder; a folder gives the files whose records have the shape asked for
(SQuAD-style questions, NLI pairs, in-domain claims), so one folder can hold several kinds. WikiQA is
never read: its licence (Microsoft Research Data License) forbids use in a shipped product, so a
file whose name says WikiQA is refused even when named on its own. The hash of a compressed file is
that of its content, so a staged copy (training/gpu_stage.py) is recorded as the file it copies.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import random
from pathlib import Path

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.xz")
EXCLUDED_BY_LICENCE = ("wikiqa",)  # names (lower case) of data that must never train a shipped model


class TrainingDataError(ValueError):
    """The training folder is missing, is a benchmark, or a file in it is malformed."""


def open_data(path: Path, mode: str = "rt"):
    """A file opened for reading, decompressed when its name says .gz or .xz."""
    path = Path(path)
    encoding = "utf-8" if "t" in mode else None
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, mode, encoding=encoding)
    if path.name.lower().endswith(".xz"):
        return lzma.open(path, mode, encoding=encoding)
    return path.open(mode, encoding=encoding)


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    """The records of a JSON-lines file (plain, .gz or .xz); the first `limit` when given."""
    rows = []
    with open_data(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{Path(path).name} line {number}: not JSON ({exc})") from exc
            if limit and len(rows) >= limit:
                break
    return rows


def sha256_of(path: Path) -> str:
    """sha256 of the file's content (decompressed for .gz and .xz)."""
    digest = hashlib.sha256()
    with open_data(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def plain_name(path: Path) -> str:
    """The file's name without a compression suffix (`a.jsonl.gz` -> `a.jsonl`)."""
    name = Path(path).name
    for suffix in (".gz", ".xz"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def excluded_by_licence(path: Path) -> bool:
    return any(word in Path(path).name.lower() for word in EXCLUDED_BY_LICENCE)


def _first_record(path: Path) -> dict:
    rows = read_jsonl(path, limit=1)
    return rows[0] if rows else {}


def data_files(paths: list[str | Path], shape: tuple[str, ...], log=None) -> list[Path]:
    """The JSON-lines files that `paths` name (files, or folders read for files) whose first record
    has every field of `shape`, in a stable order. WikiQA files are left out (and said so in `log`)."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise TrainingDataError(f"{path} does not exist")
        candidates = sorted(p for p in path.iterdir() if p.name.endswith(JSONL_SUFFIXES)) if path.is_dir() else [path]
        for candidate in candidates:
            if excluded_by_licence(candidate):
                if log:
                    log(f"left out {candidate.name}: its licence forbids training a shipped model on it")
                continue
            record = _first_record(candidate)
            if all(key in record for key in shape):
                found.append(candidate)
            elif not path.is_dir():
                raise TrainingDataError(f"{candidate} does not hold records with the fields {', '.join(shape)}")
    return list(dict.fromkeys(found))


def held_out_documents(documents, count: int, seed: int) -> list[str]:
    """A seeded choice of `count` documents of the in-domain data for validation. The same documents
    for the reader and the verifier (both draw from the sorted names with the same seed), so neither
    is measured on a document the other trained on."""
    ordered = sorted(set(documents))
    if count <= 0 or len(ordered) < 2:
        return []
    random.Random(f"held-out documents {seed}").shuffle(ordered)
    return sorted(ordered[: min(count, len(ordered) - 1)])
