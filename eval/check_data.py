"""Checks written data against the documents it quotes: every evidence quote, context and premise must
occur in its document's text (whitespace, quotes, dashes and line-break hyphens normalised), and every
answer string in its context.

    python -m eval.check_data --docs ../shared/bench/policy-corpus/docs FILE.jsonl [FILE.jsonl ...]

A record names its document by file name in `doc` (or per quote, in `evidence: [{"doc", "quote"}]`).
The documents' text is what a writer reads: `pdftotext -layout` for PDFs (poppler-utils), the file
itself for Markdown and text, the visible text for HTML. Exits 1 and lists each failure when any
quote is not found. This module owns the check only; the data lives in eval/data and training/data.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-",
                         "‐": "-", "‑": "-", "−": "-", "\u00a0": " ", "\u00ad": ""})


def normalise(text: str) -> str:
    """Case-folded text with one kind of quote, dash and space; Markdown escapes, emphasis marks and
    line-break hyphens ("com-\\nmunity") removed; whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|>~])", r"\1", text)
    text = text.replace("**", "").replace("__", "")
    text = re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def _squash(text: str) -> str:
    """A looser form for text rejoined across layout: no spaces or hyphens at all."""
    return re.sub(r"[\s\-]+", "", text)


@lru_cache(maxsize=None)
def document_text(path: str) -> tuple[str, str]:
    """(normalised text, squashed text) of one document."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".pdf":
        raw = subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True, check=True).stdout
        raw += "\n" + subprocess.run(["pdftotext", str(p), "-"], capture_output=True, text=True, check=True).stdout
    elif suffix in (".html", ".htm"):
        from bs4 import BeautifulSoup

        raw = BeautifulSoup(p.read_text(encoding="utf-8", errors="replace"), "html.parser").get_text("\n")
    else:
        raw = p.read_text(encoding="utf-8", errors="replace")
    text = normalise(raw)
    return text, _squash(text)


def found(quote: str, doc_path: Path) -> bool:
    text, squashed = document_text(str(doc_path))
    q = normalise(quote)
    return bool(q) and (q in text or _squash(q) in squashed)


def quotes_of(record: dict) -> list[tuple[str, str]]:
    """(document file name, quoted text) pairs a record asserts occur in its documents."""
    pairs = []
    doc = record.get("doc") or ""
    for item in record.get("evidence") or []:
        pairs.append((item.get("doc") or doc, item.get("quote") or ""))
    for key in ("context", "previous_context", "premise"):
        if record.get(key):
            pairs.append((doc, record[key]))
    return pairs


def check_record(record: dict, docs: Path, sources: Path | None = None) -> list[str]:
    problems = []
    for doc, quote in quotes_of(record):
        if not doc:
            problems.append("no document named")
            continue
        path = docs / doc
        if not path.exists() and sources is not None:
            path = sources / doc
        if not path.exists():
            problems.append(f"document {doc} not found")
        elif not found(quote, path):
            problems.append(f"not in {doc}: {quote[:90]!r}")
    context = record.get("context")
    for answer in record.get("answers") or []:
        if context is not None and normalise(answer) not in normalise(context):
            problems.append(f"answer not in context: {answer!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[2] / "shared/bench/policy-corpus/docs")
    parser.add_argument("--sources", type=Path, default=Path(__file__).resolve().parents[1] / "sources",
                        help="second folder searched for documents (the bundled sources)")
    args = parser.parse_args(argv)
    failures = total = 0
    for file in args.files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            total += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                print(f"{file}:{number}: not JSON ({exc})")
                failures += 1
                continue
            problems = check_record(record, args.docs, args.sources)
            for problem in problems:
                print(f"{file}:{number} {record.get('id', '')}: {problem}")
            failures += bool(problems)
    print(f"{total - failures} of {total} records checked out")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
