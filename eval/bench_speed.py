"""Speed benchmarks: `assistant bench ingest PATH`, `assistant bench ask [PATH]`, `assistant bench startup`.

- ingest: paragraphs/s of `ingest.pipeline.run_ingest` on PATH into a fresh data folder, and in the
  same run the raw encode throughput of the same Embedder on the same paragraph texts (and on the
  same sentence texts, which is what ingest actually encodes); their ratio is the pipeline's overhead
  (target >= 85%). Then the time of a no-change re-ingest (target < 5 s). A parse-only pass
  (load + clean + segment, the product's `parse_document`) first reports parse time and paragraph
  statistics, so a slow or odd loader shows up.
- ask: warm `Assistant.ask` latency (extractive, models loaded, after a warm-up round) p50/p95, with
  the per-stage breakdown of Answer.timings_ms (embed, dense, bm25, rescore, fuse, read, compose), over a fixed
  question list and several rounds; on the bundled sources by default, or on PATH (a data folder,
  or a corpus folder ingested into the bench cache). Targets: p50 <= 60 ms bundled, <= 150 ms on
  the Python documentation.
- startup: cold start of `python app.py` (a fresh process, index already built) until GET /readyz
  answers 200, and until it reports `"warm": true` (models loaded by the server's warm-up).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.bench_common import BenchInputError, BenchResult, Table, cache_dir, fingerprint, percentile, require_path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "sources"
TARGET_INGEST_RATIO = 0.85
TARGET_REINGEST_S = 5.0
TARGET_ASK_P50_BUNDLED_MS = 150.0  # with the reader (issue 11); 60 before it
TARGET_ASK_P50_CORPUS_MS = 150.0
STAGES = ("embed", "dense", "bm25", "rescore", "fuse", "read", "decide", "compose", "total")

# Questions on the bundled sources (answerable and not): latency, not quality, is measured here.
BUNDLED_QUESTIONS = [
    "Who is David Dalton?",
    "What did Jeremy Hunt mean by self-directed improvement?",
    "What are the three conditions for Hunt's ideas to work?",
    "How many staff work in the NHS?",
    "What was the aim at Salford Royal?",
    "What does the King's Fund report say about top-down reform?",
    "What should the proper role of politicians be?",
    "What did Ara Darzi argue about targets?",
    "Which organisations were merged to form NHS Improvement?",
    "What did Victoria Atkins do before Christmas?",
    "Why is micromanaging performance limited?",
    "What is sector-led improvement in local government?",
    "What are the dominant approaches to NHS reform over the past 20 years?",
    "What is the Virginia Mason Medical Centre known for?",
    "What did Stephen Dorrell say about operational issues?",
    "What is the report Reforming the NHS from within about?",
    "What questions did NHS Improvement leave unanswered?",
    "What role do integrated care systems play?",
    "How long does continuous improvement take?",
    "What did Don Berwick's report recommend?",
    "Who wrote the Viewpoint publication on NHS Improvement?",
    "What is the snag with the approach used at Salford Royal?",
    "How should leadership style change in the NHS?",
    "What did the Times report about ambulance waits?",
    "What are foundation trusts an example of?",
    "What is pace-setting leadership?",
    "Why will there not be time to answer the key questions later?",
    "What does transparency about NHS performance mean for trusts?",
    "How can well-performing organisations support challenged ones?",
    "What is the world's largest learning organisation?",
    "What should ministers be responsible for?",
    "What do leaders want from NHS Improvement?",
    "How did Salford Royal perform on key indicators?",
    "What is the distinction between NHS trusts and foundation trusts?",
    "What did Chris Ham write about innovation?",
    "What is the capital of Australia?",
    "How do I bake sourdough bread?",
    "What was the NHS budget in 1987?",
    "Who won the 2018 football World Cup?",
    "What is the boiling point of ethanol?",
    "How many beds does Salford Royal have?",
    "What did the health secretary say about social care funding in 2010?",
    "What is the population of Seattle?",
    "How does quantum computing work?",
    "What is the salary of an NHS chief executive?",
    "Which party won the 2015 general election?",
    "What is the Francis report?",
    "What did the report say about competition and choice?",
    "What is buddying between organisations?",
    "Why are regulators impatient?",
]

# Questions for the Python documentation corpus.
PYDOC_QUESTIONS = [
    "How do I read a file line by line?",
    "What does the with statement do?",
    "How do I sort a list of dictionaries by a key?",
    "What is a generator expression?",
    "How do I create a virtual environment?",
    "What is the difference between a list and a tuple?",
    "How do f-strings format numbers?",
    "What does the GIL do?",
    "How do I parse command line arguments?",
    "What is a dataclass?",
    "How do I use asyncio.gather?",
    "What does functools.lru_cache do?",
    "How do I join paths with pathlib?",
    "What exceptions does json.loads raise?",
    "How do I make an HTTP request with urllib?",
    "What is the walrus operator?",
    "How are default argument values evaluated?",
    "What is a context manager?",
    "How do I define an abstract base class?",
    "What does the yield from expression do?",
    "How do I start a subprocess and capture its output?",
    "What is the difference between is and ==?",
    "How does the logging module configure handlers?",
    "What does __slots__ do?",
    "How do I use a regular expression to find all matches?",
    "What is structural pattern matching?",
    "How do I measure execution time with timeit?",
    "What is a coroutine?",
    "How do I copy a dictionary deeply?",
    "What does enumerate return?",
    "How does unittest discover tests?",
    "What is the purpose of __init__.py?",
    "How do I read a CSV file?",
    "What is a named tuple?",
    "How do threads share data safely?",
    "What does the zip function do?",
    "How do I handle keyboard interrupts?",
    "What are type hints and the typing module?",
    "How do I write bytes to a file?",
    "What is the datetime timezone class?",
    "How do I serialise objects with pickle and is it safe?",
    "What does sys.path contain?",
    "How do I use collections.Counter?",
    "What is a descriptor?",
    "How are exceptions chained with raise from?",
    "What changed in Python 3.11?",
    "How do I install packages with pip?",
    "What is the decimal module for?",
    "How do I compress data with gzip?",
    "What is the difference between str and bytes?",
]


# --- ingest ------------------------------------------------------------------------------------


@dataclass
class ParseStats:
    files: int = 0
    parsed: int = 0
    failed: list[str] = field(default_factory=list)
    paragraphs: int = 0
    sentences: int = 0
    words: list[int] = field(default_factory=list)  # per paragraph
    seconds: float = 0.0
    slowest: list[tuple[float, str, int]] = field(default_factory=list)  # (seconds, file, paragraphs)
    longest: list[tuple[int, str]] = field(default_factory=list)  # (words, paragraph id)


def parse_pass(paths: list[Path]) -> ParseStats:
    """Load, clean and segment every file with the product's `parse_document` (no embedding)."""
    from ingest.loaders import UnreadableDocument
    from ingest.pipeline import discover, parse_document, slugify

    files, _ = discover(paths)
    stats = ParseStats(files=len(files))
    timed = []
    longest = []
    for path in files:
        t = time.perf_counter()
        try:
            document = parse_document(path, slugify(path.stem), "default", {}, 50 * 1024 * 1024)
        except UnreadableDocument as exc:
            stats.failed.append(f"{path}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - report, do not stop
            stats.failed.append(f"{path}: {exc.__class__.__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - t
        stats.seconds += elapsed
        stats.parsed += 1
        timed.append((elapsed, str(path), len(document.paragraphs)))
        for p in document.paragraphs:
            n = len(p.text.split())
            stats.words.append(n)
            longest.append((n, p.id))
            stats.sentences += max(1, len(p.sentences))
        stats.paragraphs += len(document.paragraphs)
    stats.slowest = sorted(timed, reverse=True)[:5]
    stats.longest = sorted(longest, reverse=True)[:5]
    return stats


def _limited(path: Path, limit: int | None, scratch: Path) -> Path:
    """PATH itself, or with --limit a folder of symlinks to its first N files (in ingest order)."""
    from ingest.pipeline import discover

    if not limit:
        return path
    files, _ = discover([path])
    root = path if path.is_dir() else path.parent
    folder = scratch / "corpus"
    for f in files[:limit]:
        link = folder / f.relative_to(root)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f.resolve())
    return folder


def bench_ingest(args) -> BenchResult:
    from assistant.config import Config
    from assistant.embedding import get_embedder
    from assistant.index import CATALOG_FILE, Index
    from ingest.pipeline import run_ingest

    source = require_path(args, "a corpus folder, e.g. the Python 3.11 HTML documentation")
    scratch = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    keep_index = bool(getattr(args, "data_dir", None))
    data_dir = Path(args.data_dir) if keep_index else scratch / "index"
    if (data_dir / CATALOG_FILE).exists():
        raise BenchInputError(f"{data_dir} already holds an index: bench ingest needs a fresh data folder")
    try:
        corpus = _limited(source, getattr(args, "limit", None), scratch)
        config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None)
        embedder = get_embedder(config.embed_model_path)

        print("parse pass (load + clean + segment) ...", file=sys.stderr, flush=True)
        parsed = parse_pass([corpus])

        embedder.model  # model loading is start-up, not ingest throughput
        print(f"ingest of {corpus} ...", file=sys.stderr, flush=True)
        # Time the model's own work inside the ingest: the rest is the pipeline's overhead.
        in_encode = {"seconds": 0.0, "texts": 0}
        model_encode = embedder.encode

        def timed_encode(texts, batch_size=32):
            started = time.perf_counter()
            try:
                return model_encode(texts, batch_size=batch_size)
            finally:
                in_encode["seconds"] += time.perf_counter() - started
                in_encode["texts"] += len(texts)

        embedder.encode = timed_encode
        try:
            t, c = time.perf_counter(), time.process_time()
            first = run_ingest([corpus], config, progress=False)
            ingest_s, ingest_cpu = time.perf_counter() - t, time.process_time() - c
        finally:
            del embedder.encode  # back to the class's method

        t = time.perf_counter()
        again = run_ingest([corpus], config, progress=False)
        reingest_s = time.perf_counter() - t

        para_texts: list[str] = []
        sentence_texts: list[str] = []
        raw_para_s = raw_para_cpu = raw_sent_s = raw_sent_cpu = None
        if not getattr(args, "no_raw", False):
            index = Index.open(config, embedder.name)
            paragraphs = [p for d in index.documents() for p in index.paragraphs_of(d.id)]
            para_texts = [p.text for p in paragraphs]
            sentence_texts = [s for p in paragraphs for s in (p.sentence_texts() or [p.text])]
            print(f"raw encode of {len(para_texts):,} paragraphs ...", file=sys.stderr, flush=True)
            t, c = time.perf_counter(), time.process_time()
            embedder.encode(para_texts, batch_size=config.embed_batch_size)
            raw_para_s, raw_para_cpu = time.perf_counter() - t, time.process_time() - c
        if para_texts and getattr(args, "raw_sentences", False):
            print(f"raw encode of {len(sentence_texts):,} sentences ...", file=sys.stderr, flush=True)
            t, c = time.perf_counter(), time.process_time()
            embedder.encode(sentence_texts, batch_size=config.embed_batch_size)
            raw_sent_s, raw_sent_cpu = time.perf_counter() - t, time.process_time() - c
    finally:
        if not keep_index:
            shutil.rmtree(scratch, ignore_errors=True)

    n_par = first.paragraphs_embedded
    ingest_pps = n_par / ingest_s if ingest_s else None
    raw_pps = len(para_texts) / raw_para_s if raw_para_s else None
    raw_sps = len(sentence_texts) / raw_sent_s if raw_sent_s else None
    words = np.array(parsed.words or [0])
    figures = {
        "corpus": str(source), "files": parsed.files, "documents_added": len(first.added),
        "skipped": [f"{s.path}: {s.reason}" for s in first.skipped],
        "paragraphs": n_par, "sentences": first.sentences_embedded,
        "ingest_seconds": ingest_s, "ingest_paragraphs_per_s": ingest_pps,
        "ingest_sentences_per_s": first.sentences_embedded / ingest_s if ingest_s else None,
        "raw_encode_paragraphs_seconds": raw_para_s, "raw_encode_paragraphs_per_s": raw_pps,
        "raw_encode_sentences_seconds": raw_sent_s, "raw_encode_sentences_per_s": raw_sps,
        "ratio_ingest_to_raw_paragraph_encode": ingest_pps / raw_pps if ingest_pps and raw_pps else None,
        "ratio_ingest_to_raw_sentence_encode": raw_sent_s / ingest_s if ingest_s and raw_sent_s else None,
        "target_ratio": TARGET_INGEST_RATIO,
        "encode_seconds_in_ingest": in_encode["seconds"], "texts_encoded_in_ingest": in_encode["texts"],
        "encode_share_of_ingest": in_encode["seconds"] / ingest_s if ingest_s else None,
        # CPU seconds of this process (all threads): steadier than wall time when other processes share the cores.
        "cpu_seconds": {"ingest": ingest_cpu, "raw_encode_paragraphs": raw_para_cpu, "raw_encode_sentences": raw_sent_cpu},
        "ratio_cpu_raw_paragraph_encode_to_ingest": raw_para_cpu / ingest_cpu if ingest_cpu and raw_para_cpu else None,
        "reingest_seconds": reingest_s, "reingest_unchanged": len(again.unchanged), "target_reingest_seconds": TARGET_REINGEST_S,
        "parse_seconds": parsed.seconds, "parse_failed": parsed.failed,
        "paragraph_words": {"mean": float(words.mean()), "p50": float(np.percentile(words, 50)), "p99": float(np.percentile(words, 99)),
                            "max": int(words.max()), "over_256": int((words > 256).sum()), "under_4": int((words < 4).sum())},
        "slowest_parses": [{"seconds": s, "file": f, "paragraphs": n} for s, f, n in parsed.slowest],
        "longest_paragraphs": [{"words": n, "id": pid} for n, pid in parsed.longest],
        "batch_size": config.embed_batch_size, "model": embedder.name,
        "data_dir": str(data_dir) if keep_index else None,
    }
    t = Table(f"Ingest of {source} ({parsed.files} files, {n_par:,} paragraphs, {first.sentences_embedded:,} sentences)",
              ["figure", "value", "target"])
    t.add("ingest (run_ingest, fresh data folder) s", ingest_s, None)
    t.add("ingest paragraphs/s", ingest_pps, None)
    t.add("raw encode of the same paragraph texts, paragraphs/s", raw_pps, None)
    t.add("ratio ingest / raw paragraph encode", figures["ratio_ingest_to_raw_paragraph_encode"], f">= {TARGET_INGEST_RATIO}")
    t.add("same ratio in CPU time (raw paragraph encode CPU s / ingest CPU s)", figures["ratio_cpu_raw_paragraph_encode_to_ingest"], f">= {TARGET_INGEST_RATIO}")
    t.add("raw encode of the same sentence texts, sentences/s", raw_sps, None)
    t.add("ratio ingest / raw sentence encode (time)", figures["ratio_ingest_to_raw_sentence_encode"], None)
    t.add("share of the ingest spent in the model's encode (the rest is pipeline overhead)", figures["encode_share_of_ingest"], None)
    t.add("distinct texts encoded by the ingest / sentences", f"{in_encode['texts']:,} / {first.sentences_embedded:,}", None)
    t.add("no-change re-ingest s", reingest_s, f"< {TARGET_REINGEST_S}")
    t.add("parse only (load + clean + segment) s", parsed.seconds, None)
    t.add("files skipped by ingest", len(first.skipped), None)
    t.add("paragraph words p50 / p99 / max", f"{figures['paragraph_words']['p50']:.0f} / {figures['paragraph_words']['p99']:.0f} / {figures['paragraph_words']['max']}", None)
    t.add("paragraphs over 256 words / under 4 words", f"{figures['paragraph_words']['over_256']} / {figures['paragraph_words']['under_4']}", None)
    slow = ", ".join(f"{Path(f).name} {s:.1f} s" for s, f, _ in parsed.slowest[:3])
    t.note = f"Batch {config.embed_batch_size}, {embedder.name}. Slowest parses: {slow}."
    return BenchResult("ingest", figures, [t])


# --- ask ---------------------------------------------------------------------------------------


def _open_for_ask(args):
    """(Assistant, questions, label): the bundled sources by default; PATH a data folder or a corpus folder."""
    from assistant.config import Config
    from assistant.core import Assistant
    from assistant.index import CATALOG_FILE
    from ingest.pipeline import run_ingest

    raw = getattr(args, "path", None)
    if raw is None:
        data_dir = Path(args.data_dir) if getattr(args, "data_dir", None) else cache_dir(args) / "ask-bundled-index"
        config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None)
        if not getattr(args, "data_dir", None):
            run_ingest([SOURCES], config, progress=False)
        return Assistant.open(config=config), BUNDLED_QUESTIONS, "bundled sources", TARGET_ASK_P50_BUNDLED_MS
    path = require_path(args, "a data folder or a corpus folder")
    if (path / CATALOG_FILE).exists():
        data_dir = path
    else:
        data_dir = cache_dir(args) / f"ask-index-{fingerprint(str(path.resolve()))}"
        config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None)
        print(f"ingesting {path} into {data_dir} ...", file=sys.stderr, flush=True)
        run_ingest([path], config, progress=True)
    config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None)
    return Assistant.open(config=config), PYDOC_QUESTIONS, str(path), TARGET_ASK_P50_CORPUS_MS


def bench_ask(args) -> BenchResult:
    assistant, questions, label, target = _open_for_ask(args)
    if getattr(args, "limit", None):
        questions = questions[: args.limit]
    rounds = getattr(args, "rounds", None) or 5
    assistant.warm_up()
    for q in questions:  # one unmeasured round: caches, lazy imports, the lexical index
        assistant.ask(q)
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    wall: list[float] = []
    cpu: list[float] = []
    abstained = 0
    for _ in range(rounds):
        for q in questions:
            t, c = time.perf_counter(), time.process_time()
            answer = assistant.ask(q)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            abstained += answer.abstained
            for s in STAGES:
                stages[s].append(float(answer.timings_ms.get(s, 0.0)))
    paragraphs = assistant.index.paragraph_count()
    figures = {
        "corpus": label, "paragraphs": paragraphs, "questions": len(questions), "rounds": rounds, "asks": len(wall),
        "abstained_share": abstained / len(wall) if wall else None, "target_p50_ms": target,
        "stages_ms": {s: {"p50": percentile(v, 50), "p95": percentile(v, 95), "mean": float(np.mean(v)) if v else None} for s, v in stages.items()},
        "wall_ms": {"p50": percentile(wall, 50), "p95": percentile(wall, 95), "mean": float(np.mean(wall)) if wall else None},
        # CPU ms of this process per ask (all threads): steadier than wall time when the cores are shared.
        "cpu_ms": {"p50": percentile(cpu, 50), "p95": percentile(cpu, 95), "mean": float(np.mean(cpu)) if cpu else None},
        # Each ask's measurements, so every printed percentile can be recomputed from the JSON.
        "per_ask_ms": {"wall": wall, "cpu": cpu, **stages},
    }
    t = Table(f"Warm ask latency (extractive) on {label}: {paragraphs:,} paragraphs, {len(questions)} questions x {rounds} rounds",
              ["stage", "p50 ms", "p95 ms", "mean ms"])
    for s in STAGES:
        v = figures["stages_ms"][s]
        t.add(s, v["p50"], v["p95"], v["mean"])
    t.add("wall (around Assistant.ask)", figures["wall_ms"]["p50"], figures["wall_ms"]["p95"], figures["wall_ms"]["mean"])
    t.add("CPU time of the process per ask", figures["cpu_ms"]["p50"], figures["cpu_ms"]["p95"], figures["cpu_ms"]["mean"])
    t.note = f"Target: p50 of total <= {target:.0f} ms. {figures['abstained_share']:.0%} of the answers abstained."
    return BenchResult("ask" if getattr(args, "path", None) is None else "ask-corpus", figures, [t])


# --- startup -----------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> tuple[int | None, dict]:
    """(status, JSON body or {}); status None when nothing answers."""
    import json

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            try:
                data = json.loads(body)
            except ValueError:
                data = {}
            return response.status, data if isinstance(data, dict) else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except (urllib.error.URLError, OSError):
        return None, {}


def cold_start(script: Path, data_dir: Path, timeout: float = 180.0) -> dict:
    """Start `python SCRIPT` in a new process group; seconds until the port answers, until /readyz is
    200 (the index is open), and until /readyz reports `"warm": true` (models loaded, a first
    question answered) when the server reports warmth at all."""
    port = _free_port()
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_PORT=str(port), ASSISTANT_HOST="127.0.0.1",
               GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1")
    env.pop("ASSISTANT_LLM_BASE_URL", None)
    log = tempfile.TemporaryFile()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=script.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    first_response = ready = warm = None
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                break
            status, body = _get(f"http://127.0.0.1:{port}/readyz")
            now = time.perf_counter() - started
            if status is not None and first_response is None:
                first_response = now
            if status == 200 and ready is None:
                ready = now
            if status == 200 and body.get("warm", True):
                warm = now
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.seek(0)
        output = log.read().decode("utf-8", "replace")[-2000:]
        log.close()
    return {"port_answers_s": first_response, "ready_s": ready, "warm_s": warm, "exit_code": proc.returncode,
            "output_tail": output if ready is None else ""}


def bench_startup(args) -> BenchResult:
    from assistant.config import Config
    from ingest.pipeline import run_ingest

    script = Path(args.path) if getattr(args, "path", None) else ROOT / "app.py"
    if not script.exists():
        t = Table("Cold start of `python app.py`", ["figure", "value"],
                  note=f"{script} does not exist yet: nothing measured. The measurement starts it with ASSISTANT_PORT and "
                       f"ASSISTANT_DATA_DIR set and polls GET /readyz until 200.")
        return BenchResult("startup", {"script": str(script), "measured": False}, [t], ok=False)
    data_dir = Path(args.data_dir) if getattr(args, "data_dir", None) else cache_dir(args) / "startup-index"
    run_ingest([SOURCES], Config.from_env(data_dir=data_dir), progress=False)  # the index exists before the clock starts
    rounds = getattr(args, "rounds", None) or 3
    runs = [cold_start(script, data_dir) for _ in range(rounds)]
    ready = [r["ready_s"] for r in runs if r["ready_s"] is not None]
    warm = [r["warm_s"] for r in runs if r["warm_s"] is not None]
    figures = {"script": str(script), "data_dir": str(data_dir), "rounds": rounds, "runs": runs,
               "ready_s_median": percentile(ready, 50) if ready else None, "ready_s_max": max(ready) if ready else None,
               "warm_s_median": percentile(warm, 50) if warm else None, "failed": len(runs) - len(ready)}
    t = Table(f"Cold start of `python {script.name}` to GET /readyz 200 and to warm (index already built), {rounds} starts",
              ["start", "port answers s", "ready s", "warm s"])
    for n, r in enumerate(runs, 1):
        t.add(n, r["port_answers_s"], r["ready_s"] if r["ready_s"] is not None else f"not ready (exit {r['exit_code']})", r["warm_s"])
    t.add("median", None, figures["ready_s_median"], figures["warm_s_median"])
    if len(ready) < len(runs):
        t.note = "Output of a failed start:\n" + next(r["output_tail"] for r in runs if r["ready_s"] is None)
    return BenchResult("startup", figures, [t], ok=bool(ready) and len(ready) == len(runs))
