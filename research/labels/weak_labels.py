"""Weak labels from the codebook: a weighted seed-term dictionary and section headings.

Two cheap sources of domain labels for units nobody annotated:

* :class:`DictionaryLabeller` scores each unit by the weights of the codebook seed terms it
  contains and labels it with the best domain, abstaining (``""``) when nothing matches,
  the best score is below ``min_score``, or the best two domains are closer than
  ``min_margin``.
* :func:`heading_labels` lets a unit inherit the domain of its section heading when the
  heading maps clearly to one domain through the codebook's heading cues and seed terms.

Matching: :class:`research.labels.matcher.TermMatcher`, the one seed-term matcher that the
dictionary baseline and the classifier's seed-term features use too.

Combination (:func:`combine_weak_labels`), precedence ``dict_first`` (default): when both
sources give a label and agree → that label (source ``agree``); when only one gives a
label → that one (``dict`` / ``heading``); when they disagree → the dictionary's label
(``dict_over_heading``), because the paragraph's own words are more specific than a
section heading, which in these reports often spans several domains. ``heading_first``
reverses the conflict rule (``heading_over_dict``). Units with neither get ``""``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from research.labels.codebook import Codebook, load_codebook
from research.labels.matcher import TermMatcher, dictionary_proba, token_boundaries
from research.settings import WeakLabelSettings, as_section

_WL = WeakLabelSettings()  # estimator defaults come from the schema (one place)

PRECEDENCES = ("dict_first", "heading_first")


class TokenizerBoundaries:
    """Token boundaries of a text under a project tokenizer (picklable, for the matcher)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> set[int]:
        return token_boundaries(self.tokenizer.raw_tokens(text))


def _default_tokenizer() -> Any:
    """The tokenizer with the schema's default settings (bundled dictionary and stopwords)."""
    from research.corpus.tokenize import TokenizerSettings, get_tokenizer

    return get_tokenizer(TokenizerSettings.from_params(None))


def decide(
    scores: pd.DataFrame, min_score: float, min_margin: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best domain per row, its score and margin; ``""`` where the rule abstains.

    Abstains when the best score is below ``min_score`` (or zero) or when the best two
    scores differ by less than ``min_margin`` (ties always abstain).
    """
    vals = scores.to_numpy(dtype=float)
    cols = np.asarray(scores.columns, dtype=object)
    if vals.shape[1] == 0 or vals.shape[0] == 0:
        n = vals.shape[0]
        return np.full(n, "", dtype=object), np.zeros(n), np.zeros(n)
    order = np.argsort(-vals, axis=1, kind="stable")
    best = vals[np.arange(len(vals)), order[:, 0]]
    second = vals[np.arange(len(vals)), order[:, 1]] if vals.shape[1] > 1 else np.zeros(len(vals))
    margin = best - second
    ok = (best > 0) & (best >= min_score) & (margin >= min_margin) & (margin > 0)
    labels = np.where(ok, cols[order[:, 0]], "").astype(object)
    return labels, best, margin


class DictionaryLabeller(BaseEstimator):
    """Label units by weighted codebook seed terms; abstain (``""``) when unsure.

    scikit-learn style: ``fit`` learns nothing (the dictionary is the model) but checks the
    codebook and builds the matcher; ``predict`` returns domain ids or ``""``;
    ``predict_proba`` returns one column per codebook id (see :meth:`predict_proba`).
    """

    def __init__(
        self,
        codebook: Codebook | None = None,
        tokenizer: Any = None,
        min_score: float = _WL.min_score,
        min_margin: float = _WL.min_margin,
        substring_min_chars: int = _WL.substring_min_chars,
        smoothing: float = 0.1,
    ) -> None:
        self.codebook = codebook
        self.tokenizer = tokenizer
        self.min_score = min_score
        self.min_margin = min_margin
        self.substring_min_chars = substring_min_chars
        self.smoothing = smoothing

    def fit(self, texts: Iterable[str] | None = None, y: Any = None) -> DictionaryLabeller:
        """Build the term matcher (``texts``/``y`` are ignored; present for the sklearn API)."""
        self.codebook_ = self.codebook if self.codebook is not None else load_codebook()
        tok = self.tokenizer if self.tokenizer is not None else _default_tokenizer()
        self.domains_ = list(self.codebook_.domain_ids)
        terms = {d: self.codebook_.seed_terms.get(d, {}) for d in self.domains_}
        self.matcher_ = TermMatcher(terms, TokenizerBoundaries(tok), self.substring_min_chars)
        self.classes_ = np.asarray(self.codebook_.ids, dtype=object)
        return self

    def domain_scores(self, texts: Sequence[str]) -> pd.DataFrame:
        """Weighted seed-term score per domain: one row per text, one column per domain id.

        (Not ``score``: in scikit-learn ``score(X, y)`` is a metric.)
        """
        check_is_fitted(self, "matcher_")
        mat = self.matcher_.score_matrix([_s(t) for t in texts])
        return pd.DataFrame(mat, columns=self.domains_, dtype=float)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Domain id per text, ``""`` where the labeller abstains."""
        labels, _, _ = decide(self.domain_scores(texts), self.min_score, self.min_margin)
        return labels

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Pseudo-probabilities over ``classes_`` (all codebook ids, file order).

        Each domain gets its score, the residual category gets ``min_score`` (the evidence
        needed to leave it), every class gets ``smoothing``; rows are normalised. A text
        with no matches therefore leans to the residual category.
        """
        s = self.domain_scores(texts)
        return dictionary_proba(
            s.to_numpy(), self.domains_, self.classes_, self.min_score, self.smoothing
        )


def _s(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)


def heading_scores(
    headings: Sequence[str], codebook: Codebook, cue_weight: float = _WL.heading_cue_weight
) -> pd.DataFrame:
    """Score each heading per domain: each heading cue found counts ``cue_weight``, each seed
    term its weight; cues and terms share one longest-first matcher (no double counting)."""
    table: dict[str, dict[str, float]] = {}
    for cid, terms in codebook.seed_terms.items():
        table[cid] = dict(terms)
    for cid, cues in codebook.heading_cues.items():
        for cue in cues:
            table[cid][cue] = max(table[cid].get(cue, 0.0), cue_weight)
    # A cue of one domain that is also a seed term of another would be ambiguous: drop it.
    owners: dict[str, set[str]] = {}
    for cid, terms in table.items():
        for t in terms:
            owners.setdefault(t, set()).add(cid)
    for t, who in owners.items():
        if len(who) > 1:
            for cid in who:
                table[cid].pop(t, None)
    matcher = TermMatcher(table)  # headings: every occurrence counts (no tokenizer)
    mat = matcher.score_matrix([_s(h) for h in headings])
    return pd.DataFrame(mat, columns=list(table), dtype=float)


def heading_labels(
    units: pd.DataFrame,
    codebook: Codebook | None = None,
    min_score: float = _WL.heading_min_score,
    min_margin: float = _WL.heading_min_margin,
    cue_weight: float = _WL.heading_cue_weight,
) -> pd.Series:
    """Domain id inherited from each unit's section heading (``""`` = no clear mapping).

    Uses the ``heading`` column; a heading maps to a domain when its score reaches
    ``min_score`` and beats the runner-up by ``min_margin``. Index follows ``units``.
    """
    codebook = codebook or load_codebook()
    if "heading" not in units.columns:
        return pd.Series([""] * len(units), index=units.index, dtype=object, name="heading_label")
    headings = units["heading"].map(_s).tolist()
    uniq = sorted(set(headings))
    labels, _, _ = decide(heading_scores(uniq, codebook, cue_weight), min_score, min_margin)
    lookup = dict(zip(uniq, labels))
    lookup[""] = ""
    return pd.Series(
        [lookup[h] for h in headings], index=units.index, dtype=object, name="heading_label"
    )


def combine_weak_labels(
    dict_label: Sequence[str] | np.ndarray,
    heading_label: Sequence[str] | np.ndarray,
    precedence: str = "dict_first",
) -> tuple[list[str], list[str]]:
    """Combine the two sources into (weak_label, weak_source) per unit (see module doc)."""
    if precedence not in PRECEDENCES:
        raise ValueError(f"precedence must be one of {PRECEDENCES}, got {precedence!r}")
    labels, sources = [], []
    for d, h in zip(dict_label, heading_label):
        d, h = _s(d), _s(h)
        if d and h:
            if d == h:
                labels.append(d)
                sources.append("agree")
            elif precedence == "dict_first":
                labels.append(d)
                sources.append("dict_over_heading")
            else:
                labels.append(h)
                sources.append("heading_over_dict")
        elif d:
            labels.append(d)
            sources.append("dict")
        elif h:
            labels.append(h)
            sources.append("heading")
        else:
            labels.append("")
            sources.append("")
    return labels, sources


def weak_label_table(
    units: pd.DataFrame,
    codebook: Codebook,
    tokenizer: Any = None,
    settings: WeakLabelSettings | dict | None = None,
) -> pd.DataFrame:
    """The weak-label table for ``units`` (needs unit_id, doc_id, text; heading optional).

    Columns: unit_id, doc_id, dict_label, dict_score, dict_margin, heading_label,
    weak_label, weak_source; sorted by unit_id; scores rounded to 3 decimals.
    """
    st = as_section(WeakLabelSettings, settings)
    lab = DictionaryLabeller(
        codebook,
        tokenizer=tokenizer,
        min_score=st.min_score,
        min_margin=st.min_margin,
        substring_min_chars=st.substring_min_chars,
    ).fit()
    scores = lab.domain_scores(units["text"].tolist())
    dl, best, margin = decide(scores, lab.min_score, lab.min_margin)
    hl = heading_labels(
        units,
        codebook,
        min_score=st.heading_min_score,
        min_margin=st.heading_min_margin,
        cue_weight=st.heading_cue_weight,
    ).tolist()
    wl, ws = combine_weak_labels(dl, hl, st.precedence)
    out = pd.DataFrame(
        {
            "unit_id": units["unit_id"].astype(str).to_numpy(),
            "doc_id": units["doc_id"].astype(str).to_numpy(),
            "dict_label": pd.array(dl, dtype="str"),
            "dict_score": np.round(best, 3),
            "dict_margin": np.round(margin, 3),
            "heading_label": pd.array(hl, dtype="str"),
            "weak_label": pd.array(wl, dtype="str"),
            "weak_source": pd.array(ws, dtype="str"),
        }
    )
    return out.sort_values("unit_id", kind="stable").reset_index(drop=True)


def evaluate_weak_labels(weak: pd.DataFrame, gold: pd.Series | None = None) -> pd.DataFrame:
    """Coverage, conflicts and accuracy of each weak source (dict, heading, combined).

    ``gold`` is a Series of gold ids indexed by unit_id (may be None → accuracy left empty).
    coverage = share of units the source labels; conflicts = units where dict and heading
    both label and disagree (the same count for every source, reported per row for
    reading convenience); accuracy_vs_gold = share correct among gold units the source
    labels; coverage_gold = share of gold units it labels.
    """
    conflicts = int(
        (
            (weak["dict_label"] != "")
            & (weak["heading_label"] != "")
            & (weak["dict_label"] != weak["heading_label"])
        ).sum()
    )
    rows = []
    g = None
    if gold is not None:
        g = gold.map(_s)
        g = g[g != ""]
        g = g[~g.index.duplicated()]
    for source, col in (
        ("dict", "dict_label"),
        ("heading", "heading_label"),
        ("combined", "weak_label"),
    ):
        lab = weak.set_index("unit_id")[col]
        covered = lab != ""
        row: dict[str, Any] = {
            "source": source,
            "n": len(lab),
            "n_labelled": int(covered.sum()),
            "coverage": round(float(covered.mean()) if len(lab) else 0.0, 4),
            "conflicts": conflicts,
            "n_gold": np.nan,
            "coverage_gold": np.nan,
            "accuracy_vs_gold": np.nan,
        }
        if g is not None:
            common = g.index.intersection(lab.index)
            gl, pl = g.loc[common], lab.loc[common]
            cov = pl != ""
            row["n_gold"] = len(common)
            row["coverage_gold"] = round(float(cov.mean()), 4) if len(common) else np.nan
            row["accuracy_vs_gold"] = (
                round(float((gl[cov] == pl[cov]).mean()), 4) if cov.any() else np.nan
            )
        rows.append(row)
    return pd.DataFrame(rows)


def per_class_vs_gold(
    weak: pd.DataFrame, gold: pd.Series, labels: Sequence[str]
) -> dict[str, dict]:
    """Precision/recall of the combined weak label per class against gold (for the JSON)."""
    g = gold.map(_s)
    g = g[(g != "") & ~g.index.duplicated()]
    lab = weak.set_index("unit_id")["weak_label"]
    common = g.index.intersection(lab.index)
    gl, pl = g.loc[common], lab.loc[common]
    out = {}
    for c in labels:
        tp = int(((pl == c) & (gl == c)).sum())
        npred = int((pl == c).sum())
        ntrue = int((gl == c).sum())
        out[c] = {
            "precision": round(tp / npred, 4) if npred else None,
            "recall": round(tp / ntrue, 4) if ntrue else None,
            "n_pred": npred,
            "support": ntrue,
        }
    return out
