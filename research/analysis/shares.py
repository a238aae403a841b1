"""Domain shares per document: the share of body units (or characters) in each category.

Every source (gold labels, classifier probabilities, seeded-LDA probabilities) is first put
in one shape — a unit table with ``doc_id`` and one ``p_<id>`` column per category (one-hot
for hard labels) — so that shares, bootstrap intervals and emphasis are computed by the same
code whatever produced the labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

BASES = ("units", "chars")


def prob_columns(ids: Sequence[str]) -> list[str]:
    """Names of the probability columns for ``ids`` (``p_<id>``)."""
    return [f"p_{i}" for i in ids]


def ids_from_columns(df: pd.DataFrame) -> list[str]:
    """Category ids present as ``p_<id>`` columns, in column order."""
    return [c[2:] for c in df.columns if c.startswith("p_")]


def one_hot(labels: Sequence[str] | pd.Series, ids: Sequence[str]) -> pd.DataFrame:
    """One ``p_<id>`` column per category: 1.0 where the label is that id, else 0.0.

    Labels outside ``ids`` (e.g. "" for unlabelled) give an all-zero row; callers drop them.
    """
    labels = pd.Series(list(labels), dtype="object").fillna("").astype(str)
    return pd.DataFrame(
        {f"p_{i}": (labels == i).to_numpy(dtype=float) for i in ids}, index=range(len(labels))
    )


def unit_weights(units: pd.DataFrame, basis: str) -> np.ndarray:
    """Weight of each unit in a share: 1 per unit, or its number of characters."""
    if basis == "units":
        return np.ones(len(units))
    if basis == "chars":
        if "n_chars" in units:
            return units["n_chars"].to_numpy(dtype=float)
        return units["text"].astype(str).str.len().to_numpy(dtype=float)
    raise ValueError(f"basis must be one of {BASES}, not {basis!r}")


def normalise_rows(P: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1 (all-zero rows stay zero)."""
    s = P.sum(axis=1, keepdims=True)
    return np.divide(P, s, out=np.zeros_like(P, dtype=float), where=s > 0)


def weighted_shares(P: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ w_u p_u / Σ w_u — the (probability-weighted) share of each category."""
    total = float(w.sum())
    if total <= 0:
        return np.full(P.shape[1], np.nan)
    return (w @ P) / total


def document_shares(units: pd.DataFrame, ids: Sequence[str], basis: str = "units") -> pd.DataFrame:
    """Tidy shares: one row per (doc_id, domain) with share, n_units, n_chars.

    ``units`` needs ``doc_id`` and ``p_<id>`` columns (rows are renormalised to sum to 1;
    rows summing to 0 — unlabelled — are dropped), plus ``n_chars`` or ``text`` for chars.
    """
    cols = prob_columns(ids)
    missing = [c for c in cols if c not in units]
    if missing:
        raise KeyError(f"missing probability columns: {missing}")
    P = normalise_rows(units[cols].to_numpy(dtype=float))
    keep = P.sum(axis=1) > 0
    units = units.loc[keep].reset_index(drop=True)
    P = P[keep]
    w_units = np.ones(len(units))
    w_chars = unit_weights(units, "chars")
    w = w_units if basis == "units" else w_chars
    rows = []
    doc_codes, docs = pd.factorize(units["doc_id"].astype(str), sort=True)
    for k, doc in enumerate(docs):
        m = doc_codes == k
        s = weighted_shares(P[m], w[m])
        for j, cid in enumerate(ids):
            rows.append((doc, cid, float(s[j]), int(m.sum()), int(w_chars[m].sum())))
    return pd.DataFrame(rows, columns=["doc_id", "domain", "share", "n_units", "n_chars"])
