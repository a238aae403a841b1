"""`research analyse`: every measure, from whatever inputs exist, into reports/tables/.

Each measure is skipped with a printed note when its input is absent, so the stage runs
(and its tests run) before the classifier and topic models have produced anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from research.analysis.bootstrap import rng_for
from research.analysis.campaigns import campaign_names, summarise_campaigns
from research.analysis.comparison import method_comparison
from research.analysis.distinctive import distinctive_documents, stoplist
from research.analysis.documents import _doc_estimate, document_table, group_means, period_weights
from research.analysis.emphasis import domain_ranks, emphasis_index, first_positions
from research.analysis.estimators import ESTIMATORS, PRIOR_SHIFT, Corrections, fit_corrections
from research.analysis.inputs import (
    META_COLUMNS,
    AnalysisInputs,
    codebook_ids,
    document_meta,
    input_path,
    load_inputs,
)
from research.analysis.multilevel import fit_multilevel
from research.analysis.quantify import (
    choice_reason,
    choice_table,
    choose_estimator,
    evaluate_adjustment,
    summarise_adjustment,
)
from research.analysis.regression import fractional_logit
from research.analysis.shares import one_hot, unit_weights
from research.analysis.units import label_units, pred_columns
from research.io import round_floats, write_table
from research.provenance import write_metrics
from research.settings import settings_of

TABLES = {
    "documents": "documents.csv",
    "adjusted_eval": "adjusted_eval.csv",
    "adjusted_eval_summary": "adjusted_eval_summary.csv",
    "group_shares": "group_shares.csv",
    "emphasis": "emphasis.csv",
    "distinctive_terms": "distinctive_terms.csv",
    "campaign_names": "campaign_names.csv",
    "campaign_summary": "campaign_summary.csv",
    "glm": "glm.csv",
    "multilevel": "multilevel.csv",
    "multilevel_year": "multilevel_year.csv",
    "method_comparison": "method_comparison.csv",
    "seeded_vs_classifier": "seeded_vs_classifier.csv",
    "seeded_vs_classifier_shares": "seeded_vs_classifier_shares.csv",
}


def _meta_join(df: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in META_COLUMNS if c in meta and c != "doc_id" and c not in df]
    return df.merge(meta[["doc_id", *cols]], on="doc_id", how="left")


def _labelled_units(inp: AnalysisInputs) -> pd.DataFrame | None:
    """Every body unit with its label source (gold, else cross-fitted/model prediction)."""
    base = inp.units
    if base is None:
        parts = [df for df in inp.sources.values() if len(df)]
        if not parts:
            return None
        keep = ["doc_id", "unit_id", "para_id", "text", "n_chars"]
        base = pd.concat([df[[c for c in keep if c in df]] for df in parts])
        base = base.drop_duplicates("unit_id").sort_values(["doc_id", "para_id"])
    gold = inp.sources.get("gold")
    lab = label_units(
        base, inp.ids, gold[["unit_id", "gold"]] if gold is not None else None,
        inp.sources.get("classifier"), inp.cv,
    )  # fmt: skip
    return lab if (lab["source"] != "none").any() else None


def estimator_evidence(
    inp: AnalysisInputs, cfg: dict
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, dict[str, str]]:
    """Held-out comparison of CC, PCC, ACC, PACC, EM, PPI per basis and the estimator to use
    per basis (``analyse.estimator``, or the lowest held-out error when ``auto``)."""
    want = str(cfg.get("estimator", "auto"))
    if want != "auto" and want not in ESTIMATORS:
        raise ValueError(f"analyse.estimator must be auto or one of {ESTIMATORS}, not {want!r}")
    if inp.cv is None or inp.cv["doc_id"].nunique() < 2:
        return None, None, {b: ("pcc" if want == "auto" else want) for b in cfg["bases"]}
    ev = pd.concat(
        [evaluate_adjustment(inp.cv, inp.ids, b) for b in cfg["bases"]], ignore_index=True
    )
    sm = summarise_adjustment(ev)
    chosen = {b: (choose_estimator(sm, b) if want == "auto" else want) for b in cfg["bases"]}
    return ev, sm, chosen


def correction_replicates(
    labelled: pd.DataFrame, ids: list[str], basis: str, method: str, corr: Corrections, n: int
) -> list[pd.DataFrame]:
    """Document shares recomputed under ``n`` replicates of the classifier-error correction
    (units fixed): the measurement-error part of a regression's uncertainty."""
    if method in ("cc", "pcc") or n < 2 or len(corr.bias) < 2:
        return []
    n = min(n, len(corr.bias) - 1)
    out = []
    lab = labelled[labelled["source"] != "none"]
    per_doc = []
    for doc, d in lab.groupby("doc_id", sort=True):
        G = one_hot(d["gold"], ids).to_numpy()
        Q = d[pred_columns(ids)].to_numpy(dtype=float)
        g = d["source"].eq("gold").to_numpy()
        w = unit_weights(d, basis)
        W = np.repeat(w[None, :], n, axis=0)
        per_doc.append((doc, _doc_estimate(G, Q, g, W, method, corr.take(np.arange(1, n + 1)))))
    for r in range(n):
        rows = [(doc, cid, float(E[r, j])) for doc, E in per_doc for j, cid in enumerate(ids)]
        out.append(pd.DataFrame(rows, columns=["doc_id", "domain", "estimate"]))
    return out


@dataclass
class _Run:
    """What every step of :func:`run_analysis` reads and adds to: settings, inputs, the
    tables written so far and the metrics summary."""

    params: dict
    cfg: dict
    data_dir: Path
    reports_dir: Path
    say: Callable[[str], None]
    inp: AnalysisInputs
    meta: pd.DataFrame
    written: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return self.inp.ids

    @property
    def seed(self) -> int:
        return settings_of(self.params).seed

    def write(self, key: str, table: pd.DataFrame, rounded: bool = True) -> None:
        """Write table ``key`` to reports/tables (atomic) and remember where."""
        path = self.reports_dir / "tables" / TABLES[key]
        self.written[key] = write_table(round_floats(table) if rounded else table, path)


@dataclass
class _Shares:
    """The labelled units and the document table with its bootstrap draws, per basis."""

    labelled: pd.DataFrame | None
    documents: pd.DataFrame
    draws: dict[str, Any]
    corrs: dict[str, Corrections | None]


def _step_method_comparison(run: _Run) -> None:
    """Dictionary vs seeded LDA vs classifiers against gold, in one table."""
    comparison = method_comparison(
        [input_path(n, run.data_dir, run.reports_dir) for n in ("classifier_cv", "seeded_eval")]
    )
    if len(comparison):
        run.write("method_comparison", comparison, rounded=False)
    else:
        run.say("  note: no classifier_cv.csv / seeded_eval.csv: no method comparison")


def _step_seeded_vs_classifier(run: _Run) -> None:
    """Convergent validity: the seeded-topic shares against the classifier's, per unit and
    per document (token-weighted seeded shares), when both stages' tables exist."""
    from research.io import read_table
    from research.topics.keyword import classifier_agreement

    seeded_path, pred_path = (
        input_path(n, run.data_dir, run.reports_dir) for n in ("seeded_units", "predictions")
    )
    missing = [p for p in (seeded_path, pred_path) if not p.exists()]
    corr = shares = pd.DataFrame(columns=["domain"])
    if missing:
        run.say(f"  note: {missing[0]} missing: no seeded-vs-classifier comparison")
    else:
        seeded, predictions = read_table(seeded_path), read_table(pred_path)
        weights = seeded.set_index("unit_id")["n_tokens"] if "n_tokens" in seeded else None
        corr, shares = classifier_agreement(seeded, predictions, run.inp.domain_ids, weights)
        if corr.empty or shares.empty:
            run.say(f"  note: no units in common between {seeded_path} and {pred_path}")
            corr = shares = pd.DataFrame(columns=["domain"])
    run.write("seeded_vs_classifier", corr, rounded=False)
    run.write("seeded_vs_classifier_shares", shares, rounded=False)
    doc = corr[corr["level"] == "document"] if "level" in corr else corr.iloc[:0]
    if len(doc):
        run.summary["seeded_vs_classifier"] = {
            "n_docs": int(doc["n"].max()),
            "pearson_by_domain": {
                d: (None if pd.isna(v) else round(float(v), 3))
                for d, v in zip(doc["domain"], doc["pearson"])
            },
        }


def _step_estimator(run: _Run) -> dict[str, str]:
    """Which estimator per basis: CC, PCC, ACC, PACC, EM, PPI compared on held-out gold
    documents; the choice and the reason go into the summary table and the metrics."""
    ev, sm, chosen = estimator_evidence(run.inp, run.cfg)
    if ev is not None:
        assert sm is not None  # estimator_evidence returns both tables or neither
        run.write("adjusted_eval", _meta_join(ev, run.meta))
        run.write("adjusted_eval_summary", choice_table(sm, chosen, str(run.cfg["estimator"])))
        run.summary["adjustment_mae"] = {
            f"{r.basis}/{r.method}": round(float(r.mae), 6) for r in sm.itertuples()
        }
    else:
        run.say("  note: no cross-fitted predictions of two or more documents: estimator not "
                "chosen by evidence, classifier shares uncorrected (pcc)")  # fmt: skip
    run.summary["estimator"] = chosen
    run.summary["estimator_reason"] = {
        b: choice_reason(str(run.cfg["estimator"]), ev is not None) for b in chosen
    }
    run.summary["prior_shift_assumption"] = PRIOR_SHIFT
    return chosen


def _step_documents(run: _Run, chosen: dict[str, str]) -> _Shares:
    """Per-unit label source → the document table (every basis), with intervals."""
    labelled = _labelled_units(run.inp)
    if labelled is None:
        run.say("  note: no labelled or predicted units: no shares")
        return _Shares(None, pd.DataFrame(), {}, {})
    parts, draws, corrs = [], {}, {}
    n_boot, ci, seed = int(run.cfg["n_boot"]), float(run.cfg["ci"]), run.seed
    for basis in run.cfg["bases"]:
        corr = (
            fit_corrections(run.inp.cv, run.ids, basis, n_boot, rng_for(seed, "corrections", basis))
            if run.inp.cv is not None
            else None
        )
        corrs[basis] = corr
        tab, dr = document_table(labelled, run.ids, basis, chosen[basis], corr, n_boot, ci, seed)
        parts.append(tab)
        draws[basis] = dr
    documents = _meta_join(pd.concat(parts, ignore_index=True), run.meta)
    run.write("documents", documents)
    kinds = documents.drop_duplicates("doc_id")["source"].value_counts().to_dict()
    run.summary["document_sources"] = {str(k): int(v) for k, v in sorted(kinds.items())}
    run.summary["n_units_by_source"] = {
        str(k): int(v) for k, v in sorted(labelled["source"].value_counts().items())
    }
    if (labelled["pred_source"] == "cross_fitted").any():
        run.summary["notes"].append(
            "units the classifier was trained on carry their cross-fitted (out-of-fold) "
            "prediction, never the in-sample one"
        )
    return _Shares(labelled, documents, draws, corrs)


def _group_shares(run: _Run, sub: pd.DataFrame, draws: Any, basis: str) -> list[pd.DataFrame]:
    """Group means of one basis by every grouping variable, and by covered year (period
    weights), each with a document-then-unit bootstrap interval."""
    ci, seed, min_docs = float(run.cfg["ci"]), run.seed, int(run.cfg["min_interval_docs"])
    out = []
    for by in ["all", *[g for g in run.cfg["group_by"] if g in sub]]:
        gm = group_means(sub, draws, run.ids, by, ci, seed, f"groups/{basis}", min_docs)
        out.append(gm.assign(basis=basis))
    pw = period_weights(run.meta)
    if pw is not None:
        gm = group_means(sub, draws, run.ids, "year_covered", ci, seed, f"groups/{basis}",
                         min_docs, weights=pw)  # fmt: skip
        out.append(gm.assign(basis=basis))
    return out


def _emphasis(
    run: _Run, sub: pd.DataFrame, draws: Any, basis: str, labelled: pd.DataFrame
) -> list[pd.DataFrame]:
    """Leave-one-out emphasis of one basis, over all domains and without the excluded
    (framing) ones, with ranks and first positions."""
    excl_all = list(run.cfg["emphasis_exclude"])
    scopes = [("all", [])] + ([("without_" + "_".join(excl_all), excl_all)] if excl_all else [])
    fp = first_positions(labelled[labelled["source"] != "none"], "label", run.ids)
    out = []
    for scope, excl in scopes:
        e = emphasis_index(sub, draws, run.ids, float(run.cfg["ci"]), exclude=excl,
                           value="estimate")  # fmt: skip
        e = e.merge(domain_ranks(sub.rename(columns={"estimate": "share"})),
                    on=["doc_id", "domain"], how="left")  # fmt: skip
        e = e.merge(fp.drop(columns="n_units"), on=["doc_id", "domain"], how="left")
        e.insert(0, "scope", scope)
        e.insert(0, "basis", basis)
        out.append(e)
    return out


def _step_groups_and_emphasis(run: _Run, sh: _Shares) -> None:
    """Group means (document-then-unit bootstrap) and emphasis (leave-one-out) per basis."""
    if not len(sh.documents):
        return
    assert sh.labelled is not None  # documents are built from the labelled units
    groups, emph = [], []
    for basis in run.cfg["bases"]:
        sub = sh.documents[sh.documents["basis"] == basis]
        groups += _group_shares(run, sub, sh.draws[basis], basis)
        emph += _emphasis(run, sub, sh.draws[basis], basis, sh.labelled)
    gs = pd.concat(groups, ignore_index=True)
    run.write("group_shares", gs[["basis", *[c for c in gs.columns if c != "basis"]]])
    src = sh.documents.drop_duplicates("doc_id")[["doc_id", "source"]]
    em = pd.concat(emph, ignore_index=True).merge(src, on="doc_id")
    run.write("emphasis", _meta_join(em, run.meta))


def _step_distinctive(run: _Run) -> None:
    """Distinctive terms per province / year / level (document-level permutation test)."""
    inp, cfg = run.inp, run.cfg
    text_units = inp.units if inp.units is not None else next(iter(inp.sources.values()), None)
    if text_units is None or not len(text_units):
        run.say("  note: no unit texts: no distinctive terms or campaign names")
        return
    tu = _meta_join(text_units[["doc_id", "unit_id", "text"]], run.meta)
    variables = [v for v in cfg["distinctive_by"] if v in tu and tu[v].nunique() >= 2]
    if not variables:
        run.say("  note: fewer than two provinces/years/levels: no distinctive terms")
        return
    tokens = _tokenize(tu["text"].astype(str).tolist(), run.params, run.data_dir)
    k = int(cfg["distinctive_min_chars"])  # single characters are mostly function words/numerals
    doc_tokens: dict[str, list[str]] = {}
    for d, toks in zip(tu["doc_id"].astype(str), tokens):
        doc_tokens.setdefault(d, []).extend(w for w in toks if len(w) >= k)
    _, cb = codebook_ids(settings_of(run.params).paths.codebook)
    stop = stoplist(run.meta, cb, bool(cfg["distinctive_stop_seed_terms"]))
    dt = distinctive_documents(
        doc_tokens, run.meta, variables, float(cfg["distinctive_prior"]),
        int(cfg["distinctive_top_n"]), int(cfg["distinctive_min_docs"]),
        int(cfg["distinctive_n_perm"]), run.seed, stop=stop,
    )  # fmt: skip
    run.write("distinctive_terms", dt)


def _step_campaigns(run: _Run, labelled: pd.DataFrame | None) -> None:
    """Campaign names with the domain of their unit (gold where labelled, else predicted)."""
    if labelled is None:
        return
    cu = labelled[labelled["source"] != "none"]
    cu = cu[[c for c in ("doc_id", "unit_id", "para_id", "text") if c in cu]].assign(
        domain=cu["label"].astype(str),
        domain_source=np.where(cu["source"].eq("gold"), "gold", "predicted:classifier"),
    )
    cn = campaign_names(_meta_join(cu, run.meta), "domain", "domain_source",
                        int(run.cfg["quote_min_chars"]), int(run.cfg["quote_max_chars"]))  # fmt: skip
    run.write("campaign_names", cn, rounded=False)
    cs = summarise_campaigns(cn)
    run.write("campaign_summary", cs, rounded=False)
    run.summary["n_campaign_names"] = len(cs)


def _step_models(run: _Run, sh: _Shares, chosen: dict[str, str]) -> None:
    """Shares on covariates (primary basis): the fractional logit and the multilevel model,
    classifier error carried in by correction replicates."""
    if not len(sh.documents):
        return
    assert sh.labelled is not None
    cfg, ids, basis = run.cfg, run.ids, run.summary["primary_basis"]
    ci, min_df, est = float(cfg["ci"]), int(cfg["min_df"]), chosen[basis]
    sub = sh.documents[sh.documents["basis"] == basis]
    reps = correction_replicates(sh.labelled, ids, basis, est,
                                 sh.corrs.get(basis) or Corrections.identity(len(ids)),
                                 int(cfg["me_replicates"]))  # fmt: skip
    glm, warns = fractional_logit(
        sub, run.meta, cfg["glm_covariates"], ids, int(cfg["min_docs_per_param"]), ci,
        min_df, cfg.get("glm_cluster"), reps, value="estimate",
    )  # fmt: skip
    ml, curves = fit_multilevel(sub, run.meta, ids, cfg["multilevel_covariates"], reps, ci,
                                min_df, max_year_df=int(cfg["multilevel_year_df"]))  # fmt: skip
    for key, table in (("multilevel", ml), ("multilevel_year", curves), ("glm", glm)):
        table.insert(0, "estimator", est)
        table.insert(0, "basis", basis)
        run.write(key, table)
    for w in warns:
        run.say(f"  WARNING: {w}")
    run.summary["glm_warnings"] = warns
    run.summary["n_docs"] = int(sh.documents["doc_id"].nunique())
    cm = sub.groupby("domain")["estimate"].mean()
    run.summary["corpus_mean_share"] = {d: round(float(cm[d]), 6) for d in ids if d in cm}


def run_analysis(
    params: dict,
    data_dir: Path | str | None = None,
    reports_dir: Path | str | None = None,
    echo: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run every measure on the inputs that exist; write tables + metrics; return a summary.

    Steps, in order: method comparison, seeded LDA vs classifier, estimator choice, document
    table, group means and emphasis, distinctive terms, campaign names, models of shares on
    covariates."""
    s = settings_of(params)
    data_dir = Path(data_dir or s.paths.data)
    reports_dir = Path(reports_dir or s.paths.reports)
    cfg = s.analyse.model_dump()  # defaults live in the schema (research/settings.py)
    inp = load_inputs(params, data_dir, reports_dir, echo)
    run = _Run(params, cfg, data_dir, reports_dir, echo or (lambda s: None), inp,
               document_meta(inp))  # fmt: skip
    run.summary.update(sources=sorted(inp.sources), notes=list(inp.notes), ids=inp.ids,
                       primary_basis=cfg["bases"][0])  # fmt: skip
    _step_method_comparison(run)
    _step_seeded_vs_classifier(run)
    chosen = _step_estimator(run)
    shares = _step_documents(run, chosen)
    _step_groups_and_emphasis(run, shares)
    _step_distinctive(run)
    _step_campaigns(run, shares.labelled)
    _step_models(run, shares, chosen)
    summary, written = run.summary, run.written
    summary["tables"] = {k: str(v) for k, v in sorted(written.items())}
    summary["params"] = {k: cfg[k] for k in sorted(cfg)}
    written["metrics"] = write_metrics(summary, reports_dir / "metrics" / "analysis.json", params)
    summary["written"] = written
    return summary


def _tokenize(texts: list[str], params: dict, data_dir: Path) -> list[list[str]]:
    """Tokens from the project tokeniser (cached under data/cache when tokenize.cache is on)."""
    from research.corpus.tokenize import TokenizerSettings, tokenize_many

    tok = settings_of(params).tokenize
    settings = TokenizerSettings.from_params(tok)
    cache = data_dir / "cache" if tok.cache else None
    return tokenize_many(texts, settings, n_jobs=1, cache_dir=cache)


__all__ = ["TABLES", "estimator_evidence", "run_analysis"]
