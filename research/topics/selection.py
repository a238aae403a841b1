"""Model selection for LDA: a sweep over K with coherence, held-out perplexity and stability.

For every K in ``topics.k_grid`` and every run r = 0..``stability_seeds``-1 (random state
``seed + r``) one model is trained on the *training* units of a fixed held-out split, and:

- **coherence** of its top-``coherence_topn`` terms, by gensim's ``CoherenceModel``
  (``processes=1``) against the full tokenised corpus: ``c_v`` (Röder et al. 2015,
  boolean sliding window of 110), ``c_npmi`` (window 10) and ``u_mass`` (document
  co-occurrence); mean over runs (and the s.d.).
- **held-out perplexity** by document completion (Wallach et al. 2009): for each held-out
  unit θ is inferred from its odd-position tokens and the even-position tokens are scored,
  ``exp(-Σ log Σ_k θ_dk φ_kw / N)``; lower is better. The split is random over units (or
  over reports with ``heldout_by: doc``) with the params seed, the same for every K.
- **stability**: for every pair of runs, topics are matched one-to-one with the Hungarian
  algorithm maximising similarity, and the mean matched similarity is averaged over pairs:
  cosine of topic–word vectors (``stability_cosine``) and Jaccard overlap of top-``top_n``
  term sets (``stability_jaccard``; matched separately). 1 means every run found the same
  topics.

The chosen K is ``topics.k`` (a parameter, marked ``chosen`` in the table); the table and
the model-selection figure are the evidence for choosing it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from gensim.models.coherencemodel import CoherenceModel
from scipy.optimize import linear_sum_assignment

from research.topics.corpus import TopicCorpus
from research.topics.lda import FittedLDA, LdaSettings, fit_lda
from research.workers import in_threads

logging.getLogger("gensim").setLevel(logging.WARNING)

SWEEP_COLUMNS = [
    "k",
    "chosen",
    "c_v",
    "c_v_sd",
    "c_npmi",
    "c_npmi_sd",
    "u_mass",
    "u_mass_sd",
    "perplexity",
    "perplexity_sd",
    "stability_cosine",
    "stability_jaccard",
    "n_runs",
    "n_train",
    "n_heldout",
    "backend",
]


def heldout_split(
    units: pd.DataFrame, fraction: float, seed: int, by: str = "unit"
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and held-out units (sorted); ``by`` = ``unit`` or ``doc``."""
    n = len(units)
    rng = np.random.default_rng(seed)
    if fraction <= 0 or n < 4:
        return np.arange(n), np.array([], dtype=int)
    if by == "doc":
        docs = np.array(sorted(units["doc_id"].astype(str).unique()))
        n_test = min(max(1, int(round(fraction * len(docs)))), len(docs) - 1)
        test_docs = set(rng.permutation(docs)[:n_test])
        mask = units["doc_id"].astype(str).isin(test_docs).to_numpy()
    else:
        n_test = min(max(1, int(round(fraction * n))), n - 1)
        mask = np.zeros(n, dtype=bool)
        mask[rng.permutation(n)[:n_test]] = True
    return np.where(~mask)[0], np.where(mask)[0]


def coherence_scores(
    top_terms: list[list[str]], tc: TopicCorpus, topn: int = 10
) -> dict[str, float]:
    """Mean c_v, c_npmi and u_mass of the topics' top terms (single process)."""
    return coherence_many([top_terms], tc, topn)[0]


def coherence_many(
    models: list[list[list[str]]], tc: TopicCorpus, topn: int = 10
) -> list[dict[str, float]]:
    """:func:`coherence_scores` of several models' top terms, counting co-occurrences once.

    gensim's accumulator counts windows over the texts for the words it is asked about; a
    word's counts do not depend on which other words are counted (the rest are masked, not
    removed), so one accumulator over the union of the models' top terms gives each model
    the same scores as its own — for the K sweep, one pass over the texts per measure
    instead of one per fitted model.
    """
    out: list[dict[str, float]] = [{} for _ in models]
    union = [t for tops in models for t in tops]
    if not union:
        return [dict.fromkeys(("c_v", "c_npmi", "u_mass"), float("nan")) for _ in models]
    for measure in ("c_v", "c_npmi", "u_mass"):
        kw = {"corpus": tc.corpus} if measure == "u_mass" else {"texts": tc.texts}
        cm = CoherenceModel(
            topics=union,
            dictionary=tc.dictionary,
            coherence=measure,
            topn=topn,
            processes=1,
            **kw,
        )
        cm.estimate_probabilities()
        for scores, tops in zip(out, models):
            cm.topics = tops  # a subset of the union: the accumulator is kept
            vals = np.asarray(cm.get_coherence_per_topic(), dtype=float)
            scores[measure] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
    return out


def completion_perplexity(fitted: FittedLDA, texts: Sequence[list[str]], dictionary) -> float:
    """Document-completion perplexity of held-out token lists (see module docstring)."""
    observed, scored = [], []
    for toks in texts:
        ids = [dictionary.token2id[t] for t in toks if t in dictionary.token2id]
        if len(ids) < 2:
            continue
        observed.append(dictionary.doc2bow([dictionary[i] for i in ids[0::2]]))
        scored.append(ids[1::2])
    if not observed:
        return float("nan")
    theta = fitted.doc_topics(observed)
    phi = fitted.topic_word
    ll, n = 0.0, 0
    for d, ids in enumerate(scored):
        p = theta[d] @ phi[:, ids]
        ll += float(np.log(np.maximum(p, 1e-300)).sum())
        n += len(ids)
    return float(np.exp(-ll / n))


def _matched_mean(sim: np.ndarray) -> float:
    rows, cols = linear_sum_assignment(-sim)
    return float(sim[rows, cols].mean())


def topic_similarity(a: FittedLDA, b: FittedLDA, top_n: int = 10) -> tuple[float, float]:
    """Mean Hungarian-matched (cosine, Jaccard) similarity between two runs' topics."""
    pa = a.topic_word / np.linalg.norm(a.topic_word, axis=1, keepdims=True)
    pb = b.topic_word / np.linalg.norm(b.topic_word, axis=1, keepdims=True)
    cos = pa @ pb.T
    ta = [set(t) for t in a.top_terms(top_n)]
    tb = [set(t) for t in b.top_terms(top_n)]
    jac = np.array([[len(x & y) / len(x | y) for y in tb] for x in ta])
    return _matched_mean(cos), _matched_mean(jac)


def k_sweep(
    tc: TopicCorpus,
    k_grid: Sequence[int],
    settings: LdaSettings,
    seed: int,
    *,
    n_runs: int = 3,
    heldout_fraction: float = 0.2,
    heldout_by: str = "unit",
    top_n: int = 10,
    coherence_topn: int = 10,
    chosen_k: int | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """The K-sweep table (one row per K, columns :data:`SWEEP_COLUMNS`); the fits run in
    ``n_jobs`` threads (each is seeded and single-threaded: the table does not depend on it;
    only the gensim backend gains, tomotopy holds the GIL while it trains)."""
    train_idx, test_idx = heldout_split(tc.units, heldout_fraction, seed, heldout_by)
    corpus = tc.corpus
    train = corpus[train_idx.tolist()] if len(test_idx) else corpus
    test_set = set(test_idx.tolist())
    heldout_texts = [t for i, t in enumerate(tc.texts) if i in test_set]
    rows = []
    ks = sorted(set(int(k) for k in k_grid))
    runs_of = [(k, r) for k in ks for r in range(max(1, n_runs))]
    fitted_runs = in_threads(
        lambda kr: fit_lda(train, tc.dictionary, kr[0], settings, seed + kr[1]),
        runs_of,
        n_jobs,
    )
    fits: dict[int, list[FittedLDA]] = {k: [] for k in ks}
    for (k, _), f in zip(runs_of, fitted_runs):
        fits[k].append(f)
    every = [f for k in ks for f in fits[k]]
    coherence = iter(
        coherence_many([f.top_terms(coherence_topn) for f in every], tc, coherence_topn)
    )
    for k in ks:
        runs = fits[k]
        scores: list[dict[str, float]] = []
        for fitted in runs:
            s = next(coherence)
            s["perplexity"] = completion_perplexity(fitted, heldout_texts, tc.dictionary)
            scores.append(s)
        df = pd.DataFrame(scores)
        pairs = [topic_similarity(a, b, top_n) for a, b in itertools.combinations(runs, 2)]
        row = {
            "k": k,
            "chosen": bool(chosen_k is not None and k == int(chosen_k)),
            "n_runs": len(runs),
            "n_train": len(train_idx),
            "n_heldout": len(test_idx),
            "backend": settings.backend,
            "stability_cosine": float(np.mean([p[0] for p in pairs])) if pairs else float("nan"),
            "stability_jaccard": float(np.mean([p[1] for p in pairs])) if pairs else float("nan"),
        }
        for m in ("c_v", "c_npmi", "u_mass", "perplexity"):
            row[m] = float(df[m].mean())
            row[f"{m}_sd"] = float(df[m].std(ddof=1)) if len(df) > 1 else float("nan")
        rows.append(row)
    out = pd.DataFrame(rows)[SWEEP_COLUMNS]
    floats = [c for c in SWEEP_COLUMNS if out[c].dtype.kind == "f"]
    out[floats] = out[floats].round(4)
    return out


def choose_k(
    sweep: pd.DataFrame,
    coherence: str = "c_v",
    within_sd: float = 1.0,
    stability: str = "stability_jaccard",
    min_stability: float = 0.5,
) -> tuple[int, pd.DataFrame]:
    """K by the stated rule; returns it and the sweep with ``chosen`` and ``why`` filled in.

    Rule: let K* be the K with the best mean ``coherence`` and s its s.d. over runs. The
    candidates are the K whose mean coherence is at least best − ``within_sd``·s and whose
    ``stability`` is at least ``min_stability``; the choice is the smallest candidate (the
    simplest model that is as coherent as the best, within noise, and reproducible). When no
    K is stable enough, the most stable K among those within the coherence band is chosen
    (and ``why`` says so).
    """
    df = sweep.sort_values("k").reset_index(drop=True).copy()
    coh = df[coherence].astype(float)
    best_i = int(coh.idxmax())
    sd = float(df.get(f"{coherence}_sd", pd.Series([0.0] * len(df))).fillna(0.0).iloc[best_i])
    floor = float(coh.iloc[best_i]) - within_sd * sd
    stab = df[stability].astype(float).fillna(1.0)
    in_band = coh >= floor - 1e-12
    stable = stab >= min_stability
    cands = df.index[in_band & stable]
    if len(cands):
        pick = int(cands[0])
        rule = (
            f"smallest K with {coherence} >= {floor:.4f} (best {coh.iloc[best_i]:.4f} at "
            f"K={int(df.k.iloc[best_i])} - {within_sd:g} sd) and {stability} >= {min_stability:g}"
        )
    else:
        pick = int(stab[in_band].idxmax())
        rule = (
            f"no K has {stability} >= {min_stability:g}: most stable K with {coherence} >= "
            f"{floor:.4f}"
        )
    why = []
    for i in df.index:
        if i == pick:
            why.append("chosen: " + rule)
        elif not in_band[i]:
            why.append(f"{coherence} {coh[i]:.4f} below {floor:.4f}")
        elif not stable[i]:
            why.append(f"{stability} {stab[i]:.4f} below {min_stability:g}")
        else:
            why.append("meets the rule but a smaller K does too")
    df["chosen"] = df.index == pick
    df["why"] = why
    return int(df["k"].iloc[pick]), df
