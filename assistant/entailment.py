"""The verifier: the project's own entailment model, which reads a source passage against a claim and
says whether the passage entails it, contradicts it, or neither.

It is trained by `assistant verifier train` (training/verifier_train.py) from the bundled
all-MiniLM-L6-v2 on public NLI pairs and in-domain claims, and shipped in
`assistant/verifier_model/`, a CrossEncoder folder of the reader's kind (assistant/pair_model.py)
with three outputs. Its decision thresholds are fitted on held-out claims by `assistant verifier
calibrate` and recorded in verifier.json.

    from assistant.entailment import get_verifier
    verifier = get_verifier()
    verifier.probabilities([("The board is chaired by Jane Roe.", "Jane Roe chairs the board.")])
    # -> one row per pair: P(contradiction), P(entailment), P(neutral) (the order of LABELS)

How a claim is checked against a whole paragraph (which sentences the model reads, the names and
numbers rule) is assistant/verify.py's business; this module owns the model and its thresholds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError
from assistant.pair_model import PairModel, read_model_json

VERIFIER_DIR = Path(__file__).with_name("verifier_model")
VERIFIER_FILE = "verifier.json"  # format, base model, input limits, labels, the fitted thresholds
LABELS = ("contradiction", "entailment", "neutral")  # the head's outputs, in order
CONTRADICTION, ENTAILMENT, NEUTRAL = range(3)


class VerifierError(AssistantError):
    """The verifier model is missing, incomplete or does not fit the bundled base model."""


@dataclass(frozen=True)
class Thresholds:
    """A claim is supported when P(entailment) >= `supported`; a claim not supported is contradicted
    when P(contradiction) >= `contradicted`. Fitted on held-out claims (verifier.json "decision")."""

    supported: float = 0.5
    contradicted: float = 0.5

    @classmethod
    def from_meta(cls, meta: dict) -> "Thresholds":
        d = meta.get("decision") or {}
        return cls(float(d.get("supported", 0.5)), float(d.get("contradicted", 0.5)))


def read_verifier_json(folder: Path | str = VERIFIER_DIR) -> dict:
    meta = read_model_json(folder, VERIFIER_FILE, VerifierError, "verifier model", "assistant verifier train")
    if tuple(meta.get("labels") or ()) != LABELS:
        raise VerifierError(f"{Path(folder) / VERIFIER_FILE} has labels {meta.get('labels')!r}; this version reads {list(LABELS)}")
    return meta


class Verifier:
    """The verifier model, loaded once per process (see `get_verifier`). Thread-safe."""

    def __init__(self, folder: Path | str = VERIFIER_DIR, quantize: bool = False):
        self.folder = Path(folder)
        self.meta = read_verifier_json(self.folder)
        self.thresholds = Thresholds.from_meta(self.meta)
        # Long passages lose their end, never the claim.
        self._pairs = PairModel(self.folder, self.meta, VerifierError, quantize, truncation="only_first")
        self._pairs.check_weights()

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    def load(self) -> None:
        self._pairs.load()

    def probabilities(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """(passage, claim) pairs -> one row of probabilities per pair, in the order of LABELS."""
        logits = self._pairs.logits(pairs)
        if not len(logits):
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return exp / exp.sum(axis=1, keepdims=True)


_verifiers: dict[tuple[str, bool], Verifier] = {}
_verifiers_lock = threading.Lock()


def get_verifier(folder: Path | str | None = None, quantize: bool = False) -> Verifier:
    """One Verifier per model folder per process (None: the shipped one; `Config.verifier_model_path`
    names another). Read in float32: unlike the reader's, its int8 quantization costs too much
    (0.08 of faithful claims accepted on the held-out claims, docs/benchmarks.md)."""
    folder = folder or VERIFIER_DIR
    key = (str(Path(folder).resolve()), quantize)
    with _verifiers_lock:
        if key not in _verifiers:
            _verifiers[key] = Verifier(folder, quantize)
        return _verifiers[key]
