"""Baselines reported beside the classifiers: majority class and the dictionary alone.

Both follow the scikit-learn API and return probabilities over every label, so they are
evaluated with exactly the same code as the models.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from research.classify.features import TextInputMixin, as_units
from research.settings import WeakLabelSettings

_WL = WeakLabelSettings()


def _check_labels(y: Any, n: int) -> np.ndarray:
    """``y`` as a 1-D array of class labels (their type kept) for ``n`` units, or an error."""
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it is ravelled",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got shape {y.shape}")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError("Input y contains NaN.")
    if len(y) != n:
        raise ValueError(f"X has {n} units but y has {len(y)} labels")
    if n == 0:
        raise ValueError("no training examples (0 samples)")
    check_classification_targets(y)
    return y


def _check_weights(sample_weight: Any, n: int) -> np.ndarray:
    """Sample weights as a float array of length ``n`` (ones when None), or an error."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight, dtype=float)
    if w.shape != (n,):
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)")
    if not w.sum() > 0:
        raise ValueError("sample weights sum to zero: nothing to learn from")
    return w


class MajorityClassifier(TextInputMixin, ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training label; probabilities = training label frequencies."""

    def __init__(self, labels: list[str] | None = None) -> None:
        self.labels = labels

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MajorityClassifier:
        y = _check_labels(y, len(as_units(X)))
        labels = list(self.labels) if self.labels is not None else sorted(set(y.tolist()))
        self.classes_ = np.asarray(labels)
        w = _check_weights(sample_weight, len(y))
        freq = pd.Series(w).groupby(y).sum()
        self.prior_ = np.array([float(freq.get(lab, 0.0)) for lab in labels])
        self.prior_ = self.prior_ / self.prior_.sum()
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "prior_")
        n = len(as_units(X))
        return np.tile(self.prior_, (n, 1))

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "prior_")
        n = len(as_units(X))
        return np.repeat(self.classes_[int(np.argmax(self.prior_))], n)


class DictionaryBaseline(TextInputMixin, ClassifierMixin, BaseEstimator):
    """The codebook's dictionary labeller alone (no training); abstentions → ``other_id``.

    Uses :class:`research.labels.weak_labels.DictionaryLabeller`. Probabilities: the labeller's
    own ``predict_proba`` over domains for units it labels, and a one-hot ``other_id`` row
    where it abstains.
    """

    def __init__(
        self,
        codebook_path: str | None = None,
        labels: list[str] | None = None,
        other_id: str = "other",
        min_score: float = _WL.min_score,
        min_margin: float = _WL.min_margin,
        tokenize: dict | None = None,
    ) -> None:
        self.codebook_path = codebook_path
        self.labels = labels
        self.other_id = other_id
        self.min_score = min_score
        self.min_margin = min_margin
        self.tokenize = tokenize

    def fit(self, X: Any = None, y: Any = None, sample_weight: Any = None) -> DictionaryBaseline:
        from research.corpus.tokenize import TokenizerSettings, get_tokenizer
        from research.labels.codebook import load_codebook
        from research.labels.weak_labels import DictionaryLabeller

        cb = load_codebook(self.codebook_path)
        tok = get_tokenizer(TokenizerSettings.from_params(self.tokenize))
        self.labeller_ = DictionaryLabeller(
            cb, tokenizer=tok, min_score=self.min_score, min_margin=self.min_margin
        ).fit()
        self.classes_ = np.array(list(self.labels) if self.labels else cb.ids, dtype=object)
        return self

    def _texts(self, X: Any) -> list[str]:
        return as_units(X)["text"].tolist()

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "labeller_")
        pred = np.asarray(self.labeller_.predict(self._texts(X)), dtype=object)
        return np.array([p if p else self.other_id for p in pred], dtype=object)

    def predict_proba(self, X: Any) -> np.ndarray:
        texts = self._texts(X)
        pred = self.predict(X)
        out = np.zeros((len(texts), len(self.classes_)))
        col = {lab: j for j, lab in enumerate(self.classes_)}
        raw = self.labeller_.predict_proba(texts)
        if isinstance(raw, pd.DataFrame):
            frame = raw.reset_index(drop=True)
        else:
            arr = np.asarray(raw, dtype=float)
            assert self.labeller_.codebook is not None  # fit() always passes one
            names = (
                list(self.labeller_.codebook.domain_ids)
                if arr.shape[1] != len(self.classes_)
                else list(self.classes_)
            )
            frame = pd.DataFrame(arr, columns=names)
        for c in frame.columns:
            key = str(c)[2:] if str(c).startswith("p_") else str(c)
            if key in col:
                out[:, col[key]] = frame[c].to_numpy(dtype=float)
        for i, p in enumerate(pred):
            tot = out[i].sum()
            if p == self.other_id and (tot <= 0 or np.argmax(out[i]) != col[self.other_id]):
                out[i] = 0.0
                out[i, col[self.other_id]] = 1.0
            elif tot > 0:
                out[i] /= tot
            else:
                out[i, col[p]] = 1.0
        return out
