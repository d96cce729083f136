"""Running a batch: a QuestionSet in, every question answered (or failed) and checkpointed, rows out.

Distinct questions not already in the checkpoint are answered by a thread pool (`workers`; the
Assistant is safe to share between threads), and each result is appended to the checkpoint by this
thread as it arrives. A question that raises is recorded as failed with its reason, and the rest go on.
Progress goes to a callback `(done, total, elapsed_s)`; `Eta` and `TerminalProgress` turn it into an
ETA and a progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from assistant.answer import Answer
from assistant.batch.checkpoint import Checkpoint, Entry
from assistant.batch.records import BatchResult, Question, QuestionSet, Row

ProgressCallback = Callable[[int, int, float], None]


def _reason(exc: BaseException) -> str:
    from assistant.errors import AssistantError

    text = str(exc).strip()
    if isinstance(exc, AssistantError):
        return text or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def answer_one(assistant, question: Question, collections: list[str] | None) -> tuple[Answer | None, str]:
    try:
        return assistant.ask(question.text, collections=collections, id=question.id), ""
    except Exception as exc:  # one failing question must not stop the batch
        return None, _reason(exc)


def run_batch(
    assistant,
    questions: QuestionSet,
    checkpoint: Path,
    *,
    collections: list[str] | None = None,
    workers: int = 1,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> BatchResult:
    """Answer every question not already answered in `checkpoint` (all of them with `force`).

    Raises BadInput when the checkpoint belongs to another kind of run; KeyboardInterrupt propagates
    after the answers made so far are safely in the checkpoint.
    """
    started = time.perf_counter()
    store = Checkpoint(checkpoint, collections)
    done: dict[str, Entry] = {} if force else store.load()
    unique = questions.unique()
    finished = {q.key for q in unique if q.key in done and done[q.key].answer is not None}
    pending = [q for q in unique if q.key not in finished]
    total = len(unique)
    count = len(finished)
    if progress:
        progress(count, total, 0.0)

    def record(q, answer, error) -> None:
        """Checkpoint one answer (or its error) as soon as it exists, then report progress."""
        nonlocal count
        entry = Entry(q.key, q.id, q.text, answer, error)
        store.append(entry)
        done[q.key] = entry
        count += 1
        if progress:
            progress(count, total, time.perf_counter() - started)

    store.open(fresh=force)
    try:
        if workers <= 1:
            for q in pending:
                record(q, *answer_one(assistant, q, collections))
        else:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch")
            try:
                queue = iter(pending)
                running = {}
                for q in queue:  # keep at most 2 x workers submitted: a Ctrl-C leaves little in flight
                    running[pool.submit(answer_one, assistant, q, collections)] = q
                    if len(running) >= 2 * workers:
                        break
                while running:
                    finished_now, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished_now:
                        record(running.pop(future), *future.result())
                        nxt = next(queue, None)
                        if nxt is not None:
                            running[pool.submit(answer_one, assistant, nxt, collections)] = nxt
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
    finally:
        store.close()

    first_id: dict[str, str] = {}
    rows = []
    for q in questions.questions:
        entry = done[q.key]
        duplicate_of = first_id.get(q.key)
        first_id.setdefault(q.key, q.id)
        rows.append(Row(question=q, answer=entry.answer, error=entry.error, duplicate_of=duplicate_of))
    return BatchResult(
        source=questions.source,
        rows=rows,
        blank=questions.blank,
        duplicates=questions.duplicates,
        resumed=len(finished),
        answered_now=len(pending),
        elapsed_s=time.perf_counter() - started,
        collections=sorted(set(collections)) if collections else None,
        notes=list(questions.notes),
    )


# --- progress --------------------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Eta:
    """Estimated time left from the rate of this run (answers from the checkpoint don't count)."""

    def __init__(self):
        self.first: int | None = None

    def __call__(self, done: int, total: int, elapsed: float) -> float | None:
        if self.first is None:
            self.first = done
        made = done - self.first
        if made <= 0 or elapsed <= 0:
            return None
        return (total - done) * elapsed / made


class TerminalProgress:
    """A tqdm progress bar on standard error (count, rate, elapsed and ETA)."""

    def __init__(self, description: str = "answering"):
        self.description = description
        self.bar = None

    def __call__(self, done: int, total: int, elapsed: float) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, desc=self.description, unit="q", dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")
            return
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
