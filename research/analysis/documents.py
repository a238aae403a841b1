"""The document table: each report's domain shares from its per-unit labels, with intervals.

A document's share mixes its gold units (counted as labelled) with its predicted units
(turned into shares by the chosen estimator, see :mod:`estimators`):

    share = (Σ_gold w·y + W_pred · estimate(predicted units)) / (W_gold + W_pred)

with w = 1 per unit (basis ``units``) or its characters (basis ``chars``, the default:
short slogan lines should not weigh as much as a paragraph of work). Intervals:

- an all-gold document: Wilson score interval with Kish's effective number of units
  (n for equal weights) — the report read as a sample of the federation's paragraphs;
- otherwise: a bootstrap of its units, draw b corrected with replicate b of the
  classifier-error corrections, so the interval carries the classifier's error too.

Group means (province, level, year, all) resample documents, then take each resampled
document's unit-level draw (a two-stage, document-then-unit bootstrap); groups with fewer
than ``min_docs`` documents get the point estimate and no interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from research.analysis.bootstrap import percentile_ci, rng_for
from research.analysis.estimators import Corrections, estimate
from research.analysis.shares import one_hot, unit_weights
from research.analysis.units import pred_columns, source_summary


def wilson(share: np.ndarray, n: float, ci: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions ``share`` out of (effective) ``n`` units."""
    p = np.asarray(share, dtype=float)
    if not n or n <= 0:
        nan = np.full_like(p, np.nan)
        return nan, nan
    z = float(norm.ppf(0.5 + ci / 2))
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(np.clip(p * (1 - p) / n + z * z / (4 * n * n), 0, None)) / den
    return np.clip(mid - half, 0, 1), np.clip(mid + half, 0, 1)


def kish_n(w: np.ndarray) -> float:
    """Kish effective sample size (Σw)² / Σw² (= n for equal weights)."""
    s2 = float((w * w).sum())
    return float(w.sum()) ** 2 / s2 if s2 > 0 else 0.0


def _doc_estimate(
    G: np.ndarray, Q: np.ndarray, is_gold: np.ndarray, W: np.ndarray, method: str, corr
) -> np.ndarray:
    """B × K shares of one document under weightings W (B × n)."""
    wg, wp = W[:, is_gold], W[:, ~is_gold]
    tg, tp = wg.sum(axis=1, keepdims=True), wp.sum(axis=1, keepdims=True)
    part_g = wg @ G[is_gold]
    part_p = np.zeros_like(part_g)
    if (~is_gold).any():
        est = estimate(method, Q[~is_gold], wp, corr)
        part_p = np.where(tp > 0, np.nan_to_num(est) * tp, 0.0)
    tot = tg + tp
    return np.divide(part_g + part_p, tot, out=np.full_like(part_g, np.nan), where=tot > 0)


def document_table(
    labelled: pd.DataFrame,
    ids: Sequence[str],
    basis: str = "chars",
    method: str = "pcc",
    corrections: Corrections | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Tidy doc × domain shares with interval, counts and source, and the draws (doc → B × K).

    ``labelled`` comes from :func:`research.analysis.units.label_units`; ``corrections``
    must have ``n_boot + 1`` replicates (row 0 = point) unless ``method`` is cc/pcc.
    """
    ids = list(ids)
    k = len(ids)
    corr = corrections or Corrections.identity(k, 1 + n_boot)
    lab = labelled[labelled["source"] != "none"]
    lab = lab.sort_values(["doc_id", "para_id", "unit_id"], kind="mergesort")
    summary = source_summary(labelled).set_index("doc_id")
    rows, draws = [], {}
    for doc, d in lab.groupby("doc_id", sort=True):
        G = one_hot(d["gold"], ids).to_numpy()
        Q = d[pred_columns(ids)].to_numpy(dtype=float)
        is_gold = d["source"].eq("gold").to_numpy()
        w = unit_weights(d, basis)
        point = _doc_estimate(G, Q, is_gold, w[None, :], method, corr.take(0))[0]
        n = len(d)
        rng = rng_for(seed, "documents", basis, method, doc)
        C = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float) * w[None, :]
        dr = _doc_estimate(G, Q, is_gold, C, method, corr.take(np.arange(1, n_boot + 1)))
        draws[str(doc)] = dr
        if is_gold.all():
            lo, hi = wilson(point, kish_n(w), ci)
            kind = "wilson"
        else:
            lo, hi = percentile_ci(dr, ci)
            kind = "bootstrap"
        s = summary.loc[doc]
        for j, cid in enumerate(ids):
            rows.append((
                doc, basis, cid, float(point[j]), float(lo[j]), float(hi[j]), kind,
                method if not is_gold.all() else "gold", int(s["n_units"]),
                int(d["n_chars"].sum()), int(s["n_gold"]), int(s["n_predicted"]),
                int(s["n_cross_fitted"]), s["source"],
            ))  # fmt: skip
    cols = [
        "doc_id", "basis", "domain", "estimate", "ci_low", "ci_high", "interval", "estimator",
        "n_units", "n_chars", "n_gold", "n_predicted", "n_cross_fitted", "source",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=cols), draws


def group_means(
    docs: pd.DataFrame,
    draws: dict[str, np.ndarray],
    ids: Sequence[str],
    by: str,
    ci: float = 0.95,
    seed: int = 0,
    key: str = "",
    min_docs: int = 5,
    weights: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Mean document share per group of ``by`` (``all`` pools every document).

    Intervals by resampling the group's documents and, for each, one of its unit-level
    draws; none below ``min_docs`` documents. ``weights`` (doc_id, group, weight) replaces
    the grouping column — e.g. period weights that spread a report over the years it covers.
    """
    ids = list(ids)
    wide = docs.pivot_table(index="doc_id", columns="domain", values="estimate", aggfunc="first")
    wide = wide.reindex(columns=ids).sort_index()
    if weights is None:
        meta = docs.drop_duplicates("doc_id").set_index("doc_id")
        g = pd.Series("all", index=wide.index) if by == "all" else meta[by].reindex(wide.index)
        weights = pd.DataFrame(
            {"doc_id": wide.index, "group": g.astype("object").fillna("NA").astype(str).values,
             "weight": 1.0}
        )  # fmt: skip
    kinds = docs.drop_duplicates("doc_id").set_index("doc_id")["source"]
    rows = []
    for grp, sub in weights.groupby("group", sort=True):
        dd = sub["doc_id"].astype(str).tolist()
        ww = sub["weight"].to_numpy(dtype=float)
        V = wide.loc[dd].to_numpy(dtype=float)
        mean = (ww @ V) / ww.sum()
        n = len(dd)
        lo = hi = np.full(len(ids), np.nan)
        note = ""
        if n >= min_docs and all(d in draws for d in dd):
            D = np.stack([draws[d] for d in dd])  # n × B × K
            B = D.shape[1]
            rng = rng_for(seed, key, by, grp)
            idx = rng.integers(0, n, size=(B, n))
            sel = D[idx, np.arange(B)[:, None], :]  # B × n × K
            wsel = ww[idx]
            m = np.einsum("bn,bnk->bk", wsel, np.nan_to_num(sel)) / wsel.sum(axis=1)[:, None]
            lo, hi = percentile_ci(m, ci)
        else:
            note = f"{n} document(s) < {min_docs}: no interval"
        mixed = set(kinds.reindex(dd).dropna()) - {"none"}
        src = mixed.pop() if len(mixed) == 1 else "mixed"
        for j, cid in enumerate(ids):
            rows.append((by, str(grp), cid, float(mean[j]), float(lo[j]), float(hi[j]), n,
                         float(ww.sum()), src, note))  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=["variable", "group", "domain", "mean_share", "ci_low", "ci_high", "n_docs",
                 "weight", "source", "note"],
    )  # fmt: skip


def period_weights(meta: pd.DataFrame) -> pd.DataFrame | None:
    """doc_id, group (year), weight: a report reviewing period_start–period_end counts 1/L
    toward each of its L years (its issue year when the period is missing)."""
    if "year" not in meta:
        return None
    rows = []
    for r in meta.itertuples(index=False):
        y: Any = getattr(r, "year", None)
        a: Any = getattr(r, "period_start", None)
        b: Any = getattr(r, "period_end", None)
        if pd.notna(a) and pd.notna(b) and int(b) >= int(a):
            years: Sequence[int] = range(int(a), int(b) + 1)
        elif pd.notna(y):
            years = [int(y)]
        else:
            continue
        for yy in years:
            rows.append((str(r.doc_id), str(yy), 1.0 / len(years)))
    return pd.DataFrame(rows, columns=["doc_id", "group", "weight"]) if rows else None
