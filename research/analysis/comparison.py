"""One table comparing the three ways of measuring domains against the gold labels:
the keyword dictionary, seeded LDA and the supervised classifiers (plus baselines)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from research.io import read_table

APPROACH = {"majority": "baseline", "dictionary": "dictionary", "seeded_lda": "seeded LDA"}


def method_comparison(paths: Sequence[Path]) -> pd.DataFrame:
    """Rows of the classifier scores and the seeded-LDA score (``paths``: the evaluation's
    ``classifier_cv`` and the topics stage's ``seeded_eval`` tables) with an ``approach``.

    The classifier rows are nested grouped cross-validation (by document / by province);
    the seeded-LDA row is unsupervised but its seed terms were written with the codebook,
    so it is not a held-out estimate. Empty when neither table exists.
    """
    parts = [read_table(p) for p in map(Path, paths) if p.exists()]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame()
    df = pd.concat(parts, ignore_index=True)
    df.insert(0, "approach", [APPROACH.get(m, "classifier") for m in df["method"]])
    order = {"baseline": 0, "dictionary": 1, "seeded LDA": 2, "classifier": 3}
    df["_o"] = df["approach"].map(order)
    df = df.sort_values(["cv", "_o", "method"], kind="mergesort").drop(columns="_o")
    return df.reset_index(drop=True)
