"""Topics over time: tomotopy's dynamic topic model (DTModel; Blei & Lafferty 2006).

Reports are grouped into periods of ``topics.dynamic_period_years`` issue years (the
periods that contain at least one report, in order; an empty stretch of years between two
periods is simply skipped, so the model's random walk steps from one observed period to
the next). Each topic keeps its identity across periods while its word distribution
drifts (``phi_var`` is the drift variance), so the table of top words per period shows how
the vocabulary of one theme changes, and the prevalence table how much of the text it
takes in each period (token-weighted mean θ of the period's units).

The SGLD step size ``e_i = lr_a·(lr_b + i)^(−lr_c)`` (``topics.dynamic_lr_a``,
``dynamic_lr_c``) is larger than tomotopy's default (0.01, 0.55): with the default, 300
sweeps on the sample corpus left the topics nearly identical (mean pairwise top-10
Jaccard overlap 0.25; with 0.5 and 0.6 it is 0.02).

Caveats: there is no interval here (one fit; the covariate model's year smooth carries
the uncertainty); with few reports per period the drift follows individual reports.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research.io import round_floats
from research.topics.covariates import Design
from research.topics.lda import _normalise_rows, import_tomotopy, tomotopy_topic_word
from research.topics.tables import FLOAT32_DECIMALS


def periods(years: pd.Series, width: int) -> pd.DataFrame:
    """Period index per distinct year: ``year, period, year_start, year_end``."""
    ys = sorted(set(int(y) for y in years))
    lo = ys[0]
    bins = sorted({(y - lo) // max(1, width) for y in ys})
    index = {b: i for i, b in enumerate(bins)}
    rows = []
    for y in ys:
        b = (y - lo) // max(1, width)
        rows.append((y, index[b], lo + b * width, lo + b * width + width - 1))
    out = pd.DataFrame(rows, columns=["year", "period", "year_start", "year_end"])
    span = out.groupby("period")["year"].agg(["min", "max"])
    out["label"] = out["period"].map(
        lambda p: (
            f"{span.loc[p, 'min']}"
            + (f"–{span.loc[p, 'max']}" if span.loc[p, "min"] != span.loc[p, "max"] else "")
        )
    )
    return out


def fit_dynamic(
    texts: Sequence[list[str]],
    design: Design,
    vocab: Sequence[str],
    k: int,
    seed: int,
    *,
    width: int = 1,
    iterations: int = 300,
    top_n: int = 10,
    lr_a: float = 0.5,
    lr_c: float = 0.6,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """(top terms per topic and period, prevalence per topic and period), or None when
    the units span fewer than two periods."""
    if not design.year:
        return None
    per = periods(design.units["year"], width)
    if per["period"].nunique() < 2:
        return None
    tp = import_tomotopy()
    u = design.units.merge(per[["year", "period"]], on="year", how="left")
    n_t = int(per["period"].nunique())
    model = tp.DTModel(
        tw=tp.TermWeight.ONE, k=k, t=n_t, lr_a=lr_a, lr_c=lr_c, seed=int(seed) % 2**32
    )
    for r in u.itertuples(index=False):
        model.add_doc(texts[r.row], timepoint=int(r.period))
    model.train(iterations=iterations, workers=1)
    prior = np.full((k, len(vocab)), 1e-12)
    labels = per.drop_duplicates("period").set_index("period")["label"]
    term_rows = []
    for t in range(n_t):
        tw = tomotopy_topic_word(model, vocab, prior, timepoint=t, normalize=True)
        for topic in range(k):
            order = np.argsort(-tw[topic], kind="stable")[:top_n]
            for rank, j in enumerate(order, 1):
                term_rows.append((topic + 1, t, labels[t], rank, vocab[j], tw[topic, j]))
    terms = pd.DataFrame(term_rows, columns=["topic", "period", "label", "rank", "term", "prob"])
    theta = _normalise_rows(np.array([d.get_topic_dist() for d in model.docs]))
    w = u["n_tokens"].to_numpy(dtype=float)
    prev_rows = []
    for t in range(n_t):
        m = u["period"].to_numpy() == t
        p = (theta[m] * w[m, None]).sum(0) / w[m].sum()
        for topic in range(k):
            prev_rows.append(
                (topic + 1, t, labels[t], p[topic], int(m.sum()), int(u.loc[m, "doc_id"].nunique()))
            )
    prev = pd.DataFrame(
        prev_rows, columns=["topic", "period", "label", "prevalence", "n_units", "n_docs"]
    )
    terms, prev = round_floats(terms, FLOAT32_DECIMALS), round_floats(prev, FLOAT32_DECIMALS)
    return terms, prev
