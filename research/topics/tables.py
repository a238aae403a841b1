"""Tidy output tables of a fitted topic model: topic–term, unit–topic, document–topic.

Term scores in ``topic_terms`` (per topic k and term w, φ = topic–word probability,
p_w = the term's share of all corpus tokens):

- ``prob`` = φ_kw; ``lift`` = φ_kw / p_w;
- ``relevance`` (Sievert & Shirley 2014, the LDAvis ranking) =
  λ·log φ_kw + (1 − λ)·log(φ_kw / p_w), with λ = ``topics.relevance_lambda`` (recorded in
  the ``lambda`` column); λ = 1 ranks by probability, small λ by lift;
- ``frex`` (Bischof & Airoldi 2012; Roberts et al., stm) = harmonic mean of the term's
  empirical-CDF rank (within topic) of exclusivity φ_kw / Σ_j φ_jw and of frequency φ_kw,
  with weight ``topics.frex_weight`` on exclusivity.

One row per topic and term for the union of the top-``top_n`` terms by probability, by
relevance and by FREX; ``rank_prob``, ``rank_relevance`` and ``rank_frex`` are the term's
ranks among all terms of the vocabulary (1 = best; ties broken by term id).

Unit–topic and document–topic tables are long (``unit_id``/``doc_id``, ``topic``, ``prop``).
A document's topic proportions are the token-weighted mean of its units' θ (the expected
share of its words drawn from each topic); a unit with no in-vocabulary tokens contributes
nothing. Floats are rounded (6 decimals) so the tables are byte-stable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DECIMALS = 6
#: tomotopy's GDMR, DTM and CTM compute in float32 and their last digits can differ between
#: two processes (SIMD sums over differently aligned memory): their tables keep 4 decimals.
FLOAT32_DECIMALS = 4


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each column within each row (descending score, ties by column)."""
    k, v = scores.shape
    order = np.lexsort((np.tile(np.arange(v), (k, 1)), -scores))
    ranks = np.empty_like(order)
    rows = np.arange(k)[:, None]
    ranks[rows, order] = np.arange(1, v + 1)[None, :]
    return ranks


def _ecdf_rows(m: np.ndarray) -> np.ndarray:
    """Empirical CDF of each value within its row (share of values <= it)."""
    v = m.shape[1]
    return (v - _ranks(m) + 1) / v


def term_scores(
    topic_word: np.ndarray, term_freq: np.ndarray, lam: float = 0.6, frex_weight: float = 0.5
) -> dict[str, np.ndarray]:
    """prob, lift, relevance and FREX matrices (K × V)."""
    phi = np.maximum(np.asarray(topic_word, dtype=float), 1e-300)
    pw = np.asarray(term_freq, dtype=float)
    pw = np.maximum(pw / pw.sum(), 1e-300)
    lift = phi / pw[None, :]
    relevance = lam * np.log(phi) + (1.0 - lam) * np.log(lift)
    excl = phi / phi.sum(axis=0, keepdims=True)
    frex = 1.0 / (frex_weight / _ecdf_rows(excl) + (1.0 - frex_weight) / _ecdf_rows(phi))
    return {"prob": phi, "lift": lift, "relevance": relevance, "frex": frex}


def topic_terms(
    topic_word: np.ndarray,
    vocab: Sequence[str],
    term_freq: np.ndarray,
    *,
    lam: float = 0.6,
    frex_weight: float = 0.5,
    top_n: int = 15,
    topic_ids: Sequence[int | str] | None = None,
) -> pd.DataFrame:
    """Tidy topic–term table (see module docstring); sorted by topic, then rank_relevance."""
    s = term_scores(topic_word, term_freq, lam, frex_weight)
    k, _ = s["prob"].shape
    ranks = {m: _ranks(s[m]) for m in ("prob", "relevance", "frex")}
    topic_ids = list(topic_ids) if topic_ids is not None else list(range(1, k + 1))
    rows = []
    for t in range(k):
        keep = np.where(
            (ranks["prob"][t] <= top_n)
            | (ranks["relevance"][t] <= top_n)
            | (ranks["frex"][t] <= top_n)
        )[0]
        for j in keep:
            rows.append(
                (
                    topic_ids[t],
                    vocab[j],
                    s["prob"][t, j],
                    s["lift"][t, j],
                    s["relevance"][t, j],
                    s["frex"][t, j],
                    int(ranks["prob"][t, j]),
                    int(ranks["relevance"][t, j]),
                    int(ranks["frex"][t, j]),
                )
            )
    df = pd.DataFrame(
        rows,
        columns=[
            "topic",
            "term",
            "prob",
            "lift",
            "relevance",
            "frex",
            "rank_prob",
            "rank_relevance",
            "rank_frex",
        ],
    )
    df.insert(df.columns.get_loc("relevance") + 1, "lambda", float(lam))
    df[["prob", "lift", "relevance", "frex"]] = df[["prob", "lift", "relevance", "frex"]].round(
        DECIMALS
    )
    order = {t: i for i, t in enumerate(topic_ids)}
    df = df.assign(_o=df["topic"].map(order)).sort_values(["_o", "rank_relevance"], kind="stable")
    return df.drop(columns="_o").reset_index(drop=True)


def topic_labels(terms: pd.DataFrame, n: int = 3, by: str = "rank_relevance") -> dict:
    """A short label per topic from its top terms, e.g. ``{1: "巾帼·创业·培训"}``."""
    out = {}
    for t, g in terms.groupby("topic", sort=False):
        out[t] = "·".join(g.sort_values(by, kind="stable")["term"].head(n))
    return out


def unit_topics(theta: np.ndarray, units: pd.DataFrame, topic_ids: Sequence) -> pd.DataFrame:
    """Long unit–topic table: unit_id, doc_id, topic, prop (rows of θ sum to 1)."""
    k = theta.shape[1]
    n = len(units)
    df = pd.DataFrame(
        {
            "unit_id": np.repeat(units["unit_id"].to_numpy(), k),
            "doc_id": np.repeat(units["doc_id"].to_numpy(), k),
            "topic": np.tile(np.asarray(list(topic_ids), dtype=object), n),
            "prop": np.round(np.asarray(theta, dtype=float).reshape(-1), DECIMALS),
        }
    )
    if "para_unit_id" in units.columns and (units["para_unit_id"] != units["unit_id"]).any():
        df.insert(2, "para_unit_id", np.repeat(units["para_unit_id"].to_numpy(), k))
    return df


def doc_topics(theta: np.ndarray, units: pd.DataFrame, topic_ids: Sequence) -> pd.DataFrame:
    """Long document–topic table: doc_id, topic, prop, n_units, n_tokens (token-weighted)."""
    w = units["n_tokens"].to_numpy(dtype=float)
    theta = np.asarray(theta, dtype=float)
    rows = []
    topic_ids = list(topic_ids)
    for doc, idx in units.groupby("doc_id", sort=True).indices.items():
        ww = w[idx]
        if ww.sum() > 0:
            p = (theta[idx] * ww[:, None]).sum(axis=0) / ww.sum()
        else:
            p = theta[idx].mean(axis=0)
        p = p / p.sum()
        for t, v in zip(topic_ids, p):
            rows.append((str(doc), t, round(float(v), DECIMALS), len(idx), int(ww.sum())))
    return pd.DataFrame(rows, columns=["doc_id", "topic", "prop", "n_units", "n_tokens"])


def prevalence_order(theta: np.ndarray, weights: np.ndarray) -> list[int]:
    """Topic indices by decreasing token-weighted prevalence (ties by index)."""
    w = np.asarray(weights, dtype=float)
    prev = (
        (np.asarray(theta) * w[:, None]).sum(axis=0)
        if w.sum() > 0
        else np.asarray(theta).sum(axis=0)
    )
    return sorted(range(len(prev)), key=lambda i: (-round(float(prev[i]), 12), i))


def topic_terms_cfg(
    topic_word: np.ndarray,
    vocab: Sequence[str],
    term_freq: np.ndarray,
    cfg: dict,
    topic_ids: Sequence[int | str] | None = None,
) -> pd.DataFrame:
    """:func:`topic_terms` with λ, FREX weight and ``top_n`` from the params ``topics`` section."""
    return topic_terms(
        topic_word,
        vocab,
        term_freq,
        lam=float(cfg["relevance_lambda"]),
        frex_weight=float(cfg["frex_weight"]),
        top_n=int(cfg["top_n"]),
        topic_ids=topic_ids,
    )
