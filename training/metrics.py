"""Figures the trainings report: ROC AUC and the best-threshold accuracy of a score."""

from __future__ import annotations

import numpy as np


def roc_auc(scores, labels) -> float | None:
    """Area under the ROC curve of `scores` for the True `labels` (ties count half); None with one class."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    pos, neg = labels.sum(), (~labels).sum()
    if not pos or not neg:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def best_accuracy(scores, labels) -> float | None:
    """The accuracy of `score >= t` for `labels` at the best threshold t."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    if not len(scores):
        return None
    return max(float(((scores >= t) == labels).mean()) for t in np.unique(np.append(scores, np.inf)))


def rounded(value, digits: int = 4):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else round(float(value), digits)
