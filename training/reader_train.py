"""`assistant reader train`: fine-tune the reader (a cross-encoder) from the bundled all-MiniLM-L6-v2.

    assistant reader train --data ../shared/bench/qa-train [--qa-extra ../shared/bench/qa-train-extra]
        [--extra-data ../shared/bench/policy-train --extra-data training/data] [--out assistant/reader_model]
        [--layers 4] [--device cpu|cuda|auto] [--resume]

The model is the base's first `--layers` transformer layers with a new one-logit head, trained with
binary cross-entropy on (question, candidate sentence) pairs (training/reader_data.py): qa-train,
qa-train-extra's SQuAD-style files (never WikiQA), and in-domain questions (`--extra-data`, seen
`--extra-repeat` times per epoch). The word embeddings stay frozen, so the shipped folder leaves
them out and takes them from the bundled base at load time (assistant/reader.py). The loop
(training/trainer.py) runs on the CPU or a CUDA GPU (bf16), checkpoints into the output folder's
`checkpoint/` and resumes from it (`--resume`); everything is seeded.

Validation runs a few times during training and at the end, on two held-out sets: the qa-train
articles held out (public: how often the best-scored sentence answers, and how well the best score
separates answerable from unanswerable SQuAD 2.0 questions: ROC AUC and the best decision accuracy)
and the in-domain documents held out (the same figures over their questions). The curves, the data
files' hashes, every setting, the wall time and the machine go into the model card
(training/model_card.py) and reader.json. A first answer-or-abstain calibration is fitted on the
validation questions; `assistant reader calibrate` refits it on the product's dev data.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.reader import READER_DIR
from training.metrics import best_accuracy, roc_auc, rounded


@dataclass
class Settings:
    data: str
    out: str = str(READER_DIR)
    layers: int = 4
    epochs: float = 1.75
    batch_size: int = 32
    learning_rate: float = 6e-5
    warmup_share: float = 0.06
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 13
    validation_share: float = 0.12
    other_paragraphs: int = 1  # on-topic negatives per SQuAD question, from other paragraphs of its article
    metadata: bool = True  # the synthetic header examples (training/metadata_pairs.py)
    evaluations: int = 4  # validation passes during training (plus one at the end)
    limit: int | None = None  # questions per data file (smoke tests)
    max_steps: int | None = None
    threads: int = 2
    qa_extra: list[str] = field(default_factory=list)  # SQuAD-style files or folders (qa-train-extra), training only
    extra_data: list[str] = field(default_factory=list)  # in-domain question files or folders
    extra_repeat: int = 8  # times the in-domain pairs are seen per epoch
    holdout_docs: int = 3  # in-domain documents held out for validation
    base: str | None = None  # the base model folder (default: the bundled all-MiniLM-L6-v2)
    init: str | None = None  # a trained reader folder to start from (warm start) instead of a new head
    device: str = "cpu"  # cpu, cuda or auto
    resume: bool = False
    checkpoint_every: int = 1000  # steps (and at each epoch's end)
    stop_after: int | None = None  # steps of this run, then checkpoint and stop
    time_budget: float | None = None  # minutes for the training loop; fewer steps are planned if needed
    keep_checkpoint: bool = False  # keep checkpoint/ once the model is written
    as_shipped: bool = True  # measure the written folder as the product runs it (needs the bundled base)


def validate(logits: np.ndarray, questions: list) -> tuple[dict, list, np.ndarray]:
    """Validation figures from the logits of every pair of `questions` (in order), and the logits
    and answerability of each SQuAD 2.0 question, for the first calibration. `top1`: the best-scored
    sentence answers, over the answerable questions of the data files; `metadata_top1` the same over
    the synthetic header questions; `auc` and `accuracy` (best threshold): answerable against
    unanswerable SQuAD 2.0 questions, from the best score alone."""
    from training.metadata_pairs import SOURCE as METADATA_SOURCE
    from training.reader_data import SQUAD_FILES

    labels = np.array([p.label for q in questions for p in q.pairs])
    loss = float(np.mean(np.logaddexp(0, logits) - labels * logits)) if len(labels) else float("nan")
    best, answerable, top1, metadata_top1 = [], [], [], []
    i = 0
    for q in questions:
        scores = logits[i : i + len(q.pairs)]
        i += len(q.pairs)
        if q.answerable and q.source == METADATA_SOURCE:
            metadata_top1.append(q.pairs[int(scores.argmax())].label > 0.5)
        elif q.answerable:
            top1.append(q.pairs[int(scores.argmax())].label > 0.5)
        if q.source == SQUAD_FILES[0]:
            best.append(scores.copy())
            answerable.append(q.answerable)
    best_arr, ans_arr = np.array([float(x.max()) for x in best]), np.array(answerable, dtype=bool)
    figures = {"loss": round(loss, 4), "top1": round(float(np.mean(top1)), 4) if top1 else float("nan"),
               "auc": _or_nan(rounded(roc_auc(best_arr, ans_arr))), "accuracy": _or_nan(rounded(best_accuracy(best_arr, ans_arr))),
               "metadata_top1": round(float(np.mean(metadata_top1)), 4) if metadata_top1 else None,
               "questions": len(questions), "squad2_questions": len(best), "squad2_unanswerable": int((~ans_arr).sum())}
    return figures, best, ans_arr


def _or_nan(value):
    return float("nan") if value is None else value


def in_domain_figures(logits: np.ndarray, questions: list) -> tuple[dict, list, np.ndarray]:
    """The in-domain held-out documents' figures (keys `in_domain_*`): best sentence answers, and
    answerable against unanswerable from the best score (AUC, best-threshold accuracy); and each
    question's logits and answerability."""
    if not questions:
        return {}, [], np.zeros(0, dtype=bool)
    labels = np.array([p.label for q in questions for p in q.pairs])
    per_question, top1, i = [], [], 0
    for q in questions:
        scores = logits[i : i + len(q.pairs)]
        i += len(q.pairs)
        per_question.append(scores.copy())
        if q.answerable:
            top1.append(q.pairs[int(scores.argmax())].label > 0.5)
    answerable = np.array([q.answerable for q in questions], dtype=bool)
    best = np.array([float(x.max()) for x in per_question])
    figures = {"in_domain_loss": round(float(np.mean(np.logaddexp(0, logits) - labels * logits)), 4),
               "in_domain_top1": rounded(np.mean(top1)) if top1 else None, "in_domain_auc": rounded(roc_auc(best, answerable)),
               "in_domain_accuracy": rounded(best_accuracy(best, answerable)), "in_domain_questions": len(questions),
               "in_domain_unanswerable": int((~answerable).sum())}
    return figures, per_question, answerable


def _short(figures: dict) -> str:
    keys = ("loss", "top1", "auc", "accuracy", "in_domain_top1", "in_domain_auc", "in_domain_accuracy")
    return "  ".join(f"{k} {figures[k]}" for k in keys if figures.get(k) is not None)


def assess_as_shipped(folder: Path, validation: list, in_domain: list, log=print) -> dict:
    """Validation figures of the saved folder as the product runs it (float16 weights read back, int8
    dynamic quantization) beside the same without quantization, and how closely their logits agree.
    Recorded in reader.json as "as_shipped"."""
    from assistant.reader import READER_FILE, Reader

    questions = validation + in_domain
    pairs = [(p.question, p.candidate) for q in questions for p in q.pairs]
    split = sum(len(q.pairs) for q in validation)
    logits = {}
    figures = {}
    for name, quantize in (("float32", False), ("int8", True)):
        logits[name] = Reader(folder, quantize=quantize).score_pairs(pairs)
        figures[name], _, _ = validate(logits[name][:split], validation)
        figures[name].update(in_domain_figures(logits[name][split:], in_domain)[0])
    figures["logit_correlation"] = round(float(np.corrcoef(logits["float32"], logits["int8"])[0, 1]), 4)
    log(f"as shipped: {figures}")
    path = Path(folder) / READER_FILE
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["as_shipped"] = figures
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return figures


def fit_decision(sources: dict) -> dict:
    """A first answer-or-abstain decision (assistant/reader.py `Decision`), fitted on the validation
    questions (gold paragraph given): SQuAD 2.0's and the in-domain held-out documents'. `assistant
    reader calibrate` refits it on the product's dev data."""
    from training.reader_calibrate import fit

    return fit({name: source for name, source in sources.items() if len(source[1])})


def train(settings: Settings, log=print) -> dict:
    """Train, validate, save the reader folder. Returns the training record (also in reader.json);
    with `stop_after`, returns {"stopped": True, ...} once the checkpoint is written."""
    import torch

    from assistant.reader import READER_FILE
    from training.model_card import write_card, write_curves_plot
    from assistant.reader import ReaderError
    from training.model_folder import (SIGMOID, base_description, bundled_base, folder_megabytes, load_base, save_folder, warm_start,
                                       zeroed_row_hits)
    from training.reader_data import load_training_data
    from training.trainer import encode_pairs, fingerprint, predict, remove_checkpoint, run_record, train_loop

    started = time.perf_counter()
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    base = settings.base or bundled_base()

    data = load_training_data(Path(settings.data), settings.validation_share, settings.seed, settings.limit, settings.other_paragraphs,
                              settings.metadata, settings.qa_extra, settings.extra_data, settings.extra_repeat, settings.holdout_docs, log)
    described = data.describe()
    log(f"data: {described['train_pairs']:,} training pairs ({described['train_pairs_per_epoch']:,} per epoch with repeats, "
        f"{described['train_questions']:,} questions), {described['validation_questions']:,} validation questions "
        f"({described['validation_unanswerable']:,} unanswerable), {described['in_domain_validation_questions']:,} in-domain "
        f"validation questions on {len(data.held_out_documents)} held-out documents")

    tokenizer, model = load_base(base, settings.layers, None, settings.max_length)
    if settings.init:
        warm_start(model, Path(settings.init), ReaderError, log)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    encoded = encode_pairs(tokenizer, [p.question for p in data.train], [p.candidate for p in data.train], settings.max_length, "only_second")
    train_index = np.repeat(np.arange(len(data.train), dtype=np.int64), [data.repeat_of(p) for p in data.train])
    targets = torch.tensor([p.label for p in data.train], dtype=torch.float32)
    validation_pairs = [p for q in data.validation + data.in_domain_validation for p in q.pairs]
    val_encoded = encode_pairs(tokenizer, [p.question for p in validation_pairs], [p.candidate for p in validation_pairs],
                               settings.max_length, "only_second")
    split = sum(len(q.pairs) for q in data.validation)
    log(f"tokenized {len(encoded):,} training and {len(val_encoded):,} validation pairs in {time.perf_counter() - started:.0f} s since start")
    unreached = zeroed_row_hits(model, np.concatenate([encoded.ids, val_encoded.ids]))
    if unreached:
        log(f"warning: {unreached:,} tokens of the data have a zeroed word-embedding row in the staged base: stage it again from this data")
    last = {}

    def run_validation(step: int) -> dict:
        device = next(model.parameters()).device.type
        logits = predict(model, val_encoded, device, 512 if device == "cuda" else 64)[:, 0]
        figures, last["squad2"], last["squad2_answerable"] = validate(logits[:split], data.validation)
        in_domain, last["in_domain"], last["in_domain_answerable"] = in_domain_figures(logits[split:], data.in_domain_validation)
        return {**figures, **in_domain}

    def loss_fn(logits, labels):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), labels)

    shaping = fingerprint(asdict(settings), described["files_sha256"])
    result = train_loop(model, encoded, train_index, targets, loss_fn, settings, Path(settings.out), run_validation, _short, "loss", shaping, log)
    if result.stopped:
        return {"stopped": True, "step": result.steps, "total_steps": result.total_steps}

    decision = fit_decision({"validation (gold paragraph)": (last["squad2"], last["squad2_answerable"]),
                             "in-domain held-out documents (gold paragraph)": (last["in_domain"], last["in_domain_answerable"])})
    decision["fitted_on"] = ("the validation questions of qa-train and of the in-domain held-out documents (gold paragraph given); "
                             "refit on the product's dev data with `assistant reader calibrate`")
    record = {**run_record(settings, result, base_description(base), described, unreached), "decision": decision,
              "total_seconds": round(time.perf_counter() - started, 1)}
    if settings.init:
        from assistant.reader import read_reader_json

        record["started_from"] = {"folder": settings.init, "version": read_reader_json(Path(settings.init)).get("version")}
    out = Path(settings.out)
    model.to("cpu")
    save_folder(model, tokenizer, out, READER_FILE, record, base, SIGMOID)
    if settings.as_shipped:
        record["as_shipped"] = assess_as_shipped(out, data.validation, data.in_domain_validation, log)
    record["total_seconds"] = round(time.perf_counter() - started, 1)
    meta = json.loads((out / READER_FILE).read_text(encoding="utf-8"))
    meta["total_seconds"] = record["total_seconds"]
    (out / READER_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_curves_plot(record, out / "training_curves.png")
    write_card(out)
    if not settings.keep_checkpoint:
        remove_checkpoint(out)
    log(f"saved the reader to {out}/ ({folder_megabytes(out):.1f} MB) in {record['total_seconds'] / 60:.1f} min")
    return record


def log_line(message: str) -> None:
    """A progress line on stderr, with the time of day."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    defaults = Settings(data="")
    parser = argparse.ArgumentParser(prog="assistant reader train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the qa-train folder (e.g. ../shared/bench/qa-train)")
    parser.add_argument("--out", default=defaults.out, help="model folder to write (default: the shipped reader)")
    parser.add_argument("--qa-extra", action="append", default=[], metavar="PATH",
                        help="SQuAD-style files, or a folder of them (../shared/bench/qa-train-extra), for training; WikiQA is never read")
    parser.add_argument("--extra-data", action="append", default=[], metavar="PATH",
                        help="in-domain questions: .jsonl files or folders, records {id, doc, title, context, question, is_impossible, answers}")
    for name in ("layers", "batch_size", "max_length", "seed", "evaluations", "threads", "other_paragraphs", "extra_repeat", "holdout_docs",
                 "checkpoint_every"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("epochs", "learning_rate", "warmup_share", "weight_decay", "validation_share"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    parser.add_argument("--no-metadata", dest="metadata", action="store_false", help="leave out the synthetic header examples")
    parser.add_argument("--limit", type=int, default=None, help="questions per data file (a quick run)")
    parser.add_argument("--max-steps", type=int, default=None)
    add_loop_options(parser)
    parser.add_argument("--init", default=None, metavar="FOLDER",
                        help="start from this trained reader folder (e.g. assistant/reader_model) instead of a new head")
    parser.add_argument("--no-as-shipped", dest="as_shipped", action="store_false",
                        help="skip measuring the written folder as the product runs it (int8; needs the bundled base)")
    args = parser.parse_args(argv)
    settings = Settings(**{k: v for k, v in vars(args).items()})
    from assistant.reader import ReaderError
    from training.reader_data import TrainingDataError
    from training.trainer import CheckpointMismatch

    try:
        train(settings, log=log_line)
    except (TrainingDataError, CheckpointMismatch, ReaderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def add_loop_options(parser: argparse.ArgumentParser) -> None:
    """The options of training/trainer.py's loop, shared with `assistant verifier train`."""
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                        help="cpu (float32), cuda (bf16 autocast, fused AdamW) or auto (cuda when there is one)")
    parser.add_argument("--base", default=None, help="the base model folder (default: the bundled all-MiniLM-L6-v2)")
    parser.add_argument("--resume", action="store_true", help="continue from the output folder's checkpoint/ when there is one")
    parser.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                        help="train this many steps, write a checkpoint and stop (continue later with --resume)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="MINUTES",
                        help="plan fewer steps when the loop would not finish in this many minutes")
    parser.add_argument("--keep-checkpoint", action="store_true", help="keep checkpoint/ once the model is written")


if __name__ == "__main__":
    raise SystemExit(main())
