"""`assistant reader train-decision`: fine-tune the decision model on the candidates the product itself retrieves.

    assistant reader train-decision --corpus ../shared/bench/policy-corpus --init FOLDER [--out assistant/decision_model]
        [--questions ../shared/bench/policy-train --questions training/data/policy_questions_extra.jsonl]

The decision model (assistant/extractive.py `answerability`) reads the reader's best sentences for a question
and says whether they answer it. `assistant reader train --init assistant/reader_model --extra-data ...` teaches
a reader from each in-domain question's own paragraph; this step continues from such a folder (`--init`) on what
the decision model meets in use:
1. An index of the corpus's train documents only (its splits.json), in a cache folder: no dev or test text is
   seen, not even as a negative.
2. Every in-domain question (written over those documents) asked of the product, retrieval and the shipped
   reader, without an LLM: the reader's best CANDIDATES sentences, each read as the decision model reads it.
   A follow-up (a record with `history`) is searched for with the previous turn and judged on its own words,
   as in use (assistant/conversation.py).
3. Pairs: for an unanswerable question every one is a negative; for an answerable one a sentence holding an
   answer string is a positive, a sentence whose paragraph holds no answer and is not the question's own
   paragraph a negative, and the rest (they may answer in other words) are left out.
4. The documents the init folder held out for validation stay out of training: their questions measure the
   decision as the product takes it, the AUC of the best and of the mean logit over the reader's best
   DECISION_SENTENCES, before and during training.
Then `assistant reader calibrate --model OUT` fits the decision on dev data. Resumable like the reader's training
(training/trainer.py: --resume, --stop-after, --device cuda).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.offline import switch_off_telemetry

switch_off_telemetry()

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "cited-assistant"
CANDIDATES = 8  # the reader's best sentences per question made into pairs: the decision reads 3, the rest teach more
DEFAULT_QUESTIONS = ("../shared/bench/policy-train", "training/data/policy_questions_extra.jsonl")


class DecisionDataError(ValueError):
    """The corpus or the questions cannot be used to train the decision model."""


@dataclass
class Settings:
    corpus: str
    init: str
    out: str = "assistant/decision_model"
    questions: list[str] = field(default_factory=lambda: list(DEFAULT_QUESTIONS))
    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 2e-5
    warmup_share: float = 0.06
    weight_decay: float = 0.01
    max_length: int = 128
    layers: int = 4
    seed: int = 13
    evaluations: int = 3
    limit: int | None = None  # questions in all (smoke tests)
    max_steps: int | None = None
    threads: int = 2
    base: str | None = None
    device: str = "cpu"
    resume: bool = False
    checkpoint_every: int = 200
    stop_after: int | None = None
    time_budget: float | None = None
    keep_checkpoint: bool = False


@dataclass
class Asked:
    """One in-domain question as the product answered it: the reader's best candidates, read as the decision
    model reads them, each labelled 1.0 (answers), 0.0 (does not) or None (left out)."""

    question: str
    document: str
    answerable: bool
    candidates: list[str]
    labels: list[float | None]
    searched_for: str = ""  # the query retrieval ran: a follow-up's carries its previous turn


def train_documents(corpus: Path) -> list[Path]:
    """The corpus's train documents (splits.json beside docs/)."""
    splits = corpus / "splits.json"
    if not splits.is_file():
        raise DecisionDataError(f"{splits} is missing: --corpus must be a corpus folder with splits.json and docs/")
    names = json.loads(splits.read_text(encoding="utf-8")).get("train") or []
    found = [corpus / "docs" / name for name in names if (corpus / "docs" / name).is_file()]
    if not found:
        raise DecisionDataError(f"no train document of {splits} is in {corpus / 'docs'}")
    return found


def train_index(documents: list[Path], log=print):
    """An index of `documents` alone (links in a cache folder), built or brought up to date."""
    from assistant.config import Config
    from ingest.pipeline import run_ingest

    key = hashlib.sha256("\n".join(sorted(str(d.resolve()) for d in documents)).encode()).hexdigest()[:10]
    folder, data_dir = CACHE / f"decision-train-docs-{key}", CACHE / f"decision-train-index-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    for document in documents:
        link = folder / document.name
        if not link.exists():
            link.symlink_to(document.resolve())
    config = Config.from_env(data_dir=data_dir).replace(llm_base_url=None, reader_model_path=None)
    log(f"indexing the {len(documents)} train documents in {data_dir} (a few minutes the first time; incremental after)")
    report = run_ingest([folder], config, progress=False)
    log(f"index ready: {len(report.added)} added, {len(report.unchanged)} unchanged, {len(report.skipped)} skipped")
    return config


def _normalised(text: str) -> str:
    from eval.check_data import normalise

    return normalise(text)


def label(answerable: bool, answers: list[str], context: str, sentence: str, paragraph: str) -> float | None:
    """1.0 when `sentence` holds an answer, 0.0 when it cannot answer, None when it may answer in other words."""
    if not answerable:
        return 0.0
    wanted = [a for a in map(_normalised, answers) if a]
    if any(a in _normalised(sentence) for a in wanted):
        return 1.0
    held = _normalised(paragraph)
    if any(a in held for a in wanted) or held[:80] in _normalised(context):
        return None
    return 0.0


def ask_questions(questions: list[dict], config, log=print) -> list[Asked]:
    """Each question asked of the product over the train documents' index (no LLM): its candidates and labels."""
    from assistant.conversation import judged_question
    from assistant.core import Assistant
    from assistant.extractive import candidate_of

    assistant = Assistant.open(config=config)
    asked, started = [], time.perf_counter()
    for n, q in enumerate(questions, 1):
        # A follow-up (a record with `history`) is searched for and judged as the product does it.
        searched_for = assistant.search_query(q["question"], q.get("history"))
        grounds = assistant.gather(searched_for, question=q["question"])
        best = grounds.extract.ranked[:CANDIDATES]
        asked.append(Asked(judged_question(q["question"], searched_for), q["doc"], not q["is_impossible"], [candidate_of(s).text() for s in best],
                           [label(not q["is_impossible"], q.get("answers") or [], q.get("context", ""), s.text, s.passage.paragraph.text)
                            for s in best], searched_for))
        if n % 500 == 0:
            log(f"asked {n:,} of {len(questions):,} questions ({time.perf_counter() - started:.0f} s)")
    return asked


def load_questions(paths: list[str], documents: list[Path], limit: int | None) -> tuple[list[dict], dict]:
    """The in-domain questions of `paths` (files, or folders read for question files as the reader's
    training reads them) about the train `documents`, and each file's sha256."""
    from training.data_files import data_files, plain_name, read_jsonl, sha256_of
    from training.reader_data import IN_DOMAIN_SHAPE

    names = {d.name for d in documents}
    questions, hashes = [], {}
    for file in data_files(paths, IN_DOMAIN_SHAPE):
        rows = read_jsonl(file)
        outside = sorted({r.get("doc") for r in rows} - names)
        if outside:
            raise DecisionDataError(f"{file} has questions about documents that are not train documents: {outside[:3]}")
        hashes[plain_name(file)] = sha256_of(file)
        questions += rows
    if not questions:
        raise DecisionDataError(f"no questions in {', '.join(paths)}")
    questions.sort(key=lambda r: (r["doc"], r["question"]))
    if limit:
        questions = random.Random(13).sample(questions, min(limit, len(questions)))
    return questions, hashes


def decision_auc(logits: np.ndarray, asked: list[Asked]) -> dict:
    """The AUC, answerable against not, of the best and of the mean logit over each question's first
    DECISION_SENTENCES candidates (`logits` holds them in order)."""
    from assistant.extractive import DECISION_SENTENCES
    from training.metrics import roc_auc

    best, mean, i = [], [], 0
    for a in asked:
        n = min(DECISION_SENTENCES, len(a.candidates))
        x = logits[i:i + n]
        i += n
        best.append(float(x.max()) if n else -30.0)
        mean.append(float(x.mean()) if n else -30.0)
    y = np.array([a.answerable for a in asked])
    return {"questions": len(asked), "unanswerable": int((~y).sum()),
            "auc_best": round(roc_auc(np.array(best), y), 4), "auc_mean": round(roc_auc(np.array(mean), y), 4)}


def train(settings: Settings, log=print) -> dict:
    """Ask, pair, fine-tune and save the decision model folder; returns its record (in reader.json)."""
    import torch

    from assistant.extractive import DECISION_SENTENCES
    from assistant.reader import READER_FILE, ReaderError, read_reader_json
    from training.model_card import write_card
    from training.model_folder import SIGMOID, bundled_base, folder_megabytes, load_base, save_folder, warm_start
    from training.trainer import encode_pairs, fingerprint, predict, remove_checkpoint, train_loop

    started = time.perf_counter()
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    init = Path(settings.init)
    init_record = read_reader_json(init)
    documents = train_documents(Path(settings.corpus))
    questions, hashes = load_questions(settings.questions, documents, settings.limit)
    held = set((init_record.get("data") or {}).get("held_out_documents") or [])
    log(f"{len(questions):,} questions over {len(documents)} train documents; held out for validation: {sorted(held) or 'none'}")
    asked = ask_questions(questions, train_index(documents, log), log)
    training = [a for a in asked if a.document not in held]
    validation = [a for a in asked if a.document in held and a.candidates]
    pairs = [(a.question, c, y) for a in training for c, y in zip(a.candidates, a.labels) if y is not None]
    if not pairs or not any(y for *_, y in pairs):
        raise DecisionDataError("no positive pair: the questions' answers are not in what the product retrieves")
    log(f"{len(pairs):,} pairs ({sum(y for *_, y in pairs):,.0f} answering) from {len(training):,} questions; "
        f"{len(validation):,} validation questions")

    base = settings.base or bundled_base()
    tokenizer, model = load_base(base, settings.layers, None, settings.max_length)
    warm_start(model, init, ReaderError, log)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    encoded = encode_pairs(tokenizer, [p[0] for p in pairs], [p[1] for p in pairs], settings.max_length, "only_second")
    targets = torch.tensor([p[2] for p in pairs], dtype=torch.float32)
    first = [(a.question, c) for a in validation for c in a.candidates[:DECISION_SENTENCES]]
    val_encoded = encode_pairs(tokenizer, [p[0] for p in first], [p[1] for p in first], settings.max_length, "only_second")

    def run_validation(step: int) -> dict:
        device = next(model.parameters()).device.type
        return decision_auc(predict(model, val_encoded, device, 512 if device == "cuda" else 64)[:, 0], validation) if validation else {}

    before = run_validation(0)
    log(f"before: {before}")

    def loss_fn(logits, labels):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), labels)

    described = {"questions": len(asked), "train_questions": len(training), "train_pairs": len(pairs),
                 "train_positive": int(sum(y for *_, y in pairs)), "validation_questions": len(validation),
                 "held_out_documents": sorted(held), "train_documents": [d.name for d in documents], "files_sha256": hashes}
    shaping = fingerprint(asdict(settings), {**hashes, "init": init_record.get("version", "")})
    result = train_loop(model, encoded, np.arange(len(pairs), dtype=np.int64), targets, loss_fn, settings, Path(settings.out),
                        run_validation, lambda f: f"AUC best {f.get('auc_best')} mean {f.get('auc_mean')}", "loss", shaping, log)
    if result.stopped:
        return {"stopped": True, "step": result.steps, "total_steps": result.total_steps}

    from datetime import datetime, timezone

    # The record is the init folder's (what the model learnt first) with this step added to it.
    record = {k: v for k, v in init_record.items() if k not in ("format", "base_word_embeddings_sha256", "decision", "as_shipped")}
    record["version"] = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    record["decision_training"] = {
        "started_from": {"folder": str(init), "version": init_record.get("version")},
        "settings": asdict(settings), "data": described, "before": before,
        "curves": asdict(result.curves), "final": result.curves.validation[-1] if result.curves.validation else {},
        "training_seconds": result.train_seconds, "pairs_seen": result.pairs_seen, "steps": result.steps,
        "total_seconds": round(time.perf_counter() - started, 1)}
    out = Path(settings.out)
    model.to("cpu")
    save_folder(model, tokenizer, out, READER_FILE, record, base, SIGMOID)
    write_card(out)
    if not settings.keep_checkpoint:
        remove_checkpoint(out)
    log(f"saved the decision model to {out}/ ({folder_megabytes(out):.1f} MB); now fit its decision: "
        f"`assistant reader calibrate --data QA_TRAIN/ --policy-docs DOCS/ --model {out}`")
    return record


def main(argv: list[str] | None = None) -> int:
    from training.reader_train import add_loop_options, log_line

    defaults = Settings(corpus="", init="")
    parser = argparse.ArgumentParser(prog="assistant reader train-decision", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, help="the corpus folder, with splits.json and docs/ (../shared/bench/policy-corpus)")
    parser.add_argument("--init", required=True, metavar="FOLDER",
                        help="the reader folder to continue from (one trained with --init assistant/reader_model --extra-data ...)")
    parser.add_argument("--out", default=defaults.out, help="the decision model folder to write (default: the shipped one)")
    parser.add_argument("--questions", action="append", default=None, metavar="PATH",
                        help=f"in-domain question files or folders over the train documents (default: {', '.join(DEFAULT_QUESTIONS)})")
    for name in ("batch_size", "max_length", "seed", "evaluations", "threads", "checkpoint_every", "layers"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("epochs", "learning_rate", "warmup_share", "weight_decay"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    parser.add_argument("--limit", type=int, default=None, help="questions in all (a quick run)")
    parser.add_argument("--max-steps", type=int, default=None)
    add_loop_options(parser)
    args = parser.parse_args(argv)
    values = vars(args)
    values["questions"] = values["questions"] or list(DEFAULT_QUESTIONS)
    settings = Settings(**values)
    from assistant.reader import ReaderError
    from training.data_files import TrainingDataError
    from training.trainer import CheckpointMismatch

    try:
        train(settings, log=log_line)
    except (DecisionDataError, TrainingDataError, CheckpointMismatch, ReaderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
