"""`assistant review ...`: consultation review from the command line (local, single user).

    assistant review create INPUT --name NAME [--collection C] [--reviewer NAME]
    assistant review list
    assistant review show ID [--json]
    assistant review stale
    assistant review export ID --format docx|xlsx --out FILE
    assistant review audit ID [--format csv|jsonl]

The actor recorded in the audit is --reviewer, else $ASSISTANT_REVIEWER, else the OS user name; locally
it sees every collection. Exit codes: 0 ok, 1 failure (no index, no such review), 2 bad input.
This module is imported when the parser is built, so it imports nothing heavy at the top.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

NO_REVIEWS = "no reviews yet: `assistant review create QUESTIONS --name NAME`"
NO_STALE = "no stale items"


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    """The `review` subcommand and its actions."""
    review = sub.add_parser("review", help="consultation review: draft, check and sign off answers to a questions file")
    actions = review.add_subparsers(dest="review_action", metavar="ACTION", required=True)
    reviewer = argparse.ArgumentParser(add_help=False, parents=[common])
    reviewer.add_argument("--reviewer", help="who you are, for the audit (default: $ASSISTANT_REVIEWER or your user name)")

    p = actions.add_parser("create", parents=[reviewer], help="draft a review from a questions file")
    p.add_argument("input", help="questions file (.csv .xlsx .txt .jsonl .docx)")
    p.add_argument("--name", required=True, help="the review's name")
    p.add_argument("--collection", action="append", help="draft from this collection only (repeatable)")
    actions.add_parser("list", parents=[reviewer], help="the reviews, with counts per status")
    p = actions.add_parser("show", parents=[reviewer], help="one review's items")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true", help="the Review JSON")
    actions.add_parser("stale", parents=[reviewer], help="items whose cited sources changed since")
    p = actions.add_parser("export", parents=[reviewer], help="write the signed-off review as .docx or .xlsx")
    p.add_argument("id", type=int)
    p.add_argument("--format", choices=["docx", "xlsx"], required=True)
    p.add_argument("--out", required=True, help="output file")
    p = actions.add_parser("audit", parents=[reviewer], help="the audit log of a review")
    p.add_argument("id", type=int)
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    review.set_defaults(func=run)


def actor(args) -> str:
    return (getattr(args, "reviewer", None) or os.environ.get("ASSISTANT_REVIEWER") or getpass.getuser()).strip()


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def run(args) -> int:
    from assistant.auth import Caller, Forbidden
    from assistant.config import Config
    from assistant.errors import AssistantError, IndexNotReady
    from assistant.review.records import ReviewNotFound
    from assistant.review.service import ReviewService

    config = Config.from_env(data_dir=getattr(args, "data_dir", None))
    caller = Caller(actor(args), None)
    action = {"create": _create, "list": _list, "show": _show, "stale": _stale, "export": _export, "audit": _audit}
    try:
        if args.review_action == "create" or config.database_url:
            service = ReviewService.open(config)
        else:  # looking creates no reviews.db: without one there is no review to show
            service = ReviewService.open_existing(config)
            if service is None:
                return _without_database(args)
        try:
            return action[args.review_action](args, service, caller, config)
        finally:
            service.close()
    except (ReviewNotFound, IndexNotReady) as exc:
        return _error(str(exc), 1)
    except (AssistantError, Forbidden) as exc:
        return _error(str(exc), 2)


def _create(args, service, caller, config) -> int:
    from assistant.batch.readers import read_questions
    from assistant.batch.runner import TerminalProgress
    from assistant.core import Assistant

    questions = read_questions(args.input, max_rows=config.batch_max_rows)
    assistant = Assistant.open(config=config)
    progress = TerminalProgress("drafting")
    try:
        review = service.create(args.name, questions, assistant, caller, collections=args.collection, progress=progress)
    finally:
        progress.close()
    counts = review.counts()
    flagged = sum(1 for item in review.items if item.unsupported)
    failed = sum(1 for item in review.items if not item.answer)
    print(f"review {review.id} {review.name!r}: {len(review.items)} items drafted "
          f"({flagged} with unsupported sentences, {failed} failed); {counts['draft']} to review")
    return 0


def _without_database(args) -> int:
    """A read-only action when no review has ever been created (no database)."""
    if args.review_action == "list":
        print(NO_REVIEWS)
    elif args.review_action == "stale":
        print(NO_STALE)
    else:
        return _error(f"no review {args.id}", 1)
    return 0


def _list(args, service, caller, config) -> int:
    reviews = service.list_reviews(caller)
    if not reviews:
        print(NO_REVIEWS)
    for summary in reviews:
        review = service.get(summary.id, caller)
        counts = ", ".join(f"{k} {v}" for k, v in review.counts().items() if v)
        print(f"{review.id}\t{review.name}\t{review.created_by}\t{review.created_at}\t{counts or 'empty'}")
    return 0


def _show(args, service, caller, config) -> int:
    review = service.get(args.id, caller)
    if args.json:
        print(json.dumps(review.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"review {review.id}: {review.name} (created by {review.created_by}, {review.created_at})")
    for item in review.items:
        flags = "".join([" STALE" if item.stale else "", f" UNSUPPORTED {len(item.unsupported)}" if item.unsupported else "",
                         f" CONTRADICTED {len(item.contradicted)}" if item.contradicted else ""])
        print(f"\n[{item.id}] {item.question_id} ({item.status}{flags}, v{item.version}) {item.question}")
        print(f"  {item.answer or '(no answer)'}")
        for c in item.citations:
            print(f"    [{c.marker}] {c.title}, {c.location} ({c.paragraph_id})")
    return 0


def _stale(args, service, caller, config) -> int:
    items = service.stale(caller)
    if not items:
        print(NO_STALE)
    for item in items:
        print(f"review {item.review_id} item {item.id} ({item.question_id}, {item.status}): {item.question}")
        for p in item.stale_paragraphs:
            print(f"  {p.paragraph_id}: {'removed' if p.new_text is None else 'changed'}")
    return 0


def _export(args, service, caller, config) -> int:
    out = Path(args.out)
    if out.suffix.lower() != f".{args.format}":
        return _error(f"--out {out.name} should end in .{args.format}", 2)
    data = service.export(args.id, caller, args.format)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


def _audit(args, service, caller, config) -> int:
    sys.stdout.write(service.export_audit(args.id, caller, args.format).decode())
    return 0
