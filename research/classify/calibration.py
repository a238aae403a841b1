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

    Fitted on out-of-fold probabilities only; ties → the value closest to 1.
    """
    idx = {lab: j for j, lab in enumerate(labels)}
    rows = np.array([idx.get(str(v), -1) for v in y])
    ok = rows >= 0
    if ok.sum() == 0:
        return 1.0
    best_t, best_loss = 1.0, np.inf
    for t in sorted(TEMPERATURES, key=lambda t: abs(np.log(t))):
        q = temper(p[ok], float(t))
        loss = -np.mean(np.log(np.clip(q[np.arange(ok.sum()), rows[ok]], 1e-12, 1.0)))
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
