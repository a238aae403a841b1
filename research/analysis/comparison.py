"""One table comparing the three ways of measuring domains against the gold labels:
the keyword dictionary, seeded LDA and the supervised classifiers (plus baselines)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

APPROACH = {"majority": "baseline", "dictionary": "dictionary", "seeded_lda": "seeded LDA"}


def method_comparison(tables_dir: Path) -> pd.DataFrame:
    """Rows of ``classifier_cv.csv`` and ``seeded_eval.csv`` with an ``approach`` column.

    The classifier rows are nested grouped cross-validation (by document / by province);
    the seeded-LDA row is unsupervised but its seed terms were written with the codebook,
    so it is not a held-out estimate. Empty when neither table exists.
    """
    parts = []
    for name in ("classifier_cv.csv", "seeded_eval.csv"):
        p = Path(tables_dir) / name
        if p.exists():
            parts.append(pd.read_csv(p))
    if not parts:
        return pd.DataFrame()
    df = pd.concat(parts, ignore_index=True)
    df.insert(0, "approach", [APPROACH.get(m, "classifier") for m in df["method"]])
    order = {"baseline": 0, "dictionary": 1, "seeded LDA": 2, "classifier": 3}
    df["_o"] = df["approach"].map(order)
    df = df.sort_values(["cv", "_o", "method"], kind="mergesort").drop(columns="_o")
    return df.reset_index(drop=True)
