"""Emphasis: how much a document stresses a domain relative to the corpus, and how early.

- emphasis index = document share / mean share of the other documents (leave-one-out;
  1 = average; 2 = twice the average); optionally without ``other``, the rest renormalised;
- rank of each domain within the document (1 = largest share);
- first position: where in the report (0 = first body unit, 1 = last) the domain first
  appears — reports tend to put what the federation presents as its priority first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research.analysis.bootstrap import percentile_ci


def _renormalise(X: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Shares restricted to the ``keep`` columns and rescaled to sum to 1 (others NaN)."""
    X = np.where(keep, X, 0.0)
    s = np.nansum(X, axis=-1, keepdims=True)
    out = np.divide(X, s, out=np.full_like(X, np.nan), where=s > 0)
    return np.where(keep, out, np.nan)


def _loo_mean(X: np.ndarray) -> np.ndarray:
    """Mean of the *other* rows for every row (axis 0); NaN with a single row."""
    n = np.isfinite(X).sum(axis=0)
    tot = np.nansum(X, axis=0)
    own = np.nan_to_num(X)
    cnt = n - np.isfinite(X)
    return np.divide(tot - own, cnt, out=np.full(X.shape, np.nan), where=cnt > 0)


def emphasis_index(
    doc_shares: pd.DataFrame,
    draws: dict[str, np.ndarray] | None = None,
    ids: Sequence[str] | None = None,
    ci: float = 0.95,
    exclude: Sequence[str] = (),
    value: str = "share",
) -> pd.DataFrame:
    """Emphasis index per (doc_id, domain): the document's share over the mean share of the
    **other** documents (leave-one-out, so a report is not part of its own yardstick).

    ``doc_shares``: tidy doc_id, domain and ``value``. ``draws``: doc_id → n_boot × K share
    draws (columns in ``ids`` order); the yardstick is recomputed in every draw, so the
    interval carries the uncertainty of both numerator and denominator. ``exclude`` (e.g.
    ``["other"]``) drops those domains and renormalises the rest to sum to 1 first. Domains
    whose yardstick is 0 get NaN.
    """
    wide = doc_shares.pivot_table(index="doc_id", columns="domain", values=value, aggfunc="first")
    ids = list(ids) if ids is not None else list(dict.fromkeys(doc_shares["domain"]))
    wide = wide.reindex(columns=ids).sort_index()
    keep = np.array([c not in set(exclude) for c in ids])
    X = wide.to_numpy(dtype=float)
    if len(exclude):
        X = _renormalise(X, keep)
    loo = _loo_mean(X)
    E = np.divide(X, loo, out=np.full(X.shape, np.nan), where=loo > 0)
    lo = np.full(X.shape, np.nan)
    hi = np.full(X.shape, np.nan)
    if draws:
        docs = [d for d in wide.index if d in draws]
        if len(docs) >= 2:
            stack = np.stack([draws[d] for d in docs])  # D × B × K
            if len(exclude):
                stack = _renormalise(stack, keep)
            loo_d = _loo_mean(stack)
            for i, d in enumerate(docs):
                e = np.divide(stack[i], loo_d[i], out=np.full(loo_d[i].shape, np.nan),
                              where=loo_d[i] > 0)  # fmt: skip
                l_, h_ = percentile_ci(e, ci)
                r = wide.index.get_loc(d)
                lo[r], hi[r] = l_, h_
    rows = []
    for r, doc in enumerate(wide.index):
        for j, cid in enumerate(ids):
            if not keep[j]:
                continue
            rows.append((doc, cid, float(X[r, j]), float(loo[r, j]), float(E[r, j]),
                         float(lo[r, j]), float(hi[r, j])))  # fmt: skip
    return pd.DataFrame(
        rows, columns=["doc_id", "domain", "share", "corpus_mean", "emphasis", "ci_low", "ci_high"]
    )


def domain_ranks(doc_shares: pd.DataFrame) -> pd.DataFrame:
    """Rank of each domain within its document (1 = largest share; ties share the best rank)
    and the document's full rank order as a string ("family>rights>...")."""
    d = doc_shares[["doc_id", "domain", "share"]].copy()
    d["rank"] = d.groupby("doc_id")["share"].rank(method="min", ascending=False).astype("Int64")
    order = (
        d.sort_values(["doc_id", "rank", "domain"], kind="mergesort")
        .groupby("doc_id")["domain"]
        .agg(lambda s: ">".join(s))
        .rename("rank_order")
    )
    return d.drop(columns="share").merge(order, on="doc_id", how="left")


def first_positions(units: pd.DataFrame, label_col: str, ids: Sequence[str]) -> pd.DataFrame:
    """Relative position (0–1) of the first unit of each domain in each document.

    Units are ordered by ``para_id``. ``first_position`` = index of the first unit with that
    label / (number of body units − 1); ``first_position_chars`` = characters of body text
    before that unit / all body characters. NaN when the domain never appears.
    """
    rows = []
    u = units.copy()
    if "n_chars" not in u:
        u["n_chars"] = u["text"].astype(str).str.len()
    sort_cols = ["doc_id", "para_id"] if "para_id" in u else ["doc_id"]
    u = u.sort_values(sort_cols, kind="mergesort")
    for doc, sub in u.groupby("doc_id", sort=True):
        labels = sub[label_col].astype(str).to_numpy()
        chars = sub["n_chars"].to_numpy(dtype=float)
        n = len(labels)
        before = np.concatenate([[0.0], np.cumsum(chars)[:-1]])
        total = chars.sum()
        for cid in ids:
            hit = np.flatnonzero(labels == cid)
            if len(hit):
                i = int(hit[0])
                pos = i / (n - 1) if n > 1 else 0.0
                pos_c = before[i] / total if total > 0 else np.nan
                rows.append((doc, cid, pos, pos_c, i + 1, n))
            else:
                rows.append((doc, cid, np.nan, np.nan, pd.NA, n))
    out = pd.DataFrame(
        rows,
        columns=[
            "doc_id",
            "domain",
            "first_position",
            "first_position_chars",
            "first_unit",
            "n_units",
        ],
    )
    out["first_unit"] = out["first_unit"].astype("Int64")
    return out
