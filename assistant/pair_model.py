"""The project's trained cross-encoders in use: a model folder read from disk and scored on text pairs.

Both of the project's models are folders of this kind (training/model_folder.py writes them): the
reader (assistant/reader.py: question, candidate sentence -> one logit) and the verifier
(assistant/entailment.py: passage, claim -> three logits). A folder is a sentence-transformers
CrossEncoder folder less the word embeddings, which were frozen in training and so are exactly the
bundled all-MiniLM-L6-v2's; they are taken from that base, whose hash must match the one recorded.

`PairModel` loads a folder once (lazily, thread-safe), optionally with int8 dynamic quantization
of its Linear layers on the CPU, and scores pairs in small length-sorted batches (little padding).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError

WEIGHTS_FILE = "model.safetensors"
FORMAT = 1
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"
BASE_WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
BATCH = 8  # pairs per forward pass: small, length-sorted batches pad little (docs/benchmarks.md)


def base_model_path() -> str:
    from assistant.embedding import bundled_model_path

    return bundled_model_path()


def tensor_sha256(tensor) -> str:
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


def read_model_json(folder: Path | str, meta_file: str, error: type[AssistantError], what: str, retrain: str) -> dict:
    """The folder's JSON record, after checking the files a model needs are there; `error` is raised
    (naming the model as `what`, and `retrain`, the command that writes the folder) when they are not."""
    folder = Path(folder)
    path = folder / meta_file
    for name in (meta_file, WEIGHTS_FILE, "config.json", "tokenizer.json"):
        if not (folder / name).is_file():
            raise error(f"the {what} in {folder}/ is incomplete ({name} is missing); reinstall the project "
                        f"or retrain it with `{retrain} --out {folder}`")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise error(f"{path} is not readable JSON ({exc}): the {what} is corrupt") from exc
    if meta.get("format") != FORMAT:
        raise error(f"{path} has format {meta.get('format')!r}; this version reads format {FORMAT}")
    return meta


def load_cross_encoder(folder: Path | str, meta: dict, error: type[AssistantError], base: str | None = None):
    """A model folder as a sentence-transformers `CrossEncoder` on the CPU, assembled offline from
    the folder (all weights but the word embeddings) and the bundled base (`base`). One output per
    label of its config (one when it has none). Raises `error` if anything is missing or does not fit."""
    import torch
    import transformers
    from safetensors import safe_open
    from safetensors.torch import load_file
    from sentence_transformers import CrossEncoder

    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    base = base or base_model_path()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    # Assembling from the base folder is intended: not worth "Converting SentenceTransformer model ... to CrossEncoder".
    logging.getLogger("sentence_transformers.base.model").setLevel(logging.ERROR)
    try:
        weights = load_file(str(folder / WEIGHTS_FILE))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds for a damaged file
        raise error(f"{folder / WEIGHTS_FILE} cannot be read ({exc}): the model is corrupt") from exc
    with safe_open(str(Path(base) / WEIGHTS_FILE), "pt") as fh:
        word_embeddings = fh.get_tensor(BASE_WORD_EMBEDDINGS)
    if tensor_sha256(word_embeddings) != meta["base_word_embeddings_sha256"]:
        raise error(f"the base model in {base} is not the one {folder} was trained with (its word embeddings differ)")
    labels = config.get("id2label") or {}
    extra = {}
    if len(labels) > 1:
        extra = {"id2label": {int(k): v for k, v in labels.items()}, "label2id": {v: int(k) for k, v in labels.items()}}
    model = CrossEncoder(
        base,
        num_labels=len(labels) if len(labels) > 1 else 1,
        max_length=int(meta["max_length"]),
        device="cpu",
        config_kwargs={"num_hidden_layers": int(config["num_hidden_layers"]), **extra},
    )
    hf_model = model[0].model
    state = {k: v.to(torch.float32) for k, v in weights.items()}
    state[WORD_EMBEDDINGS] = word_embeddings
    expected = set(hf_model.state_dict())
    missing = expected - set(state) - {"bert.embeddings.position_ids"}
    unexpected = set(state) - expected
    if missing or unexpected:
        raise error(f"{folder / WEIGHTS_FILE} does not fit the model (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    hf_model.load_state_dict(state, strict=False)
    hf_model.eval()
    return model


class PairModel:
    """A model folder, loaded once on first use, scoring (first, second) text pairs. Thread-safe."""

    def __init__(self, folder: Path | str, meta: dict, error: type[AssistantError], quantize: bool = True,
                 truncation: str = "only_second"):
        self.folder = Path(folder)
        self.meta = meta
        self.error = error
        self.quantize = quantize
        self.truncation = truncation
        self._model = None
        self._lock = threading.Lock()

    def check_weights(self, head: str = "classifier.weight") -> None:
        """Read the weights' header only: a truncated or foreign file fails here, at start."""
        from safetensors import safe_open

        try:
            with safe_open(str(self.folder / WEIGHTS_FILE), "pt") as fh:
                keys = set(fh.keys())
        except Exception as exc:  # noqa: BLE001 - safetensors raises several kinds for a damaged file
            raise self.error(f"{self.folder / WEIGHTS_FILE} cannot be read ({exc}): the model is corrupt") from exc
        if head not in keys:
            raise self.error(f"{self.folder / WEIGHTS_FILE} holds no classification head: it is not a model of this kind")

    def load(self) -> None:
        """Load the model now (so that a broken model fails at start, not at the first question)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    import torch

                    model = load_cross_encoder(self.folder, self.meta, self.error)
                    if self.quantize:
                        with warnings.catch_warnings():  # torch's notice that eager-mode quantization moves to torchao
                            warnings.simplefilter("ignore")
                            model[0].model = torch.ao.quantization.quantize_dynamic(model[0].model, {torch.nn.Linear}, dtype=torch.qint8)
                    self._model = model

    def logits(self, pairs: list[tuple[str, str]], batch_size: int = BATCH) -> np.ndarray:
        """One row of logits per pair (one column per output), read in length-sorted batches."""
        import torch

        self.load()
        model, tokenizer = self._model[0].model, self._model.tokenizer
        outputs = int(model.config.num_labels)
        out = np.zeros((len(pairs), outputs), dtype=np.float32)
        if not pairs:
            return out
        max_length = int(self.meta["max_length"])
        encoded = tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=self.truncation, max_length=max_length)
        ids, types = encoded["input_ids"], encoded["token_type_ids"]
        order = sorted(range(len(pairs)), key=lambda i: len(ids[i]))
        with self._lock, torch.inference_mode():
            # Two threads for a batch, one when the machine has a single core.
            torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                width = max(len(ids[i]) for i in batch)
                input_ids = torch.zeros((len(batch), width), dtype=torch.long)
                token_types = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    n = len(ids[i])
                    input_ids[row, :n] = torch.tensor(ids[i])
                    token_types[row, :n] = torch.tensor(types[i])
                    mask[row, :n] = 1
                logits = model(input_ids=input_ids, token_type_ids=token_types, attention_mask=mask).logits
                out[batch] = logits.reshape(len(batch), outputs).float().numpy()
        return out
