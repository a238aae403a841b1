"""Uncertainty sampling: which unlabeled units would teach the classifier most.

``suggest`` ranks a pool of units by how unsure the saved model is about them — the
margin between its two most probable categories (small margin = unsure), with the
entropy of the full distribution as the second key — so a researcher's next hour of
annotation goes to the units that sit on the model's decision boundaries. Remaining ties
are broken by a random order drawn from ``seed`` (deterministic).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from research.errors import InputError


def uncertainty_scores(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(margin uncertainty = 1 − (p1 − p2), normalised entropy) per row, both in [0, 1]."""
    p = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    srt = np.sort(p, axis=1)[:, ::-1]
    margin = 1.0 - (srt[:, 0] - (srt[:, 1] if p.shape[1] > 1 else 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    ent = ent / np.log(p.shape[1]) if p.shape[1] > 1 else ent
    return margin, ent


def rank_uncertain(proba: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Row indices of the ``n`` most uncertain rows, most uncertain first."""
    margin, ent = uncertainty_scores(proba)
    tie = np.random.default_rng(seed).permutation(len(margin))
    order = np.lexsort((tie, -np.round(ent, 9), -np.round(margin, 9)))
    return order[: max(0, int(n))]


def suggest(
    model_dir: str | Path,
    units: pd.DataFrame,
    n: int = 50,
    seed: int = 0,
    codebook: object = None,
    params: dict | None = None,
) -> pd.DataFrame:
    """The ``n`` units of ``units`` the model at ``model_dir`` is least sure about.

    Returns unit_id, doc_id, text, uncertainty (margin-based, 1 = a tie between two
    categories), entropy, predicted (the model's best guess) and p_<id> columns, in the
    order to annotate. Units without Chinese text are skipped.
    """
    from research.classify.features import has_chinese
    from research.classify.persist import load_model

    if "text" not in units.columns:
        raise InputError("units", "the unit pool needs a 'text' column")
    model, card = load_model(model_dir, codebook)
    labels = list(card["labels"])
    pool = units[units["text"].map(lambda t: has_chinese(str(t)) if t is not None else False)]
    pool = pool.reset_index(drop=True)
    if len(pool) == 0:
        return pd.DataFrame(
            columns=["unit_id", "doc_id", "text", "uncertainty", "entropy", "predicted"]
        )
    X = pd.DataFrame(
        {
            "text": pool["text"].astype(str),
            "heading": pool["heading"].astype(str) if "heading" in pool else "",
        }
    )
    proba = model.predict_proba(X)
    order = rank_uncertain(proba, n, seed)
    margin, ent = uncertainty_scores(proba)
    out = pd.DataFrame(
        {
            "unit_id": pool["unit_id"].astype(str).to_numpy()[order]
            if "unit_id" in pool
            else [f"row{i:06d}" for i in order],
            "doc_id": pool["doc_id"].astype(str).to_numpy()[order] if "doc_id" in pool else "",
            "text": pool["text"].astype(str).to_numpy()[order],
            "uncertainty": np.round(margin[order], 6),
            "entropy": np.round(ent[order], 6),
            "predicted": np.asarray(labels, dtype=object)[np.argmax(proba[order], axis=1)],
        }
    )
    for j, lab in enumerate(labels):
        out[f"p_{lab}"] = np.round(proba[order, j], 6)
    return out.reset_index(drop=True)
