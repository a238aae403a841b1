"""Shares on covariates: a fractional-logit GLM per domain (Papke & Wooldridge 1996).

For each domain, the document share y ∈ [0, 1] is modelled as E[y | x] = logit⁻¹(x'β) with
statsmodels' GLM (Binomial family, logit link — a quasi-likelihood, valid for fractions)
and heteroskedasticity-robust (HC1) standard errors. Covariates: categorical (province,
level) as treatment dummies, numeric (year) centred.

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
from scipy.stats import norm

COLUMNS = [
    "domain",
    "model",
    "term",
    "coef",
    "se",
    "z",
    "p_value",
    "ci_low",
    "ci_high",
    "n_docs",
    "n_params",
    "df_resid",
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


def fit_fractional_logit(y: np.ndarray, X: pd.DataFrame, cov_type: str = "HC1") -> dict:
    """Fit one fractional-logit GLM; return params/se/p/ci or a failure status (never raises)."""
    import statsmodels.api as sm

    out: dict = {"status": "ok", "messages": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = sm.GLM(y, X, family=sm.families.Binomial())
            res = model.fit(cov_type=cov_type)
            out.update(
                params=res.params,
                bse=res.bse,
                z=res.tvalues,
                p=res.pvalues,
                ci=res.conf_int(),
                df_resid=float(res.df_resid),
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


def fractional_logit(
    doc_shares: pd.DataFrame,
    meta: pd.DataFrame,
    covariates: Sequence[str] = ("province", "level", "year"),
    ids: Sequence[str] | None = None,
    min_docs_per_param: int = 10,
    ci: float = 0.95,
) -> tuple[pd.DataFrame, list[str]]:
    """Fractional-logit GLM of each domain's document share on ``covariates``.

    ``doc_shares``: tidy doc_id, domain, share; ``meta``: one row per doc_id with the
    covariates. If the design is saturated (n_params ≥ n_docs) or rank deficient, the
    covariate with the most levels is dropped and the drop noted, down to an intercept-only
    model (the corpus mean share with a robust interval). Returns (table, warnings).
    """
    ids = list(ids) if ids is not None else list(dict.fromkeys(doc_shares["domain"]))
    wide = doc_shares.pivot_table(index="doc_id", columns="domain", values="share", aggfunc="first")
    wide = wide.reindex(columns=ids).sort_index()
    m = meta.drop_duplicates("doc_id").set_index("doc_id").reindex(wide.index)
    covs = [c for c in covariates if c in m]
    notes_model = [f"{c}: not in the document table" for c in covariates if c not in m]
    while True:
        X, used, notes = design_matrix(m, covs)
        ok = X.notna().all(axis=1)
        n, p = int(ok.sum()), X.shape[1]
        rank = int(np.linalg.matrix_rank(X[ok].to_numpy())) if n else 0
        if (p >= n or rank < p) and len(used) > 0:
            drop = max(used, key=lambda c: (_n_levels(m, c), c))
            why = "saturated" if p >= n else "singular design"
            notes_model.append(f"{drop} dropped ({why}: {p} params, {n} documents)")
            covs = [c for c in covs if c != drop]
            continue
        break
    notes_model += notes
    X = X[ok]
    model_name = "share ~ " + (" + ".join(used) if used else "1")
    z_crit = float(norm.ppf(0.5 + ci / 2))
    warn_msgs: list[str] = []
    rows = []
    base_note = []
    if n < min_docs_per_param * p:
        base_note.append(
            f"weak inference: {n} documents for {p} parameters (< {min_docs_per_param} per parameter)"
        )
    if n - p <= 0:
        base_note.append("saturated: no residual degrees of freedom, standard errors undefined")
    elif n - p < 5:
        base_note.append(
            f"only {n - p} residual df: robust (HC1) standard errors are not trustworthy"
        )
    for dom in ids:
        y = wide.loc[X.index, dom].to_numpy(dtype=float)
        fin = np.isfinite(y)
        note = list(base_note) + notes_model
        if fin.sum() < len(y):
            note.append(f"{int((~fin).sum())} document(s) without a share dropped")
        yy, XX = y[fin], X[fin]
        if len(yy) == 0:
            res = {"status": "failed", "messages": ["no data"]}
        elif np.all(yy == 0) or np.all(yy == 1):
            res = {
                "status": "separation",
                "messages": [f"share is {yy[0]:g} in every document: perfect separation"],
            }
        else:
            res = fit_fractional_logit(yy, XX)
        note += res["messages"]
        note_s = "; ".join(dict.fromkeys(note))
        if res["status"] != "ok" or "params" not in res:
            rows.append(
                (
                    dom,
                    model_name,
                    "",
                    np.nan,
                    np.nan,
                    np.nan,
                    np.nan,
                    np.nan,
                    np.nan,
                    len(yy),
                    p,
                    len(yy) - p,
                    res["status"],
                    note_s,
                )
            )
            warn_msgs.append(
                f"GLM {dom}: {res['status']} ({'; '.join(dict.fromkeys(res['messages']))})"
            )
            continue
        for term in XX.columns:
            b, se = float(res["params"][term]), float(res["bse"][term])
            lo, hi = (b - z_crit * se, b + z_crit * se) if np.isfinite(se) else (np.nan, np.nan)
            flags = _term_flags(XX[term].to_numpy(), b, se, term)
            status = res["status"] if not flags else "unreliable"
            rows.append(
                (
                    dom,
                    model_name,
                    term,
                    b,
                    se,
                    float(res["z"][term]),
                    float(res["p"][term]),
                    lo,
                    hi,
                    len(yy),
                    p,
                    len(yy) - p,
                    status,
                    "; ".join([*flags, note_s] if note_s else flags),
                )
            )
    if base_note:
        warn_msgs.insert(0, f"GLM ({model_name}): " + "; ".join(base_note + notes_model))
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table, warn_msgs
