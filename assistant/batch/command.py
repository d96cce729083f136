"""`assistant batch INPUT --out OUTPUT [--collection C] [--workers N] [--force] [--max-rows N] [-q]`.

Order of work, so that bad input costs nothing and leaves nothing behind: check the output name, read
and validate the questions file, check the checkpoint, open the index, then answer (progress bar with
ETA on standard error, each answer checkpointed), write the output atomically and print the summary.

Exit codes: 0 every question answered or found not in the sources; 1 some questions failed (the output
is written; a re-run tries them again), or the index is missing; 2 bad input; 130 interrupted (the
answers made so far are in the checkpoint; the same command resumes).
"""

from __future__ import annotations

import sys
from pathlib import Path


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def run(args) -> int:
    from assistant.batch.checkpoint import Checkpoint, checkpoint_path
    from assistant.batch.readers import read_questions
    from assistant.batch.records import FAILED, BadInput
    from assistant.batch.runner import TerminalProgress, run_batch
    from assistant.batch.writers import check_output, write_output

    from assistant.config import Config

    config = Config.from_env(data_dir=getattr(args, "data_dir", None))
    max_rows = getattr(args, "max_rows", None)
    max_rows = config.batch_max_rows if max_rows is None else max_rows
    out = Path(args.out)
    collections = sorted(set(args.collection)) if getattr(args, "collection", None) else None
    quiet = getattr(args, "quiet", False)
    try:
        check_output(out)
        if Path(args.input).resolve() == out.resolve():
            raise BadInput("--out must not be the questions file itself")
        if args.workers < 1:
            raise BadInput("--workers must be at least 1")
        if max_rows < 1:
            raise BadInput("--max-rows must be at least 1")
        questions = read_questions(args.input, max_rows=max_rows)
        checkpoint = checkpoint_path(out)
        if not args.force:
            Checkpoint(checkpoint, collections).load()  # refuse a foreign or mismatched checkpoint now
    except BadInput as exc:
        return _error(str(exc), 2)
    for note in questions.notes:
        print(f"note: {note}", file=sys.stderr)

    from assistant.core import Assistant
    from assistant.errors import AssistantError

    try:
        assistant = Assistant.open(config=config)
    except AssistantError as exc:
        return _error(str(exc), 1)
    if collections:
        known = {d.collection for d in assistant.index.documents()}
        unknown = [c for c in collections if c not in known]
        if unknown:
            return _error(f"no collection {', '.join(map(repr, unknown))} in the index; known: {', '.join(sorted(known))}", 2)

    if not quiet:
        print("loading the models…", file=sys.stderr)
    try:
        assistant.warm_up()  # load the models now, so the progress bar's ETA measures answering
    except AssistantError as exc:
        return _error(str(exc), 1)

    progress = None if quiet else TerminalProgress()
    try:
        result = run_batch(assistant, questions, checkpoint, collections=collections, workers=args.workers,
                           force=args.force, progress=progress)
    except KeyboardInterrupt:
        if progress:
            progress.close()
        print(f"\ninterrupted: the answers made so far are saved in {checkpoint}; run the same command again to resume",
              file=sys.stderr)
        return 130
    except BadInput as exc:
        return _error(str(exc), 2)
    except OSError as exc:  # the checkpoint cannot be written (a read-only folder, a full disk)
        return _error(f"cannot write the checkpoint {checkpoint}: {exc}", 1)
    finally:
        if progress:
            progress.close()

    try:
        write_output(result, out)
    except OSError as exc:
        return _error(f"could not write {out}: {exc}; the answers are safe in {checkpoint}, re-run to write it", 1)
    failed = result.counts()[FAILED]
    print(result.summary())
    print(f"written: {out}")
    print(f"checkpoint: {checkpoint} (a re-run resumes from it; --force answers everything again)")
    if failed:
        print(f"{failed} question{'s' if failed != 1 else ''} failed (see the notes in the output); "
              f"run the same command again to retry {'them' if failed != 1 else 'it'}", file=sys.stderr)
        return 1
    return 0
