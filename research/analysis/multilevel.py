"""A multilevel model of domain shares: province random effects, fixed year trend and covariates.

For each domain, statsmodels' linear mixed model (REML)

    share_d = β0 + β_year·(year − ȳ)/10 + level + genre + u_province + e_d

with u_province ~ N(0, τ²): provinces with one or two reports borrow strength from the rest
(their effect is shrunk toward 0 by τ² / (τ² + σ²/n_p)). Province contrasts are each
province's predicted effect (the BLUP, a deviation from the all-province mean share) with
its conditional standard error, Holm-corrected across provinces within a domain. The year
trend is a fixed effect (per decade) tested against t with the residual df. Classifier
error enters through correction replicates: the model is refitted on each and the spread
of estimates is added (Rubin's rules). A linear model on shares keeps the estimand simple
(a difference in expected share); shares are bounded, so read extreme predictions with care.
Measured: one REML fit takes ~0.3 s on 300 reports (2 shared cores), so the six domains
with 20 correction replicates take well under a minute; a Bayesian library (PyMC/bambi:
a heavy install and minutes of sampling) would not earn its cost for this model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import t as t_dist

COLUMNS = [
    "domain", "term", "estimate", "se", "se_measurement", "ci_low", "ci_high", "p_value",
    "p_holm", "significant", "n_docs", "n_provinces", "df", "status", "note",
]  # fmt: skip


def _design(meta: pd.DataFrame, covariates: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Fixed effects: intercept, year per decade (centred), treatment dummies of covariates."""
    X = pd.DataFrame({"const": 1.0}, index=meta.index)
    notes = []
    if "year" in meta and pd.to_numeric(meta["year"], errors="coerce").notna().all():
        y = pd.to_numeric(meta["year"]).astype(float)
        X["year_per_decade"] = (y - y.mean()) / 10.0
    for c in covariates:
        if c not in meta or meta[c].dropna().nunique() < 2:
            notes.append(f"{c}: absent or constant, not in the model")
            continue
        v = meta[c].astype(str)
        ref = v.value_counts().sort_index().idxmax()
        for lv in sorted(set(v) - {ref}):
            X[f"{c}[{lv}]"] = (v == lv).astype(float)
    return X, notes


def _fit(y: np.ndarray, X: pd.DataFrame, groups: np.ndarray) -> dict | None:
    import statsmodels.api as sm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.MixedLM(y, X, groups=groups).fit(reml=True)
            fe_se = res.bse_fe
        except Exception:
            return None
    provs = sorted(res.random_effects, key=str)
    blup = np.array([float(np.asarray(res.random_effects[p])[0]) for p in provs])
    tau2 = float(np.asarray(res.cov_re)[0, 0])
    s2 = float(res.scale)
    n_p = np.array([(groups == p).sum() for p in provs], dtype=float)
    # conditional variance of u_p given the data (ignoring uncertainty in β, τ², σ²)
    cvar = np.where(tau2 > 0, 1.0 / (1.0 / max(tau2, 1e-12) + n_p / s2), 0.0)
    return {
        "fe": res.fe_params, "fe_se": fe_se, "provs": provs, "blup": blup,
        "blup_se": np.sqrt(cvar), "tau2": tau2, "converged": bool(res.converged),
    }  # fmt: skip


def multilevel_shares(
    docs: pd.DataFrame,
    meta: pd.DataFrame,
    ids: Sequence[str],
    covariates: Sequence[str] = ("level", "genre"),
    replicates: Sequence[pd.DataFrame] = (),
    ci: float = 0.95,
    min_df: int = 10,
    alpha: float = 0.05,
    value: str = "estimate",
) -> pd.DataFrame:
    """Year trend, covariates and province effects per domain (tidy, one row per term)."""
    from statsmodels.stats.multitest import multipletests

    wide = docs.pivot_table(index="doc_id", columns="domain", values=value, aggfunc="first")
    m = meta.drop_duplicates("doc_id").set_index("doc_id").reindex(wide.index)
    if "province" not in m or m["province"].isna().all():
        return pd.DataFrame(columns=COLUMNS)
    ok = m["province"].notna()
    wide, m = wide[ok], m[ok]
    X, notes = _design(m, covariates)
    groups = m["province"].astype(str).to_numpy()
    n, p, g = len(X), X.shape[1], len(set(groups))
    df = n - p - 1
    reps = [
        r.pivot_table(index="doc_id", columns="domain", values=value, aggfunc="first").reindex(
            wide.index
        )
        for r in replicates
    ]
    rows = []
    for dom in ids:
        if dom not in wide:
            continue
        y = wide[dom].to_numpy(dtype=float)
        note = list(notes)
        if g < 3 or n < p + 3:
            rows.append((dom, "", *[np.nan] * 7, "", n, g, df, "too_few", "; ".join(
                [*note, f"{n} documents in {g} provinces: no multilevel model"])))  # fmt: skip
            continue
        fit = _fit(y, X, groups)
        if fit is None:
            rows.append((dom, "", *[np.nan] * 7, "", n, g, df, "failed", "; ".join(note)))
            continue
        if not fit["converged"]:
            note.append("did not converge")
        fe_r, bl_r = [], []
        for r in reps:
            fr = _fit(r[dom].to_numpy(dtype=float), X, groups)
            if fr is not None:
                fe_r.append(fr["fe"].to_numpy())
                bl_r.append(fr["blup"])
        k = len(fe_r)
        fe_me = np.sqrt((1 + 1 / k) * np.var(fe_r, axis=0, ddof=1)) if k >= 2 else np.zeros(p)
        bl_me = (
            np.sqrt((1 + 1 / k) * np.var(bl_r, axis=0, ddof=1))
            if k >= 2
            else np.zeros(len(fit["provs"]))
        )
        crit = float(t_dist.ppf(0.5 + ci / 2, max(df, 1)))
        enough = df >= min_df
        status = "ok" if enough else "insufficient_df"
        if not enough:
            note.append(f"only {df} residual df (< {min_df}): no p-value or interval")
        note_s = "; ".join(note)
        for i, term in enumerate(X.columns):
            b, se0 = float(fit["fe"][term]), float(fit["fe_se"][term])
            se = float(np.hypot(se0, fe_me[i]))
            pv = float(2 * t_dist.sf(abs(b / se), df)) if enough and se > 0 else np.nan
            lo, hi = (b - crit * se, b + crit * se) if enough else (np.nan, np.nan)
            sig = ("yes" if pv < alpha else "no") if enough else ""
            rows.append((dom, term, b, se, float(fe_me[i]), lo, hi, pv, np.nan, sig, n, g, df,
                         status, note_s))  # fmt: skip
        se_p = np.hypot(fit["blup_se"], bl_me)
        with np.errstate(divide="ignore", invalid="ignore"):
            pv_p = 2 * t_dist.sf(np.abs(fit["blup"] / se_p), max(df, 1))
        pv_p = np.where(se_p > 0, pv_p, 1.0)
        holm = multipletests(pv_p, method="holm")[1]
        for j, prov in enumerate(fit["provs"]):
            b, se = float(fit["blup"][j]), float(se_p[j])
            lo, hi = (b - crit * se, b + crit * se) if enough else (np.nan, np.nan)
            sig = ("yes" if holm[j] < alpha else "no") if enough else ""
            rows.append((dom, f"province[{prov}]", b, se, float(bl_me[j]), lo, hi,
                         float(pv_p[j]) if enough else np.nan,
                         float(holm[j]) if enough else np.nan, sig, n, g, df, status,
                         f"BLUP (partial pooling, tau^2={fit['tau2']:.4g}); Holm over provinces"))  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
