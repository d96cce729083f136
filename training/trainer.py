"""The training loop the reader and the verifier share: pairs tokenized once, length-sorted batches,
AdamW with warm-up then linear decay, on the CPU or a CUDA GPU, with checkpoints to resume from.

- Device: `cpu` trains in float32 as before; `cuda` trains under bf16 autocast with fused AdamW;
  `auto` takes cuda when torch sees one.
- Pairs are tokenized once up front into flat arrays (no padding); a batch is padded to its longest
  pair. Batches come from shuffled chunks of 50 batches sorted by length (little padding), then
  shuffled. Repeated data (in-domain examples, `--extra-repeat`) repeats indices, not tokens.
- Checkpoints: every `checkpoint_every` steps and at each epoch's end the output folder's
  `checkpoint/state.pt` holds the weights (less the frozen word embeddings), optimizer, scheduler,
  every random generator's state, the step, the epoch's shuffle state and the curves. With `resume`
  a run continues from it, on either device: the batches it would have drawn are drawn again, so a
  resumed run matches an uninterrupted one. A checkpoint is refused when the settings that shape the
  training (or the data's hashes) differ. `stop_after` ends a run after so many steps, checkpointed
  (a long CPU run in sessions).
- `time_budget` (minutes, for the loop): after the first steps the loop measures its pace and, if
  the planned steps would not fit, plans fewer, the learning rate still decaying to zero at the end.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

CHECKPOINT_DIR = "checkpoint"
CHECKPOINT_FILE = "state.pt"
CHUNK_BATCHES = 50
# Settings that do not change what is learnt: a checkpoint made under other values still resumes.
OPERATIONAL = {"out", "data", "qa_extra", "extra_data", "nli", "claims", "base", "device", "resume", "stop_after",
               "time_budget", "checkpoint_every", "threads", "keep_checkpoint", "as_shipped", "evaluations"}


class CheckpointMismatch(RuntimeError):
    """The checkpoint was made by a training with other settings or data."""


@dataclass
class Encoded:
    """Tokenized pairs, unpadded: pair i is ids[offsets[i]:offsets[i+1]] (and its token types)."""

    ids: np.ndarray
    types: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def tensors(self, index) -> dict:
        """input_ids, token_type_ids and attention_mask of the pairs `index`, padded to the longest."""
        import torch

        starts, ends = self.offsets[index], self.offsets[np.asarray(index) + 1]
        width = int((ends - starts).max())
        ids = np.zeros((len(index), width), dtype=np.int64)
        types = np.zeros((len(index), width), dtype=np.int64)
        mask = np.zeros((len(index), width), dtype=np.int64)
        for row, (start, end) in enumerate(zip(starts, ends)):
            n = end - start
            ids[row, :n] = self.ids[start:end]
            types[row, :n] = self.types[start:end]
            mask[row, :n] = 1
        return {"input_ids": torch.from_numpy(ids), "token_type_ids": torch.from_numpy(types), "attention_mask": torch.from_numpy(mask)}


def encode_pairs(tokenizer, firsts: list[str], seconds: list[str], max_length: int, truncation: str, chunk: int = 8192) -> Encoded:
    """Tokenize (first, second) pairs once, in chunks, into flat arrays."""
    ids, types, lengths = [], [], [0]
    for start in range(0, len(firsts), chunk):
        enc = tokenizer(firsts[start : start + chunk], seconds[start : start + chunk], truncation=truncation, max_length=max_length)
        for row_ids, row_types in zip(enc["input_ids"], enc["token_type_ids"]):
            ids.append(np.asarray(row_ids, dtype=np.int32))
            types.append(np.asarray(row_types, dtype=np.int8))
            lengths.append(len(row_ids))
    offsets = np.cumsum(np.asarray(lengths, dtype=np.int64))
    empty = np.zeros(0, dtype=np.int32)
    return Encoded(np.concatenate(ids) if ids else empty, np.concatenate(types) if types else empty.astype(np.int8), offsets)


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: torch sees no CUDA device here (use --device cpu or auto)")
    return name


def predict(model, encoded: Encoded, device: str, batch_size: int = 64) -> np.ndarray:
    """The model's logits (float32, one row per pair), read in length-sorted batches."""
    import torch

    order = np.argsort(encoded.lengths(), kind="stable")
    out = None
    model.eval()
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = {k: v.to(device) for k, v in encoded.tensors(index).items()}
            logits = model(**batch).logits.float().cpu().numpy()
            if out is None:
                out = np.zeros((len(encoded), logits.shape[1]), dtype=np.float32)
            out[index] = logits
    return out if out is not None else np.zeros((0, 1), dtype=np.float32)


def epoch_batches(lengths: np.ndarray, train_index: np.ndarray, batch_size: int, rng: random.Random) -> list[np.ndarray]:
    """One epoch's batches of indices into the pairs: shuffled, then chunks of 50 batches sorted by
    length so a batch pads little, then the batches shuffled."""
    order = list(range(len(train_index)))
    rng.shuffle(order)
    chunk = batch_size * CHUNK_BATCHES
    batches = []
    for start in range(0, len(order), chunk):
        ids = sorted(order[start : start + chunk], key=lambda i: lengths[train_index[i]])
        batches += [train_index[ids[j : j + batch_size]] for j in range(0, len(ids), batch_size)]
    rng.shuffle(batches)
    return batches


@dataclass
class Curves:
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)  # mean over the steps since the previous point
    validation: list[dict] = field(default_factory=list)  # {"step", "loss", ...}: what the validation returns


@dataclass
class LoopResult:
    curves: Curves
    steps: int
    total_steps: int
    pairs_seen: int
    train_seconds: float
    device: str
    stopped: bool  # ended by stop_after, checkpointed, not finished
    resumed_from: int | None  # the checkpoint's step, when resumed
    planned_steps: int  # before a time budget cut the plan


def fingerprint(settings: dict, data_hashes: dict) -> str:
    """What a checkpoint must agree with to be resumed: the settings that shape training, and the data."""
    shaping = {k: v for k, v in sorted(settings.items()) if k not in OPERATIONAL}
    return hashlib.sha256(json.dumps([shaping, data_hashes], sort_keys=True, default=str).encode()).hexdigest()


def _trained_state(model) -> dict:
    """The weights a checkpoint keeps: all but the frozen ones (the base's word embeddings)."""
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if k not in frozen}


def _random_states() -> dict:
    import torch

    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_random_states(states: dict) -> None:
    import torch

    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def checkpoint_path(out: str | Path) -> Path:
    return Path(out) / CHECKPOINT_DIR / CHECKPOINT_FILE


def train_loop(model, encoded: Encoded, train_index: np.ndarray, targets, loss_fn: Callable, settings, out: Path,
               validate: Callable[[int], dict], print_figures: Callable[[dict], str], print_loss: str, shaping: str, log) -> LoopResult:
    """Train `model` on the pairs `train_index` of `encoded` (targets: a tensor indexed like `encoded`)
    with `loss_fn(logits, targets)`. `validate(step)` returns the validation figures (a few times
    during training and once at the end); `settings` carries the loop's settings; `shaping` is the
    fingerprint a checkpoint must match. Checkpoints go under `out`."""
    import torch

    device = resolve_device(settings.device)
    torch.set_num_threads(settings.threads)
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model.to(device)
    targets = targets.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=settings.learning_rate, fused=device == "cuda")
    steps_per_epoch = math.ceil(len(train_index) / settings.batch_size)
    planned = max(1, int(steps_per_epoch * settings.epochs))
    if settings.max_steps:
        planned = min(planned, settings.max_steps)
    plan = {"total": planned}
    warmup = max(1, int(planned * settings.warmup_share))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (plan["total"] - s) / max(1, plan["total"] - warmup))))
    eval_at = {int(planned * k / (settings.evaluations + 1)) for k in range(1, settings.evaluations + 1)} - {0}
    lengths = encoded.lengths()
    rng = random.Random(settings.seed)
    curves = Curves()
    state = {"step": 0, "epoch": 0, "batch_in_epoch": 0, "epoch_rng": rng.getstate(), "pairs_seen": 0, "train_seconds": 0.0,
             "running": 0.0, "running_n": 0}
    resumed_from = None
    path = checkpoint_path(out)
    if settings.resume and path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if saved["fingerprint"] != shaping:
            raise CheckpointMismatch(f"{path} was made by a training with other settings or data: remove it, or resume with the same settings")
        model.load_state_dict(saved["model"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        plan["total"] = saved["total_steps"]
        curves = Curves(**saved["curves"])
        state = saved["loop"]
        _restore_random_states(saved["random"])
        resumed_from = state["step"]
        log(f"resumed from {path} at step {state['step']:,} (epoch {state['epoch'] + 1}, batch {state['batch_in_epoch']:,})")
    elif settings.resume:
        log(f"no checkpoint in {path.parent}: starting afresh")
    log(f"{sum(p.numel() for p in params):,} trained parameters on {device}; {plan['total']:,} steps of {settings.batch_size} "
        f"({settings.epochs} epochs of {len(train_index):,} pairs), validation at steps {sorted(s for s in eval_at if s < plan['total'])}")

    def save_checkpoint(reason: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"fingerprint": shaping, "model": _trained_state(model), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "total_steps": plan["total"], "curves": asdict(curves), "loop": dict(state),
                    "random": _random_states()}, tmp)
        os.replace(tmp, path)
        log(f"checkpoint at step {state['step']:,} ({reason})")

    def curve_point() -> None:
        figures = validate(state["step"])
        curves.steps.append(state["step"])
        curves.train_loss.append(round(state["running"] / max(1, state["running_n"]), 4))
        curves.validation.append({"step": state["step"], **figures})
        state["running"], state["running_n"] = 0.0, 0
        log(f"validation at step {state['step']:,}: {print_figures(figures)}")

    session_start = time.perf_counter()
    session_steps = 0
    seconds_before = state["train_seconds"]
    last_log = session_start
    running = torch.zeros((), device=device)  # summed on the device: no sync per step
    stopped = False
    budget = settings.time_budget * 60 if settings.time_budget else None
    while state["step"] < plan["total"] and not stopped:
        rng.setstate(state["epoch_rng"])
        batches = epoch_batches(lengths, train_index, settings.batch_size, rng)
        for index in batches[state["batch_in_epoch"] :]:
            if state["step"] >= plan["total"]:
                break
            model.train()
            batch = {k: v.to(device, non_blocking=True) for k, v in encoded.tensors(index).items()}
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                logits = model(**batch).logits
            loss = loss_fn(logits.float(), targets[torch.as_tensor(index, device=device)])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.detach() * len(index)
            state["step"] += 1
            state["batch_in_epoch"] += 1
            state["pairs_seen"] += len(index)
            state["running_n"] += len(index)
            session_steps += 1
            now = time.perf_counter()
            state["train_seconds"] = seconds_before + now - session_start
            if budget and session_steps % 100 == 50:
                pace = (now - session_start) / session_steps
                left = budget - state["train_seconds"]
                if (plan["total"] - state["step"]) * pace > left:
                    plan["total"] = max(state["step"] + 1, state["step"] + int(max(0.0, left) / pace * 0.97))
                    log(f"time budget {settings.time_budget} min: {plan['total']:,} steps planned now (pace {pace * 1000:.0f} ms/step)")
            if now - last_log > 30 or state["step"] == plan["total"]:
                state["running"] += float(running)
                running.zero_()
                rate = state["pairs_seen"] / max(state["train_seconds"], 1e-9)
                eta = (plan["total"] - state["step"]) * settings.batch_size / max(rate, 1e-9)
                log(f"step {state['step']:,}/{plan['total']:,}  {print_loss} {state['running'] / max(1, state['running_n']):.4f}  "
                    f"{rate:.1f} pairs/s  eta {eta / 60:.1f} min")
                last_log = now
            if state["step"] in eval_at and state["step"] < plan["total"]:
                state["running"] += float(running)
                running.zero_()
                curve_point()
            if settings.checkpoint_every and state["step"] % settings.checkpoint_every == 0 and state["step"] < plan["total"]:
                state["running"] += float(running)
                running.zero_()
                save_checkpoint("every %d steps" % settings.checkpoint_every)
            if settings.stop_after and session_steps >= settings.stop_after and state["step"] < plan["total"]:
                stopped = True
                break
        else:
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            state["epoch_rng"] = rng.getstate()
            if state["step"] < plan["total"]:
                state["running"] += float(running)
                running.zero_()
                save_checkpoint(f"end of epoch {state['epoch']}")
    state["running"] += float(running)
    if stopped:
        save_checkpoint(f"stopped after {session_steps:,} steps of this run")
        log(f"stopped at step {state['step']:,}/{plan['total']:,}: continue with --resume")
    else:
        curve_point()
    return LoopResult(curves, state["step"], plan["total"], state["pairs_seen"], round(state["train_seconds"], 1), device, stopped,
                      resumed_from, planned)


def machine_description(threads: int, device: str) -> dict:
    """Where a model was trained, for its record."""
    import platform

    import torch

    machine = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
               "threads": threads, "torch": torch.__version__, "device": device}
    if device == "cuda":
        machine["gpu"] = torch.cuda.get_device_name(0)
    return machine


def run_record(settings, result: LoopResult, base_model: dict, described: dict, unreached: int) -> dict:
    """The fields every trained model's record has (reader.json, verifier.json): its version, base, settings,
    data and how the run went."""
    from dataclasses import asdict
    from datetime import datetime, timezone

    return {
        "version": datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"),
        "base_model": base_model,
        "layers": settings.layers,
        "max_length": settings.max_length,
        "settings": asdict(settings),
        "data": described,
        "curves": asdict(result.curves),
        "final_validation": result.curves.validation[-1] if result.curves.validation else {},
        "training_seconds": result.train_seconds,
        "pairs_seen": result.pairs_seen,
        "steps": result.steps,
        "planned_steps": result.planned_steps,
        "resumed_from_step": result.resumed_from,
        "tokens_with_zeroed_embeddings": unreached,
        "machine": machine_description(settings.threads, result.device),
    }


def remove_checkpoint(out: str | Path) -> None:
    folder = Path(out) / CHECKPOINT_DIR
    for file in folder.glob("*"):
        file.unlink()
    if folder.is_dir():
        folder.rmdir()
