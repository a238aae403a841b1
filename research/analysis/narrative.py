"""The guided text of notebook 05, written from the numbers of the run it describes.

:func:`sections` reads the analysis tables and metrics of a project folder and returns
markdown paragraphs keyed by section; the notebook only displays them next to the tables
and figures, so the words change when the numbers do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from research.analysis.estimators import PRIOR_SHIFT


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() and path.stat().st_size else None


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def sections(reports_dir: Path | str) -> dict[str, str]:
    """Markdown per section of a reports folder: question, sources, estimator, shares,
    groups, emphasis, regression, caveats (a section whose table is missing says so)."""
    root = Path(reports_dir)
    t = root / "tables"
    m = root / "metrics" / "analysis.json"
    met = json.loads(m.read_text(encoding="utf-8")) if m.exists() else {}
    basis = met.get("primary_basis", "chars")
    basis_word = "characters" if basis == "chars" else "paragraphs"
    out: dict[str, str] = {}
    out["question"] = (
        "**Question.** How do the federations' reports divide their text among the six work "
        f"domains, and how does that differ between places and years? Shares are of body "
        f"{basis_word} (the primary basis; paragraph shares are in the same tables with "
        "`basis == 'units'`). A text share measures **reporting emphasis** — how much of its "
        "report a federation gives a domain — not money, staff or activity."
    )
    docs = _read(t / "documents.csv")
    if docs is None:
        out["sources"] = "No `documents.csv`: the analysis found no labelled or predicted units."
        return out
    d1 = docs[docs["basis"] == basis].drop_duplicates("doc_id")
    kinds = d1["source"].value_counts().to_dict()
    n_gold, n_pred = int(d1["n_gold"].sum()), int(d1["n_predicted"].sum())
    n_x = int(d1["n_cross_fitted"].sum()) if "n_cross_fitted" in d1 else 0
    out["sources"] = (
        f"**Where each label comes from.** {len(d1)} reports, {int(d1['n_units'].sum())} body "
        f"units: {n_gold} carry a gold label, {n_pred} a classifier prediction"
        + (
            f" ({n_x} of them held-out, cross-fitted predictions of units the model was trained on)"
            if n_x
            else ""
        )
        + ". Reports by source: "
        + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
        + ". The gold labels were made by **language-model annotator sessions**, not by "
        "people (seeds/ANNOTATION.md); read them as a careful reference, not ground truth."
    )
    est = (met.get("estimator") or {}).get(basis, "pcc")
    sm = _read(t / "adjusted_eval_summary.csv")
    if sm is not None and len(sm[sm["basis"] == basis]):
        s = sm[sm["basis"] == basis].sort_values("mae")
        rows = ", ".join(f"{r.method.upper()} {r.mae:.3f}" for r in s.itertuples())
        out["estimator"] = (
            f"**Which estimator turns predictions into shares.** On {int(s['n_docs'].max())} "
            f"held-out gold reports the mean absolute share error was: {rows}. The pipeline "
            f"uses **{est.upper()}**: with `estimator: auto`, the corrected estimator (ACC, "
            "PACC, EM, PPI) with the lowest error, because only corrected estimators carry "
            f"the classifier's error into intervals. {PRIOR_SHIFT} With few held-out reports "
            "these errors are themselves noisy."
        )
    else:
        out["estimator"] = (
            f"**Estimator.** No cross-fitted predictions were available, so predicted units "
            f"use {est.upper()} without a correction for classifier error."
        )
    mean = docs[docs["basis"] == basis].groupby("domain")["estimate"].mean().sort_values()
    top, low = mean.index[-1], mean.index[0]
    out["shares"] = (
        f"**Shares per report.** Averaged over reports, `{top}` takes the most text "
        f"({_pct(mean.iloc[-1])}) and `{low}` the least ({_pct(mean.iloc[0])}). Reports with "
        "only gold labels get a Wilson interval (the report as a sample of its paragraphs); "
        "reports with predicted units a bootstrap interval that also carries the classifier's "
        "error. Each bar in the figure says how many body units it rests on."
    )
    g = _read(t / "group_shares.csv")
    if g is not None:
        prov = g[(g["basis"] == basis) & (g["variable"] == "province")]
        n_p = prov["group"].nunique()
        no_ci = prov.drop_duplicates("group")["ci_low"].isna().sum()
        out["groups"] = (
            f"**Places and years.** {n_p} province(s); {no_ci} of them have too few reports "
            "for an interval and show the point only. Yearly means count a report toward "
            "every year it reviews (a 2016–2020 review weighs 1/5 in each year). Differences "
            "resting on one or two reports are descriptions of those reports, not of a province."
        )
    e = _read(t / "emphasis.csv")
    if e is not None:
        ea = e[(e["basis"] == basis) & (e["scope"] == "all")].dropna(subset=["emphasis"])
        if len(ea):
            r = ea.sort_values("emphasis").iloc[-1]
            out["emphasis"] = (
                "**Emphasis** divides a report's share by the mean share of the *other* reports "
                f"(so a report is not part of its own yardstick). The strongest: `{r['doc_id']}` "
                f"on `{r['domain']}`, {r['emphasis']:.2f}× the others. Rows with "
                "`scope == 'without_other'` drop the framing category and renormalise."
            )
    glm = _read(t / "glm.csv")
    if glm is not None and len(glm):
        df = int(glm["df_resid"].max())
        n_sig = int((glm.get("significant") == "yes").sum())
        if glm["p_value"].isna().all():
            txt = (
                f"with {df} residual degrees of freedom no p-value or interval is reported "
                "(the `status` column says why); the coefficients are descriptive only."
            )
        else:
            txt = (
                f"CR2 standard errors, t reference with {df} residual df; {n_sig} term(s) "
                "have p < 0.05 before any multiplicity correction across domains and terms; "
                "`se_measurement` is the part of the standard error due to classifier error."
            )
        out["regression"] = (
            f"**Shares on place, level and year.** A fractional logit per domain: {txt}"
        )
    out["caveats"] = (
        "**Caveats.** Text share is reporting emphasis, not spending. Gold labels come from "
        "language-model annotators. Classifier corrections assume the gold reports resemble "
        "the rest (prior shift only). With a handful of reports, every between-place "
        "difference is descriptive."
    )
    return out
