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
from research.analysis.multilevel import multilevel_shares
from research.analysis.quantify import choose_estimator, evaluate_adjustment, summarise_adjustment
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
    "method_comparison": "method_comparison.csv",
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
    n_boot, ci = int(cfg["n_boot"]), float(cfg["ci"])
    primary_basis = cfg["bases"][0]
    summary["primary_basis"] = primary_basis

    # 0 dictionary vs seeded LDA vs classifiers against gold, in one table
    comparison = method_comparison(
        [input_path(n, data_dir, reports_dir) for n in ("classifier_cv", "seeded_eval")]
    )
    if len(comparison):
        written["method_comparison"] = write_table(comparison, tables / TABLES["method_comparison"])
    else:
        say("  note: no classifier_cv.csv / seeded_eval.csv: no method comparison")

    # 1 which estimator: CC, PCC, ACC, PACC, EM, PPI compared on held-out gold documents
    ev, sm, chosen = estimator_evidence(inp, cfg)
    if ev is not None:
        assert sm is not None  # estimator_evidence returns both tables or neither
        written["adjusted_eval"] = write_table(
            round_floats(_meta_join(ev, meta)), tables / TABLES["adjusted_eval"]
        )
        written["adjusted_eval_summary"] = write_table(
            round_floats(sm), tables / TABLES["adjusted_eval_summary"]
        )
        summary["adjustment_mae"] = {
            f"{r.basis}/{r.method}": round(float(r.mae), 6) for r in sm.itertuples()
        }
    else:
        say("  note: no cross-fitted predictions of two or more documents: estimator not chosen "
            "by evidence, classifier shares uncorrected (pcc)")  # fmt: skip
    summary["estimator"] = chosen
    summary["prior_shift_assumption"] = PRIOR_SHIFT

    # 2 per-unit label source → the document table (every basis), with intervals
    labelled = _labelled_units(inp)
    docs_parts, draws, corrs = [], {}, {}
    if labelled is not None:
        for basis in cfg["bases"]:
            corr = (
                fit_corrections(inp.cv, ids, basis, n_boot, rng_for(seed, "corrections", basis))
                if inp.cv is not None
                else None
            )
            corrs[basis] = corr
            tab, dr = document_table(labelled, ids, basis, chosen[basis], corr, n_boot, ci, seed)
            docs_parts.append(tab)
            draws[basis] = dr
        documents = _meta_join(pd.concat(docs_parts, ignore_index=True), meta)
        written["documents"] = write_table(round_floats(documents), tables / TABLES["documents"])
        kinds = documents.drop_duplicates("doc_id")["source"].value_counts().to_dict()
        summary["document_sources"] = {str(k): int(v) for k, v in sorted(kinds.items())}
        summary["n_units_by_source"] = {
            str(k): int(v) for k, v in sorted(labelled["source"].value_counts().items())
        }
        if (labelled["pred_source"] == "cross_fitted").any():
            summary["notes"].append(
                "units the classifier was trained on carry their cross-fitted (out-of-fold) "
                "prediction, never the in-sample one"
            )
    else:
        documents = pd.DataFrame()
        say("  note: no labelled or predicted units: no shares")

    # 3 group means (document-then-unit bootstrap) and 4 emphasis (leave-one-out)
    if len(documents):
        assert labelled is not None  # documents are built from the labelled units
        groups, emph = [], []
        pw = period_weights(meta)
        for basis in cfg["bases"]:
            sub = documents[documents["basis"] == basis]
            for by in ["all", *[g for g in cfg["group_by"] if g in sub]]:
                gm = group_means(sub, draws[basis], ids, by, ci, seed, f"groups/{basis}",
                                 int(cfg["min_interval_docs"]))  # fmt: skip
                groups.append(gm.assign(basis=basis))
            if pw is not None:
                gm = group_means(sub, draws[basis], ids, "year_covered", ci, seed,
                                 f"groups/{basis}", int(cfg["min_interval_docs"]), weights=pw)  # fmt: skip
                groups.append(gm.assign(basis=basis))
            for scope, excl in (("all", []), ("without_" + "_".join(cfg["emphasis_exclude"]),
                                 list(cfg["emphasis_exclude"]))):  # fmt: skip
                if scope != "all" and not excl:
                    continue
                e = emphasis_index(sub, draws[basis], ids, ci, exclude=excl, value="estimate")
                e = e.merge(domain_ranks(sub.rename(columns={"estimate": "share"})),
                            on=["doc_id", "domain"], how="left")  # fmt: skip
                fp = first_positions(labelled[labelled["source"] != "none"], "label", ids)
                e = e.merge(fp.drop(columns="n_units"), on=["doc_id", "domain"], how="left")
                e.insert(0, "scope", scope)
                e.insert(0, "basis", basis)
                emph.append(e)
        gs = pd.concat(groups, ignore_index=True)
        gs = gs[["basis", *[c for c in gs.columns if c != "basis"]]]
        written["group_shares"] = write_table(round_floats(gs), tables / TABLES["group_shares"])
        src = documents.drop_duplicates("doc_id")[["doc_id", "source"]]
        em = _meta_join(pd.concat(emph, ignore_index=True).merge(src, on="doc_id"), meta)
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
            doc_tokens: dict[str, list[str]] = {}
            for d, toks in zip(tu["doc_id"].astype(str), tokens):
                doc_tokens.setdefault(d, []).extend(toks)
            _, cb = codebook_ids(s.paths.codebook)
            stop = stoplist(meta, cb, bool(cfg["distinctive_stop_seed_terms"]))
            dt = distinctive_documents(
                doc_tokens, meta, variables, float(cfg["distinctive_prior"]),
                int(cfg["distinctive_top_n"]), int(cfg["distinctive_min_docs"]),
                int(cfg["distinctive_n_perm"]), seed,
                stop=stop,
            )  # fmt: skip
            written["distinctive_terms"] = write_table(
                round_floats(dt), tables / TABLES["distinctive_terms"]
            )
        else:
            say("  note: fewer than two provinces/years/levels: no distinctive terms")
    else:
        say("  note: no unit texts: no distinctive terms or campaign names")

    # 6 campaign names with the domain of their unit (gold where labelled, else predicted)
    if labelled is not None:
        cu = labelled[labelled["source"] != "none"]
        cu = cu[[c for c in ("doc_id", "unit_id", "para_id", "text") if c in cu]].assign(
            domain=cu["label"].astype(str),
            domain_source=np.where(cu["source"].eq("gold"), "gold", "predicted:classifier"),
        )
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

    # 7 shares on covariates (primary basis), classifier error carried in by replicates
    if len(documents):
        sub = documents[documents["basis"] == primary_basis]
        reps = correction_replicates(labelled, ids, primary_basis, chosen[primary_basis],
                                     corrs.get(primary_basis) or Corrections.identity(len(ids)),
                                     int(cfg["me_replicates"]))  # fmt: skip
        glm, warns = fractional_logit(
            sub, meta, cfg["glm_covariates"], ids, int(cfg["min_docs_per_param"]), ci,
            int(cfg["min_df"]), cfg.get("glm_cluster"), reps, value="estimate",
        )  # fmt: skip
        ml = multilevel_shares(sub, meta, ids, cfg["multilevel_covariates"], reps, ci,
                               int(cfg["min_df"]))  # fmt: skip
        ml.insert(0, "estimator", chosen[primary_basis])
        ml.insert(0, "basis", primary_basis)
        written["multilevel"] = write_table(round_floats(ml), tables / TABLES["multilevel"])
        glm.insert(0, "estimator", chosen[primary_basis])
        glm.insert(0, "basis", primary_basis)
        written["glm"] = write_table(round_floats(glm), tables / TABLES["glm"])
        for w in warns:
            say(f"  WARNING: {w}")
        summary["glm_warnings"] = warns
        summary["n_docs"] = int(documents["doc_id"].nunique())
        cm = sub.groupby("domain")["estimate"].mean()
        summary["corpus_mean_share"] = {d: round(float(cm[d]), 6) for d in ids if d in cm}

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
