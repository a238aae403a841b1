"""Distinctive terms: weighted log-odds ratios with an informative Dirichlet prior.

Monroe, Colaresi & Quinn (2008, "Fightin' Words", eq. 16–22): for group i vs the rest j,

    δ_w = log[(y_iw + α_w) / (n_i + α_0 − y_iw − α_w)] − log[(y_jw + α_w) / (n_j + α_0 − y_jw − α_w)]
    σ²(δ_w) ≈ 1/(y_iw + α_w) + 1/(y_jw + α_w),     z_w = δ_w / σ(δ_w)

with the informative prior α_w = prior_scale × (count of w in the whole corpus), α_0 = Σα_w.
The prior shrinks rare words towards zero, so the top of the list is not rare-word noise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from research.labels.codebook import Codebook


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
    keys = ["NA" if g is None or (isinstance(g, float) and np.isnan(g)) else str(g) for g in groups]
    names = sorted(set(keys))
    if len(names) < 2:
        return pd.DataFrame(columns=cols)
    per_group: dict[str, Counter] = {g: Counter() for g in names}
    for toks, g in zip(tokens, keys):
        per_group[g].update(toks)
    total: Counter[str] = Counter()
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


_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "特别行政区", "省",
             "市", "县", "区", "州", "盟", "旗")  # fmt: skip


def _short_forms(name: str) -> set[str]:
    """A place or organisation name and its short forms (郑州市妇联 → 郑州市, 郑州, …)."""
    out = {name}
    base = name
    for tail in ("妇女联合会", "妇联", "委员会"):
        if base.endswith(tail) and len(base) > len(tail):
            base = base[: -len(tail)]
            out.add(base)
    for suf in _SUFFIXES:
        if base.endswith(suf) and len(base) > len(suf) + 1:
            out.add(base[: -len(suf)])
    return {s for s in out if len(s) >= 2}


def stoplist(
    meta: pd.DataFrame, codebook: Codebook | None = None, seed_terms: bool = False
) -> set[str]:
    """Terms that name the reporting body rather than its work: provinces, places and
    organisations of the manifest with their short forms, plus the codebook's category
    names and heading cues (and its seed terms if ``seed_terms``)."""
    stop: set[str] = set()
    for col in ("province", "place", "organisation"):
        if col in meta:
            for v in meta[col].dropna().astype(str):
                stop |= _short_forms(v.strip())
    if codebook is not None:
        for cid in getattr(codebook, "ids", []):
            stop.add(str(codebook.label(cid, "zh")))
        for cues in getattr(codebook, "heading_cues", {}).values():
            stop |= {str(c) for c in cues}
        if seed_terms:
            for terms in getattr(codebook, "seed_terms", {}).values():
                stop |= {str(t) for t in terms}
    return stop


def _doc_term_matrix(
    doc_tokens: Mapping[str, Sequence[str]], docs: list[str], min_docs: int, stop: set[str]
) -> tuple[Any, list[str]]:
    """Documents × candidate terms counts (sparse) and the candidate vocabulary: terms in at
    least ``min_docs`` documents and not in ``stop``."""
    from scipy import sparse

    df_count: Counter = Counter()
    for d in docs:
        df_count.update(set(doc_tokens[d]))
    vocab = sorted(t for t, c in df_count.items() if c >= min_docs and t not in stop)
    index = {t: j for j, t in enumerate(vocab)}
    rows_i, cols_j, vals = [], [], []
    for i, d in enumerate(docs):
        for t, n in Counter(t for t in doc_tokens[d] if t in index).items():
            rows_i.append(i)
            cols_j.append(index[t])
            vals.append(n)
    X = sparse.csr_matrix((vals, (rows_i, cols_j)), shape=(len(docs), len(vocab)), dtype=float)
    return X, vocab


def _permutation_p(
    X: Any, onehot: np.ndarray, total: np.ndarray, alpha_w: np.ndarray, n_perm: int,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """Groups × terms p-values of |log-odds δ| against group labels permuted across
    documents: (1 + #|δ_perm| ≥ |δ|) / (1 + n_perm)."""

    def delta_all(oh: np.ndarray) -> np.ndarray:
        Y = np.asarray((X.T @ oh).T)  # groups × vocab
        return np.vstack([log_odds_dirichlet(y, total - y, alpha_w)[0] for y in Y])

    D = delta_all(onehot)
    exceed = np.zeros_like(D)
    for _ in range(n_perm):
        Dp = delta_all(onehot[rng.permutation(onehot.shape[0])])
        exceed += np.abs(Dp) >= np.abs(D) - 1e-12
    return (1 + exceed) / (1 + n_perm)


def distinctive_documents(
    doc_tokens: Mapping[str, Sequence[str]],
    doc_groups: pd.DataFrame,
    variables: Iterable[str],
    prior_scale: float = 0.01,
    top_n: int | None = 15,
    min_docs: int = 2,
    n_perm: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    stop: set[str] | None = None,
) -> pd.DataFrame:
    """Distinctive terms with a document-level test.

    Candidate terms occur in at least ``min_docs`` documents and are not in ``stop``. Terms
    are ranked by the log-odds z of each group vs the rest; the test compares the log-odds
    δ (monotone in how the term's uses split; z is not, because of the prior) with its
    distribution when the group labels are permuted across *documents* (terms cluster within reports, so documents, not
    tokens, are the unit of the test); p = (1 + #|δ_perm| ≥ |δ|) / (1 + n_perm), then the
    Benjamini–Hochberg correction over every term × group of a variable. ``significant``
    is set only from the corrected q-value.
    """
    from statsmodels.stats.multitest import multipletests

    docs = sorted(doc_tokens)
    X, vocab = _doc_term_matrix(doc_tokens, docs, min_docs, stop or set())
    cols = ["variable", "group", "term", "count_group", "count_rest", "n_docs_term",
            "log_odds", "se", "z", "p_perm", "q_value", "significant", "rank"]  # fmt: skip
    if not vocab or len(docs) < 2:
        return pd.DataFrame(columns=cols)
    total = np.asarray(X.sum(axis=0)).ravel()
    ndocs_term = np.asarray((X > 0).sum(axis=0)).ravel()
    alpha_w = np.maximum(prior_scale * total, 1e-6)
    meta = doc_groups.drop_duplicates("doc_id").set_index("doc_id").reindex(docs)
    rng = np.random.default_rng(seed)
    out = []
    for v in variables:
        if v not in meta:
            continue
        lab = meta[v].astype("object").where(meta[v].notna(), "NA").astype(str).to_numpy()
        names = sorted(set(lab))
        if len(names) < 2:
            continue
        onehot = np.eye(len(names))[np.array([names.index(x) for x in lab])]  # docs × groups
        P = _permutation_p(X, onehot, total, alpha_w, n_perm, rng)
        q = multipletests(P.ravel(), method="fdr_bh")[1].reshape(P.shape)
        Y = np.asarray((X.T @ onehot).T)
        for g, name in enumerate(names):
            delta, se, z = log_odds_dirichlet(Y[g], total - Y[g], alpha_w)
            order = sorted(range(len(vocab)), key=lambda k: (-z[k], vocab[k]))
            order = [k for k in order if Y[g][k] > 0]
            if top_n is not None:
                order = order[:top_n]
            for r, k in enumerate(order, start=1):
                out.append((v, name, vocab[k], int(Y[g][k]), int(total[k] - Y[g][k]),
                            int(ndocs_term[k]), float(delta[k]), float(se[k]), float(z[k]),
                            float(P[g, k]), float(q[g, k]),
                            "yes" if q[g, k] < alpha else "no", r))  # fmt: skip
    return pd.DataFrame(out, columns=cols)
