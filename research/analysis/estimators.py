"""Share estimators for units the classifier labelled, and the replicates that carry its error.

Six estimators turn the predicted probabilities ``Q`` (units × K) of a set of unlabelled
units into the share of each category:

- ``cc`` classify and count (argmax) and ``pcc`` probabilistic CC (mean probability);
- ``acc`` / ``pacc`` (Forman 2008): solve q = M p with M estimated on cross-fitted gold;
- ``em`` (Saerens, Latinne & Decaestecker 2002): re-weight posteriors to a new prior by EM;
- ``ppi``: PCC plus the mean gold − prediction gap on cross-fitted gold units (the rectifier
  of prediction-powered inference, Angelopoulos et al. 2023, for a mean).

ACC, PACC and EM assume **prior shift**: P(text | category) is the same in the gold sample
and in the documents being estimated, only the category shares differ. PPI assumes the
classifier's mean error is the same there. Classifier error is carried into intervals by
:class:`Corrections`: the correction parameters (M, the rectifier, the training prior) are
re-estimated on document-bootstrap resamples of the cross-fitted gold, one per draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from research.analysis.shares import one_hot, prob_columns

ESTIMATORS = ("cc", "pcc", "acc", "pacc", "em", "ppi")
CORRECTED = ("acc", "pacc", "em", "ppi")
PRIOR_SHIFT = (
    "ACC, PACC and EM assume prior shift: the text of a category looks the same in the gold "
    "sample and in the estimated documents, only the category shares differ; PPI assumes the "
    "classifier's mean error is the same there."
)


def hard(Q: np.ndarray) -> np.ndarray:
    """One-hot matrix of each row's argmax (ties → first category)."""
    out = np.zeros_like(Q, dtype=float)
    if len(Q):
        out[np.arange(len(Q)), np.argmax(Q, axis=1)] = 1.0
    return out


def to_simplex(X: np.ndarray) -> np.ndarray:
    """Rows clipped at 0 and renormalised (a row of zeros becomes uniform)."""
    X = np.clip(np.asarray(X, dtype=float), 0.0, None)
    s = X.sum(axis=-1, keepdims=True)
    k = X.shape[-1]
    return np.divide(X, s, out=np.full_like(X, 1.0 / k), where=s > 0)


def solve_on_simplex(M: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p ≥ 0, Σp = 1 minimising ||M p − q|| for stacked M (B × K × K) and q (B × K).

    Where M⁻¹q is already on the simplex it is the answer; other rows get NNLS with a
    heavily weighted sum-to-one row.
    """
    M = np.asarray(M, dtype=float)
    q = np.asarray(q, dtype=float)
    B, k = q.shape
    out = np.full((B, k), np.nan)
    ok = np.all(np.isfinite(q), axis=1)
    try:
        X = np.linalg.solve(M[ok], q[ok][..., None])[..., 0]
        bad = ~np.all(X >= -1e-12, axis=1)
    except np.linalg.LinAlgError:
        X = np.zeros((int(ok.sum()), k))
        bad = np.ones(len(X), dtype=bool)
    lam = 1e3
    Mo, qo = M[ok], q[ok]
    for r in np.flatnonzero(bad):
        A = np.vstack([Mo[r], lam * np.ones((1, k))])
        p, _ = nnls(A, np.concatenate([qo[r], [lam]]))
        X[r] = p
    out[ok] = to_simplex(X)
    return out


@dataclass
class Corrections:
    """Correction parameters from cross-fitted gold: row 0 is the full sample, rows 1..B are
    document-bootstrap replicates (so intervals include the classifier's estimated error)."""

    m_acc: np.ndarray  # R × K × K, M[i, j] = P(pred i | gold j)
    m_pacc: np.ndarray  # R × K × K, mean p_i over gold j
    bias: np.ndarray  # R × K, mean (gold − p) — the PPI rectifier
    prior: np.ndarray  # R × K, gold prior of the training data (for EM)
    n_units: int = 0
    n_docs: int = 0

    @classmethod
    def identity(cls, k: int, reps: int = 1) -> Corrections:
        eye = np.broadcast_to(np.eye(k), (reps, k, k)).copy()
        return cls(eye, eye.copy(), np.zeros((reps, k)), np.full((reps, k), 1.0 / k))

    def take(self, r: int | np.ndarray) -> Corrections:
        """The replicate(s) ``r`` (an int keeps a leading axis of 1)."""
        idx = np.atleast_1d(r)
        return Corrections(
            self.m_acc[idx], self.m_pacc[idx], self.bias[idx], self.prior[idx], self.n_units,
            self.n_docs,
        )  # fmt: skip


def _params(G: np.ndarray, Q: np.ndarray, w: np.ndarray) -> tuple:
    """(M_acc, M_pacc, bias, prior) from gold one-hot G, predictions Q and unit weights w."""
    k = G.shape[1]
    H = hard(Q)
    wg = w[:, None] * G  # n × K
    tot = wg.sum(axis=0)  # per gold class
    safe = np.where(tot > 0, tot, 1.0)
    m_acc = (H.T @ wg) / safe
    m_pacc = (Q.T @ wg) / safe
    for j in np.flatnonzero(tot <= 0):  # class never seen: no correction possible for it
        m_acc[:, j] = np.eye(k)[j]
        m_pacc[:, j] = np.eye(k)[j]
    sw = w.sum()
    bias = (w @ (G - Q)) / sw if sw > 0 else np.zeros(k)
    prior = tot / tot.sum() if tot.sum() > 0 else np.full(k, 1.0 / k)
    return m_acc, m_pacc, bias, prior


def fit_corrections(
    cv: pd.DataFrame,
    ids: Sequence[str],
    basis: str = "chars",
    n_boot: int = 0,
    rng: np.random.Generator | None = None,
    exclude_doc: str | None = None,
) -> Corrections:
    """Corrections from cross-fitted predictions (doc_id, gold, p_<id>, n_chars), optionally
    without one document, with ``n_boot`` document-bootstrap replicates after the point row."""
    d = cv if exclude_doc is None else cv[cv["doc_id"].astype(str) != exclude_doc]
    if len(d) == 0:
        return Corrections.identity(len(ids), 1 + n_boot)
    G = one_hot(d["gold"], ids).to_numpy()
    Q = d[prob_columns(ids)].to_numpy(dtype=float)
    if basis != "chars":
        w = np.ones(len(d))
    elif "n_chars" in d:
        w = d["n_chars"].fillna(0).to_numpy(dtype=float)
    else:
        w = d["text"].astype(str).str.len().to_numpy(dtype=float)
    rows = [_params(G, Q, w)]
    if n_boot:
        rng = rng or np.random.default_rng(0)
        codes, docs = pd.factorize(d["doc_id"].astype(str), sort=True)
        members = [np.flatnonzero(codes == i) for i in range(len(docs))]
        for _ in range(n_boot):
            pick = rng.integers(0, len(docs), len(docs))
            idx = np.concatenate([members[i] for i in pick])
            rows.append(_params(G[idx], Q[idx], w[idx]))
    m_acc, m_pacc, bias, prior = (np.stack(x) for x in zip(*rows))
    return Corrections(m_acc, m_pacc, bias, prior, len(d), int(d["doc_id"].nunique()))


def _em(Q: np.ndarray, W: np.ndarray, prior: np.ndarray, n_iter: int = 200, tol: float = 1e-7):
    """Saerens EM for B weightings at once: Q n × K posteriors, W B × n unit weights, prior
    B × K training priors → B × K new priors."""
    tw = W.sum(axis=1, keepdims=True)
    tw = np.where(tw > 0, tw, 1.0)
    pi = (W @ Q) / tw
    safe_prior = np.where(prior > 0, prior, 1.0)
    for _ in range(n_iter):
        ratio = np.where(prior > 0, pi / safe_prior, 0.0)  # B × K
        A = Q[None, :, :] * ratio[:, None, :]  # B × n × K
        s = A.sum(axis=2, keepdims=True)
        A = np.divide(A, s, out=np.zeros_like(A), where=s > 0)
        new = np.einsum("bn,bnk->bk", W, A) / tw
        if np.max(np.abs(new - pi)) < tol:
            return new
        pi = new
    return pi


def estimate(method: str, Q: np.ndarray, W: np.ndarray, corr: Corrections) -> np.ndarray:
    """Shares (B × K) of units with predictions ``Q`` (n × K) under weightings ``W`` (B × n,
    e.g. bootstrap counts × characters), draw b corrected with replicate b of ``corr``
    (a single replicate is used for every draw)."""
    W = np.atleast_2d(np.asarray(W, dtype=float))
    B, k = W.shape[0], Q.shape[1]
    tot = W.sum(axis=1, keepdims=True)
    if Q.shape[0] == 0:
        return np.full((B, k), np.nan)
    src = hard(Q) if method in ("cc", "acc") else Q
    naive = np.divide(W @ src, tot, out=np.full((B, k), np.nan), where=tot > 0)
    r = np.arange(B) % len(corr.bias)
    if method in ("cc", "pcc"):
        return naive
    if method == "acc":
        return solve_on_simplex(corr.m_acc[r], naive)
    if method == "pacc":
        return solve_on_simplex(corr.m_pacc[r], naive)
    if method == "ppi":
        return np.where(np.isfinite(naive), to_simplex(naive + corr.bias[r]), np.nan)
    if method == "em":
        return _em(Q, W, corr.prior[r])
    raise ValueError(f"estimator must be one of {ESTIMATORS}, not {method!r}")
