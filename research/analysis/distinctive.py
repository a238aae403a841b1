"""Distinctive terms: weighted log-odds ratios with an informative Dirichlet prior.

Monroe, Colaresi & Quinn (2008, "Fightin' Words", eq. 16–22): for group i vs the rest j,

    δ_w = log[(y_iw + α_w) / (n_i + α_0 − y_iw − α_w)] − log[(y_jw + α_w) / (n_j + α_0 − y_jw − α_w)]
    σ²(δ_w) ≈ 1/(y_iw + α_w) + 1/(y_jw + α_w),     z_w = δ_w / σ(δ_w)

with the informative prior α_w = prior_scale × (count of w in the whole corpus), α_0 = Σα_w.
The prior shrinks rare words towards zero, so the top of the list is not rare-word noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd


def log_odds_dirichlet(
    counts_i: np.ndarray, counts_j: np.ndarray, alpha: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """δ, σ and z for every term (arrays aligned on one vocabulary)."""
    yi = np.asarray(counts_i, dtype=float)
    yj = np.asarray(counts_j, dtype=float)
    a = np.asarray(alpha, dtype=float)
    a0 = a.sum()
    ni, nj = yi.sum(), yj.sum()
    delta = np.log((yi + a) / (ni + a0 - yi - a)) - np.log((yj + a) / (nj + a0 - yj - a))
    se = np.sqrt(1.0 / (yi + a) + 1.0 / (yj + a))
    return delta, se, delta / se


def distinctive_terms(
    tokens: Sequence[Sequence[str]],
    groups: Sequence[object],
    prior_scale: float = 0.01,
    top_n: int | None = 15,
    min_count: int = 2,
    variable: str = "group",
) -> pd.DataFrame:
    """Terms that distinguish each group from all other groups (one row per group × term).

    ``tokens``: token lists (one per unit or document); ``groups``: the group of each.
    Terms occurring fewer than ``min_count`` times in the corpus are dropped. Returns the
    ``top_n`` terms per group by z-score (all terms if None), with counts, δ, σ, z and rank.
    Needs at least two groups; returns an empty table otherwise.
    """
    cols = ["variable", "group", "term", "count_group", "count_rest", "log_odds", "se", "z", "rank"]
    groups = [
        "NA" if g is None or (isinstance(g, float) and np.isnan(g)) else str(g) for g in groups
    ]
    names = sorted(set(groups))
    if len(names) < 2:
        return pd.DataFrame(columns=cols)
    per_group: dict[str, Counter] = {g: Counter() for g in names}
    for toks, g in zip(tokens, groups):
        per_group[g].update(toks)
    total = Counter()
    for c in per_group.values():
        total.update(c)
    vocab = sorted(t for t, c in total.items() if c >= min_count)
    if not vocab:
        return pd.DataFrame(columns=cols)
    y_all = np.array([total[t] for t in vocab], dtype=float)
    alpha = np.maximum(prior_scale * y_all, 1e-6)
    rows = []
    for g in names:
        yi = np.array([per_group[g][t] for t in vocab], dtype=float)
        yj = y_all - yi
        delta, se, z = log_odds_dirichlet(yi, yj, alpha)
        order = sorted(range(len(vocab)), key=lambda k: (-z[k], vocab[k]))
        if top_n is not None:
            order = [k for k in order if yi[k] > 0][:top_n]
        for r, k in enumerate(order, start=1):
            rows.append(
                (
                    variable,
                    g,
                    vocab[k],
                    int(yi[k]),
                    int(yj[k]),
                    float(delta[k]),
                    float(se[k]),
                    float(z[k]),
                    r,
                )
            )
    return pd.DataFrame(rows, columns=cols)


def distinctive_by(
    units: pd.DataFrame,
    tokens: Sequence[Sequence[str]],
    variables: Iterable[str],
    prior_scale: float = 0.01,
    top_n: int | None = 15,
    min_count: int = 2,
) -> pd.DataFrame:
    """:func:`distinctive_terms` for each grouping column of ``units`` (e.g. province, year)."""
    parts = []
    for v in variables:
        if v not in units:
            continue
        parts.append(distinctive_terms(tokens, units[v].tolist(), prior_scale, top_n, min_count, v))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(
            columns=[
                "variable",
                "group",
                "term",
                "count_group",
                "count_rest",
                "log_odds",
                "se",
                "z",
                "rank",
            ]
        )
    return pd.concat(parts, ignore_index=True)
