"""The label source of every body unit: gold where labelled, else the classifier.

For a unit the classifier was trained on, its in-sample prediction is nearly always right
and says nothing about the classifier's error, so the prediction kept for it is the
**cross-fitted** (out-of-fold) one from ``cv_predictions.csv``; the in-sample prediction
from ``data/predictions/units.parquet`` is used only for units that were not in training.

Result: one row per body unit with ``gold`` ("" if none), ``q_<id>`` (the prediction kept),
``pred_source`` (``cross_fitted`` | ``model`` | ""), ``source`` (``gold`` | ``predicted`` |
``none``), and ``p_<id>`` = gold one-hot where there is gold, else ``q_<id>``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research.analysis.shares import normalise_rows, one_hot, prob_columns


def pred_columns(ids: Sequence[str]) -> list[str]:
    """Names of the kept-prediction columns (``q_<id>``)."""
    return [f"q_{i}" for i in ids]


def label_units(
    units: pd.DataFrame,
    ids: Sequence[str],
    gold: pd.DataFrame | None = None,
    predictions: pd.DataFrame | None = None,
    cv: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per-unit labels and their source (see the module docstring).

    ``units``: body units (doc_id, unit_id, n_chars, …); ``gold``: unit_id, gold;
    ``predictions``: unit_id, p_<id> from the saved model; ``cv``: unit_id, p_<id> held out.
    """
    ids = list(ids)
    pc, qc = prob_columns(ids), pred_columns(ids)
    u = units.drop(columns=[c for c in [*pc, "label", "gold"] if c in units]).copy()
    u = u.reset_index(drop=True)
    Q = np.zeros((len(u), len(ids)))
    src = np.full(len(u), "", dtype=object)
    for name, table in (("model", predictions), ("cross_fitted", cv)):  # later wins
        if table is None or "unit_id" not in table or not len(table):
            continue
        t = table.drop_duplicates("unit_id").set_index("unit_id")
        t = t.reindex(columns=pc).fillna(0.0)
        hit = u["unit_id"].isin(t.index).to_numpy()
        if hit.any():
            Q[hit] = normalise_rows(t.loc[u.loc[hit, "unit_id"]].to_numpy(dtype=float))
            src[hit] = name
    src[Q.sum(axis=1) <= 0] = ""
    g = pd.Series("", index=u.index, dtype=object)
    if gold is not None and len(gold):
        lab = gold.drop_duplicates("unit_id").set_index("unit_id")["gold"].astype(str)
        g = u["unit_id"].map(lab).fillna("").astype(str)
        g = g.where(g.isin(ids), "")
    u["gold"] = g.to_numpy()
    for j, c in enumerate(qc):
        u[c] = Q[:, j]
    u["pred_source"] = src
    has_gold = u["gold"].ne("").to_numpy()
    has_pred = src != ""
    u["source"] = np.where(has_gold, "gold", np.where(has_pred, "predicted", "none"))
    G = one_hot(u["gold"], ids).to_numpy()
    P = np.where(has_gold[:, None], G, Q)
    for j, c in enumerate(pc):
        u[c] = P[:, j]
    u["label"] = np.where(u["source"].eq("none"), "", np.array(ids, dtype=object)[P.argmax(axis=1)])
    return u


def source_summary(labelled: pd.DataFrame) -> pd.DataFrame:
    """Per document: n_units, n_gold, n_predicted, n_cross_fitted and its ``source`` —
    ``gold``, ``predicted`` or ``mixed`` (gold for some units, predictions for the rest)."""
    d = labelled.assign(
        _g=labelled["source"].eq("gold"),
        _p=labelled["source"].eq("predicted"),
        _x=labelled["pred_source"].eq("cross_fitted") & labelled["source"].eq("predicted"),
    )
    s = d.groupby("doc_id", sort=True).agg(
        n_units=("unit_id", "size"), n_gold=("_g", "sum"), n_predicted=("_p", "sum"),
        n_cross_fitted=("_x", "sum"),
    )  # fmt: skip
    s["source"] = np.where(
        s["n_predicted"].eq(0), "gold", np.where(s["n_gold"].eq(0), "predicted", "mixed")
    )
    s.loc[s["n_gold"].add(s["n_predicted"]).eq(0), "source"] = "none"
    return s.reset_index()
