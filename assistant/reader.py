"""The reader: the project's own cross-encoder, which reads a question against one candidate sentence
and scores "this sentence answers the question". Sentence choice, the order of citations and the
answer-or-abstain decision all come from its scores (assistant/extractive.py).

It is trained by `assistant reader train` (training/) from the bundled all-MiniLM-L6-v2 on public QA
data, and shipped in `assistant/reader_model/`, a sentence-transformers CrossEncoder folder with one
difference: the word embeddings are left out (they were frozen in training, so they are exactly the
bundled base model's) and the other weights are stored in float16, which keeps the folder small.

    from assistant.reader import load_cross_encoder
    model = load_cross_encoder()            # a sentence_transformers.CrossEncoder, assembled offline
    model.predict([("Who chairs it?", "Annual report: The board is chaired by Jane Roe.")])

`Reader` is what the assistant uses: the same model, loaded once, scoring a question against many
candidates at once (int8 dynamic quantization of its Linear layers on the CPU, see the model card for
what that costs in quality), and the calibrated answer-or-abstain decision recorded beside it.

What the reader reads of a candidate (`candidate_text`) is defined here once, for training and for use.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError
from assistant.pair_model import (
    BATCH,
    FORMAT,
    WEIGHTS_FILE,
    WORD_EMBEDDINGS,
    PairModel,
    read_model_json,
)
from assistant.pair_model import load_cross_encoder as _load_cross_encoder
from assistant.pair_model import tensor_sha256 as _tensor_sha256

READER_DIR = Path(__file__).with_name("reader_model")
# The answer-or-abstain decision's model: a reader folder too (the shipped reader warm-started on in-domain
# questions, then fine-tuned on the candidates the product retrieves for them: `assistant reader
# train-decision`), whose reader.json holds the decision. It reads the reader's best few sentences and says
# whether they answer at all (assistant/extractive.py `answerability`); the reader alone ranks sentences.
DECISION_DIR = Path(__file__).with_name("decision_model")
READER_FILE = "reader.json"  # format, base model, input limits, the decision's calibration
# Words a candidate keeps: a long sentence is cut, and the sentence before is only a reminder.
MAX_SENTENCE_WORDS = 60
MAX_PREVIOUS_WORDS = 30


class ReaderError(AssistantError):
    """The reader model is missing, incomplete or does not fit the bundled base model."""


# --- what the reader reads -------------------------------------------------------------------------

# A sentence that opens with a pronoun or a pointing word leans on the sentence before it: alone,
# "It was merged in 2016." names nothing. This is a general rule of English, not of one document,
# and the reader is trained with it (training/reader_data.py), so it stays.
_LEANS_ON_PREVIOUS = re.compile(
    r"^[‘'\"“(]?(this|that|these|those|it|its|they|them|their|he|his|him|she|her|such|both|there|the latter|the former)\b", re.I
)


def leans_on_previous(sentence: str) -> bool:
    return bool(_LEANS_ON_PREVIOUS.match(sentence.lstrip()))


def _first_words(text: str, n: int) -> str:
    words = text.split()
    return " ".join(words[:n]) + (" …" if len(words) > n else "")


def _last_words(text: str, n: int) -> str:
    words = text.split()
    return ("… " if len(words) > n else "") + " ".join(words[-n:])


def candidate_text(sentence: str, title: str, section: str = "", previous: str | None = None) -> str:
    """The second segment of the reader's input: "title — section | (sentence before) sentence".
    The sentence before is included only when the candidate leans on it."""
    context = f"{title} — {section}" if section else title
    body = _first_words(sentence, MAX_SENTENCE_WORDS)
    if previous and leans_on_previous(sentence):
        body = f"({_last_words(previous, MAX_PREVIOUS_WORDS)}) {body}"
    return f"{context} | {body}"


# --- the model folder ------------------------------------------------------------------------------


def read_reader_json(folder: Path = READER_DIR) -> dict:
    return read_model_json(folder, READER_FILE, ReaderError, "reader model", "assistant reader train")


def load_cross_encoder(folder: Path | str = READER_DIR, base: str | None = None):
    """The reader as a sentence-transformers `CrossEncoder`, assembled from `folder` (all weights but
    the word embeddings) and the bundled all-MiniLM-L6-v2 (`base`, whose word embeddings the reader
    was trained with, frozen). Offline; raises ReaderError if anything is missing or does not fit."""
    return _load_cross_encoder(folder, read_reader_json(Path(folder)), ReaderError, base)


def save_reader(cross_encoder, folder: Path | str, meta: dict) -> None:
    """Write `cross_encoder` as a reader folder: the CrossEncoder's own files, its weights without the
    word embeddings, in float16, and reader.json (`meta` plus the base embeddings' hash)."""
    import torch
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cross_encoder.save(str(folder))
    hf_model = cross_encoder[0].model
    state = hf_model.state_dict()
    word_embeddings = state[WORD_EMBEDDINGS].detach().cpu()
    kept = {k: v.detach().cpu().to(torch.float16).contiguous() for k, v in state.items() if k != WORD_EMBEDDINGS and "position_ids" not in k}
    for extra in folder.glob("*.safetensors"):
        extra.unlink()
    save_file(kept, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    (folder / "vocab.txt").unlink(missing_ok=True)  # tokenizer.json holds the vocabulary
    full_meta = {"format": FORMAT, **meta, "base_word_embeddings_sha256": _tensor_sha256(word_embeddings)}
    (folder / READER_FILE).write_text(json.dumps(full_meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --- the answer-or-abstain decision ----------------------------------------------------------------


def decision_features(logits, top_k: int) -> tuple[float, float]:
    """What the decision reads of a question's reader scores: the best logit, and the mean of the
    `top_k` best (padded with the lowest when fewer were read). The best alone takes a sentence that
    merely mentions what is asked about for an answer ("What mortality ratio did the hospital
    achieve?" against "... performing well on key indicators such as mortality ratios"); the mean
    says how much of the retrieved evidence bears on the question, but alone it doubts a question that
    one sentence answers (who wrote a document: only its header says). Together they separate
    answerable from unanswerable dev questions better than either (docs/benchmarks.md)."""
    ranked = sorted((float(x) for x in logits), reverse=True)
    if not ranked:
        return -30.0, -30.0
    top = ranked[:top_k] + [ranked[-1]] * max(0, top_k - len(ranked))
    return ranked[0], float(sum(top) / len(top))


@dataclass(frozen=True)
class Decision:
    """P(answerable) = sigmoid(w_best * best logit + w_mean * mean of the top_k logits + bias);
    answer when P >= threshold. Fitted by `assistant reader calibrate` on dev data only (recorded in
    reader.json with what it was fitted on)."""

    weights: tuple[float, float]
    bias: float
    threshold: float
    top_k: int = 5

    def probability(self, logits) -> float:
        best, mean = decision_features(logits, self.top_k)
        z = self.weights[0] * best + self.weights[1] * mean + self.bias
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def answerable(self, logits) -> bool:
        return self.probability(logits) >= self.threshold

    @classmethod
    def from_meta(cls, meta: dict) -> "Decision":
        d = meta.get("decision")
        if not d or "weights" not in d:
            raise ReaderError("the reader model has no decision calibration: run `assistant reader calibrate`")
        return cls((float(d["weights"][0]), float(d["weights"][1])), float(d["bias"]), float(d["threshold"]), int(d["top_k"]))


# --- the reader in use -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A sentence the reader may choose, with the context it is read in."""

    sentence: str
    title: str
    section: str = ""
    previous: str | None = None

    def text(self) -> str:
        return candidate_text(self.sentence, self.title, self.section, self.previous)


class Reader:
    """The reader model, loaded once per process (see `get_reader`). Thread-safe."""

    def __init__(self, folder: Path | str = READER_DIR, quantize: bool = True):
        self.folder = Path(folder)
        self.meta = read_reader_json(self.folder)
        self.decision = Decision.from_meta(self.meta)
        self.quantize = quantize
        self._pairs = PairModel(self.folder, self.meta, ReaderError, quantize, truncation="only_second")
        self._pairs.check_weights()

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    def load(self) -> None:
        """Load the model now (the assistant does this at open, so a broken model fails at start)."""
        self._pairs.load()

    def score(self, question: str, candidates: list[Candidate]) -> np.ndarray:
        """The reader's logit for each candidate (higher: more surely answers the question)."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        return self.score_pairs([(question, c.text()) for c in candidates])

    def score_pairs(self, pairs: list[tuple[str, str]], batch_size: int = BATCH) -> np.ndarray:
        """Logits for (question, candidate text) pairs, read in length-sorted batches (little padding)."""
        return self._pairs.logits(pairs, batch_size).reshape(-1)


def get_decision_model(folder: Path | str | None = None, quantize: bool = True) -> Reader:
    """The model of the answer-or-abstain decision (None: the shipped one, DECISION_DIR)."""
    return get_reader(folder or DECISION_DIR, quantize)


_readers: dict[tuple[str, bool], Reader] = {}
_readers_lock = threading.Lock()


def get_reader(folder: Path | str | None = None, quantize: bool = True) -> Reader:
    """One Reader per model folder per process."""
    key = (str(Path(folder or READER_DIR).resolve()), quantize)
    with _readers_lock:
        if key not in _readers:
            _readers[key] = Reader(folder or READER_DIR, quantize)
        return _readers[key]
