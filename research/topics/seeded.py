"""Seeded LDA: the codebook's seed terms as an asymmetric topic–word prior.

In the spirit of keyword-assisted topic models (keyATM; Eshima, Imai & Sasaki 2024) and
seeded LDA (Jagarlamudi et al. 2012; Watanabe's ``seededlda``), each of the codebook's
five domains gets one topic whose Dirichlet prior favours its seed terms, and
``topics.seeded_free_topics`` further topics have the ordinary symmetric prior and absorb
whatever the codebook does not describe.

**How eta is built** (K = n_domains + n_free rows, V columns in dictionary order):

    eta[k, w] = b                                    for every cell, b = topics.eta or 1/K
    eta[d, w] = b + seeded_weight · c_dw / max(c)    for domain d's seed term w in the vocab

where c_dw is the seed term's codebook weight (1–3; max(c) is the largest weight in the
codebook) and ``seeded_weight`` = ``topics.seeded_weight`` pseudo-counts. A term listed by
two domains is boosted in both. Seed terms are added to the tokeniser as words (so
multi-character names such as 巾帼心向党 survive segmentation) and kept by the
dictionary filter even when rare, so every seed term found in the corpus gets its prior.
The prior enters gensim as ``LdaModel(eta=<K×V matrix>)`` and tomotopy as
``set_word_prior``. Seed terms are *not* removed from the other topics: the prior raises,
it does not forbid.

**Labelling rule** for a unit with topic proportions θ: let d* be the seeded topic with
the largest θ. The unit is labelled with d*'s domain, unless θ_d* < ``seeded_min_share``
or some free topic has a larger proportion than θ_d*, in which case it is ``other``.
``p_<domain>`` = θ of that domain's topic and ``p_other`` = the summed θ of the free
topics (so the ``p_`` columns sum to 1 and serve as probabilities for Brier/ECE/share
error). With ``unit: item``, item θ are aggregated to their paragraph (token-weighted)
before labelling, so labels line up with the paragraph-level gold annotations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from gensim.corpora import Dictionary

from research.topics.tables import DECIMALS


def seeded_topic_ids(domain_ids: Sequence[str], n_free: int) -> list[str]:
    """Topic ids of the seeded model: the domain ids, then ``free_1`` … ``free_n``."""
    return list(domain_ids) + [f"free_{i + 1}" for i in range(n_free)]


def build_eta(
    dictionary: Dictionary,
    seed_terms: Mapping[str, Mapping[str, float]],
    domain_ids: Sequence[str],
    n_free: int,
    base: float,
    seeded_weight: float,
) -> tuple[np.ndarray, pd.DataFrame]:
    """The K × V prior matrix and a table of which seed terms were found in the vocabulary."""
    k = len(domain_ids) + n_free
    eta = np.full((k, len(dictionary)), float(base))
    max_w = max((float(w) for d in domain_ids for w in seed_terms.get(d, {}).values()), default=1.0)
    rows = []
    for di, d in enumerate(domain_ids):
        for term, w in sorted(seed_terms.get(d, {}).items()):
            tid = dictionary.token2id.get(term)
            if tid is not None:
                eta[di, tid] += seeded_weight * float(w) / max_w
            rows.append(
                (
                    d,
                    term,
                    float(w),
                    tid is not None,
                    dictionary.cfs.get(tid, 0) if tid is not None else 0,
                )
            )
    report = pd.DataFrame(rows, columns=["domain", "term", "weight", "in_vocab", "corpus_freq"])
    return eta, report


def aggregate_to_paragraphs(
    theta: np.ndarray, units: pd.DataFrame
) -> tuple[np.ndarray, pd.DataFrame]:
    """Token-weighted mean θ per ``para_unit_id`` (for item-level units)."""
    w = units["n_tokens"].to_numpy(dtype=float)
    groups = units.groupby("para_unit_id", sort=False).indices
    out, rows = [], []
    for pid, idx in groups.items():
        ww = w[idx]
        p = (theta[idx] * ww[:, None]).sum(0) / ww.sum() if ww.sum() > 0 else theta[idx].mean(0)
        out.append(p / p.sum())
        rows.append((pid, units["doc_id"].iloc[idx[0]], int(ww.sum())))
    meta = pd.DataFrame(rows, columns=["unit_id", "doc_id", "n_tokens"])
    return np.vstack(out), meta


def label_units(
    theta: np.ndarray,
    domain_ids: Sequence[str],
    all_ids: Sequence[str],
    other_id: str,
    min_share: float = 0.2,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Labels by the rule in the module docstring, and the ``p_<id>`` matrix for ``all_ids``."""
    theta = np.asarray(theta, dtype=float)
    nd = len(domain_ids)
    seeded, free = theta[:, :nd], theta[:, nd:]
    best = seeded.argmax(axis=1)
    best_share = seeded[np.arange(len(theta)), best]
    max_free = free.max(axis=1) if free.shape[1] else np.zeros(len(theta))
    labels = np.array([domain_ids[i] for i in best], dtype=object)
    labels[(best_share < min_share) | (max_free > best_share)] = other_id
    probs = {}
    for cid in all_ids:
        if cid in domain_ids:
            probs[f"p_{cid}"] = seeded[:, list(domain_ids).index(cid)]
        elif cid == other_id:
            probs[f"p_{cid}"] = free.sum(axis=1)
        else:
            probs[f"p_{cid}"] = np.zeros(len(theta))
    return labels, pd.DataFrame(probs).round(DECIMALS)


def eval_row(result: dict, method: str, cv: str, labels: Sequence[str]) -> dict:
    """One row of the comparison table from ``evaluate_labels`` output (the same columns,
    in the same order, as the classifier's ``classifier_cv.csv``)."""
    row = {"method": method, "cv": cv, "n": result.get("n")}
    for key in ("macro_f1", "accuracy", "doc_share_mae", "doc_share_mae_proba", "brier", "ece"):
        row[key] = result.get(key, float("nan"))
    for lab in labels:
        row[f"f1_{lab}"] = result["per_class"][lab]["f1"]
    return row
