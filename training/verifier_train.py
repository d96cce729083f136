"""`assistant verifier train`: fine-tune the claim checker, a 3-way NLI cross-encoder (entailment,
neutral, contradiction), from the bundled all-MiniLM-L6-v2.

    assistant verifier train --nli ../shared/bench/qa-train-extra --claims ../shared/bench/policy-train
        --claims training/data [--out assistant/verifier_model] [--layers 4] [--device cpu|cuda|auto] [--resume]

Input: premise (the cited passage) [SEP] hypothesis (the claim); output: one logit per label, in the
order of `training.verifier_data.LABELS`. Trained with cross-entropy on the public NLI pairs and
the in-domain claims (training/verifier_data.py), the word embeddings frozen, by the loop the reader
uses (training/trainer.py: CPU or CUDA, checkpoints, `--resume`). The folder is written like the
reader's (training/model_folder.py): a CrossEncoder folder less the word embeddings, float16, with
verifier.json (version, label order, data files and their sha256, settings, curves, held-out
figures) and a model card.

Held-out figures, on the public NLI premises held out and on the in-domain documents held out:
accuracy, recall per label, the AUC of P(entailment) for entailment against the rest, and at the
argmax: faithful claims accepted (entailment predicted entailment), not-supported claims rejected
(contradiction or neutral predicted otherwise than entailment), contradictions rejected; in-domain
also per kind of claim.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.entailment import VERIFIER_DIR, VERIFIER_FILE
from training.metrics import roc_auc, rounded


@dataclass
class Settings:
    nli: list[str] = field(default_factory=list)  # NLI files or folders (qa-train-extra's SNLI and MultiNLI)
    claims: list[str] = field(default_factory=list)  # in-domain claim files or folders
    out: str = str(VERIFIER_DIR)
    layers: int = 4
    epochs: float = 4.0
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_share: float = 0.06
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 13
    validation_share: float = 0.1  # of the NLI premises
    claims_repeat: int = 8  # times the in-domain claims are seen per epoch
    unrelated: float = 1.0  # unrelated (neutral) pairs per training claim (training/verifier_data.py)
    holdout_docs: int = 3  # in-domain documents held out for validation
    evaluations: int = 4
    limit: int | None = None  # records per data file (smoke tests)
    max_steps: int | None = None
    threads: int = 2
    base: str | None = None
    init: str | None = None  # a trained verifier folder to continue from (warm start) instead of a new head
    device: str = "cpu"
    resume: bool = False
    checkpoint_every: int = 1000
    stop_after: int | None = None
    time_budget: float | None = None
    keep_checkpoint: bool = False
    as_shipped: bool = True  # measure the written folder read back (float16 weights, the bundled base's embeddings)


def figures(logits: np.ndarray, pairs: list, prefix: str = "") -> dict:
    """Held-out figures of `logits` (one row per pair, LABELS order) against the pairs' labels."""
    from training.verifier_data import LABELS

    if not pairs:
        return {}
    labels = np.array([p.label for p in pairs])
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    predicted = probs.argmax(axis=1)
    entail, contra = LABELS.index("entailment"), LABELS.index("contradiction")
    is_entail = labels == entail
    out = {
        "loss": round(float(-np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-12))), 4),
        "accuracy": round(float((predicted == labels).mean()), 4),
        "auc_entailment": rounded(roc_auc(probs[:, entail], is_entail)),
        "faithful_accepted": rounded((predicted[is_entail] == entail).mean()) if is_entail.any() else None,
        "not_supported_rejected": rounded((predicted[~is_entail] != entail).mean()) if (~is_entail).any() else None,
        "contradiction_rejected": rounded((predicted[labels == contra] != entail).mean()) if (labels == contra).any() else None,
        "pairs": len(pairs),
    }
    for i, name in enumerate(LABELS):
        out[f"recall_{name}"] = rounded((predicted[labels == i] == i).mean()) if (labels == i).any() else None
    kinds = defaultdict(list)
    for pair, guess in zip(pairs, predicted):
        if pair.kind:
            kinds[pair.kind].append(bool((guess == entail) == (pair.label == entail)))
    if kinds:
        # per kind: the share handled right (a faithful kind accepted, any other rejected)
        out["right_by_kind"] = {k: {"pairs": len(v), "right": round(float(np.mean(v)), 4)} for k, v in sorted(kinds.items())}
    return {f"{prefix}{k}": v for k, v in out.items()}


def _short(found: dict) -> str:
    keys = ("loss", "accuracy", "auc_entailment", "in_domain_accuracy", "in_domain_auc_entailment", "in_domain_faithful_accepted",
            "in_domain_not_supported_rejected")
    return "  ".join(f"{k} {found[k]}" for k in keys if found.get(k) is not None)


def _as_shipped(folder: Path, encoded, split: int, data, base: str, log) -> dict:
    """The held-out figures again, from the written folder read back as a CrossEncoder (float16 weights,
    the bundled base's word embeddings)."""
    from training.model_folder import load_folder
    from training.trainer import predict

    model = load_folder(folder, VERIFIER_FILE, base)[0].model
    logits = predict(model, encoded, "cpu")
    found = {**figures(logits[:split], data.validation), **figures(logits[split:], data.in_domain_validation, "in_domain_")}
    log(f"as shipped (float16 read back): {_short(found)}")
    return found


def train(settings: Settings, log=print) -> dict:
    """Train, validate, save the verifier folder. Returns the training record (also in verifier.json);
    with `stop_after`, {"stopped": True, ...} once the checkpoint is written."""
    import torch

    from training.model_card import write_verifier_card
    from assistant.entailment import VerifierError
    from training.model_folder import (IDENTITY, base_description, bundled_base, folder_megabytes, load_base, save_folder, warm_start,
                                       zeroed_row_hits)
    from training.trainer import encode_pairs, fingerprint, predict, remove_checkpoint, run_record, train_loop
    from training.verifier_data import LABELS, load_verifier_data

    started = time.perf_counter()
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    base = settings.base or bundled_base()
    data = load_verifier_data(settings.nli, settings.claims, settings.validation_share, settings.seed, settings.limit,
                              settings.claims_repeat, settings.holdout_docs, log, settings.unrelated)
    described = data.describe()
    log(f"data: {described['train_pairs']:,} training pairs ({described['train_pairs_per_epoch']:,} per epoch with repeats; "
        f"{described['train_labels']}), {described['validation_pairs']:,} NLI validation pairs, "
        f"{described['in_domain_validation_pairs']:,} in-domain validation claims on {len(data.held_out_documents)} held-out documents")

    tokenizer, model = load_base(base, settings.layers, list(LABELS), settings.max_length)
    if settings.init:
        warm_start(model, Path(settings.init), VerifierError, log)
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    encoded = encode_pairs(tokenizer, [p.premise for p in data.train], [p.hypothesis for p in data.train], settings.max_length, "longest_first")
    train_index = np.repeat(np.arange(len(data.train), dtype=np.int64), [data.repeat_of(p) for p in data.train])
    targets = torch.tensor([p.label for p in data.train], dtype=torch.long)
    held = data.validation + data.in_domain_validation
    val_encoded = encode_pairs(tokenizer, [p.premise for p in held], [p.hypothesis for p in held], settings.max_length, "longest_first")
    split = len(data.validation)
    log(f"tokenized {len(encoded):,} training and {len(val_encoded):,} validation pairs in {time.perf_counter() - started:.0f} s since start")
    unreached = zeroed_row_hits(model, np.concatenate([encoded.ids, val_encoded.ids]))
    if unreached:
        log(f"warning: {unreached:,} tokens of the data have a zeroed word-embedding row in the staged base: stage it again from this data")

    def run_validation(step: int) -> dict:
        device = next(model.parameters()).device.type
        logits = predict(model, val_encoded, device, 512 if device == "cuda" else 64)
        return {**figures(logits[:split], data.validation), **figures(logits[split:], data.in_domain_validation, "in_domain_")}

    def loss_fn(logits, labels):
        return torch.nn.functional.cross_entropy(logits, labels)

    shaping = fingerprint(asdict(settings), described["files_sha256"])
    result = train_loop(model, encoded, train_index, targets, loss_fn, settings, Path(settings.out), run_validation, _short, "loss", shaping, log)
    if result.stopped:
        return {"stopped": True, "step": result.steps, "total_steps": result.total_steps}
    record = {**run_record(settings, result, base_description(base), described, unreached), "labels": list(LABELS),
              "input": "premise (the cited passage) [SEP] hypothesis (the claim)"}
    if settings.init:
        from assistant.entailment import read_verifier_json

        record["started_from"] = {"folder": settings.init, "version": read_verifier_json(Path(settings.init)).get("version")}
    out = Path(settings.out)
    model.to("cpu")
    save_folder(model, tokenizer, out, VERIFIER_FILE, record, base, IDENTITY)
    if settings.as_shipped:
        record["as_shipped"] = _as_shipped(out, val_encoded, split, data, base, log)
    record["size_mb"] = folder_megabytes(out)
    record["total_seconds"] = round(time.perf_counter() - started, 1)
    meta = json.loads((out / VERIFIER_FILE).read_text(encoding="utf-8"))
    meta.update({k: record[k] for k in ("as_shipped", "size_mb", "total_seconds") if k in record})
    (out / VERIFIER_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_verifier_card(out)
    if not settings.keep_checkpoint:
        remove_checkpoint(out)
    log(f"saved the verifier to {out}/ ({folder_megabytes(out):.1f} MB) in {record['total_seconds'] / 60:.1f} min")
    return record


def main(argv: list[str] | None = None) -> int:
    from assistant.entailment import VerifierError
    from training.data_files import TrainingDataError
    from training.reader_train import add_loop_options, log_line
    from training.trainer import CheckpointMismatch

    defaults = Settings()
    parser = argparse.ArgumentParser(prog="assistant verifier train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nli", action="append", default=[], metavar="PATH",
                        help="NLI pairs {premise, hypothesis, label}: files or folders (../shared/bench/qa-train-extra); WikiQA is never read")
    parser.add_argument("--claims", action="append", default=[], metavar="PATH",
                        help="in-domain claims {id, doc, premise, hypothesis, label, kind}: files or folders")
    parser.add_argument("--out", default=defaults.out, help=f"model folder to write (default: {defaults.out})")
    for name in ("layers", "batch_size", "max_length", "seed", "evaluations", "threads", "claims_repeat", "holdout_docs", "checkpoint_every"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("epochs", "learning_rate", "warmup_share", "weight_decay", "validation_share", "unrelated"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    parser.add_argument("--limit", type=int, default=None, help="records per data file (a quick run)")
    parser.add_argument("--max-steps", type=int, default=None)
    add_loop_options(parser)
    parser.add_argument("--init", default=None, metavar="FOLDER",
                        help="continue from this trained verifier folder (e.g. assistant/verifier_model) instead of a new head: "
                             "the way to add claims without repeating the whole training on a CPU")
    parser.add_argument("--no-as-shipped", dest="as_shipped", action="store_false",
                        help="skip reading the written folder back (needs sentence-transformers and the bundled base)")
    args = parser.parse_args(argv)
    settings = Settings(**vars(args))
    try:
        train(settings, log=log_line)
    except (TrainingDataError, CheckpointMismatch, VerifierError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
