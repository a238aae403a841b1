"""`research analyse`: every measure, from whatever inputs exist, into reports/tables/.

Each measure is skipped with a printed note when its input is absent, so the stage runs
(and its tests run) before the classifier and topic models have produced anything.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from research.analysis.bootstrap import bootstrap_document_shares, bootstrap_group_means
from research.analysis.campaigns import campaign_names, summarise_campaigns
from research.analysis.comparison import method_comparison
from research.analysis.distinctive import distinctive_by
from research.analysis.emphasis import domain_ranks, emphasis_index, first_positions
from research.analysis.inputs import AnalysisInputs, document_meta, load_inputs
from research.analysis.quantify import (
    ShareAdjuster,
    cv_matrices,
    evaluate_adjustment,
    hard_scores,
    summarise_adjustment,
)
from research.analysis.regression import fractional_logit
from research.analysis.shares import one_hot, prob_columns
from research.io import round_floats, write_table
from research.provenance import write_metrics
from research.settings import settings_of

TABLES = {
    "shares": "shares.csv",
    "adjusted_eval": "adjusted_eval.csv",
    "adjusted_eval_summary": "adjusted_eval_summary.csv",
    "group_shares": "group_shares.csv",
    "emphasis": "emphasis.csv",
    "distinctive_terms": "distinctive_terms.csv",
    "campaign_names": "campaign_names.csv",
    "campaign_summary": "campaign_summary.csv",
    "glm": "glm.csv",
    "method_comparison": "method_comparison.csv",
}


def _meta_join(df: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("province", "place", "level", "year") if c in meta]
    return df.merge(meta[["doc_id", *cols]], on="doc_id", how="left")


def compute_shares(
    inp: AnalysisInputs, cfg: dict, seed: int, echo: Callable[[str], None] | None = print
) -> tuple[pd.DataFrame, dict[tuple[str, str], dict[str, np.ndarray]]]:
    """Shares with bootstrap CIs for every available source × basis (+ ACC/PACC when possible)."""
    ids = inp.ids
    parts, draws = [], {}
    jobs: list[tuple[str, pd.DataFrame, Any]] = [(s, df, None) for s, df in inp.sources.items()]
    if "classifier" in inp.sources and inp.cv is not None:
        clf = inp.sources["classifier"]
        hard = clf.drop(columns=prob_columns(ids)).join(
            one_hot(clf["label"], ids).set_index(clf.index)
        )
        jobs.append(("classifier_acc", hard, "acc"))
        jobs.append(("classifier_pacc", clf, "pacc"))
    elif "classifier" in inp.sources and echo:
        echo("  note: no cv_predictions.csv: classifier shares are not misclassification-adjusted")
    for basis in cfg["bases"]:
        weights = None
        if inp.cv is not None and basis == "chars" and "n_chars" in inp.cv:
            weights = inp.cv["n_chars"].to_numpy(dtype=float)
        mats = cv_matrices(inp.cv, ids, weights) if inp.cv is not None else {}
        for source, df, kind in jobs:
            adjust = None
            if kind is not None:
                adjust = ShareAdjuster(mats[kind], cfg["adjust_method"])
            tab, dr = bootstrap_document_shares(
                df,
                ids,
                basis,
                int(cfg["n_boot"]),
                float(cfg["ci"]),
                seed,
                key=source,
                adjust=adjust,
            )
            tab.insert(0, "basis", basis)
            tab.insert(0, "source", source)
            parts.append(tab)
            draws[(source, basis)] = dr
    if not parts:
        return pd.DataFrame(), draws
    return pd.concat(parts, ignore_index=True), draws


def primary_source(shares: pd.DataFrame, cfg: dict) -> str | None:
    """The first source in ``primary_sources`` that has shares (gold on the seeds)."""
    have = set(shares["source"]) if len(shares) else set()
    for s in cfg["primary_sources"]:
        if s in have:
            return s
    return sorted(have)[0] if have else None


def run_analysis(
    params: dict,
    data_dir: Path | str | None = None,
    reports_dir: Path | str | None = None,
    echo: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run every measure on the inputs that exist; write tables + metrics; return a summary."""
    s = settings_of(params)
    data_dir = Path(data_dir or s.paths.data)
    reports_dir = Path(reports_dir or s.paths.reports)
    tables = reports_dir / "tables"
    cfg = s.analyse.model_dump()  # defaults live in the schema (research/settings.py)
    seed = s.seed
    say = echo or (lambda s: None)
    inp = load_inputs(params, data_dir, reports_dir, echo)
    ids = inp.ids
    meta = document_meta(inp)
    written: dict[str, Path] = {}
    summary: dict[str, Any] = {"sources": sorted(inp.sources), "notes": list(inp.notes), "ids": ids}

    # 0 dictionary vs seeded LDA vs classifiers against gold, in one table
    comparison = method_comparison(tables)
    if len(comparison):
        written["method_comparison"] = write_table(comparison, tables / TABLES["method_comparison"])
    else:
        say("  note: no classifier_cv.csv / seeded_eval.csv: no method comparison")

    # 1 distribution with uncertainty (+ adjusted classifier shares)
    shares, draws = compute_shares(inp, cfg, seed, echo)
    if len(shares):
        shares = _meta_join(shares, meta)
        written["shares"] = write_table(round_floats(shares), tables / TABLES["shares"])
    else:
        say("  note: no labelled or predicted units: no shares")
    if "gold" in inp.sources and "classifier" in inp.sources:
        overlap = set(inp.sources["gold"]["unit_id"]) & set(inp.sources["classifier"]["unit_id"])
        if overlap:
            msg = (
                f"classifier shares on {len(overlap)} gold-labelled units are in-sample (the model was "
                "trained on them); adjusted_eval.csv has the honest, cross-validated share errors"
            )
            summary["notes"].append(msg)
            say(f"  note: {msg}")
    primary = primary_source(shares, cfg)
    summary["primary_source"] = primary

    # 2 misclassification adjustment evaluated on the seeds
    if inp.cv is not None:
        ev = pd.concat(
            [evaluate_adjustment(inp.cv, ids, b, cfg["adjust_method"]) for b in cfg["bases"]],
            ignore_index=True,
        )
        ev = _meta_join(ev, meta)
        written["adjusted_eval"] = write_table(round_floats(ev), tables / TABLES["adjusted_eval"])
        sm = summarise_adjustment(ev)
        written["adjusted_eval_summary"] = write_table(
            round_floats(sm), tables / TABLES["adjusted_eval_summary"]
        )
        summary["adjustment_mae"] = {
            f"{r.basis}/{r.method}": round(float(r.mae), 6) for r in sm.itertuples()
        }

    # 3 group means (document resampling) and 4 emphasis, for every source × basis
    if len(shares):
        groups, emph = [], []
        for (source, basis), sub in shares.groupby(["source", "basis"], sort=True):
            for by in ["all", *[g for g in cfg["group_by"] if g in sub]]:
                gm = bootstrap_group_means(
                    sub,
                    by,
                    int(cfg["n_boot"]),
                    float(cfg["ci"]),
                    seed,
                    key=f"{source}/{basis}",
                    min_docs=int(cfg["min_group_docs"]),
                )
                gm.insert(0, "basis", basis)
                gm.insert(0, "source", source)
                groups.append(gm)
            e = emphasis_index(sub, draws.get((source, basis)), ids, float(cfg["ci"]))
            e = e.merge(domain_ranks(sub), on=["doc_id", "domain"], how="left")
            if source in inp.sources:
                fp = first_positions(inp.sources[source], "label", ids).drop(columns="n_units")
                e = e.merge(fp, on=["doc_id", "domain"], how="left")
            e.insert(0, "basis", basis)
            e.insert(0, "source", source)
            emph.append(e)
        gs = pd.concat(groups, ignore_index=True)
        gs["group"] = gs["group"].astype(str)
        written["group_shares"] = write_table(round_floats(gs), tables / TABLES["group_shares"])
        em = _meta_join(pd.concat(emph, ignore_index=True), meta)
        written["emphasis"] = write_table(round_floats(em), tables / TABLES["emphasis"])

    # 5 distinctive terms per province / year / level
    text_units = inp.units if inp.units is not None else next(iter(inp.sources.values()), None)
    if text_units is not None and len(text_units):
        tu = _meta_join(text_units[["doc_id", "unit_id", "text"]], meta)
        variables = [v for v in cfg["distinctive_by"] if v in tu and tu[v].nunique() >= 2]
        if variables:
            tokens = _tokenize(tu["text"].astype(str).tolist(), params, data_dir)
            k = int(
                cfg["distinctive_min_chars"]
            )  # single characters are mostly function words/numerals
            tokens = [[w for w in toks if len(w) >= k] for toks in tokens]
            dt = distinctive_by(
                tu,
                tokens,
                variables,
                float(cfg["distinctive_prior"]),
                int(cfg["distinctive_top_n"]),
                int(cfg["min_term_count"]),
            )
            written["distinctive_terms"] = write_table(
                round_floats(dt), tables / TABLES["distinctive_terms"]
            )
        else:
            say("  note: fewer than two provinces/years/levels: no distinctive terms")
    else:
        say("  note: no unit texts: no distinctive terms or campaign names")

    # 6 campaign names with the domain of their unit (gold where available, else predicted)
    if text_units is not None and len(text_units):
        cu = text_units[
            [c for c in ("doc_id", "unit_id", "para_id", "text") if c in text_units]
        ].copy()
        cu["domain"], cu["domain_source"] = "", ""
        for source in ("classifier", "seeded_lda", "gold"):  # later sources take precedence
            if source in inp.sources:
                lab = inp.sources[source].set_index("unit_id")["label"]
                hit = cu["unit_id"].isin(lab.index)
                cu.loc[hit, "domain"] = cu.loc[hit, "unit_id"].map(lab).astype(str)
                cu.loc[hit, "domain_source"] = "gold" if source == "gold" else f"predicted:{source}"
        cn = campaign_names(
            _meta_join(cu, meta),
            "domain",
            "domain_source",
            int(cfg["quote_min_chars"]),
            int(cfg["quote_max_chars"]),
        )
        written["campaign_names"] = write_table(cn, tables / TABLES["campaign_names"])
        cs = summarise_campaigns(cn)
        written["campaign_summary"] = write_table(cs, tables / TABLES["campaign_summary"])
        summary["n_campaign_names"] = len(cs)

    # 7 shares on covariates (primary source, unit basis)
    if primary is not None:
        basis = "units" if "units" in cfg["bases"] else cfg["bases"][0]
        sub = shares[(shares["source"] == primary) & (shares["basis"] == basis)]
        glm, warns = fractional_logit(
            sub, meta, cfg["glm_covariates"], ids, int(cfg["min_docs_per_param"]), float(cfg["ci"])
        )
        glm.insert(0, "basis", basis)
        glm.insert(0, "source", primary)
        written["glm"] = write_table(round_floats(glm), tables / TABLES["glm"])
        for w in warns:
            say(f"  WARNING: {w}")
        summary["glm_warnings"] = warns

    # metrics
    if len(shares):
        summary["n_docs"] = int(shares["doc_id"].nunique())
        cm = shares[shares["basis"] == "units"].groupby(["source", "domain"])["share"].mean()
        summary["corpus_mean_share_units"] = {
            s: {d: round(float(cm[(s, d)]), 6) for d in ids if (s, d) in cm}
            for s in sorted(set(shares["source"]))
        }
        summary["n_units"] = {
            s: int(df["unit_id"].nunique()) if "unit_id" in df else len(df)
            for s, df in sorted(inp.sources.items())
        }
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


__all__ = ["TABLES", "compute_shares", "hard_scores", "primary_source", "run_analysis"]
