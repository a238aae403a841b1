"""Which units to annotate next: uncertainty, random or stratified sampling.

``suggest`` picks ``n`` units of a pool by one of three strategies:

- ``uncertainty``: how unsure the saved model is — the margin between its two most
  probable categories (small margin = unsure), entropy as the second key — so an hour of
  annotation teaches the classifier most. Units chosen this way are NOT a sample of the
  corpus: never use them to estimate accuracy or shares.
- ``random``: a simple random sample of units — use it to estimate accuracy and to
  correct shares for classifier error.
- ``stratified``: the same number of units from every document (random within each) —
  also a valid sample for estimates (weight units by their document's size), and it
  spreads the work over reports.

Ties and draws use a random order from ``seed`` (deterministic).
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


STRATEGIES = ("uncertainty", "random", "stratified")


def rank_stratified(docs: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Row indices of ``n`` rows spread evenly over documents (random within each)."""
    order = np.random.default_rng(seed).permutation(len(docs))
    ranks = pd.Series(docs[order]).groupby(docs[order]).cumcount().to_numpy()
    return order[np.argsort(ranks, kind="stable")][: max(0, int(n))]


def pick(proba: np.ndarray, docs: np.ndarray, n: int, strategy: str, seed: int = 0) -> np.ndarray:
    """Row indices of the ``n`` units ``strategy`` chooses (see the module docstring)."""
    if strategy == "uncertainty":
        return rank_uncertain(proba, n, seed)
    if strategy == "random":
        return np.random.default_rng(seed).permutation(len(docs))[: max(0, int(n))]
    if strategy == "stratified":
        return rank_stratified(docs, n, seed)
    raise InputError(
        "strategy", f"unknown sampling strategy {strategy!r} (use one of {', '.join(STRATEGIES)})"
    )


def suggest(
    model_dir: str | Path,
    units: pd.DataFrame,
    n: int = 50,
    seed: int = 0,
    codebook: object = None,
    params: dict | None = None,
    strategy: str = "uncertainty",
) -> pd.DataFrame:
    """The ``n`` units of ``units`` to annotate next, chosen by ``strategy``.

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
    docs = (
        pool["doc_id"].astype(str).to_numpy()
        if "doc_id" in pool
        else np.zeros(len(pool), dtype=object)
    )
    order = pick(proba, docs, n, strategy, seed)
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
    out["strategy"] = strategy
    return out.reset_index(drop=True)
