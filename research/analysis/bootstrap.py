"""Bootstrap confidence intervals for shares (percentile method, seeded, deterministic).

Within a document the units are resampled (the report is treated as a sample of the
federation's paragraphs); for a group mean the documents are resampled. Each resample is
seeded from the run seed and a stable key (source, basis, document), so intervals do not
depend on the order in which documents are processed.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from research.analysis.shares import normalise_rows, prob_columns, unit_weights

Adjust = Callable[[np.ndarray], np.ndarray]


def rng_for(seed: int, *key: object) -> np.random.Generator:
    """A generator seeded by ``seed`` and a stable hash of ``key`` (not Python's hash())."""
    k = zlib.crc32("\x1f".join(map(str, key)).encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, k]))


def percentile_ci(
    draws: np.ndarray, ci: float = 0.95, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile bounds of bootstrap draws (NaN draws ignored)."""
    a = (1.0 - ci) / 2.0
    with warnings.catch_warnings():  # all-NaN columns (no units) give NaN bounds, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(draws, [a, 1.0 - a], axis=axis)
    return lo, hi


def bootstrap_unit_shares(
    P: np.ndarray,
    w: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    adjust: Adjust | None = None,
) -> np.ndarray:
    """``n_boot`` × K resampled shares of one document (units drawn with replacement).

    ``adjust`` maps a vector of naive shares to corrected ones (ACC/PACC) and is applied
    to every draw, so the interval includes the adjustment's own instability.
    """
    n = P.shape[0]
    if n == 0:
        return np.full((n_boot, P.shape[1]), np.nan)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)  # B × n
    cw = counts * w[None, :]
    tot = cw.sum(axis=1, keepdims=True)
    draws = np.divide(cw @ P, tot, out=np.full((n_boot, P.shape[1]), np.nan), where=tot > 0)
    if adjust is not None:
        if hasattr(adjust, "many"):  # vectorised (ShareAdjuster)
            draws = adjust.many(draws)
        else:
            draws = np.vstack([adjust(d) if np.all(np.isfinite(d)) else d for d in draws])
    return draws


def bootstrap_document_shares(
    units: pd.DataFrame,
    ids: Sequence[str],
    basis: str = "units",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    key: str = "",
    adjust: Adjust | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Shares per document with bootstrap CIs, and the draws (doc_id → n_boot × K).

    Returns a tidy table doc_id, domain, share, ci_low, ci_high, n_units, n_chars; the point
    estimate is the (adjusted) share of the full sample, not the bootstrap mean.
    """
    cols = prob_columns(ids)
    order = [c for c in ("doc_id", "para_id", "unit_id") if c in units]
    units = units.sort_values(order, kind="mergesort").reset_index(
        drop=True
    )  # row order must not matter
    P_all = normalise_rows(units[cols].to_numpy(dtype=float))
    keep = P_all.sum(axis=1) > 0
    units = units.loc[keep].reset_index(drop=True)
    P_all = P_all[keep]
    w_all = unit_weights(units, basis)
    chars = unit_weights(units, "chars")
    rows: list[tuple] = []
    draws_by_doc: dict[str, np.ndarray] = {}
    codes, docs = pd.factorize(units["doc_id"].astype(str), sort=True)
    for k, doc in enumerate(docs):
        m = codes == k
        P, w = P_all[m], w_all[m]
        point = (w @ P) / w.sum() if w.sum() > 0 else np.full(len(ids), np.nan)
        if adjust is not None and np.all(np.isfinite(point)):
            point = adjust(point)
        draws = bootstrap_unit_shares(P, w, n_boot, rng_for(seed, key, basis, doc), adjust)
        draws_by_doc[doc] = draws
        lo, hi = percentile_ci(draws, ci)
        for j, cid in enumerate(ids):
            rows.append(
                (
                    doc,
                    cid,
                    float(point[j]),
                    float(lo[j]),
                    float(hi[j]),
                    int(m.sum()),
                    int(chars[m].sum()),
                )
            )
    table = pd.DataFrame(
        rows, columns=["doc_id", "domain", "share", "ci_low", "ci_high", "n_units", "n_chars"]
    )
    return table, draws_by_doc


def bootstrap_mean(
    values: np.ndarray, n_boot: int, ci: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column means of ``values`` (documents × K) with a document-resampling percentile CI.

    The same resampled documents are used for every column, so resampled means still sum
    to one across domains. One document gives the point estimate and NaN bounds.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    n, k = values.shape
    if n == 0:
        nan = np.full(k, np.nan)
        return nan, nan, nan
    mean = np.nanmean(values, axis=0)
    if n == 1:
        return mean, np.full(k, np.nan), np.full(k, np.nan)
    idx = rng.integers(0, n, size=(n_boot, n))
    means = np.nanmean(values[idx], axis=1)  # B × K
    lo, hi = percentile_ci(means, ci)
    return mean, lo, hi


def bootstrap_group_means(
    doc_shares: pd.DataFrame,
    by: str,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    key: str = "",
    min_docs: int = 2,
) -> pd.DataFrame:
    """Mean share per (group, domain) over documents, with a CI from resampling documents.

    ``doc_shares`` is tidy (doc_id, domain, share and the column ``by``; ``by="all"`` pools
    every document). Groups with fewer than ``min_docs`` documents get a note (one document
    gives no interval at all).
    """
    d = doc_shares.dropna(subset=["share"]).copy()
    if by == "all":
        d["_g"] = "all"
    else:
        d["_g"] = d[by].astype("object").where(d[by].notna(), "NA").astype(str)
    domains = list(dict.fromkeys(d["domain"]))
    rows = []
    for g in sorted(d["_g"].unique()):
        sub = d[d["_g"] == g]
        wide = sub.pivot_table(index="doc_id", columns="domain", values="share", aggfunc="first")
        wide = wide.reindex(columns=domains).sort_index()
        n = len(wide)
        mean, lo, hi = bootstrap_mean(wide.to_numpy(), n_boot, ci, rng_for(seed, key, by, g))
        if n < min_docs:
            note = (
                f"only {n} document(s): no interval"
                if n == 1
                else f"only {n} documents (< {min_docs})"
            )
        elif n < 10:
            note = f"only {n} documents: interval unreliable"
        else:
            note = ""
        for j, dom in enumerate(domains):
            rows.append((by, g, dom, float(mean[j]), float(lo[j]), float(hi[j]), n, note))
    return pd.DataFrame(
        rows,
        columns=[
            "variable",
            "group",
            "domain",
            "mean_share",
            "ci_low",
            "ci_high",
            "n_docs",
            "note",
        ],
    )
