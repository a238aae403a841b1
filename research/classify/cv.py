"""Grouped, nested cross-validation for the domain classifiers.

Reviewers' rules, enforced here:

- Outer splits hold out whole groups (a document, or a province): units of one report are
  never on both sides (:func:`group_splits` asserts it).
- Model selection (which family, which hyper-parameters) happens inside each outer
  training fold by an inner grouped CV over the training documents only; the outer test
  fold is never used to choose anything.
- Weak-label augmentation rows (if given) join a training fold only when their document
  is not in that fold's test side.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from research.errors import ResearchError
from research.labels.evaluation import evaluate_labels
from research.workers import in_worker


@dataclass
class Candidate:
    """One model configuration: a family name, an unfitted estimator and its settings."""

    family: str
    estimator: Any
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        inner = ",".join(f"{k}={self.params[k]}" for k in sorted(self.params))
        return f"{self.family}({inner})"


@dataclass
class Augment:
    """Extra weakly labelled training rows: units table, labels, their doc group, weight.

    A row never joins a fold in which its unit has a gold label (``unit_ids`` matched with
    the ``unit_id`` column of X). ``transductive=False`` also keeps out rows whose document
    is in the test fold; ``True`` lets the test documents' units in with their weak labels
    only (their text and the dictionary, never their gold labels) — the situation of a
    researcher who trains on gold labels plus weak labels of the corpus to be measured.
    """

    X: pd.DataFrame
    y: np.ndarray
    groups: np.ndarray
    weight: float
    unit_ids: np.ndarray | None = None
    transductive: bool = False


def group_splits(
    groups: Sequence, n_splits: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped splits: leave-one-group-out (n_splits None) or GroupKFold(n_splits).

    Deterministic; raises if a group would appear on both sides.
    """
    g = np.asarray([str(x) for x in groups], dtype=object)
    n_groups = len(set(g))
    if n_groups < 2:
        raise ResearchError("grouped cross-validation needs at least two groups")
    idx = np.arange(len(g))
    if n_splits is None or n_splits >= n_groups:
        # LeaveOneGroupOut orders by sorted group label: deterministic.
        splits = list(LeaveOneGroupOut().split(idx, groups=g))
    else:
        splits = list(GroupKFold(n_splits=n_splits).split(idx, groups=g))
    for tr, te in splits:
        if set(g[tr]) & set(g[te]):
            raise ResearchError("internal error: a group is on both sides of a split")
    return splits


def _fit(
    est: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    aug: Augment | None,
    exclude_groups: set[str],
) -> Any:
    """Clone and fit ``est`` on the rows ``train`` plus eligible augmentation rows."""
    model = clone(est)
    Xt, yt = X.iloc[train], y[train]
    if aug is None or len(aug.y) == 0:
        return model.fit(Xt, yt)
    if aug.transductive:
        keep = np.ones(len(aug.y), dtype=bool)
    else:
        keep = np.array([str(gr) not in exclude_groups for gr in aug.groups], dtype=bool)
    if aug.unit_ids is not None and "unit_id" in X.columns:
        gold_units = set(Xt["unit_id"].astype(str))
        keep &= np.array([str(u) not in gold_units for u in aug.unit_ids], dtype=bool)
    if not keep.any():
        return model.fit(Xt, yt)
    Xa = pd.concat(
        [Xt[["text", "heading"]], aug.X.loc[keep, ["text", "heading"]]], ignore_index=True
    )
    ya = np.concatenate([yt, aug.y[keep]])
    w = np.concatenate([np.ones(len(yt)), np.full(int(keep.sum()), float(aug.weight))])
    return model.fit(Xa, ya, sample_weight=w)


def oof_predict(
    est: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    labels: list[str],
    aug: Augment | None = None,
    aug_groups: np.ndarray | None = None,
) -> np.ndarray:
    """Out-of-fold probabilities (n, len(labels)) of ``est`` over ``splits``.

    ``aug_groups`` are the groups in which augmentation rows are matched (the documents),
    which may differ from ``groups`` (e.g. provinces) — augmentation rows are excluded when
    their document is in the test fold.
    """
    proba = np.zeros((len(y), len(labels)))
    docs = aug_groups if aug_groups is not None else groups
    for tr, te in splits:
        model = _fit(est, X, y, tr, aug, {str(d) for d in docs[te]})
        proba[te] = _align(model, model.predict_proba(X.iloc[te]), labels)
    return proba


def _align(model: Any, p: np.ndarray, labels: list[str]) -> np.ndarray:
    classes = [str(c) for c in model.classes_]
    if classes == labels:
        return p
    out = np.zeros((p.shape[0], len(labels)))
    col = {lab: j for j, lab in enumerate(labels)}
    for j, c in enumerate(classes):
        out[:, col[c]] = p[:, j]
    return out


def argmax_labels(proba: np.ndarray, labels: list[str]) -> np.ndarray:
    """Label with the highest probability per row (ties → first in ``labels``)."""
    return np.asarray(labels, dtype=object)[np.argmax(proba, axis=1)]


SELECT_TOL = 0.01  # macro-F1 differences below this count as ties, decided by Brier score


def inner_scores(
    candidates: list[Candidate],
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    labels: list[str],
    n_splits: int,
    aug: Augment | None = None,
    aug_groups: np.ndarray | None = None,
    oof: dict[str, np.ndarray] | None = None,
) -> dict[str, tuple[float, float]]:
    """Pooled out-of-fold (macro-F1, Brier score) of each candidate under grouped CV.

    Pooled (not averaged per fold) because inner folds hold only a few documents each.
    Returns {} when fewer than two groups are available (no selection possible). If
    ``oof`` is a dict, each candidate's out-of-fold probabilities are stored in it.
    """
    if len(set(map(str, groups))) < 2:
        return {}
    splits = group_splits(groups, n_splits)
    out: dict[str, tuple[float, float]] = {}
    for cand in candidates:
        p = oof_predict(cand.estimator, X, y, groups, splits, labels, aug, aug_groups)
        ev = evaluate_labels(y, argmax_labels(p, labels), labels, proba=p)
        out[cand.key] = (ev["macro_f1"], ev["brier"])
        if oof is not None:
            oof[cand.key] = p
    return out


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


def choose(
    candidates: list[Candidate], scores: dict[str, Any], tol: float = SELECT_TOL
) -> Candidate:
    """Best candidate: highest macro-F1; candidates within ``tol`` of it are ties, won by the
    lowest Brier score (better-calibrated probabilities, which downstream shares use);
    remaining ties and missing scores → the earlier candidate."""

    def f1(c: Candidate) -> float:
        v = scores.get(c.key)
        return -np.inf if v is None else float(v[0] if isinstance(v, tuple) else v)

    def brier(c: Candidate) -> float:
        v = scores.get(c.key)
        return float(v[1]) if isinstance(v, tuple) else 0.0

    top = max(f1(c) for c in candidates)
    if not np.isfinite(top):
        return candidates[0]
    near = [c for c in candidates if f1(c) >= top - tol - 1e-12]
    best = near[0]
    for c in near[1:]:
        if brier(c) < brier(best) - 1e-12:
            best = c
    return best


@dataclass
class NestedResult:
    """Out-of-fold probabilities of each method, and what was chosen in each outer fold."""

    proba: dict[str, np.ndarray]
    chosen: dict[str, list[dict[str, Any]]]
    convergence: list[str] = field(default_factory=list)


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


def _outer_fold(*args: Any) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]], list[str]]:
    """One outer fold (arguments of :func:`_outer_fold_fit`), convergence warnings collected."""
    with fit_warnings() as conv:
        proba, chosen = _outer_fold_fit(*args)
    return proba, chosen, conv


def _outer_fold_fit(
    methods: dict[str, list[Candidate]],
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    docs: np.ndarray,
    labels: list[str],
    inner_folds: int,
    aug: dict[str, Augment | None],
    temperature: bool,
    tr: np.ndarray,
    te: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """One outer fold: inner selection per method on the training documents, refit, predict."""
    test_docs = {str(d) for d in docs[te]}
    Xtr, ytr, gtr = X.iloc[tr], y[tr], docs[tr]
    score_cache: dict[tuple[str, str], tuple[float, float]] = {}
    oof_cache: dict[tuple[str, str], np.ndarray] = {}
    proba: dict[str, np.ndarray] = {}
    chosen: dict[str, dict[str, Any]] = {}
    for name, cands in methods.items():
        a = aug.get(name)
        akey = str(id(a))  # one Augment object per source within this call
        if a is not None and not a.transductive:
            keep = np.array([str(g) not in test_docs for g in a.groups], dtype=bool)
            a = Augment(
                a.X.loc[keep].reset_index(drop=True),
                a.y[keep],
                a.groups[keep],
                a.weight,
                None if a.unit_ids is None else a.unit_ids[keep],
                a.transductive,
            )
        n_inner = min(inner_folds, len(set(map(str, gtr))))
        if (len(cands) > 1 or temperature) and n_inner >= 2:
            need = [c for c in cands if (c.key, akey) not in score_cache]
            oofs: dict[str, np.ndarray] = {}
            scores = inner_scores(need, Xtr, ytr, gtr, labels, n_inner, a, oof=oofs)
            for k, v in scores.items():
                score_cache[(k, akey)] = v
                oof_cache[(k, akey)] = oofs[k]
            all_scores = {
                c.key: score_cache[(c.key, akey)] for c in cands if (c.key, akey) in score_cache
            }
            best = choose(cands, all_scores)
        else:
            best, all_scores = cands[0], {}
        model = _fit(best.estimator, X, y, tr, a, test_docs)
        t = 1.0
        if temperature and (best.key, akey) in oof_cache:
            t = fit_temperature(oof_cache[(best.key, akey)], ytr, labels)
        proba[name] = temper(_align(model, model.predict_proba(X.iloc[te]), labels), t)
        chosen[name] = {
            "test_groups": sorted({str(g) for g in groups[te]}),
            "chosen": best.key,
            "inner_macro_f1": round(float(all_scores[best.key][0]), 4)
            if best.key in all_scores
            else None,
            "inner_brier": round(float(all_scores[best.key][1]), 4)
            if best.key in all_scores
            else None,
            "temperature": t,
        }
    return proba, chosen


def nested_cv(
    methods: dict[str, list[Candidate]],
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    labels: list[str],
    inner_folds: int = 3,
    aug: dict[str, Augment | None] | None = None,
    doc_groups: np.ndarray | None = None,
    n_jobs: int = 1,
    temperature: bool = False,
) -> NestedResult:
    """Nested grouped CV: outer leave-one-group-out, inner GroupKFold selection per method.

    ``methods`` maps a method name to its candidate list (one candidate = no selection).
    ``aug`` optionally maps a method name to augmentation rows used for that method.
    Inner CV groups are documents (``doc_groups``, default ``groups``), so that a held-out
    province's documents never inform selection and inner folds still hold out documents.
    Outer folds run in ``n_jobs`` processes (results do not depend on it). With
    ``temperature``, each method's probabilities are tempered by a temperature fitted
    (log-loss) on the inner out-of-fold probabilities of the chosen candidate.
    """
    aug = aug or {}
    docs = doc_groups if doc_groups is not None else groups
    outer = group_splits(groups)
    args = (methods, X, y, groups, docs, labels, inner_folds, aug, temperature)
    if n_jobs != 1 and len(outer) > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(in_worker(_outer_fold))(*args, tr, te) for tr, te in outer
        )
    else:
        from tqdm.auto import tqdm

        results = [
            _outer_fold(*args, tr, te)
            for tr, te in tqdm(outer, desc="outer CV folds", unit="fold", disable=None)
        ]
    proba = {m: np.zeros((len(y), len(labels))) for m in methods}
    chosen: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    convergence: list[str] = []
    for (_, te), (p, c, conv) in zip(outer, results):
        for m in methods:
            proba[m][te] = p[m]
            chosen[m].append(c[m])
        convergence += [w for w in conv if w not in convergence]
    return NestedResult(proba=proba, chosen=chosen, convergence=convergence)
