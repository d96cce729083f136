"""Load test of the HTTP service: concurrent clients asking questions over loopback.

    python -m eval.load_test --url http://127.0.0.1:7860 --clients 20 --questions 400
    python -m eval.load_test ... --json                       # the report as JSON
    python -m eval.load_test ... --record docs/benchmarks.md  # write the "## HTTP load" section

Bounded on purpose: loopback URLs only (it never loads someone else's server), at most 64 clients
and 5,000 questions, and it stops issuing questions after --max-seconds. Each client keeps one
connection and POSTs /api/ask with the next question of a fixed mix (answerable, unanswerable,
follow-ups with history). Reports throughput, latency percentiles and every error; exits 1 when
any request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from eval.bench_common import percentile

MAX_CLIENTS = 64
MAX_QUESTIONS = 5000

# A fixed mix on the bundled sources: facts, lists, paraphrases, unanswerable ones, follow-ups.
QUESTIONS: list[tuple[str, list[dict]]] = [
    ("Who is David Dalton?", []),
    ("What three conditions must be met for Hunt's ideas to gain traction?", []),
    ("Why does The King's Fund want to end top-down reform of the NHS?", []),
    ("What did Stephen Dorrell say about NHS Improvement?", []),
    ("What must politicians do to support NHS leaders?", []),
    ("What does reform from within mean?", []),
    ("What is the capital of France?", []),
    ("How many beds does the NHS have in Scotland?", []),
    ("What was his aim?", [
        {"role": "user", "content": "Who is David Dalton?"},
        {"role": "assistant", "content": "David Dalton was chief executive of Salford Royal NHS Foundation Trust. [1]"},
    ]),
    ("Which organisations were merged to form NHS Improvement?", []),
    ("What did Jeremy Hunt say in his speech at The King's Fund?", []),
    ("What role should regulators play according to Chris Ham?", []),
]


@dataclass
class Report:
    url: str
    clients: int
    questions: int
    ok: int = 0
    errors: int = 0
    abstained: int = 0
    seconds: float = 0.0
    throughput_qps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    error_samples: list[str] = field(default_factory=list)
    stopped_early: bool = False
    answered_by: dict[str, int] = field(default_factory=dict)  # answers per server, when there are replicas

    def lines(self) -> list[str]:
        return [
            f"{self.questions} questions, {self.clients} concurrent clients, {self.seconds:.1f} s",
            f"throughput {self.throughput_qps:.1f} questions/s",
            f"latency p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, max {self.max_ms:.0f} ms",
            f"answered {self.ok} ({self.abstained} abstentions), errors {self.errors}"
            + (" (stopped at --max-seconds)" if self.stopped_early else ""),
            *[f"  error: {e}" for e in self.error_samples],
        ]


def is_loopback_url(url: str) -> bool:
    import ipaddress

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def run_load(url: str | list[str], clients: int, questions: int, max_seconds: float, token: str | None) -> Report:
    """`url` may list several replicas of one service: the clients are split between them in turn."""
    import httpx

    urls = [url] if isinstance(url, str) else list(url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    report = Report(url=", ".join(urls), clients=clients, questions=questions)
    latencies: list[float] = []
    lock = threading.Lock()
    next_index = 0
    deadline = time.monotonic() + max_seconds

    def take() -> int | None:
        nonlocal next_index
        with lock:
            if next_index >= questions:
                return None
            if time.monotonic() > deadline:
                report.stopped_early = True
                return None
            next_index += 1
            return next_index - 1

    def client(number: int) -> None:
        base = urls[number % len(urls)]
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            while (i := take()) is not None:
                question, history = QUESTIONS[i % len(QUESTIONS)]
                started = time.perf_counter()
                try:
                    response = http.post("/api/ask", json={"question": question, "history": history, "id": f"load-{i}"})
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code == 200 and response.json().get("id") == f"load-{i}":
                        with lock:
                            report.ok += 1
                            report.answered_by[base] = report.answered_by.get(base, 0) + 1
                            report.abstained += bool(response.json()["abstained"])
                            latencies.append(elapsed)
                        continue
                    problem = f"HTTP {response.status_code}: {response.text[:200]}"
                except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                    problem = f"{exc.__class__.__name__}: {exc}"
                with lock:
                    report.errors += 1
                    if len(report.error_samples) < 5:
                        report.error_samples.append(problem)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(client, number) for number in range(clients)]:
            future.result()
    report.seconds = time.perf_counter() - started
    report.questions = report.ok + report.errors
    report.throughput_qps = report.ok / report.seconds if report.seconds else 0.0
    report.p50_ms, report.p95_ms, report.p99_ms = (percentile(latencies, q) or 0.0 for q in (50, 95, 99))
    report.max_ms = max(latencies, default=0.0)
    return report


def wait_ready(url: str, timeout: float, token: str | None) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url + "/readyz", headers=headers, timeout=5)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise SystemExit(f"error: {url} is not ready: {last}")


def record(path: Path, report: Report, command: str, load_before: float | None = None) -> None:
    """Write (or replace) the "## HTTP load" section of the benchmarks file."""
    cores = os.cpu_count()
    busy = (
        f" The 1-minute load average was {load_before:.1f} just before the run (other work shared the cores)."
        if load_before is not None else ""
    )
    section = "\n".join([
        "## HTTP load",
        "",
        f"`{command}` against `assistant serve` on the bundled sources (extractive answers, no LLM),",
        f"over loopback; measured {date.today().isoformat()} on {platform.machine()} with {cores} cores"
        f" ({platform.python_implementation()} {platform.python_version()}), clients and server on the same machine.{busy}",
        "",
        "| clients | questions | errors | abstentions | seconds | questions/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {report.clients} | {report.questions} | {report.errors} | {report.abstained} | {report.seconds:.1f} | "
        f"{report.throughput_qps:.1f} | {report.p50_ms:.0f} | {report.p95_ms:.0f} | {report.p99_ms:.0f} | {report.max_ms:.0f} |",
        "",
        "One Assistant (models and indexes loaded once) serves every request from the server's thread pool.",
        f"{report.throughput_qps:.1f} questions/s is about {1000 / report.throughput_qps if report.throughput_qps else 0:.0f} ms "
        f"of server work per question; the rest of each latency is waiting behind the other {report.clients - 1} clients.",
        "",
    ])
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find("## HTTP load")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("\n" + text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.load_test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append",
                        help="the server (loopback only; default http://127.0.0.1:7860); repeat it for replicas of one "
                             "service, and the clients are split between them")
    parser.add_argument("--clients", type=int, default=20, help=f"concurrent clients (1-{MAX_CLIENTS})")
    parser.add_argument("--questions", type=int, default=400, help=f"questions in all (1-{MAX_QUESTIONS})")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop issuing questions after this long")
    parser.add_argument("--token", default=os.environ.get("ASSISTANT_LOAD_TOKEN"), help="bearer token, if the server needs one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--record", type=Path, help="write the '## HTTP load' section of this markdown file")
    args = parser.parse_args(argv)

    urls = [u.rstrip("/") for u in (args.url or ["http://127.0.0.1:7860"])]
    for url in urls:
        if not is_loopback_url(url):
            print(f"error: refusing to load {url}: the load script only targets loopback addresses (127.0.0.1, ::1)", file=sys.stderr)
            return 2
    if not 1 <= args.clients <= MAX_CLIENTS or not 1 <= args.questions <= MAX_QUESTIONS or args.max_seconds <= 0:
        print(f"error: --clients must be 1-{MAX_CLIENTS}, --questions 1-{MAX_QUESTIONS}, --max-seconds > 0", file=sys.stderr)
        return 2
    for url in urls:
        wait_ready(url, 120, args.token)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = run_load(urls, args.clients, args.questions, args.max_seconds, args.token)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        print("\n".join(report.lines()))
    if args.record:
        record(args.record, report, f"python -m eval.load_test --clients {args.clients} --questions {args.questions}", load_before)
        print(f"recorded in {args.record}", file=sys.stderr)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
