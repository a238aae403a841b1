"""The guided text of notebooks 05 and 03, written from the numbers of the run they describe.

:func:`sections` (analysis, notebook 05) and :func:`classifier_sections` (classifier,
notebook 03) read a project's tables and metrics and return markdown paragraphs keyed by
section; the notebooks only display them next to the tables and figures, so the words change
when the numbers do.
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
    why = (met.get("estimator_reason") or {}).get(basis) or (
        "with `estimator: auto`, the corrected estimator (ACC, PACC, EM, PPI) with the lowest "
        "error, because only corrected estimators carry the classifier's error into intervals"
    )
    sm = _read(t / "adjusted_eval_summary.csv")
    if sm is not None and len(sm[sm["basis"] == basis]):
        s = sm[sm["basis"] == basis].sort_values("mae")
        rows = ", ".join(f"{r.method.upper()} {r.mae:.3f}" for r in s.itertuples())
        out["estimator"] = (
            f"**Which estimator turns predictions into shares.** On {int(s['n_docs'].max())} "
            f"held-out gold reports the mean absolute share error was: {rows}. The pipeline "
            f"uses **{est.upper()}**: {why}. {PRIOR_SHIFT} With few held-out reports "
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
    out.update(_multilevel_text(t))
    out["caveats"] = (
        "**Caveats.** Text share is reporting emphasis, not spending. Gold labels come from "
        "language-model annotators. Classifier corrections assume the gold reports resemble "
        "the rest (prior shift only). With a handful of reports, every between-place "
        "difference is descriptive."
    )
    return out


def _ci(lo: float, hi: float) -> str:
    return f" [{lo:.3f}, {hi:.3f}]" if pd.notna(lo) and pd.notna(hi) else ""


def _multilevel_text(t: Path) -> dict[str, str]:
    """The multilevel model and its year smooth, from multilevel.csv / multilevel_year.csv."""
    ml = _read(t / "multilevel.csv")
    if ml is None or not len(ml):
        return {}
    fitted = ml[ml["term"].fillna("") != ""]
    if fitted.empty:
        r = ml.iloc[0]
        return {"multilevel": (
            "**Multilevel model.** Not fitted: "
            f"{str(r['note']).split('; ')[-1]}. It needs reports from at least three provinces; "
            "with a real corpus (hundreds of reports) it gives province effects that borrow "
            "strength across provinces, a smooth of year, and the effect of five-year reviews."
        )}  # fmt: skip
    n_docs, n_prov, df = (int(fitted[c].iloc[0]) for c in ("n_docs", "n_provinces", "df"))
    prov = fitted[fitted["term"].str.startswith("province[")]
    n_sig = int((prov["significant"] == "yes").sum())
    trend = fitted[fitted["term"] == "year_per_decade"]
    smooth = fitted[fitted["term"] == "year_smooth"].set_index("domain")["p_value"]
    bits = []
    for r in trend.itertuples():
        p = smooth.get(r.domain)
        flat = f", flat-curve test p = {p:.3g}" if p is not None and pd.notna(p) else ""
        bits.append(f"`{r.domain}` {r.estimate:+.3f}{_ci(r.ci_low, r.ci_high)}{flat}")
    period = fitted[fitted["term"].str.startswith("period[")]
    per = "; ".join(
        f"`{r.domain}` {r.estimate:+.3f}{_ci(r.ci_low, r.ci_high)}" for r in period.itertuples()
    )
    text = (
        f"**Multilevel model.** {n_docs} reports in {n_prov} provinces ({df} residual df). "
        "Each province's effect is shrunk toward the all-province mean in proportion to how "
        "few reports it has, so a province with one report is not read as extreme; "
        f"{n_sig} province-by-domain effect(s) differ from the mean after a Holm correction "
        "across provinces. "
    )
    if bits:
        text += "Average change per decade of the fitted year curve: " + "; ".join(bits) + ". "
    if per:
        text += f"Multi-year reviews against annual reports: {per}. "
    text += (
        "`se_measurement` is the part of each standard error due to classifier error; rows "
        "without an interval have too few residual df."
    )
    out = {"multilevel": text}
    yc = _read(t / "multilevel_year.csv")
    if yc is not None and len(yc):
        rng = yc.groupby("domain")["estimate"].agg(lambda e: e.max() - e.min()).sort_values()
        out["year_smooth"] = (
            f"**Year curves.** `multilevel_year.csv` gives each domain's predicted mean share for "
            f"every year {int(yc['year'].min())}–{int(yc['year'].max())} at the sample's mix of "
            f"levels, genres and periods, with intervals. The curve moves most for `{rng.index[-1]}` "
            f"(range {rng.iloc[-1]:.3f}) and least for `{rng.index[0]}` ({rng.iloc[0]:.3f}). "
            "Read the band, not the line: where it is wide the years have few reports "
            "(`n_docs`)."
        )
    return out


def classifier_sections(reports_dir: Path | str) -> dict[str, str]:
    """Markdown per section of notebook 03: question, comparison, per-class, targets,
    caveats (a section whose table is missing is left out)."""
    root = Path(reports_dir)
    t = root / "tables"
    m = root / "metrics" / "classifier.json"
    met = json.loads(m.read_text(encoding="utf-8")) if m.exists() else {}
    out = {
        "question": (
            "**Question.** How well does the classifier label this corpus's paragraphs, on "
            "reports it did not see in training, against the keyword dictionary and a "
            "majority baseline? The reference labels are **language-model labels** (gold "
            "labels made by language-model annotator sessions, not by people)"
            + (
                f": {met['n_gold_units']} units in {met['n_gold_documents']} reports; the "
                f"classifier is also trained on {met['n_base_set']} base-set paragraphs "
                "(written and labelled by language-model sessions; training data only)."
                if "n_gold_units" in met
                else "."
            )
        )
    }
    n_docs = met.get("n_gold_documents")
    out["caveats"] = (
        "**Caveats.** "
        + (f"The evaluation rests on {n_docs} reports: intervals" if n_docs else "Intervals")
        + " are wide and a method ranking can flip with a few more reports. The "
        "dictionary's seed terms were written by people who had read these reports, so its "
        "score here is optimistic. Language-model labels are a careful reference, not ground "
        "truth; annotate reports from other provinces and years before trusting the "
        "classifier on them."
    )
    cmp = _read(t / "method_comparison.csv")
    if cmp is None:
        return out
    lines = []
    for cv, d in cmp[cmp["cv"].isin(["base_only", "by_document", "by_province"])].groupby(
        "cv", sort=False
    ):
        row = d.set_index("method")
        parts = [
            f"{name} {row.loc[meth, 'macro_f1']:.2f}{_ci(row.loc[meth, 'ci_low'], row.loc[meth, 'ci_high'])}"
            for meth, name in (
                ("selected", "classifier"),
                ("dictionary", "dictionary"),
                ("majority", "majority"),
            )
            if meth in row.index
        ]
        lines.append(f"- `{cv}`: " + ", ".join(parts))
    out["comparison"] = (
        "**Held-out macro-F1** (95% document-cluster bootstrap intervals) per evaluation "
        "scheme — `base_only`: trained on the base set alone; `by_document` / `by_province`: "
        "one real report (province) held out at a time, model selection nested inside:\n\n"
        + "\n".join(lines)
        + "\n\nIntervals that overlap do not separate two methods; the paired differences "
        "(`classifier_paired.csv`) are the sharper test."
    )
    paired = _read(t / "classifier_paired.csv")
    if paired is not None:
        pp = paired[(paired["method"] == "selected") & (paired["versus"] == "dictionary")]
        if len(pp):
            out["comparison"] += (
                " Classifier minus dictionary: "
                + "; ".join(
                    f"`{r.cv}` {r.diff:+.3f}{_ci(r.ci_low, r.ci_high)}" for r in pp.itertuples()
                )
                + "."
            )
    pc = _read(t / "classifier_per_class.csv")
    if pc is not None:
        f = pc[(pc["method"] == "selected") & (pc["cv"] == "by_document")]
        f = f.set_index("label")["f1"].dropna().sort_values()
        if len(f):
            out["per_class"] = (
                f"**Per class** (leave one report out): weakest `{f.index[0]}` ({f.iloc[0]:.2f}), "
                f"strongest `{f.index[-1]}` ({f.iloc[-1]:.2f}). The confusion matrix shows where "
                "the weak class goes; `other` (framing text) is the usual sink."
            )
    targets = met.get("targets") or {}
    if targets:
        out["targets"] = (
            "**Targets.** "
            + "; ".join(
                f"{k}: {v.get('value', float('nan')):.3f} vs {v.get('target')} — "
                + ("met" if v.get("met") else "not met")
                for k, v in targets.items()
                if isinstance(v.get("value"), (int, float))
            )
            + "."
        )
    return out


def multilevel_parts(ml: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``multilevel.csv`` split for reading: (model terms, province effects by Holm p)."""
    term = ml["term"].astype("string").fillna("")
    prov = term.str.startswith("province[")
    return ml[~prov], ml[prov].sort_values("p_holm", kind="mergesort")
