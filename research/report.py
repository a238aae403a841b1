"""The run's own report: the headline numbers (``reports/metrics/summary.json``, the one DVC
metric, so ``dvc metrics show`` fits a screen), the warnings, and ``reports/index.html``
linking every figure with its "how to read" text and its table; plus ``reports/tables.xlsx``
(every report table as a sheet, for Excel). Everything is read from the other stages'
outputs; what is missing is left out with a note."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

#: what each figure shows and how to read it (the README's "Reading the main figures")
HOW_TO_READ = {
    "domain_shares": "One bar per report (n = its body units): how its body text divides among "
    "the categories, by characters unless the axis says paragraphs. Each unit counts once: gold "
    "where labelled (language-model annotators), else the classifier; the caption says when "
    "sources are mixed. Read the grey `other` segment as framing text.",
    "province_heatmap": "Mean share of each domain per province (n = number of reports). "
    "Differences resting on two or three reports are descriptive, not inference.",
    "province_tiles": "A tile map per domain: each province's mean share (colour), its emphasis "
    "against the other provinces and n reports; grey tiles have no report.",
    "year_trends": "One panel per domain: each report a point at its year, the multilevel "
    "model's year curve with its 95% band (a LOWESS across reports when the model was not "
    "fitted), and yearly means (a report counts toward every year it reviews) with "
    "document-level intervals where there are enough reports; n per year under the axis; 2016 "
    "reform and Party congresses marked. No line joins different places.",
    "province_trends": "Small multiples by province (provinces with reports in two or more "
    "years): each report a point per domain at its year, a thin line only between reports of "
    "the same place, n reports per panel. Descriptive: the model's province effects are in "
    "multilevel.csv.",
    "emphasis": "A report's share of a domain divided by the mean share of the other reports, "
    "with 95% intervals. Above 1: more emphasis than the others; intervals crossing 1 do not "
    "distinguish the report from the average.",
    "share_adjustment": "How far document shares from held-out predictions are from gold for "
    "six estimators (CC, PCC, ACC, PACC, EM, PPI); the best corrected one is the default.",
    "distinctive_terms": "Words that distinguish a province (or year, level) from the rest, "
    "place and organisation names removed: log-odds z-scores; dark bars pass a document-level "
    "permutation test after Benjamini–Hochberg correction.",
    "campaign_names": "Quoted programme names per report, coloured by the domain of their "
    "paragraph, sized by frequency.",
    "confusion_matrix": "Held-out (nested, grouped) errors of the chosen classifier: rows gold, "
    "columns predicted.",
    "classifier_comparison": "Macro-F1 of every method beside the baselines on the real gold, one "
    "panel per evaluation scheme (base set alone, leave one report out, leave one province "
    "out), with document-cluster bootstrap intervals.",
    "classifier_reliability": "Reliability of the chosen classifier's held-out probabilities "
    "(leave one report out): mean confidence against accuracy per bin, with the ECE; points "
    "below the diagonal are over-confident.",
    "learning_curve": "Macro-F1 on held-out real reports against the number of your own gold "
    "labels added to the base set, with intervals: where the curve flattens, more labels "
    "buy little.",
    "seeded_vs_classifier": "Convergent validity: per document and domain, the seeded-topic "
    "share against the classifier's share (Pearson r per domain in the panel titles). Two "
    "instruments that agree are not thereby right; one that disagrees needs a look.",
    "topic_model_selection": "Coherence, held-out perplexity and stability against K; the "
    "chosen K balances them.",
    "topic_terms": "The top terms of each LDA topic by relevance.",
    "seeded_topic_terms": "The seeded topics for the codebook domains and their top terms.",
    "topic_prevalence_year": "Covariate topic model: each topic's estimated prevalence over the "
    "years with its interval band (replicates over seeds and a report bootstrap); dots mark "
    "years with reports. Topics are the model's, not the codebook's domains.",
    "topic_prevalence_contrasts": "Covariate topic model: each level's prevalence of a topic "
    "minus the reference level's, with intervals, one panel per categorical covariate.",
    "dynamic_topics": "Dynamic topic model: each topic's prevalence across periods and its top "
    "three words at every period — how the vocabulary of a theme drifts.",
    "topic_correlations": "Correlated topic model: correlation of topic log-proportions across "
    "units; positive pairs tend to be reported together.",
}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _row(rows: list[dict], **match: Any) -> dict:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), {})


def headline(reports: Path, params: dict | None = None) -> tuple[dict[str, Any], list[str]]:
    """The dozen headline numbers from the stages' metrics, and the warnings to show."""
    from research.config import project_paths

    m = reports / "metrics"
    agr, weak, clf = (
        _load(m / "agreement.json"),
        _load(m / "weak_labels.json"),
        _load(m / "classifier.json"),
    )
    top, ana = _load(m / "topics.json"), _load(m / "analysis.json")
    scores = clf.get("scores") or []

    def f1(cv: str, method: str = "selected") -> Any:
        return _row(scores, cv=cv, method=method).get("macro_f1")

    combined = _row(weak.get("eval") or [], source="combined")
    primary = ana.get("primary_source")
    out: dict[str, Any] = {
        "documents": ana.get("n_docs", top.get("n_docs")),
        "body_units": weak.get("n_units"),
        "kappa": agr.get("kappa"),
        "alpha": agr.get("alpha"),
        "weak_coverage": combined.get("coverage"),
        "weak_accuracy": combined.get("accuracy_vs_gold"),
        "classifier": clf.get("final_model"),
        "gold_units": clf.get("n_gold_units"),
        "f1_base_only": f1("base_only"),
        "f1_by_doc": f1("by_document"),
        "f1_by_province": f1("by_province"),
        "f1_majority": f1("by_document", "majority"),
        "f1_dictionary": f1("by_document", "dictionary"),
        "topics_k": (top.get("lda") or {}).get("k"),
        "topics_c_v": (top.get("lda") or {}).get("c_v"),
        "f1_seeded_lda": (top.get("seeded_eval") or {}).get("macro_f1"),
        "share_source": primary,
        "shares": (ana.get("corpus_mean_share_units") or {}).get(primary or "", {}),
    }
    warnings = []
    if agr.get("skipped"):
        warnings.append(f"agreement {agr['skipped']}")
    if weak and not weak.get("gold_available"):
        warnings.append(
            "no gold labels for this corpus: accuracy of the weak labels, of the "
            "seeded LDA and of the shares against gold is not measured"
        )
    paths = project_paths(params or {})
    if weak and not weak.get("gold_available"):
        warnings.append(
            "the classifier was trained on the shipped base set alone and is not evaluated on "
            f"this corpus: label some of its units ({paths['annotations']}, `research annotate`)"
        )
    warnings += [str(w) for w in ana.get("glm_warnings") or []]
    warnings += [str(n) for n in ana.get("notes") or []]
    return out, warnings


def summary_metrics(numbers: dict[str, Any]) -> dict[str, float | int]:
    """The numeric headline values that exist: the DVC metric (one short row)."""
    return {
        k: v
        for k, v in numbers.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "gold_units"
    }


def figure_rows(reports: Path) -> list[tuple[str, str, Path, Path | None]]:
    """(name, how to read, png, csv) for every figure drawn, in HOW_TO_READ order first."""
    figs = reports / "figures"
    names = sorted(p.stem for p in figs.glob("*.png"))
    names = [n for n in HOW_TO_READ if n in names] + [n for n in names if n not in HOW_TO_READ]
    return [
        (
            n,
            HOW_TO_READ.get(n, ""),
            figs / f"{n}.png",
            (figs / f"{n}.csv") if (figs / f"{n}.csv").exists() else None,
        )
        for n in names
    ]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items()) or "–"
    return "–" if v is None else str(v)


def index_html(reports: Path, numbers: dict[str, Any], warnings: list[str]) -> str:
    """A self-contained page (no scripts, nothing loaded from the web) linking the figures."""
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(_fmt(v))}</td></tr>" for k, v in numbers.items())
    warn = "".join(f"<li>{e(w)}</li>" for w in warnings) or "<li>none</li>"
    figs = []
    for name, how, png, csv in figure_rows(reports):
        rel = png.relative_to(reports).as_posix()
        table = (
            f' · <a href="{e(csv.relative_to(reports).as_posix())}">table (CSV)</a>' if csv else ""
        )
        figs.append(
            f'<section><h3 id="{e(name)}">{e(name)}</h3><p>{e(how)}{table} · '
            f'<a href="{e(rel[:-4])}.pdf">PDF</a></p><img src="{e(rel)}" alt="{e(name)}" '
            'style="max-width:100%;width:700px"></section>'
        )
    tables = sorted(p.relative_to(reports).as_posix() for p in (reports / "tables").glob("*.csv"))
    links = "".join(f'<li><a href="{e(t)}">{e(t)}</a></li>' for t in tables)
    extra = (
        '<li><a href="topics/lda.html">interactive LDA view</a></li>'
        if (reports / "topics" / "lda.html").exists()
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>research run</title>'
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "th{text-align:left;padding-right:1em}</style></head><body>"
        f"<h1>Results of this run</h1><h2>Headline numbers</h2><table>{rows}</table>"
        f"<h2>Warnings</h2><ul>{warn}</ul><h2>Figures</h2>{''.join(figs) or '<p>none drawn</p>'}"
        f'<h2>Tables</h2><ul>{links}{extra}<li><a href="tables.xlsx">all tables (Excel)</a></li></ul>'
        "</body></html>\n"
    )


def write_xlsx(reports: Path, out: Path) -> Path | None:
    """Every report table as a sheet of one Excel workbook (Chinese shows correctly)."""
    import pandas as pd

    from research.io import atomic_path

    tables = sorted((reports / "tables").glob("*.csv"))
    if not tables:
        return None
    with atomic_path(out) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xl:
        for p in tables:
            pd.read_csv(p).to_excel(xl, sheet_name=p.stem[:31], index=False)
    return out


def write_report(
    reports: str | Path, params: dict | None = None
) -> tuple[dict, list[str], list[Path]]:
    """Write summary.json (headline numbers), index.html and tables.xlsx into ``reports``."""
    from research.io import write_json, write_text

    reports = Path(reports)
    numbers, warnings = headline(reports, params)
    summary = write_json(summary_metrics(numbers), reports / "metrics" / "summary.json")
    page = write_text(index_html(reports, numbers, warnings), reports / "index.html")
    written = [summary, page]
    xlsx = write_xlsx(reports, reports / "tables.xlsx")
    return numbers, warnings, written + ([xlsx] if xlsx else [])


def print_summary(numbers: dict[str, Any], warnings: list[str], echo=print) -> None:
    """The headline results and warnings, as `research run` ends."""
    echo("headline results:")
    for k, v in numbers.items():
        if v is not None and v != {}:
            echo(f"  {k:<32} {_fmt(v)}")
    if warnings:
        echo("warnings:")
        for w in warnings:
            echo(f"  - {w}")
