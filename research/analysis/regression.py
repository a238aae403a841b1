"""Shares on covariates: a fractional-logit GLM per domain (Papke & Wooldridge 1996).

For each domain, the document share y ∈ [0, 1] is modelled as E[y | x] = logit⁻¹(x'β) with
statsmodels' GLM (Binomial family, logit link — a quasi-likelihood, valid for fractions).
Standard errors are the small-sample CR2 sandwich (Bell & McCaffrey 2002; HC2 when each
document is its own cluster) and tests use a t reference with the residual degrees of
freedom (documents − parameters; clusters − 1 when clustered). Below ``min_df`` residual
df (default 10) no p-value, interval or significance flag is reported and the status says
why. Covariates: categorical (province, level) as treatment dummies, numeric (year) centred.
Classifier error can be carried in with share replicates (Rubin's rules, see
:func:`fractional_logit`).

With a handful of documents inference is weak or impossible. The code does not hide it:
every row carries a ``note`` (weak inference when n_docs < 10 × n_params, saturated model,
singular design, perfect separation, non-convergence), covariates that cannot be estimated
are dropped with a note, and a warning is printed. The same code runs unchanged on
hundreds of documents.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import t as t_dist

COLUMNS = [
    "domain",
    "model",
    "term",
    "coef",
    "se",
    "se_measurement",
    "t",
    "p_value",
    "ci_low",
    "ci_high",
    "n_docs",
    "n_params",
    "df_resid",
    "significant",
    "status",
    "note",
]
NUMERIC = {"year"}


def design_matrix(
    meta: pd.DataFrame, covariates: Sequence[str]
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Intercept + centred numeric + treatment-coded categorical columns.

    Returns (X, covariates used, notes). Constant or all-missing covariates are dropped
    with a note; missing values in used covariates → those documents are the caller's to
    drop (here: rows with NaN in X).
    """
    X = pd.DataFrame({"const": 1.0}, index=meta.index)
    used, notes = [], []
    for c in covariates:
        if c not in meta:
            notes.append(f"{c}: not in the document table")
            continue
        col = meta[c]
        if col.dropna().nunique() < 2:
            notes.append(f"{c}: constant across documents, dropped")
            continue
        num = pd.to_numeric(col, errors="coerce") if c in NUMERIC else None
        if num is not None and num.notna().sum() == col.notna().sum():
            v = num.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            X[f"{c}_centred"] = v - np.nanmean(v)
        else:
            cats = col.astype("object").where(col.notna(), None)
            levels = sorted({str(v) for v in cats.dropna()})
            # reference = most frequent level (ties: first in sort order)
            counts = cats.dropna().astype(str).value_counts()
            ref = sorted(levels, key=lambda v: (-counts.get(v, 0), v))[0]
            for lv in levels:
                if lv == ref:
                    continue
                X[f"{c}[{lv}]"] = (cats.astype(str) == lv).astype(float).where(cats.notna(), np.nan)
        used.append(c)
    return X.astype(float), used, notes


def _term_flags(x: np.ndarray, coef: float, se: float, term: str) -> list[str]:
    """Reasons a single coefficient cannot be trusted (rare dummy, separation, degenerate SE)."""
    flags = []
    if term != "const" and set(np.unique(x)) <= {0.0, 1.0}:
        n1 = int((x == 1).sum())
        if n1 < 2:
            flags.append(f"{term} identified by {n1} document(s)")
    if not np.isfinite(se) or se < 1e-8:
        flags.append("standard error degenerate (0 or undefined)")
    if abs(coef) > 10:
        flags.append("|coef| > 10 on the logit scale: (quasi-)separation")
    return flags


def _n_levels(meta: pd.DataFrame, c: str) -> int:
    return int(meta[c].nunique()) if c in meta else 0


def cr2_cov(
    X: np.ndarray, y: np.ndarray, mu: np.ndarray, clusters: np.ndarray | None = None
) -> np.ndarray:
    """CR2 (bias-reduced linearisation) covariance of a logit-link GLM's coefficients.

    Bread (X'WX)⁻¹ with W = μ(1−μ); each cluster's Pearson residuals are scaled by
    (I − H_gg)^(-1/2), H the weighted hat matrix. One cluster per row gives HC2.
    """
    W = np.clip(mu * (1 - mu), 1e-10, None)
    sw = np.sqrt(W)
    Xw = X * sw[:, None]
    bread = np.linalg.pinv(Xw.T @ Xw)
    r = (y - mu) / sw
    groups = np.arange(len(y)) if clusters is None else pd.factorize(clusters)[0]
    meat = np.zeros((X.shape[1], X.shape[1]))
    for g in np.unique(groups):
        m = groups == g
        Hg = Xw[m] @ bread @ Xw[m].T
        vals, vecs = np.linalg.eigh(np.eye(int(m.sum())) - Hg)
        inv_sqrt = vecs @ np.diag(np.where(vals > 1e-10, vals, np.inf) ** -0.5) @ vecs.T
        u = Xw[m].T @ (inv_sqrt @ r[m])
        meat += np.outer(u, u)
    return bread @ meat @ bread


def fit_fractional_logit(
    y: np.ndarray, X: pd.DataFrame, clusters: np.ndarray | None = None
) -> dict:
    """Fit one fractional-logit GLM; return params and CR2 standard errors or a failure
    status (never raises)."""
    import statsmodels.api as sm

    out: dict = {"status": "ok", "messages": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.GLM(y, X, family=sm.families.Binomial()).fit()
            cov = cr2_cov(X.to_numpy(dtype=float), y, np.asarray(res.fittedvalues), clusters)
            se = pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=X.columns)
            out.update(
                params=res.params,
                bse=se,
                converged=bool(getattr(res, "converged", True)),
            )
            if not out["converged"]:
                out["messages"].append("did not converge")
        except np.linalg.LinAlgError as exc:
            out["status"] = "singular"
            out["messages"].append(f"singular matrix: {exc}")
        except Exception as exc:
            name = type(exc).__name__
            out["status"] = "separation" if "Separation" in name else "failed"
            out["messages"].append(f"{name}: {exc}")
    for w in caught:
        msg = str(w.message).split("\n")[0]
        if "separation" in msg.lower() or "Separation" in type(w.message).__name__:
            out["status"] = "separation" if out["status"] == "ok" else out["status"]
        out["messages"].append(f"{type(w.message).__name__}: {msg}")
    return out


def _wide(doc_shares: pd.DataFrame, ids: Sequence[str], value: str) -> pd.DataFrame:
    w = doc_shares.pivot_table(index="doc_id", columns="domain", values=value, aggfunc="first")
    return w.reindex(columns=list(ids)).sort_index()


def _estimable_design(
    m: pd.DataFrame, covariates: Sequence[str]
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The design on the documents with every covariate (rows without NaN), dropping the
    covariate with the most levels while it is saturated (params ≥ documents) or singular,
    down to an intercept. Returns (X, covariates used, notes)."""
    covs = [c for c in covariates if c in m]
    notes = [f"{c}: not in the document table" for c in covariates if c not in m]
    while True:
        X, used, design_notes = design_matrix(m, covs)
        ok = X.notna().all(axis=1)
        n, p = int(ok.sum()), X.shape[1]
        rank = int(np.linalg.matrix_rank(X[ok].to_numpy())) if n else 0
        if (p >= n or rank < p) and len(used) > 0:
            drop = max(used, key=lambda c: (_n_levels(m, c), c))
            why = "saturated" if p >= n else "singular design"
            notes.append(f"{drop} dropped ({why}: {p} params, {n} documents)")
            covs = [c for c in covs if c != drop]
            continue
        return X[ok], used, notes + design_notes


def _sample_notes(n: int, p: int, df_resid: int, min_docs_per_param: int, min_df: int) -> list[str]:
    """Notes every row carries when the sample is small for the model."""
    notes = []
    if n < min_docs_per_param * p:
        notes.append(
            f"weak inference: {n} documents for {p} parameters (< {min_docs_per_param} per parameter)"
        )
    if df_resid < min_df:
        notes.append(
            f"only {df_resid} residual df (< {min_df}): no p-value, interval or significance"
        )
    return notes


def _fit_share(yy: np.ndarray, XX: pd.DataFrame, cl: np.ndarray | None) -> dict:
    """One domain's fit, with the degenerate cases (no data, share 0 or 1 everywhere)
    reported as a status instead of a fit."""
    if len(yy) == 0:
        return {"status": "failed", "messages": ["no data"]}
    if np.all(yy == 0) or np.all(yy == 1):
        return {
            "status": "separation",
            "messages": [f"share is {yy[0]:g} in every document: perfect separation"],
        }
    return fit_fractional_logit(yy, XX, cl)


def _between_variance(
    reps: Sequence[pd.DataFrame], dom: str, XX: pd.DataFrame, cl: np.ndarray | None
) -> tuple[np.ndarray, int]:
    """Variance of the coefficients across the correction replicates (Rubin's between
    part) and how many replicates could be fitted."""
    b_rep = []
    for r in reps:
        yr = np.clip(r.loc[XX.index, dom].to_numpy(dtype=float), 0, 1)
        if np.isfinite(yr).all() and 0 < yr.sum() < len(yr):
            fr = fit_fractional_logit(yr, XX, cl)
            if "params" in fr:
                b_rep.append(fr["params"].to_numpy(dtype=float))
    if len(b_rep) < 2:
        return np.zeros(XX.shape[1]), len(b_rep)
    return np.var(np.vstack(b_rep), axis=0, ddof=1), len(b_rep)


def _coef_rows(
    dom: str, model_name: str, res: dict, XX: pd.DataFrame, between: np.ndarray, k: int,
    p: int, df_resid: int, ci: float, min_df: int, alpha: float, note_s: str,
) -> list[tuple]:  # fmt: skip
    """One row per coefficient: SE with the measurement part, t test and interval when the
    residual df allow, flags for coefficients that cannot be trusted."""
    rows = []
    for i, term in enumerate(XX.columns):
        b, se0 = float(res["params"][term]), float(res["bse"][term])
        se_me = float(np.sqrt((1 + 1 / max(k, 1)) * between[i]))
        se = float(np.sqrt(se0**2 + se_me**2))
        flags = _term_flags(XX[term].to_numpy(), b, se, term)
        tval = b / se if se > 0 else np.nan
        if df_resid >= min_df and np.isfinite(se) and se > 0:
            crit = float(t_dist.ppf(0.5 + ci / 2, df_resid))
            pv = float(2 * t_dist.sf(abs(tval), df_resid))
            lo, hi = b - crit * se, b + crit * se
            sig = "yes" if pv < alpha else "no"
            status = res["status"] if not flags else "unreliable"
        else:
            pv, lo, hi, sig = np.nan, np.nan, np.nan, ""
            status = "insufficient_df" if not flags else "unreliable"
        rows.append((dom, model_name, term, b, se, se_me, tval, pv, lo, hi, len(XX), p,
                     df_resid, sig, status, "; ".join([*flags, note_s] if note_s else flags)))  # fmt: skip
    return rows


def fractional_logit(
    doc_shares: pd.DataFrame,
    meta: pd.DataFrame,
    covariates: Sequence[str] = ("province", "level", "year"),
    ids: Sequence[str] | None = None,
    min_docs_per_param: int = 10,
    ci: float = 0.95,
    min_df: int = 10,
    cluster: str | None = None,
    replicates: Sequence[pd.DataFrame] = (),
    value: str = "share",
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, list[str]]:
    """Fractional-logit GLM of each domain's document share on ``covariates``.

    ``doc_shares``: tidy doc_id, domain, ``value``; ``meta``: one row per doc_id with the
    covariates. If the design is saturated (n_params ≥ n_docs) or rank deficient, the
    covariate with the most levels is dropped and the drop noted, down to an intercept-only
    model. Inference: CR2 standard errors (clustered by ``cluster`` if given), t reference
    with the residual df; below ``min_df`` no p-value, interval or ``significant`` flag.
    ``replicates``: the same table under draws of the classifier-error correction; the
    coefficients are refitted on each and their spread added (Rubin's rules), so the
    interval includes measurement error (``se_measurement``). Returns (table, warnings).
    """
    ids = list(ids) if ids is not None else list(dict.fromkeys(doc_shares["domain"]))
    wide = _wide(doc_shares, ids, value)
    reps = [_wide(r, ids, value).reindex(wide.index) for r in replicates]
    m = meta.drop_duplicates("doc_id").set_index("doc_id").reindex(wide.index)
    X, used, notes_model = _estimable_design(m, covariates)
    n, p = X.shape
    clusters = None
    if cluster and cluster in m:
        clusters = m.loc[X.index, cluster].astype(str).to_numpy()
    model_name = "share ~ " + (" + ".join(used) if used else "1")
    df_resid = (len(set(clusters)) - 1) if clusters is not None else n - p
    base_note = _sample_notes(n, p, df_resid, min_docs_per_param, min_df)
    warn_msgs: list[str] = []
    rows = []
    for dom in ids:
        y = wide.loc[X.index, dom].to_numpy(dtype=float)
        fin = np.isfinite(y)
        note = list(base_note) + notes_model
        if fin.sum() < len(y):
            note.append(f"{int((~fin).sum())} document(s) without a share dropped")
        yy, XX = y[fin], X[fin]
        cl = clusters[fin] if clusters is not None else None
        res = _fit_share(yy, XX, cl)
        note += res["messages"]
        note_s = "; ".join(dict.fromkeys(note))
        if res["status"] != "ok" or "params" not in res:
            rows.append((dom, model_name, "", *[np.nan] * 7, len(yy), p, df_resid, "",
                         res["status"], note_s))  # fmt: skip
            warn_msgs.append(
                f"GLM {dom}: {res['status']} ({'; '.join(dict.fromkeys(res['messages']))})"
            )
            continue
        between, k = _between_variance(reps, dom, XX, cl)
        rows += _coef_rows(dom, model_name, res, XX, between, k, p, df_resid, ci, min_df,
                           alpha, note_s)  # fmt: skip
    if base_note:
        warn_msgs.insert(0, f"GLM ({model_name}): " + "; ".join(base_note + notes_model))
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table, warn_msgs
