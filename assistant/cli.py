"""The `assistant` command. Each subcommand imports what it needs when it runs, so
`assistant --help` is instant.

    assistant ingest [PATHS...] [--collection NAME]   build or update the index (default: sources/)
    assistant sources [show DOC [--dropped]]          list documents, or one document's paragraphs (or dropped lines)
    assistant ask QUESTION [--json]                   answer one question, citing paragraphs
    assistant chat                                    a terminal chat, with follow-up questions
    assistant batch INPUT --out OUTPUT                answer a file of questions
    assistant review create|list|show|stale|export|audit   consultation review: check and sign off answers
    assistant serve                                   the HTTP API and the web chat
    assistant eval                                    score answers on the evaluation set
    assistant bench ...                               speed and quality benchmarks
    assistant reader train|train-decision|calibrate|info   train the reader and the decision model, fit the decision, describe them
    assistant verifier train|calibrate|info           train the claim checker (an NLI cross-encoder), fit its thresholds
    assistant verify CLAIMS.jsonl --out OUT.jsonl     check claims against the passages given with them

Every command takes --data-dir (or ASSISTANT_DATA_DIR; default .assistant/).
Exit codes: 0 ok, 1 failure, 2 bad input (e.g. an empty or over-long question).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.offline import switch_off_telemetry

switch_off_telemetry()


def _config(args, **extra):
    from assistant.config import Config

    return Config.from_env(data_dir=getattr(args, "data_dir", None), **extra)


def _error(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


# --- ingest and sources -------------------------------------------------------------------------


def cmd_ingest(args) -> int:
    from ingest.pipeline import IngestError, run_ingest

    paths = [Path(p) for p in (args.paths or ["sources"])]
    try:
        report = run_ingest(paths, _config(args), collection=args.collection, progress=not args.quiet)
    except IngestError as exc:
        return _error(str(exc))
    print(report.summary())
    return 0 if report.ingested_anything else 1


def cmd_sources(args) -> int:
    from assistant.embedding import BUNDLED_MODEL_NAME, Embedder
    from assistant.errors import IndexNotReady
    from assistant.index import Index

    config = _config(args)
    name = BUNDLED_MODEL_NAME if config.embed_model_path is None else Embedder(config.embed_model_path).name
    try:
        index = Index.open(config, name)
    except IndexNotReady as exc:
        return _error(str(exc))
    if args.action == "show":
        return _show_document(index, args)
    if args.dropped:
        return _error("--dropped goes with `assistant sources show DOCUMENT-ID`", 2)
    documents = index.documents()
    if args.json:
        print(json.dumps([{k: v for k, v in d.__dict__.items() if k not in ("paragraphs", "dropped")} for d in documents], indent=2))
        return 0
    if not documents:
        print("no documents yet: run `assistant ingest sources/`")
        return 0
    width = max(len(d.id) for d in documents)
    print(f"{'document':<{width}}  {'collection':<10}  {'¶':>4}  title")
    for d in documents:
        print(f"{d.id:<{width}}  {d.collection:<10}  {d.paragraph_count:>4}  {d.title}")
    return 0


def _show_document(index, args) -> int:
    """`sources show DOC`: the document's paragraphs with their ids, pages and non-content marks; with
    --dropped, the lines the loader and the cleaner left out of them and why."""
    from assistant.records import NON_CONTENT_LABELS

    if not args.document:
        return _error("which document? `assistant sources show DOCUMENT-ID`", 2)
    document = index.document(args.document)
    if document is None:
        known = ", ".join(d.id for d in index.documents())
        return _error(f"no document {args.document!r}; known: {known}", 2)
    if args.dropped:
        return _print_dropped(index, document, args.json)
    print(f"{document.title}\n{', '.join(x for x in (document.author, document.publisher, document.date, document.url) if x)}\n")
    for p in index.paragraphs_of(document.id):
        label = f"[{p.id}]"
        if p.section:
            label += f" ({p.section})"
        if p.pages:
            label += f" p. {p.pages[0]}" if p.pages[0] == p.pages[1] else f" pp. {p.pages[0]}-{p.pages[1]}"
        if p.comment:
            label += f" comment by {p.comment.author}{', ' + p.comment.role if p.comment.role else ''}, {p.comment.date}"
        if not p.is_content:
            label += f" [{NON_CONTENT_LABELS[p.kind].lower()}: never cited]"
        print(label)
        print(p.text + "\n")
    return 0


def _print_dropped(index, document, as_json: bool) -> int:
    lines = index.dropped_lines(document.id)
    if lines is None:
        return _error(f"{document.id} was ingested before dropped lines were recorded: run `assistant ingest` again")
    if as_json:
        print(json.dumps([{"text": d.text, "reason": d.reason} for d in lines], ensure_ascii=False, indent=2))
        return 0
    print(f"{len(lines)} line{'s' if len(lines) != 1 else ''} of {document.id} in no paragraph:")
    for line in lines:
        print(f"  {line.text.replace(chr(10), ' / ')!r}  ({line.reason})")
    return 0


# --- asking ----------------------------------------------------------------------------------------


def _open_assistant(args):
    from assistant.core import Assistant

    return Assistant.open(config=_config(args))


def print_answer(answer, show_passages: bool = True) -> None:
    print(answer.answer)
    if answer.searched_for and answer.searched_for != answer.question:
        print(f"\n(searched for: {answer.searched_for})")
    if answer.notice:
        print(f"\nnote: {answer.notice}")
    for c in answer.citations:
        who = f" — reader comment by {c.comment_by}" if c.comment_by else ""
        print(f"\n[{c.marker}] {c.title}{', ' + c.publisher if c.publisher else ''}{', ' + c.date if c.date else ''}, {c.location} ({c.paragraph_id}){who}")
        if c.url:
            print(f"    {c.url}")
        print(f"    “{c.quote}”")
    if answer.abstained and show_passages and answer.nearest:
        print("\nNearest passages (they do not answer the question):")
        for n in answer.nearest:
            print(f"  - {n.paragraph_id}: {n.text[:160]}{'…' if len(n.text) > 160 else ''}")


def cmd_ask(args) -> int:
    from assistant.errors import AssistantError, BadQuestion, IndexNotReady

    question = " ".join(args.question)
    if question == "-":
        question = sys.stdin.read()
    try:
        assistant = _open_assistant(args)
        answer = assistant.ask(question, collections=args.collection or None, documents=args.document or None)
    except BadQuestion as exc:
        return _error(str(exc), 2)
    except IndexNotReady as exc:
        return _error(str(exc))
    except AssistantError as exc:
        return _error(str(exc))
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print_answer(answer)
    return 0


def cmd_chat(args) -> int:
    from assistant.errors import AssistantError, BadQuestion

    try:
        assistant = _open_assistant(args)
    except AssistantError as exc:  # no index yet, or a missing or broken reader model
        return _error(str(exc))
    history: list[dict] = []
    print("Ask about the sources. Follow-up questions work. Empty line or Ctrl-D to quit; /new starts over.")
    while True:
        try:
            question = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        if question == "/new":
            history = []
            print("(new conversation)")
            continue
        try:
            answer = assistant.ask(question, history=history)
        except BadQuestion as exc:
            print(f"error: {exc}")
            continue
        print()
        print_answer(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


# --- the commands other modules own -----------------------------------------------------------------


def cmd_batch(args) -> int:
    from assistant.batch.command import run

    return run(args)


def cmd_serve(args) -> int:
    from assistant.server import run

    return run(args)


def cmd_eval(args) -> int:
    from eval.suite import run

    return run(args)


def cmd_bench(args) -> int:
    from eval.bench import run

    return run(args)


def _training_options(args) -> tuple[list[str], str | None]:
    """The options handed to a training script, less --data-dir (the CLI's own, taken by every command),
    and its value: given after the action, it arrives among the options."""
    own = argparse.ArgumentParser(add_help=False, allow_abbrev=False)  # never mistake --data for --data-dir
    own.add_argument("--data-dir")
    known, rest = own.parse_known_args(args.options)
    return rest, known.data_dir or args.data_dir


def cmd_verifier(args) -> int:
    options, _ = _training_options(args)  # the verifier reads data files and passages, not an index
    if args.action == "train":
        from training.verifier_train import main as train

        return train(options)
    if args.action == "calibrate":
        from training.verifier_calibrate import main as calibrate

        return calibrate(options)
    from assistant.entailment import VERIFIER_DIR, VerifierError, read_verifier_json

    info = argparse.ArgumentParser(prog="assistant verifier info",
                                   description="Describe the verifier model: its version, size, training and thresholds.")
    info.add_argument("folder", nargs="?", help="the model folder (default: the shipped verifier)")
    folder = Path(info.parse_args(options).folder or VERIFIER_DIR)
    try:
        meta = read_verifier_json(folder)
    except VerifierError as exc:
        return _error(str(exc))
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6
    decision = meta.get("decision") or {}
    print(f"verifier {meta.get('version')} in {folder}/ ({size:.1f} MB): {meta.get('layers')} layers, "
          f"trained {meta.get('training_seconds', 0) / 60:.1f} min on {meta.get('data', {}).get('train_pairs', 0):,} pairs")
    print(f"labels: {', '.join(meta.get('labels', []))}")
    print(f"supported when P(entailment) >= {decision.get('supported', 0.5)} (and the names and numbers are in the passage); "
          f"else contradicted when P(contradiction) >= {decision.get('contradicted', 0.5)}")
    print(f"the model card: {folder / 'README.md'}")
    return 0


def cmd_verify(args) -> int:
    from assistant.claim_check import ClaimInputError, check, read_claims_file
    from assistant.embedding import Embedder
    from assistant.entailment import VerifierError, get_verifier

    config = _config(args)
    try:
        claims = read_claims_file(Path(args.claims))
        verifier = get_verifier(config.verifier_model_path)
    except ClaimInputError as exc:
        return _error(str(exc), 2)
    except VerifierError as exc:
        return _error(str(exc))
    embedder = Embedder(config.embed_model_path)
    results = check(claims, embedder, verifier)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        for result in results:
            fh.write(json.dumps(result, ensure_ascii=False) + "\n")
    tmp.replace(out)
    counts = {label: sum(r["label"] == label for r in results) for label in ("supported", "contradicted", "unsupported")}
    print(f"checked {len(results):,} claims: " + ", ".join(f"{n:,} {label}" for label, n in counts.items()) + f"; wrote {out}")
    return 0


def cmd_reader(args) -> int:
    if args.action == "train":
        from training.reader_train import main as train

        options, _ = _training_options(args)  # training reads its data files, not an index
        return train(options)
    if args.action == "train-decision":
        from training.decision_train import main as train_decision

        options, _ = _training_options(args)  # it builds its own index of the corpus's train documents
        return train_decision(options)
    if args.action == "calibrate":
        from training.reader_calibrate import main as calibrate

        options, data_dir = _training_options(args)  # calibrating answers from an index: this one
        return calibrate(options + (["--data-dir", data_dir] if data_dir else []))
    from assistant.reader import DECISION_DIR, READER_DIR, ReaderError, read_reader_json

    info = argparse.ArgumentParser(prog="assistant reader info",
                                   description="Describe the reader model (or the decision model): its version, size, training and decision.")
    info.add_argument("folder", nargs="?", help="the model folder (default: the shipped reader; the decision model is in "
                      f"{DECISION_DIR.name}/ beside it)")
    info.add_argument("--data-dir", help="taken, as by every command; the reader model is not in the index")
    folder = Path(info.parse_args(args.options).folder or READER_DIR)
    try:
        meta = read_reader_json(folder)
    except ReaderError as exc:
        return _error(str(exc))
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file()) / 1e6
    decision = meta.get("decision", {})
    print(f"reader {meta.get('version')} in {folder}/ ({size:.1f} MB): {meta.get('layers')} layers, "
          f"trained {meta.get('training_seconds', 0) / 60:.1f} min on {meta.get('data', {}).get('train_pairs', 0):,} pairs")
    print(f"validation (held-out articles): {meta.get('final_validation')}")
    step = meta.get("decision_training")
    if step:
        print(f"then `reader train-decision`: {step['data']['train_pairs']:,} pairs of the product's candidates, "
              f"{step['training_seconds'] / 60:.1f} min; decision AUC on held-out documents {step['before'].get('auc_best')} -> "
              f"{(step.get('final') or {}).get('auc_best')}")
    weights = decision.get("weights") or [None, None]
    reads = decision.get("reads")
    over = (f" of the best {reads['sentences']} sentences the reader {reads['reader_version']} ranks" if reads
            else " (in use only when ASSISTANT_DECISION_MODEL names this folder)")
    print(f"decision: answer when sigmoid({weights[0]} x best logit + {weights[1]} x mean of the top {decision.get('top_k')} "
          f"+ {decision.get('bias')}) >= {decision.get('threshold')}, over this model's logits{over}")
    print(f"the model card: {folder / 'README.md'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Answers questions from your documents, citing the exact paragraphs, and says so when they don't.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="index folder (default: $ASSISTANT_DATA_DIR or .assistant/)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", parents=[common], help="build or update the index from files and folders")
    p.add_argument("paths", nargs="*", help="files or folders (default: sources/)")
    p.add_argument("--collection", default="default", help="collection the documents belong to (default: default)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("sources", parents=[common], help="list the documents, or `sources show DOC` for its paragraphs")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("document", nargs="?", help="document id (for show)")
    p.add_argument("--json", action="store_true", help="machine-readable list (also of --dropped)")
    p.add_argument("--dropped", action="store_true",
                   help="with show: the lines the cleaner left out of the document's paragraphs, each with its reason")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("ask", parents=[common], help="answer one question with paragraph citations")
    p.add_argument("question", nargs="+", help="the question ('-' reads it from standard input)")
    p.add_argument("--json", action="store_true", help="print the Answer JSON")
    p.add_argument("--collection", action="append", help="search only this collection (repeatable)")
    p.add_argument("--document", action="append", help="search only this document id (repeatable)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", parents=[common], help="chat in the terminal (follow-up questions work)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("batch", parents=[common], help="answer a file of questions (.csv .xlsx .txt .jsonl .docx)")
    p.add_argument("input", help="questions file")
    p.add_argument("--out", required=True, help="output file: .jsonl .xlsx .docx .csv or .md")
    p.add_argument("--collection", action="append", help="search only this collection (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="questions answered concurrently (useful with an LLM server)")
    p.add_argument("--force", action="store_true", help="redo questions already answered in OUTPUT's checkpoint")
    p.add_argument("--max-rows", type=int, default=None, help="refuse inputs with more questions than this (default 5000, ASSISTANT_BATCH_MAX_ROWS)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_batch)

    from assistant.review.command import add_parser as add_review_parser

    add_review_parser(sub, common)

    p = sub.add_parser("serve", parents=[common], help="serve the HTTP API and the web chat")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 7860)")
    p.add_argument("--root-path", default=None, help="sub-path behind a reverse proxy (ASSISTANT_ROOT_PATH)")
    p.add_argument("--insecure", action="store_true", help="allow binding beyond loopback without auth")
    p.add_argument("--no-ingest", action="store_true", help="do not ingest sources/ when the index is missing or stale")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", parents=[common], help="score the assistant on the evaluation set")
    p.add_argument("--split", default="test", choices=["dev", "test", "all"])
    p.add_argument("--judge-url", help="OpenAI-compatible base URL of a judge LLM (enables LLM metrics)")
    p.add_argument("--judge-model", default="default", help="judge model name")
    p.add_argument("--gate", action="store_true", help="exit non-zero when a metric falls below eval/thresholds.toml")
    p.add_argument("--report", default="eval/reports/latest.md", help="where to write the report")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N questions of the split")
    p.add_argument("--questions", default=None, help="another question file in the same format, e.g. eval/data/calibration.jsonl "
                                                     "(default: eval/data/questions.jsonl)")
    p.add_argument("--thresholds", default=None, help="gate thresholds file (default: $ASSISTANT_EVAL_THRESHOLDS or eval/thresholds.toml)")
    p.set_defaults(func=cmd_eval)

    # The actions' options (--help included) are parsed by the actions themselves; --data-dir is taken
    # before or after the action.
    p = sub.add_parser("reader", parents=[common],
                       help="the reader and decision models: `reader train`, `reader train-decision`, `reader calibrate`, `reader info` (each has --help)")
    p.add_argument("action", choices=["train", "train-decision", "calibrate", "info"])
    p.add_argument("options", nargs=argparse.REMAINDER, help="options of the action (see `assistant reader ACTION --help`)")
    p.set_defaults(func=cmd_reader)

    p = sub.add_parser("verifier", parents=[common],
                       help="the claim checker model: `verifier train`, `verifier calibrate`, `verifier info` (each has --help)")
    p.add_argument("action", choices=["train", "calibrate", "info"])
    p.add_argument("options", nargs=argparse.REMAINDER, help="options of the action (see `assistant verifier train --help`)")
    p.set_defaults(func=cmd_verifier)

    p = sub.add_parser("verify", parents=[common], help="check claims against passages: JSONL {id, claim, source} in, "
                       "{id, label, score, evidence} out")
    p.add_argument("claims", help="a JSONL file, one {\"id\", \"claim\", \"source\"} per line (source: the passage text)")
    p.add_argument("--out", required=True, help="the JSONL file to write: {\"id\", \"label\", \"score\", \"evidence\"} per line")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("bench", parents=[common], help="benchmarks: ingest, ingest-quality, ask, batch, retrieval (scifact), refusal (squad2), policy-qa, claims")
    p.add_argument("which", choices=["ingest", "ingest-quality", "ask", "batch", "scifact", "squad2", "startup", "policy-qa", "claims"])
    p.add_argument("path", nargs="?", help="corpus or benchmark data folder")
    p.add_argument("--limit", type=int, default=None, help="use at most this many queries/questions")
    p.add_argument("--out", default=None, help="where to write run files or figures")
    p.add_argument("--cache", default=None, help="cache folder for embeddings and bench indexes (default ~/.cache/cited-assistant/bench)")
    p.add_argument("--rounds", type=int, default=None, help="bench ask/startup: rounds over the questions / cold starts")
    p.add_argument("--raw-sentences", action="store_true",
                   help="bench ingest: also time a raw encode of every sentence (as long again as the ingest)")
    p.add_argument("--no-raw", action="store_true",
                   help="bench ingest: time the ingest only, without the raw encode baseline (for comparing two ingests)")
    p.add_argument("--sources-md", default=None,
                   help="bench ingest-quality: reference titles, publishers, dates (default: SOURCES.md in PATH or beside it)")
    p.add_argument("--record", action="store_true", help="bench ingest-quality, policy-qa, claims: append the figures to docs/benchmarks.md")
    p.add_argument("--split", default="dev", choices=["dev", "test"],
                   help="bench policy-qa: the question split (test: frozen, aggregate figures only)")
    p.add_argument("--gate", action="store_true",
                   help="bench policy-qa: exit 1 when a figure is outside its bound in eval/policy_thresholds.toml")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
