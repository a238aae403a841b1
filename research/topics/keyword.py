"""Keyword-assisted topics: gensim vs tomotopy seeded LDA, and convergent validity with the classifier.

Both backends fit the same model on the same corpus: one topic per codebook domain whose
topic–word prior favours the domain's seed terms (:mod:`research.topics.seeded`), plus
``topics.seeded_free_topics`` free topics — gensim through ``LdaModel(eta=…)`` with the
seeded start, tomotopy through ``set_word_prior`` (keyATM-style word priors in a Gibbs
sampler). ``seeded_backends.csv`` lists, per backend, the coherence of the topics (c_v,
c_npmi, u_mass, computed identically) and the agreement of its unit labels with the gold
labels (macro-F1, accuracy, document-share error). Training wall time is printed by
``research topics`` (not written: tables are byte-identical across runs) and measured by
``benchmarks/bench_topics.py --seeded``.

**Which is the default** is decided by :func:`rank_backends`: the higher macro-F1 against
gold first (differences below ``topics.seeded_f1_tolerance`` count as ties), then the
higher c_v (an exact tie keeps the configured default, listed first). The gold labels of the sample corpus were made by language-
model annotator sessions, not by people, and the seed terms were written by people who
had read these reports, so agreement on them is optimistic for both backends alike; the
comparison is between backends, not an estimate of accuracy elsewhere. ``params.yaml``
sets ``topics.seeded_backend`` from the table measured on the sample corpus; the table is
re-written on every run (``topics.seeded_compare``) so the choice can be re-checked.

**Convergent validity**: per-document seeded-topic shares (token-weighted mean of the
units' ``p_<domain>``) against the classifier's probability-weighted shares (mean
``p_<domain>`` of the predict stage's ``data/predictions/units.parquet``), Pearson and
Spearman correlation per domain across documents, and across units as a second view.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research.io import round_floats
from research.topics.tables import DECIMALS


def rank_backends(table: pd.DataFrame, f1_tolerance: float = 0.01) -> pd.DataFrame:
    """The comparison table with ``chosen`` and ``why`` (rule in the module docstring)."""
    df = table.copy().reset_index(drop=True)
    f1 = df["macro_f1"].astype(float) if "macro_f1" in df else pd.Series(np.nan, index=df.index)
    cv = df["c_v"].astype(float)
    best_f1 = f1.max()
    if np.isfinite(best_f1):
        cand = df.index[f1 >= best_f1 - f1_tolerance]
        basis = f"macro-F1 within {f1_tolerance:g} of the best ({best_f1:.3f})"
    else:
        cand = df.index
        basis = "no gold labels: coherence only"
    sub = df.loc[cand]
    pick = sub.sort_values("c_v", ascending=False, kind="stable").index[0]
    df["chosen"] = df.index == pick
    df["why"] = [
        (
            f"chosen: {basis}, then highest c_v ({cv[i]:.3f})"
            if i == pick
            else ("macro-F1 lower" if i not in cand else "c_v lower (or slower)")
        )
        for i in df.index
    ]
    return df


def _pcols(domain_ids: Sequence[str]) -> list[str]:
    return [f"p_{d}" for d in domain_ids]


def classifier_agreement(
    seeded: pd.DataFrame,
    predictions: pd.DataFrame,
    domain_ids: Sequence[str],
    weights: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(correlation per domain and level, per-document shares of both) tables.

    ``seeded``: unit_id, doc_id, p_<domain>; ``predictions``: unit_id, p_<domain>.
    ``weights``: tokens per seeded unit (index unit_id) for the document shares.
    """
    from scipy.stats import pearsonr, spearmanr

    cols = [c for c in _pcols(domain_ids) if c in predictions.columns and c in seeded.columns]
    pred = predictions[["unit_id"] + cols].astype({"unit_id": str})
    s = seeded[["unit_id", "doc_id"] + cols].astype({"unit_id": str, "doc_id": str})
    both = s.merge(pred, on="unit_id", suffixes=("_seeded", "_classifier"))
    w = (
        both["unit_id"].map(weights).fillna(1.0).to_numpy(dtype=float)
        if weights is not None
        else np.ones(len(both))
    )
    share_rows = []
    for doc, idx in both.groupby("doc_id", sort=True).indices.items():
        ww = w[idx] if w[idx].sum() > 0 else np.ones(len(idx))
        for c in cols:
            d = c[2:]
            share_rows.append(
                (
                    doc,
                    d,
                    float(np.average(both[f"{c}_seeded"].to_numpy()[idx], weights=ww)),
                    float(both[f"{c}_classifier"].to_numpy()[idx].mean()),
                    len(idx),
                )
            )
    shares = pd.DataFrame(
        share_rows, columns=["doc_id", "domain", "seeded_share", "classifier_share", "n_units"]
    )
    rows = []
    for c in cols:
        d = c[2:]
        doc = shares[shares["domain"] == d]
        for level, x, y in (
            ("document", doc["seeded_share"], doc["classifier_share"]),
            ("unit", both[f"{c}_seeded"], both[f"{c}_classifier"]),
        ):
            n = len(x)
            ok = n >= 3 and x.std() > 0 and y.std() > 0
            rows.append(
                {
                    "domain": d,
                    "level": level,
                    "n": n,
                    "pearson": float(pearsonr(x, y)[0]) if ok else np.nan,
                    "spearman": float(spearmanr(x, y)[0]) if ok else np.nan,
                    "mean_abs_diff": float(np.abs(x.to_numpy() - y.to_numpy()).mean())
                    if n
                    else np.nan,
                }
            )
    corr = pd.DataFrame(rows)
    corr, shares = round_floats(corr, DECIMALS), round_floats(shares, DECIMALS)
    return corr, shares
