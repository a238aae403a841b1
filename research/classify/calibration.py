"""Probability calibration (temperature scaling) and the warning scope for model fitting.

The temperature is fitted on held-out probabilities only (the selected procedure's
leave-one-report-out predictions on real gold, see :mod:`research.classify.training`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(4.0), 41))


def temper(p: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with temperature applied: p^(1/T), renormalised (zeros stay zero)."""
    if temperature == 1.0:
        return p
    q = np.where(p > 0, np.power(np.clip(p, 1e-300, 1.0), 1.0 / float(temperature)), 0.0)
    tot = q.sum(axis=1, keepdims=True)
    return np.divide(q, tot, out=np.full_like(q, 1.0 / q.shape[1]), where=tot > 0)


def fit_temperature(p: np.ndarray, y: Sequence, labels: list[str]) -> float:
    """The temperature (grid 0.25–4, log-spaced) minimising the log-loss of ``p`` against ``y``.

    Fitted on out-of-fold probabilities only; ties → the value closest to 1. The loss is
    ``sklearn.metrics.log_loss``. ``CalibratedClassifierCV(method="temperature")`` applies the
    same p^(1/T) but refits the classifier in its own folds; ours is fitted on the selected
    procedure's leave-one-report-out predictions, which it cannot take.
    """
    y_str = np.array([str(v) for v in y], dtype=object)
    ok = np.isin(y_str, labels)
    if ok.sum() == 0:
        return 1.0
    best_t, best_loss = 1.0, np.inf
    for t in sorted(TEMPERATURES, key=lambda t: abs(np.log(t))):
        loss = log_loss(y_str[ok], temper(p[ok], float(t)), labels=labels)
        if loss < best_loss - 1e-12:
            best_t, best_loss = float(t), loss
    return round(best_t, 4)


@contextlib.contextmanager
def fit_warnings() -> Iterator[list[str]]:
    """Scope for fitting many models: expected User/RuntimeWarnings (tiny folds) are quiet
    inside it only, and convergence warnings are collected (distinct messages) into the
    yielded list, for the model card, instead of being lost."""
    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("always", ConvergenceWarning)  # the later filter wins
        try:
            yield found
        finally:
            for w in caught:
                msg = " ".join(str(w.message).split())
                if issubclass(w.category, ConvergenceWarning) and msg not in found:
                    found.append(msg)
