"""Misclassification-adjusted shares (quantification): ACC and PACC.

A classifier's naive share of category i in a document, q_i, mixes true categories:
E[q] = M p, with M[i, j] = P(predicted i | true j) estimated from cross-validated
predictions. Adjusted classify-and-count (ACC; Forman 2008) solves M p = q for the true
shares p; its probabilistic version (PACC) uses mean predicted probabilities, with
M[i, j] = mean p_i over units whose true class is j. Hopkins & King (2010) argue the same
point for document-category proportions: aggregate proportions can be estimated well even
when individual classification is poor. The system is solved by constrained least squares
(p ≥ 0, Σp = 1) — or by the classic unconstrained solve, clipped and renormalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from research.analysis.estimators import CORRECTED, ESTIMATORS, estimate, fit_corrections
from research.analysis.shares import one_hot, prob_columns


def misclassification_matrix(
    gold: Sequence[str],
    scores: np.ndarray,
    ids: Sequence[str],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """K × K matrix M[i, j] = weighted mean of ``scores[:, i]`` over units whose gold is j.

    With one-hot ``scores`` (hard predictions) this is P(pred i | true j) — the ACC matrix;
    with predicted probabilities it is the PACC matrix. A true class never observed gets the
    identity column (no correction possible for it) so the matrix stays usable.
    """
    gold_arr = np.asarray(list(gold), dtype=object)
    scores = np.asarray(scores, dtype=float)
    w = np.ones(len(gold_arr)) if weights is None else np.asarray(weights, dtype=float)
    k = len(ids)
    M = np.zeros((k, k))
    for j, cid in enumerate(ids):
        m = gold_arr == cid
        if w[m].sum() > 0:
            M[:, j] = (w[m] @ scores[m]) / w[m].sum()
        else:
            M[j, j] = 1.0
    return M


def adjust_shares(q: np.ndarray, M: np.ndarray, method: str = "constrained") -> np.ndarray:
    """True shares p from naive shares q = M p: ``constrained`` LSQ on the simplex, or ``clip``.

    ``constrained``: minimise ||M p − q||² subject to p ≥ 0 and Σ p = 1 (NNLS with a heavily
    weighted sum-to-one row, then exact renormalisation). ``clip``: the classic ACC —
    least-squares solve, negative values set to 0, renormalised.
    """
    q = np.asarray(q, dtype=float)
    k = len(q)
    if method == "clip":
        p, *_ = np.linalg.lstsq(M, q, rcond=None)
        p = np.clip(p, 0.0, None)
    elif method == "constrained":
        lam = 1e3
        A = np.vstack([M, lam * np.ones((1, k))])
        b = np.concatenate([q, [lam]])
        p, _ = nnls(A, b)
    else:
        raise ValueError(f"method must be 'constrained' or 'clip', not {method!r}")
    s = p.sum()
    return p / s if s > 0 else np.full(k, 1.0 / k)


class ShareAdjuster:
    """``adjust_shares`` bound to one matrix, with a fast path for many vectors (bootstrap draws).

    When M is invertible and its columns sum to 1, M⁻¹q already sums to 1; if it is also
    non-negative it *is* the constrained solution, so only infeasible draws need NNLS.
    """

    def __init__(self, M: np.ndarray, method: str = "constrained") -> None:
        self.M = np.asarray(M, dtype=float)
        self.method = method

    def __call__(self, q: np.ndarray) -> np.ndarray:
        return adjust_shares(q, self.M, self.method)

    def many(self, Q: np.ndarray) -> np.ndarray:
        """Adjust every row of Q (rows with NaN stay NaN)."""
        Q = np.asarray(Q, dtype=float)
        out = np.full_like(Q, np.nan)
        ok = np.all(np.isfinite(Q), axis=1)
        if not ok.any():
            return out
        if np.linalg.cond(self.M) > 1e10:
            out[ok] = np.vstack([self(q) for q in Q[ok]])
            return out
        X = np.linalg.solve(self.M, Q[ok].T).T
        feasible = np.all(X >= -1e-12, axis=1)
        X = np.clip(X, 0.0, None)
        sums = X.sum(axis=1, keepdims=True)
        X = np.divide(X, sums, out=np.full_like(X, 1.0 / X.shape[1]), where=sums > 0)
        if self.method == "constrained":
            rows = np.flatnonzero(~feasible)
            sub = Q[ok]
            for r in rows:
                X[r] = self(sub[r])
        out[ok] = X
        return out


def hard_scores(P: np.ndarray) -> np.ndarray:
    """One-hot matrix of each row's argmax (ties → first id)."""
    out = np.zeros_like(P, dtype=float)
    if len(P):
        out[np.arange(len(P)), np.argmax(P, axis=1)] = 1.0
    return out


def cv_matrices(
    cv: pd.DataFrame, ids: Sequence[str], weights: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """ACC and PACC matrices from cross-validated predictions (gold, pred, p_<id> columns)."""
    P = cv[prob_columns(ids)].to_numpy(dtype=float)
    hard = one_hot(cv["pred"], ids).to_numpy() if "pred" in cv else hard_scores(P)
    return {
        "acc": misclassification_matrix(cv["gold"], hard, ids, weights),
        "pacc": misclassification_matrix(cv["gold"], P, ids, weights),
    }


def evaluate_adjustment(
    cv: pd.DataFrame,
    ids: Sequence[str],
    basis: str = "units",
    method: str = "constrained",
    estimators: Sequence[str] = ESTIMATORS,
) -> pd.DataFrame:
    """Held-out comparison of share estimators: per gold document, its gold shares against
    CC, PCC, ACC, PACC, EM and PPI computed from its cross-fitted predictions.

    The corrections used for document d are estimated from the *other* documents' CV
    predictions (leave-one-document-out), so no document corrects itself with its own
    errors. ``method`` is kept for compatibility (the simplex solve is always constrained).
    Returns doc_id, basis, method, domain, gold, estimate, error (estimate − gold).
    """
    cv = cv.reset_index(drop=True)
    if "n_chars" not in cv:
        cv = cv.assign(n_chars=cv["text"].astype(str).str.len() if "text" in cv else 1)
    Q = cv[prob_columns(ids)].to_numpy(dtype=float)
    G = one_hot(cv["gold"], ids).to_numpy()
    w = cv["n_chars"].to_numpy(dtype=float) if basis == "chars" else np.ones(len(cv))
    doc = cv["doc_id"].astype(str).to_numpy()
    single = len(set(doc)) == 1
    rows = []
    for d in sorted(set(doc)):
        m = doc == d
        corr = fit_corrections(cv, ids, basis, exclude_doc=None if single else d)
        gold = (w[m] @ G[m]) / w[m].sum()
        for name in estimators:
            e = estimate(name, Q[m], w[m][None, :], corr)[0]
            for j, cid in enumerate(ids):
                rows.append(
                    (d, basis, name, cid, float(gold[j]), float(e[j]), float(e[j] - gold[j]))
                )
    return pd.DataFrame(
        rows, columns=["doc_id", "basis", "method", "domain", "gold", "estimate", "error"]
    )


def choose_estimator(
    summary: pd.DataFrame,
    basis: str,
    fallback: str = "pcc",
    among: Sequence[str] = CORRECTED,
) -> str:
    """The estimator with the lowest held-out mean absolute error on ``basis`` among
    ``among`` — by default the corrected ones (ACC, PACC, EM, PPI): only they carry the
    classifier's error into intervals (in the recovery benchmark, docs/analysis.md, PCC
    intervals covered 0.89 of planted year trends where the corrected ones met 0.95)."""
    s = summary[(summary["basis"] == basis) & summary["method"].isin(list(among))]
    s = s.dropna(subset=["mae"])
    if s.empty:
        return fallback
    return str(s.sort_values(["mae", "method"], kind="mergesort").iloc[0]["method"])


def choice_reason(setting: str, evidence: bool) -> str:
    """Why the estimator of a basis was chosen (one sentence for tables and metrics)."""
    if setting != "auto":
        return f"set by analyse.estimator ({setting})"
    if not evidence:
        return "no held-out gold documents to compare estimators: pcc, uncorrected"
    return (
        "analyse.estimator auto: the corrected estimator (ACC, PACC, EM, PPI) with the lowest "
        "held-out mean absolute error; only corrected estimators carry the classifier's "
        "error into intervals"
    )


def choice_table(summary: pd.DataFrame, chosen: dict[str, str], setting: str) -> pd.DataFrame:
    """The held-out comparison with, per basis, ``rank`` (by error), ``corrected`` (whether
    the estimator corrects for classifier error) and ``chosen`` + ``why`` on the row used."""
    out = summary.copy()
    out["rank"] = out.groupby("basis")["mae"].rank(method="min").astype(int)
    out["corrected"] = np.where(out["method"].isin(list(CORRECTED)), "yes", "no")
    use = out["method"].eq(out["basis"].map(chosen))
    out["chosen"] = np.where(use, "yes", "")
    out["why"] = np.where(use, choice_reason(setting, True), "")
    return out


def summarise_adjustment(ev: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute error (over documents × domains) and worst error per method and basis."""
    g = ev.assign(abs_error=ev["error"].abs()).groupby(["basis", "method"], sort=True)
    out = g.agg(
        mae=("abs_error", "mean"), max_abs_error=("abs_error", "max"), n_docs=("doc_id", "nunique")
    )
    return out.reset_index()
