"""Evaluation of categorical labels against gold: the one scorer every stage uses.

Classifiers, the dictionary labeller, seeded topics and baselines are all judged with
:func:`evaluate_labels`, so their numbers are comparable. Besides the usual label metrics
it reports calibration (Brier score, expected calibration error), because downstream
domain shares are computed from probabilities, and document-level share error, because
the research question is about each report's distribution over domains, not about single
paragraphs.

Definitions (kept explicit so a reviewer can check them):

- ``macro_f1``: unweighted mean of per-class F1 over the labels that occur in ``y_true``
  or ``y_pred`` (a label absent from both has no defined F1 and is skipped, as in
  scikit-learn's default). ``macro_f1_all`` averages over every label in ``labels``
  (absent ones count as 0).
- ``brier``: multi-class Brier score, mean over units of sum over classes of
  ``(p_k - 1[y = k])**2``; 0 is perfect, 2 is the worst (``sklearn.metrics.brier_score_loss``
  with ``scale_by_half=False``; confusion matrix and per-class precision/recall/F1 are
  scikit-learn's too; ECE is ours, scikit-learn has none for several classes).
- ``ece``: expected calibration error of the top-label confidence over ``n_bins`` equal
  width bins: sum over bins of ``(n_bin / n) * |accuracy_bin - mean confidence_bin|``.
- ``doc_share_mae``: for each group (document), the share of its units in each label
  from ``y_pred`` versus from ``y_true``; the mean absolute difference over labels,
  averaged over groups. ``doc_share_mae_proba`` does the same with probability-weighted
  predicted shares (the mean of the probability rows), if ``proba`` is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

from research.errors import ResearchError


def _as_str_array(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(list(values), dtype=object)
    if arr.ndim != 1:
        raise ResearchError(f"evaluate_labels: {name} must be one-dimensional")
    return np.array(["" if v is None else str(v) for v in arr], dtype=object)


def _proba_matrix(proba: Any, labels: list[str], n: int) -> np.ndarray:
    """Probabilities as an (n, len(labels)) float array in ``labels`` order."""
    if isinstance(proba, pd.DataFrame):
        cols = []
        for lab in labels:
            if lab in proba.columns:
                cols.append(proba[lab])
            elif f"p_{lab}" in proba.columns:
                cols.append(proba[f"p_{lab}"])
            else:
                raise ResearchError(f"evaluate_labels: proba has no column for label {lab!r}")
        mat = np.column_stack([np.asarray(c, dtype=float) for c in cols])
    else:
        mat = np.asarray(proba, dtype=float)
    if mat.shape != (n, len(labels)):
        raise ResearchError(
            f"evaluate_labels: proba has shape {mat.shape}, expected {(n, len(labels))}"
        )
    return mat


def confusion_matrix(
    y_true: Sequence | np.ndarray, y_pred: Sequence | np.ndarray, labels: Sequence[str]
) -> np.ndarray:
    """Counts with rows = true label, columns = predicted label, both in ``labels`` order.

    Pairs whose true or predicted label is not in ``labels`` are not counted.
    """
    labels = list(labels)
    yt, yp = np.asarray(list(y_true), dtype=object), np.asarray(list(y_pred), dtype=object)
    if len(yt) == 0 or not labels:
        return np.zeros((len(labels), len(labels)), dtype=int)
    return metrics.confusion_matrix(yt, yp, labels=labels)


def brier_score(y_true: Sequence | np.ndarray, proba: np.ndarray, labels: Sequence[str]) -> float:
    """Multi-class Brier score (sum over classes, mean over units), by scikit-learn.

    ``scale_by_half=False`` keeps two-class problems on the same 0–2 scale as the others.
    A true label outside ``labels`` has no column to score against: an error, not a guess.
    """
    labels = list(labels)
    if not len(proba):
        return float("nan")
    unknown = sorted({str(t) for t in y_true} - set(labels))
    if unknown:
        raise ResearchError(f"brier_score: true label(s) {unknown} not in labels {labels}")
    order = np.argsort(labels)  # sklearn reads the columns as the labels sorted
    return float(
        metrics.brier_score_loss(
            np.asarray(list(y_true), dtype=object),
            proba[:, order],
            labels=[labels[i] for i in order],
            scale_by_half=False,
        )
    )


def confidence_bins(conf: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Bin index (0 … n_bins-1) of each confidence: equal-width, right-closed, first bin
    [0, 1/n_bins]. One rule for the ECE and the reliability tables, so they agree."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)


def expected_calibration_error(
    y_true: Sequence | np.ndarray, proba: np.ndarray, labels: Sequence[str], n_bins: int = 10
) -> float:
    """Top-label ECE with ``n_bins`` equal-width confidence bins (right-closed, first bin [0, b1])."""
    if len(proba) == 0:
        return float("nan")
    labels = list(labels)
    top = np.argmax(proba, axis=1)
    conf = proba[np.arange(len(proba)), top]
    correct = np.array([labels[k] == t for k, t in zip(top, y_true)], dtype=float)
    bins = confidence_bins(conf, n_bins)
    ece = 0.0
    n = len(conf)
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.sum() / n * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def share_table(labels_or_proba: Any, groups: Sequence, labels: Sequence[str]) -> pd.DataFrame:
    """Per-group label shares (rows = sorted groups, columns = ``labels``).

    ``labels_or_proba`` is either a 1-D sequence of labels (classify and count) or an
    (n, len(labels)) probability matrix (probability-weighted shares).
    """
    labels = list(labels)
    groups_arr = np.asarray([str(g) for g in groups], dtype=object)
    arr = labels_or_proba
    if isinstance(arr, np.ndarray) and arr.ndim == 2:
        mat = arr.astype(float)
    else:
        vals = list(arr)
        index = {lab: i for i, lab in enumerate(labels)}
        mat = np.zeros((len(vals), len(labels)), dtype=float)
        for r, v in enumerate(vals):
            if v in index:
                mat[r, index[v]] = 1.0
    df = pd.DataFrame(mat, columns=labels)
    df["_g"] = groups_arr
    out = df.groupby("_g", sort=True).mean()
    out.index.name = "group"
    return out[labels]


def _share_mae(pred: pd.DataFrame, gold: pd.DataFrame) -> tuple[float, dict[str, float]]:
    per_doc = (pred - gold).abs().mean(axis=1)
    return float(per_doc.mean()), {str(k): float(v) for k, v in per_doc.items()}


def evaluate_labels(
    y_true: Sequence | np.ndarray,
    y_pred: Sequence | np.ndarray,
    labels: Sequence[str],
    groups: Sequence | np.ndarray | None = None,
    proba: Any = None,
    n_bins: int = 10,
) -> dict[str, Any]:
    """Score predicted labels (and optionally probabilities) against gold labels.

    Args:
        y_true, y_pred: label ids, one per unit.
        labels: every category id, in the order used for the confusion matrix and for the
            columns of ``proba`` (normally ``codebook.ids``).
        groups: optional group per unit (document id) for document-level share error.
        proba: optional (n, len(labels)) array, or a DataFrame with columns ``<id>`` or
            ``p_<id>``, of predicted probabilities.
        n_bins: bins for the expected calibration error.

    Returns a JSON-ready dict: n, labels, macro_f1, macro_f1_all, accuracy, per_class
    {id: {precision, recall, f1, support, predicted}}, confusion (rows = true), and when
    given proba: brier, ece; when given groups: doc_share_mae, doc_share_mae_by_group
    (and doc_share_mae_proba when both are given).
    """
    labels = [str(x) for x in labels]
    if len(set(labels)) != len(labels):
        raise ResearchError("evaluate_labels: labels contain duplicates")
    yt = _as_str_array(y_true, "y_true")
    yp = _as_str_array(y_pred, "y_pred")
    if len(yt) != len(yp):
        raise ResearchError(f"evaluate_labels: y_true has {len(yt)} items but y_pred has {len(yp)}")
    n = len(yt)
    cm = confusion_matrix(yt, yp, labels)
    per_class: dict[str, dict[str, float]] = {}
    f1s_present: list[float] = []
    f1s_all: list[float] = []
    if n:
        prf = metrics.precision_recall_fscore_support(
            yt, yp, labels=labels, average=None, zero_division=0.0
        )
    else:
        prf = tuple(np.zeros(len(labels)) for _ in range(4))
    for i, lab in enumerate(labels):
        support = int(np.sum(yt == lab))
        predicted = int(np.sum(yp == lab))
        precision, recall, f1 = float(prf[0][i]), float(prf[1][i]), float(prf[2][i])
        per_class[lab] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": support,
            "predicted": predicted,
        }
        f1s_all.append(f1)
        if support or predicted:
            f1s_present.append(f1)
    out: dict[str, Any] = {
        "n": n,
        "labels": labels,
        "accuracy": float(np.mean(yt == yp)) if n else float("nan"),
        "macro_f1": float(np.mean(f1s_present)) if f1s_present else float("nan"),
        "macro_f1_all": float(np.mean(f1s_all)) if f1s_all else float("nan"),
        "per_class": per_class,
        "confusion": cm.tolist(),
    }
    mat = None
    if proba is not None:
        mat = _proba_matrix(proba, labels, n)
        out["brier"] = brier_score(yt, mat, labels)
        out["ece"] = expected_calibration_error(yt, mat, labels, n_bins=n_bins)
    if groups is not None:
        groups = list(groups)
        if len(groups) != n:
            raise ResearchError(f"evaluate_labels: groups has {len(groups)} items, expected {n}")
        gold = share_table(yt, groups, labels)
        mae, by_group = _share_mae(share_table(yp, groups, labels), gold)
        out["doc_share_mae"] = mae
        out["doc_share_mae_by_group"] = by_group
        if mat is not None:
            out["doc_share_mae_proba"] = _share_mae(share_table(mat, groups, labels), gold)[0]
    return out
