"""The batch benchmark: `assistant bench batch [CORPUS] [--limit N] [--out FILE]`.

Answers N (default 200) distinct questions about the corpus (default: the bundled sources/, indexed
into a temporary folder unless --data-dir holds an index) through the whole batch path: a .csv read,
every question answered and checkpointed, the .xlsx and the .docx written. Models are loaded (and one
question answered) before the clock starts. Reports questions/s with 1 worker and with 2, and writes
them into the "## Batch" section of docs/benchmarks.md (or --out), replacing that section only.

The questions are made from the corpus itself, deterministically: topics (names and recurring word
pairs) put into a few question templates, plus one in ten about things the corpus does not cover.
"""

from __future__ import annotations

import csv
import os
import platform
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Batch"

TEMPLATES = (
    "What do the sources say about {t}?",
    "Why does {t} matter?",
    "Who is responsible for {t}?",
    "What is the role of {t}?",
    "How should {t} change?",
    "What has been said about {t} recently?",
)
OFF_TOPIC = (
    "the boiling point of water", "the population of Canada", "quantum computing", "the rules of cricket",
    "the price of gold", "volcanoes in Iceland", "the history of jazz", "electric car batteries",
    "the orbit of Mars", "medieval castles", "coral reefs", "the tallest mountain in Africa",
    "chess openings", "the speed of sound", "sourdough baking", "deep sea fishing", "the Roman calendar",
    "solar eclipses", "tax on whisky", "penguin migration",
)
STOP = set("""a an the and or of to in on for with by at from as is are was were be been being it its this that these
those there their they them he she his her we our you your i not no but if so than then into about over under
more most less such can could should would will may might must do does did have has had also which who whom
what when where why how all any each other some many much very just only own same too up out new one two""".split())


@dataclass
class BenchFigure:
    workers: int
    questions: int
    seconds: float
    load: float = 0.0  # the 1-minute load average when the run started (other work on the machine)

    @property
    def per_second(self) -> float:
        return self.questions / self.seconds if self.seconds else 0.0


def bench_questions(index, n: int) -> list[str]:
    """n distinct questions about the documents in `index` (about one in ten off-topic)."""
    names: Counter = Counter()
    pairs: Counter = Counter()
    for document in index.documents():
        for paragraph in index.paragraphs_of(document.id):
            text = paragraph.text
            # Topic phrases, not assistant.text.name_phrases: titles joined by "of" ("Secretary of
            # State") count and sentence starts do not; kept as measured, so the benchmark's question
            # set (docs/benchmarks.md) stays the same.
            for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+(?:of\s+)?[A-Z][A-Za-z]+){1,3})\b", text):
                names[m.group(1)] += 1
            words = re.findall(r"[a-z][a-z\-]{2,}", text.lower())
            for a, b in zip(words, words[1:]):
                if a not in STOP and b not in STOP:
                    pairs[f"{a} {b}"] += 1
    topics = [t for t, _ in names.most_common()] + [t for t, c in pairs.most_common() if c >= 2]
    topics += [t for t, c in pairs.most_common() if c < 2]
    questions: list[str] = []
    seen: set[str] = set()
    off = iter(OFF_TOPIC * (n // len(OFF_TOPIC) + 1))
    templates_round = 0
    while len(questions) < n and templates_round < len(TEMPLATES):
        for topic in topics:
            if len(questions) >= n:
                break
            if len(questions) % 10 == 9:
                topic_text = next(off)
                template = TEMPLATES[(len(questions) // 10 + templates_round) % len(TEMPLATES)]
            else:
                topic_text = topic
                template = TEMPLATES[(hash_index(topic) + templates_round) % len(TEMPLATES)]
            q = template.format(t=topic_text)
            if q.casefold() not in seen:
                seen.add(q.casefold())
                questions.append(q)
        templates_round += 1
    return questions[:n]


def hash_index(text: str) -> int:
    """A stable small hash (Python's hash() changes between runs)."""
    return sum(ord(ch) for ch in text)


def _open_assistant(args):
    from assistant.config import Config
    from assistant.core import Assistant
    from assistant.errors import IndexNotReady

    data_dir = getattr(args, "data_dir", None)
    corpus = Path(getattr(args, "path", None) or ROOT / "sources")
    if data_dir:
        try:
            return Assistant.open(config=Config.from_env(data_dir=data_dir).replace(llm_base_url=None)), None
        except IndexNotReady:
            pass
    from ingest.pipeline import run_ingest

    data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="assistant-bench-batch-"))
    config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None)
    t = time.perf_counter()
    run_ingest([corpus], config, progress=False)
    print(f"indexed {corpus} in {time.perf_counter() - t:.1f} s")
    return Assistant.open(config=config), corpus


def run_once(assistant, questions_csv: Path, work: Path, workers: int) -> BenchFigure:
    from assistant.batch.readers import read_questions
    from assistant.batch.runner import run_batch
    from assistant.batch.writers import write_output

    load = os.getloadavg()[0]
    started = time.perf_counter()
    questions = read_questions(questions_csv)
    result = run_batch(assistant, questions, work / f"w{workers}.checkpoint.jsonl", workers=workers, force=True)
    write_output(result, work / f"w{workers}.xlsx")
    write_output(result, work / f"w{workers}.docx")
    seconds = time.perf_counter() - started
    assert len(result.rows) == len(questions.questions) and result.counts()["failed"] == 0, result.summary()
    return BenchFigure(workers, len(result.rows), seconds, load)


def record(figures: list[BenchFigure], n: int, answered: int, abstained: int, path: Path) -> None:
    """Replace (or append) the "## Batch" section of the benchmarks file."""
    cores = os.cpu_count() or 0
    lines = [
        SECTION,
        "",
        f"`assistant bench batch`: {n} distinct questions made from the bundled corpus (one in ten off-topic), "
        f"extractive answerer (no LLM), through the whole batch path (read a .csv, answer and checkpoint each "
        f"question, write the .xlsx and the .docx); models loaded before the clock starts.",
        "",
        "| date | machine | load (1 min) | workers | questions | seconds | questions/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        lines.append(f"| {date.today().isoformat()} | {cores} cores, {platform.machine()}, Python {platform.python_version()} "
                     f"| {f.load:.1f} | {f.workers} | {f.questions} | {f.seconds:.1f} | {f.per_second:.1f} |")
    lines += ["", f"Of the {n}: {answered} answered, {abstained} abstained (not in the sources). The load column is the machine's "
              "1-minute load average when the run started: on a shared machine the figures move with it. "
              "`--workers` pays off most with an LLM server, where each question waits on the network.", ""]
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION + "\n")
    if start < 0 and text.endswith(SECTION):
        start = len(text) - len(SECTION)
    section = "\n".join(lines) + "\n"  # a blank line before the next section
    if start >= 0:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def bench_batch(args) -> int:
    n = getattr(args, "limit", None) or 200
    given = getattr(args, "out", None)
    # --out FILE.md takes the section; --out FOLDER (as for the other benchmarks) gets batch.json beside it
    out = Path(given) if given and str(given).endswith(".md") else ROOT / "docs" / "benchmarks.md"
    folder = Path(given) if given and not str(given).endswith(".md") else None
    assistant, _ = _open_assistant(args)
    assistant.warm_up()
    questions = bench_questions(assistant.index, n)
    if len(questions) < n:
        print(f"the corpus gives only {len(questions)} distinct questions")
    with tempfile.TemporaryDirectory(prefix="assistant-bench-batch-") as tmp:
        work = Path(tmp)
        questions_csv = work / "questions.csv"
        with open(questions_csv, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["id", "question"])
            for i, q in enumerate(questions, start=1):
                writer.writerow([f"b{i}", q])
        figures = []
        for workers in (1, 2):
            figure = run_once(assistant, questions_csv, work, workers)
            figures.append(figure)
            print(f"batch, {workers} worker{'s' if workers > 1 else ''}: {figure.questions} questions in "
                  f"{figure.seconds:.1f} s = {figure.per_second:.1f} questions/s")
        from assistant.batch.checkpoint import Checkpoint

        entries = Checkpoint(work / "w1.checkpoint.jsonl").load().values()
        answered = sum(1 for e in entries if e.answer is not None and not e.answer.abstained)
        abstained = sum(1 for e in entries if e.answer is not None and e.answer.abstained)
    record(figures, len(questions), answered, abstained, out)
    print(f"recorded in {out}")
    if folder is not None:
        import json

        folder.mkdir(parents=True, exist_ok=True)
        (folder / "batch.json").write_text(json.dumps({
            "date": date.today().isoformat(), "cores": os.cpu_count(), "answered": answered, "abstained": abstained,
            "runs": [{"workers": f.workers, "questions": f.questions, "seconds": round(f.seconds, 2),
                      "questions_per_s": round(f.per_second, 2), "load": round(f.load, 2)} for f in figures],
        }, indent=2))
        print(f"figures in {folder / 'batch.json'}")
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out")
    parser.add_argument("--data-dir")
    raise SystemExit(bench_batch(parser.parse_args()))
