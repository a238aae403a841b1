"""A multilevel model of domain shares: province and level-within-province random effects,
a smooth of year, covariates (level, genre, report period).

For each domain, statsmodels' linear mixed model (REML)

    share_d = β0 + s(year) + level + genre + period + u_province + v_(level in province) + e_d

with u_province ~ N(0, τ²) and v ~ N(0, ω²) (a variance component: reports of the same level
in the same province share a deviation). Provinces with one or two reports borrow strength
from the rest (their effect is shrunk toward 0). ``s(year)`` is a natural cubic spline with
few degrees of freedom, chosen from the number of distinct years (:func:`year_df`: linear
below 8 distinct years, at most ``max_year_df``), so a reform-era bend can show without
chasing single years. ``period`` is ``multi-year`` for a report reviewing several years
(e.g. a 2016–2020 five-year review) and ``annual`` otherwise (also when the manifest has no
period): reviews and annual reports are written differently.

Reported (tidy, :data:`COLUMNS`):

- ``year_per_decade``: the average per-decade slope of the fitted smooth over the reports'
  years (the least-squares line through the fitted curve — a linear contrast of the spline
  coefficients, so it has a standard error); for readers who want one number;
- ``year_smooth``: joint F test that the year curve is flat (``p_value``);
- covariate contrasts against the most frequent level;
- ``province[P]``: each province's predicted effect (the BLUP, a deviation from the
  all-province mean share) with its conditional standard error, Holm-corrected across
  provinces within a domain;
- ``var[...]``: the variance components (estimates only).

:func:`year_curves` gives the fitted year curve per domain — predicted mean share per year
at the sample's covariate mix, with intervals (``multilevel_year.csv``).

Classifier error enters through correction replicates: the model is refitted on each and
the spread of estimates is added (Rubin's rules). Inference uses a t reference with the
residual df; below ``min_df`` no p-value or interval is reported. A linear model on shares
keeps the estimand simple (a difference in expected share); shares are bounded, so read
extreme predictions with care. Measured: one REML fit takes ~0.3 s on 300 reports (2 shared
cores), so the six domains with 20 correction replicates take well under a minute; a
Bayesian library (PyMC/bambi: a heavy install and minutes of sampling) would not earn its
cost for this model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import f as f_dist
from scipy.stats import t as t_dist

COLUMNS = [
    "domain", "term", "estimate", "se", "se_measurement", "ci_low", "ci_high", "p_value",
    "p_holm", "significant", "n_docs", "n_provinces", "df", "status", "note",
]  # fmt: skip
YEAR_COLUMNS = [
    "domain", "year", "estimate", "se", "se_measurement", "ci_low", "ci_high", "n_docs",
    "df", "status", "note",
]  # fmt: skip
#: derived covariate: ``multi-year`` when period_end > period_start, else ``annual``
PERIOD = "period"


# ---------------------------------------------------------------- the year smooth


def year_df(years: Sequence[float] | np.ndarray, max_df: int = 4) -> int:
    """Degrees of freedom of the year smooth: 0 with < 2 distinct years, else one per four
    distinct years (≥ 1: linear; ≤ ``max_df``) — 16 years (2010–2025) give 4."""
    n = len({float(y) for y in np.asarray(years, dtype=float) if np.isfinite(y)})
    if n < 2:
        return 0
    return int(max(1, min(max_df, n // 4)))


@dataclass(frozen=True)
class YearBasis:
    """Natural cubic spline basis of year in decades (Hastie et al. 2009, eq. 5.4–5.5):
    linear beyond the boundary knots; ``len(knots) − 1`` columns, the first the centred
    year itself (so one knot pair = a straight line)."""

    centre: float
    knots: tuple[float, ...]

    @classmethod
    def fit(cls, years: np.ndarray, df: int) -> YearBasis:
        """Knots at quantiles of the distinct years (boundary knots at min and max)."""
        y = np.asarray(years, dtype=float)
        uniq = np.unique(y)
        knots = np.quantile(uniq, np.linspace(0, 1, df + 1)) if df >= 1 else uniq[:1]
        return cls(float(y.mean()), tuple(float(k) for k in knots))

    @property
    def names(self) -> list[str]:
        return ["year_per_decade"] + [f"year_ns{j}" for j in range(1, len(self.knots) - 1)]

    def __call__(self, years: np.ndarray | Sequence[float]) -> np.ndarray:
        x = (np.asarray(years, dtype=float) - self.centre) / 10.0
        k = (np.asarray(self.knots) - self.centre) / 10.0
        cols = [x]

        def d(j: int) -> np.ndarray:
            return (np.clip(x - k[j], 0, None) ** 3 - np.clip(x - k[-1], 0, None) ** 3) / (
                k[-1] - k[j]
            )

        for j in range(len(k) - 2):
            cols.append(d(j) - d(len(k) - 2))
        return np.column_stack(cols)


# ---------------------------------------------------------------- design


def report_period(meta: pd.DataFrame) -> pd.Series:
    """``multi-year`` for a report reviewing several years, else ``annual`` (no period in
    the manifest counts as its issue year, as in the period weights)."""
    if "period_start" not in meta or "period_end" not in meta:
        return pd.Series("annual", index=meta.index)
    a = pd.to_numeric(meta["period_start"], errors="coerce")
    b = pd.to_numeric(meta["period_end"], errors="coerce")
    multi = (b - a).fillna(0) >= 1
    return pd.Series(np.where(multi, "multi-year", "annual"), index=meta.index)


@dataclass
class Design:
    """Fixed-effect design, its year basis and the notes on what was left out."""

    X: pd.DataFrame
    basis: YearBasis | None
    years: np.ndarray | None
    notes: list[str] = field(default_factory=list)

    @property
    def year_cols(self) -> list[str]:
        return self.basis.names if self.basis is not None else []


def _design(meta: pd.DataFrame, covariates: Sequence[str], max_year_df: int = 4) -> Design:
    """Fixed effects: intercept, year smooth (centred, per decade), treatment dummies of the
    covariates (``period`` derived from period_start/period_end)."""
    X = pd.DataFrame({"const": 1.0}, index=meta.index)
    notes: list[str] = []
    basis, years = None, None
    y = pd.to_numeric(meta["year"], errors="coerce") if "year" in meta else None
    if y is not None and y.notna().all():
        years = y.to_numpy(dtype=float)
        k = year_df(years, max_year_df)
        if k:
            basis = YearBasis.fit(years, k)
            X[basis.names] = basis(years)
            if k > 1:
                notes.append(f"year: natural spline, {k} df")
    for c in covariates:
        col = report_period(meta) if c == PERIOD else meta.get(c)
        if col is None or col.dropna().nunique() < 2:
            notes.append(f"{c}: absent or constant, not in the model")
            continue
        v = col.astype(str)
        ref = v.value_counts().sort_index().idxmax()
        for lv in sorted(set(v) - {ref}):
            X[f"{c}[{lv}]"] = (v == lv).astype(float)
    return Design(X, basis, years, notes)


def _level_vc(meta: pd.DataFrame, groups: np.ndarray) -> dict | None:
    """Variance-component design of level within province (a column per level present in
    each province), or None when no province has reports of two levels or two reports of
    one level (the component would not be identified)."""
    if "level" not in meta or meta["level"].isna().all():
        return None
    lv = meta["level"].astype(str).to_numpy()
    pairs = pd.Series(list(zip(groups, lv))).value_counts()
    if not (pairs >= 2).any():
        return None
    mats = {}
    for g in sorted(set(groups), key=str):
        m = groups == g
        levels = sorted(set(lv[m]))
        mats[g] = np.column_stack([(lv[m] == v).astype(float) for v in levels])
    return {"level": mats}


# ---------------------------------------------------------------- one fit


def _fit(
    y: np.ndarray, X: pd.DataFrame, groups: np.ndarray, vc: dict | None, start: Any = None
) -> dict | None:
    """One REML fit: fixed effects and their covariance, province BLUPs with conditional
    variances, variance components (None when the fit fails). ``start``: the parameters of
    a previous fit to start from (the replicates start from the main fit: ~10x faster when
    a variance sits near 0)."""
    import statsmodels.api as sm

    # MixedLM sorts by group internally; exog_vc matrices follow the order of rows in X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if vc is not None:
                model = sm.MixedLM(y, X, groups=groups, exog_re=np.ones((len(y), 1)), exog_vc=vc)
            else:
                model = sm.MixedLM(y, X, groups=groups)
            res = model.fit(reml=True, start_params=start)
            fe_cov = np.asarray(res.cov_params())[: X.shape[1], : X.shape[1]]
        except Exception:
            return None
    provs = sorted(res.random_effects, key=str)
    blup = np.array([float(np.asarray(res.random_effects[p])[0]) for p in provs])
    tau2 = float(np.asarray(res.cov_re)[0, 0])
    if vc is not None:
        cvar = np.array([float(np.asarray(res.random_effects_cov[p])[0, 0]) for p in provs])
    else:
        # conditional variance of u_p given the data (ignoring uncertainty in β, τ², σ²)
        s2 = float(res.scale)
        n_p = np.array([(groups == p).sum() for p in provs], dtype=float)
        cvar = np.where(tau2 > 0, 1.0 / (1.0 / max(tau2, 1e-12) + n_p / s2), 0.0)
    var = {"province": tau2, "residual": float(res.scale)}
    if vc is not None:
        var["level_in_province"] = float(np.asarray(res.vcomp)[0])
    return {
        "fe": np.asarray(res.fe_params, dtype=float), "fe_cov": fe_cov, "provs": provs,
        "blup": blup, "blup_se": np.sqrt(np.clip(cvar, 0, None)), "var": var,
        "converged": bool(res.converged), "start": res.params_object,
    }  # fmt: skip


def _rubin(draws: list[np.ndarray], size: int) -> np.ndarray:
    """Between-replicate standard error (1 + 1/k)·var, zero with fewer than 2 replicates."""
    k = len(draws)
    if k < 2:
        return np.zeros(size)
    return np.sqrt((1 + 1 / k) * np.var(np.vstack(draws), axis=0, ddof=1))


# ---------------------------------------------------------------- linear contrasts


def _contrasts(des: Design, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows of linear contrasts of the fixed effects: the predicted mean share at each grid
    year (the sample's covariate mix) and the average per-decade slope of the fitted curve
    over the reports' years (None without a year term)."""
    X = des.X
    cols = list(X.columns)
    mean_row = X.mean(axis=0).to_numpy()
    C = np.tile(mean_row, (len(grid), 1))
    if des.basis is None or des.years is None:
        return C, None
    idx = [cols.index(c) for c in des.year_cols]
    C[:, idx] = des.basis(grid)
    x = (des.years - des.years.mean()) / 10.0
    B = des.basis(des.years)
    slope = np.zeros(len(cols))
    slope[idx] = (x - x.mean()) @ B / float(((x - x.mean()) ** 2).sum())
    return C, slope


@dataclass
class DomainFit:
    """One domain's fit, its replicate refits, and the contrasts they share."""

    fit: dict
    fe_me: np.ndarray
    fe_between: np.ndarray  # (1 + 1/k) × replicate covariance of the fixed effects
    blup_me: np.ndarray
    curve_me: np.ndarray
    slope_me: float
    C: np.ndarray
    slope: np.ndarray | None
    notes: list[str] = field(default_factory=list)


def _fit_domain(
    y: np.ndarray, reps: list[np.ndarray], des: Design, groups: np.ndarray, vc: dict | None,
    grid: np.ndarray,
) -> DomainFit | None:  # fmt: skip
    """Fit a domain, refit it on each correction replicate, and the replicate spread of
    every reported quantity (the measurement-error part, Rubin's rules)."""
    fit = _fit(y, des.X, groups, vc)
    notes = []
    if vc is not None and (fit is None or not fit["converged"]):
        # a level-within-province variance at its boundary (0) stalls REML: drop it
        alt = _fit(y, des.X, groups, None)
        if alt is not None:
            fit, vc = alt, None
            notes.append("level within province: variance at 0 (fit did not converge), dropped")
    if fit is None:
        return None
    C, slope = _contrasts(des, grid)
    fe_r, bl_r = [], []
    for r in reps:
        fr = _fit(r, des.X, groups, vc, fit["start"])
        if fr is not None:
            fe_r.append(fr["fe"])
            bl_r.append(fr["blup"])
    p = len(fit["fe"])
    fe_b = (
        (1 + 1 / len(fe_r)) * np.cov(np.vstack(fe_r), rowvar=False)
        if len(fe_r) >= 2
        else np.zeros((p, p))
    )
    fe_me = np.sqrt(np.clip(np.diag(fe_b), 0, None))
    curve_me = _rubin([C @ b for b in fe_r], len(grid))
    slope_me = float(_rubin([np.atleast_1d(slope @ b) for b in fe_r], 1)[0]) if slope is not None else 0.0  # fmt: skip
    blup_me = _rubin(bl_r, len(fit["provs"]))
    return DomainFit(fit, fe_me, fe_b, blup_me, curve_me, slope_me, C, slope, notes)


# ---------------------------------------------------------------- the model


@dataclass
class Prepared:
    """Aligned responses, replicates, design and groups for every domain."""

    wide: pd.DataFrame
    reps: list[pd.DataFrame]
    meta: pd.DataFrame
    design: Design
    groups: np.ndarray
    vc: dict | None
    df: int


def _prepare(
    docs: pd.DataFrame, meta: pd.DataFrame, covariates: Sequence[str],
    replicates: Sequence[pd.DataFrame], value: str, max_year_df: int,
) -> Prepared | None:  # fmt: skip
    """Documents with a province, their shares per domain (and per replicate), the design."""
    wide = docs.pivot_table(index="doc_id", columns="domain", values=value, aggfunc="first")
    m = meta.drop_duplicates("doc_id").set_index("doc_id").reindex(wide.index)
    if "province" not in m or m["province"].isna().all():
        return None
    ok = m["province"].notna()
    wide, m = wide[ok], m[ok]
    des = _design(m, covariates, max_year_df)
    groups = m["province"].astype(str).to_numpy()
    vc = _level_vc(m, groups)
    if vc is None:
        des.notes.append("level within province: no province has two reports of one level")
    df = len(des.X) - des.X.shape[1] - 1 - (1 if vc is not None else 0)
    reps = [
        r.pivot_table(index="doc_id", columns="domain", values=value, aggfunc="first").reindex(
            wide.index
        )
        for r in replicates
    ]
    return Prepared(wide, reps, m, des, groups, vc, df)


def _inference(b: float, se: float, df: int, ci: float, enough: bool) -> tuple[float, float, float]:
    """Two-sided t p-value and interval (NaN when the residual df are too few)."""
    if not enough or not np.isfinite(se) or se <= 0:
        return np.nan, np.nan, np.nan
    crit = float(t_dist.ppf(0.5 + ci / 2, df))
    return float(2 * t_dist.sf(abs(b / se), df)), b - crit * se, b + crit * se


def _flag(pv: float, alpha: float) -> str:
    """``yes``/``no`` for a p-value, ``""`` where there is none."""
    return "" if not np.isfinite(pv) else ("yes" if pv < alpha else "no")


def _term_rows(
    dom: str, f: DomainFit, pr: Prepared, ci: float, alpha: float, enough: bool, head: tuple,
    note: str,
) -> list[tuple]:  # fmt: skip
    """Rows of the fixed effects: the average slope, the smooth's joint test, covariates."""
    fit, cols = f.fit, list(pr.design.X.columns)
    rows = []
    status = "ok" if enough else "insufficient_df"
    for i, term in enumerate(cols):
        if term.startswith("year_"):
            continue
        b = float(fit["fe"][i])
        se = float(np.hypot(np.sqrt(max(fit["fe_cov"][i, i], 0.0)), f.fe_me[i]))
        pv, lo, hi = _inference(b, se, pr.df, ci, enough)
        sig = _flag(pv, alpha)
        rows.append((dom, term, b, se, float(f.fe_me[i]), lo, hi, pv, np.nan, sig, *head,
                     status, note))  # fmt: skip
    if f.slope is not None:
        idx = [cols.index(c) for c in pr.design.year_cols]
        b = float(f.slope @ fit["fe"])
        se = float(np.hypot(np.sqrt(max(f.slope @ fit["fe_cov"] @ f.slope, 0.0)), f.slope_me))
        pv, lo, hi = _inference(b, se, pr.df, ci, enough)
        sig = _flag(pv, alpha)
        k = len(idx)
        what = "average slope of the year smooth" if k > 1 else "linear year trend"
        rows.insert(1, (dom, "year_per_decade", b, se, f.slope_me, lo, hi, pv, np.nan, sig,
                        *head, status, f"{what} per decade; {note}".strip("; ")))  # fmt: skip
        if k > 1:
            beta = fit["fe"][idx]
            V = (fit["fe_cov"] + f.fe_between)[np.ix_(idx, idx)]
            stat = float(beta @ np.linalg.pinv(V) @ beta / k)
            pv = float(f_dist.sf(stat, k, pr.df)) if enough else np.nan
            rows.insert(2, (dom, "year_smooth", np.nan, np.nan, np.nan, np.nan, np.nan, pv,
                            np.nan, _flag(pv, alpha), *head,
                            status, f"joint F test of a flat year curve ({k} spline df)"))  # fmt: skip
    return rows


def _province_rows(
    dom: str, f: DomainFit, pr: Prepared, ci: float, alpha: float, enough: bool, head: tuple
) -> list[tuple]:
    """Province BLUPs with conditional + measurement SE, Holm across provinces; then the
    variance components."""
    from statsmodels.stats.multitest import multipletests

    fit = f.fit
    se_p = np.hypot(fit["blup_se"], f.blup_me)
    with np.errstate(divide="ignore", invalid="ignore"):
        pv_p = 2 * t_dist.sf(np.abs(fit["blup"] / se_p), max(pr.df, 1))
    pv_p = np.where(se_p > 0, pv_p, 1.0)
    holm = multipletests(pv_p, method="holm")[1]
    crit = float(t_dist.ppf(0.5 + ci / 2, max(pr.df, 1)))
    status = "ok" if enough else "insufficient_df"
    var = fit["var"]
    note = f"BLUP (partial pooling, tau^2={var['province']:.4g}); Holm over provinces"
    rows = []
    for j, prov in enumerate(fit["provs"]):
        b, se = float(fit["blup"][j]), float(se_p[j])
        lo, hi = (b - crit * se, b + crit * se) if enough else (np.nan, np.nan)
        sig = ("yes" if holm[j] < alpha else "no") if enough else ""
        rows.append((dom, f"province[{prov}]", b, se, float(f.blup_me[j]), lo, hi,
                     float(pv_p[j]) if enough else np.nan,
                     float(holm[j]) if enough else np.nan, sig, *head, status, note))  # fmt: skip
    for k, v in var.items():
        rows.append((dom, f"var[{k}]", v, *[np.nan] * 6, "", *head, status,
                     "variance component (REML)"))  # fmt: skip
    return rows


def _domain_rows(
    dom: str, y: np.ndarray, pr: Prepared, grid: np.ndarray, ci: float, min_df: int,
    alpha: float,
) -> tuple[list[tuple], DomainFit | None]:  # fmt: skip
    """All rows of one domain (a single status row when the model cannot be fitted)."""
    n, g = len(pr.design.X), len(set(pr.groups))
    head = (n, g, pr.df)
    note = list(pr.design.notes)
    if g < 3 or n < pr.design.X.shape[1] + 3:
        note.append(f"{n} documents in {g} provinces: no multilevel model")
        return [(dom, "", *[np.nan] * 7, "", *head, "too_few", "; ".join(note))], None
    f = _fit_domain(y, [r[dom].to_numpy(dtype=float) for r in pr.reps], pr.design, pr.groups,
                    pr.vc, grid)  # fmt: skip
    if f is None:
        return [(dom, "", *[np.nan] * 7, "", *head, "failed", "; ".join(note))], None
    note += f.notes
    if not f.fit["converged"]:
        note.append("did not converge")
    enough = pr.df >= min_df
    if not enough:
        note.append(f"only {pr.df} residual df (< {min_df}): no p-value or interval")
    rows = _term_rows(dom, f, pr, ci, alpha, enough, head, "; ".join(note))
    rows += _province_rows(dom, f, pr, ci, alpha, enough, head)
    return rows, f


def _year_rows(
    dom: str, f: DomainFit, pr: Prepared, grid: np.ndarray, ci: float, min_df: int
) -> list[tuple]:
    """Predicted mean share per grid year with intervals (the fitted smooth)."""
    fit = f.fit
    est = f.C @ fit["fe"]
    se0 = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", f.C, fit["fe_cov"], f.C), 0, None))
    se = np.hypot(se0, f.curve_me)
    enough = pr.df >= min_df
    crit = float(t_dist.ppf(0.5 + ci / 2, max(pr.df, 1)))
    n_year = pd.Series(pr.design.years).round().astype(int).value_counts()
    status = "ok" if enough else "insufficient_df"
    k = len(pr.design.year_cols)
    note = (f"natural spline, {k} df" if k > 1 else "linear") + "; at the sample's covariate mix"
    rows = []
    for i, yr in enumerate(grid):
        lo, hi = (est[i] - crit * se[i], est[i] + crit * se[i]) if enough else (np.nan, np.nan)
        rows.append((dom, int(yr), float(est[i]), float(se[i]), float(f.curve_me[i]), lo, hi,
                     int(n_year.get(int(yr), 0)), pr.df, status, note))  # fmt: skip
    return rows


def fit_multilevel(
    docs: pd.DataFrame,
    meta: pd.DataFrame,
    ids: Sequence[str],
    covariates: Sequence[str] = ("level", "genre", PERIOD),
    replicates: Sequence[pd.DataFrame] = (),
    ci: float = 0.95,
    min_df: int = 10,
    alpha: float = 0.05,
    value: str = "estimate",
    max_year_df: int = 4,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Terms and province effects per domain (:data:`COLUMNS`) and the fitted year curves
    (:data:`YEAR_COLUMNS`, one row per domain and year; empty without a year term)."""
    pr = _prepare(docs, meta, covariates, replicates, value, max_year_df)
    if pr is None:
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame(columns=YEAR_COLUMNS)
    years = pr.design.years
    grid = (
        np.arange(int(np.floor(years.min())), int(np.ceil(years.max())) + 1, dtype=float)
        if years is not None and pr.design.basis is not None
        else np.zeros(0)
    )
    rows, year_rows = [], []
    for dom in ids:
        if dom not in pr.wide:
            continue
        r, f = _domain_rows(dom, pr.wide[dom].to_numpy(dtype=float), pr, grid, ci, min_df, alpha)
        rows += r
        if f is not None and len(grid):
            year_rows += _year_rows(dom, f, pr, grid, ci, min_df)
    return pd.DataFrame(rows, columns=COLUMNS), pd.DataFrame(year_rows, columns=YEAR_COLUMNS)


def multilevel_shares(
    docs: pd.DataFrame, meta: pd.DataFrame, ids: Sequence[str], *args: Any, **kwargs: Any
) -> pd.DataFrame:
    """The terms table of :func:`fit_multilevel` alone (same arguments): year trend,
    covariates and province effects per domain, one row per term."""
    return fit_multilevel(docs, meta, ids, *args, **kwargs)[0]
