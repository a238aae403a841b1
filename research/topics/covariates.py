"""Covariate topic model: topic prevalence as a function of report metadata (tomotopy GDMR).

The research question is how themes differ across regions and change over years; this is
what stm's prevalence covariates and ``estimateEffect`` answer. Here the model is
tomotopy's ``GDMRModel`` (Lee & Song 2020), a Dirichlet-multinomial regression: each unit's
Dirichlet prior over topics is ``exp(λ_k · x)``, where x holds

- the categorical covariates (``topics.covariates``, default province, level and genre),
  combined into one cell per report (``province=河南|level=city``; tomotopy's GDMR takes
  one categorical ``metadata`` and ignores ``multi_metadata`` in its prior, so additive
  categorical effects are not available: each cell gets its own intercept and year curve,
  shrunk towards the others by the normal prior with s.d. ``sigma``), and
- a smooth of the issue year: Legendre polynomials up to ``topics.year_degree`` of the
  year scaled to [-1, 1] over the reports' year range (tomotopy ``numeric_metadata``).

Every unit (paragraph) carries its report's metadata. A covariate with fewer than two
levels among the modelled reports is dropped (with a note), and so is the year when fewer
than two distinct years remain; units of reports without a year are left out.

**Estimated prevalence** of topic k for a covariate value v is the *average predicted
prior mean* over the modelled reports with that covariate set to v (g-computation, the
"average marginal" reading of ``estimateEffect``): for each report, the normalised
``tdf(year, cell)`` with v substituted into its cell, averaged over the reports whose
substituted cell exists in the model (a cell never observed has no estimate; on small
corpora this restricts the average to the common support). Year curves set the year to
each point of a grid (within the observed range: no extrapolation).

**Uncertainty**: ``topics.covariate_replicates`` fits, replicate 0 on the data as they
are (the point estimate) and each further replicate on a bootstrap resample of *reports*
(all their units, drawn with replacement) with seed ``seed + r``. Replicate topics are
matched to replicate 0's by the Hungarian algorithm on topic–word cosine, and the interval
is the percentile interval (``topics.ci``) of the replicate estimates. The bootstrap is
stratified by cell (reports are resampled within their cell), so every cell is present in
every replicate; a cell with a single report contributes no sampling variation. It covers sampling
of reports and the randomness of Gibbs sampling; it ignores the uncertainty of the topics
themselves given the data (stm's "global" method would add it). With a handful of reports
(the five-report sample corpus) many resamples lack a level; such replicates give no value
for that level, ``n_rep`` says how many did, and the note in ``topics.json`` says the
intervals are descriptive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from research.io import round_floats
from research.topics.lda import import_tomotopy, tomotopy_topic_word
from research.topics.tables import FLOAT32_DECIMALS
from research.workers import in_threads


@dataclass
class Design:
    """Per-unit covariates for the model and what was dropped (and why)."""

    units: pd.DataFrame  # corpus row index ``row``, doc_id, year, the kept categorical columns
    categorical: list[str]
    year: bool
    degree: int
    year_range: tuple[float, float]
    notes: list[str] = field(default_factory=list)

    @property
    def n_docs(self) -> int:
        return int(self.units["doc_id"].nunique())


def _clean(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.mask(s.isin(["", "nan", "None", "<NA>"]))


def build_design(
    units: pd.DataFrame,
    documents: pd.DataFrame,
    covariates: Sequence[str],
    year_degree: int,
    n_tokens: np.ndarray,
) -> Design:
    """Join units to report metadata; drop covariates that cannot be estimated."""
    notes: list[str] = []
    docs = documents.copy()
    docs["doc_id"] = docs["doc_id"].astype(str)
    keep = ["doc_id"] + [c for c in covariates if c in docs.columns]
    if "year" in docs.columns:
        keep.append("year")
    meta = docs[keep].drop_duplicates("doc_id")
    u = units[["doc_id"]].astype(str).assign(row=np.arange(len(units)), n_tokens=n_tokens)
    u = u.merge(meta, on="doc_id", how="left")
    u = u[u["n_tokens"] > 0]
    year = False
    degree = 0
    yr = (0.0, 1.0)
    if "year" in u.columns:
        u["year"] = pd.to_numeric(u["year"], errors="coerce")
        missing = u.loc[u["year"].isna(), "doc_id"].nunique()
        if missing:
            notes.append(f"{missing} reports without a year left out of the covariate model")
            u = u[u["year"].notna()]
        n_years = u["year"].nunique()
        if n_years >= 2:
            year = True
            degree = int(min(year_degree, n_years - 1))
            yr = (float(u["year"].min()), float(u["year"].max()))
        else:
            notes.append("fewer than two distinct years: no year smooth")
    cats = []
    for c in covariates:
        if c not in u.columns:
            if c != "genre":
                notes.append(f"covariate {c!r} not in the manifest")
            continue
        u[c] = _clean(u[c])
        levels = u.loc[u[c].notna(), c].unique()
        if len(levels) < 2:
            notes.append(f"covariate {c!r} has {len(levels)} level(s): dropped")
            continue
        if u[c].isna().any():
            u[c] = u[c].fillna("(missing)")
        cats.append(c)
    return Design(u.reset_index(drop=True), cats, year, degree, yr, notes)


def _features(row, design: Design) -> tuple[list[float], str]:
    """GDMR inputs of one report: numeric metadata (the year) and its categorical cell."""
    num = [float(row["year"])] if design.year else []
    cell = "|".join(f"{c}={row[c]}" for c in design.categorical) or "all"
    return num, cell


@dataclass
class CovariateFit:
    """One trained GDMR replicate: the model, its topic–word matrix and its reports."""

    model: Any  # tomotopy.GDMRModel (untyped)
    topic_word: np.ndarray
    docs: pd.DataFrame  # one row per report in this replicate: doc_id, year, covariates


def fit_gdmr(
    texts: Sequence[list[str]],
    design: Design,
    vocab: Sequence[str],
    k: int,
    seed: int,
    iterations: int,
    doc_ids: Sequence[str] | None = None,
    alpha: float = 0.1,
    eta: float = 0.01,
    sigma: float = 1.0,
) -> CovariateFit:
    """Fit GDMR on the units of ``doc_ids`` (repeats allowed: a bootstrap sample)."""
    tp = import_tomotopy()
    by_doc = design.units.groupby("doc_id", sort=True)
    doc_ids = list(doc_ids) if doc_ids is not None else sorted(by_doc.groups)
    # metadata_range is not passed: it crashes tomotopy 0.14's GDMRModel; the model takes the
    # year range of its own reports (a bootstrap replicate may have a narrower one).
    kw = {"degrees": [design.degree]} if design.year else {}
    model = tp.GDMRModel(
        tw=tp.TermWeight.ONE, k=k, alpha=alpha, eta=eta, sigma=sigma, seed=int(seed) % 2**32, **kw
    )
    for d in doc_ids:
        for r in by_doc.get_group(d).itertuples(index=False):
            row = r._asdict()
            num, cell = _features(row, design)
            model.add_doc(texts[row["row"]], numeric_metadata=num, metadata=cell)
    model.burn_in = 0
    model.train(iterations=iterations, workers=1)
    prior = np.full((k, len(vocab)), eta)
    docs = design.units.drop_duplicates("doc_id").set_index("doc_id").loc[doc_ids].reset_index()
    return CovariateFit(model, tomotopy_topic_word(model, vocab, prior), docs)


def _prevalence(fit: CovariateFit, design: Design, setting: dict) -> np.ndarray | None:
    """Mean predicted prior prevalence (K,) over the fit's reports with ``setting`` applied."""
    model = fit.model
    known = set(model.metadata_dict)
    if "year" in setting and design.year:
        years = fit.docs["year"].astype(float)
        if not years.min() <= float(setting["year"]) <= years.max():
            return None  # outside this replicate's year range: no extrapolation
    out = []
    for r in fit.docs.to_dict("records"):
        r = {**r, **setting}
        num, cell = _features(r, design)
        if cell in known:
            out.append(np.asarray(model.tdf(num, metadata=cell), dtype=float))
    return np.mean(out, axis=0) if out else None


def stratified_resample(design: Design, rng: np.random.Generator) -> list[str]:
    """Reports drawn with replacement within each covariate cell (sorted ids)."""
    docs = design.units.drop_duplicates("doc_id")
    cells = docs.apply(lambda r: _features(r, design)[1], axis=1)
    out: list[str] = []
    for cell in sorted(set(cells)):
        ids = sorted(docs.loc[cells == cell, "doc_id"])
        out.extend(rng.choice(ids, size=len(ids), replace=True).tolist())
    return sorted(out)


def match_topics(ref: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Permutation p so that topic p[i] of ``other`` matches topic i of ``ref`` (cosine)."""
    a = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    b = other / np.linalg.norm(other, axis=1, keepdims=True)
    rows, cols = linear_sum_assignment(-(a @ b.T))
    return cols[np.argsort(rows)]


def settings_grid(design: Design, n_year_points: int) -> list[tuple[str, Any, dict]]:
    """(covariate, value, setting) for every level of each categorical covariate and a year grid."""
    out: list[tuple[str, Any, dict]] = []
    for c in design.categorical:
        for v in sorted(design.units[c].unique()):
            out.append((c, v, {c: v}))
    if design.year:
        lo, hi = design.year_range
        years = sorted(set(design.units["year"].astype(float)))
        if hi - lo + 1 <= n_year_points:
            grid: np.ndarray = np.arange(lo, hi + 1)
        else:
            grid = np.unique(np.round(np.linspace(lo, hi, n_year_points)))
        for y in sorted(set(grid.tolist()) | set(years)):
            out.append(("year", float(y), {"year": float(y)}))
    return out


def estimate_effects(
    texts: Sequence[list[str]],
    design: Design,
    vocab: Sequence[str],
    k: int,
    seed: int,
    *,
    iterations: int = 300,
    replicates: int = 10,
    ci: float = 0.95,
    n_year_points: int = 25,
    alpha: float = 0.1,
    eta: float = 0.01,
    n_jobs: int = 1,
) -> tuple[CovariateFit, pd.DataFrame, pd.DataFrame]:
    """Reference fit, the prevalence table and the contrast table (see module docstring);
    the bootstrap refits run in ``n_jobs`` threads (the tables do not depend on it).

    Prevalence columns: topic, covariate, value, estimate, lo, hi, n_rep, observed
    (whether the value occurs in the data, for year points). Contrasts: for each
    categorical covariate, each level minus the first (alphabetical) level, per topic.
    """
    grid = settings_grid(design, n_year_points)
    docs_all = sorted(design.units["doc_id"].unique())
    rng = np.random.default_rng(seed)
    ref = fit_gdmr(texts, design, vocab, k, seed, iterations, docs_all, alpha, eta)
    est = np.full((max(1, replicates), len(grid), k), np.nan)
    samples = [stratified_resample(design, rng) for _ in range(1, max(1, replicates))]
    refits = in_threads(
        lambda rs: fit_gdmr(texts, design, vocab, k, seed + rs[0], iterations, rs[1], alpha, eta),
        list(enumerate(samples, start=1)),
        n_jobs,
    )
    for r, fit in enumerate([ref, *refits]):
        perm = np.arange(k) if r == 0 else match_topics(ref.topic_word, fit.topic_word)
        for g, (_, _, setting) in enumerate(grid):
            p = _prevalence(fit, design, setting)
            if p is not None:
                est[r, g] = p[perm]
    lo_q, hi_q = (1 - ci) / 2, 1 - (1 - ci) / 2
    observed_years = set(design.units["year"].astype(float)) if design.year else set()
    rows = []
    for g, (cov, val, _) in enumerate(grid):
        for t in range(k):
            vals = est[:, g, t]
            ok = vals[~np.isnan(vals)]
            rows.append(
                {
                    "topic": t + 1,
                    "covariate": cov,
                    "value": str(int(val)) if cov == "year" else str(val),
                    "estimate": est[0, g, t],
                    "lo": np.quantile(ok, lo_q) if len(ok) > 1 else np.nan,
                    "hi": np.quantile(ok, hi_q) if len(ok) > 1 else np.nan,
                    "n_rep": len(ok),
                    "observed": (val in observed_years) if cov == "year" else True,
                }
            )
    prev = pd.DataFrame(rows)
    contrasts = []
    for c in design.categorical:
        idx = [g for g, (cov, _, _) in enumerate(grid) if cov == c]
        base = idx[0]
        for g in idx[1:]:
            diff = est[:, g, :] - est[:, base, :]
            for t in range(k):
                ok = diff[~np.isnan(diff[:, t]), t]
                contrasts.append(
                    {
                        "topic": t + 1,
                        "covariate": c,
                        "value": str(grid[g][1]),
                        "reference": str(grid[base][1]),
                        "difference": diff[0, t],
                        "lo": np.quantile(ok, lo_q) if len(ok) > 1 else np.nan,
                        "hi": np.quantile(ok, hi_q) if len(ok) > 1 else np.nan,
                        "n_rep": len(ok),
                    }
                )
    cols = ["topic", "covariate", "value", "reference", "difference", "lo", "hi", "n_rep"]
    contr = pd.DataFrame(contrasts, columns=cols)
    prev, contr = round_floats(prev, FLOAT32_DECIMALS), round_floats(contr, FLOAT32_DECIMALS)
    return ref, prev, contr
