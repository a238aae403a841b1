"""Stage glue for the models that answer "where and when": covariate, dynamic, correlated.

Runs after the unseeded LDA, with the same K (chosen by the rule in
:mod:`research.topics.selection`) and the same vocabulary, and writes (``reports/``):

- ``tables/covariate_topic_terms.csv`` — top terms of each covariate-model topic;
- ``tables/topic_prevalence.csv`` — estimated prevalence per topic by each categorical
  covariate's level and along the year grid, with intervals
  (:mod:`research.topics.covariates`);
- ``tables/topic_prevalence_contrasts.csv`` — level differences with intervals;
- ``topics/prevalence.html`` — the offline page to browse them;
- ``tables/dynamic_topic_terms.csv``, ``tables/dynamic_topic_prevalence.csv``
  (:mod:`research.topics.dynamic`);
- ``tables/topic_correlations.csv`` (:mod:`research.topics.correlated`).

Each part is skipped, with a note in ``metrics/topics.json``, when the corpus cannot
support it (no ``documents.parquet``, fewer than two years or periods).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from research.io import read_table, round_floats, write_table
from research.topics.tables import FLOAT32_DECIMALS, topic_terms_cfg

SMALL_CORPUS_DOCS = 20


def _labels(tw: np.ndarray, vocab: list[str], n: int = 4) -> dict[int, str]:
    return {
        t + 1: " ".join(vocab[j] for j in np.argsort(-tw[t], kind="stable")[:n])
        for t in range(tw.shape[0])
    }


def write_empty(res, path: Path, columns: list[str]) -> None:
    """An empty table for a skipped model, so every declared output exists (dvc repro)."""
    import pandas as pd

    res.written.append(write_table(pd.DataFrame(columns=columns), path))


def run_structure(tc, k: int, cfg: dict, seed: int, prepared_dir: Path, paths: dict, res) -> None:
    """Fit and write the covariate, dynamic and correlated models (see module docstring)."""
    from research.topics.covariates import build_design, estimate_effects

    tables = paths["reports"] / "tables"
    w = res.written.append
    texts = list(tc.texts)
    vocab, tf = tc.vocab, tc.term_frequency()
    it = lambda key: int(cfg[key])  # noqa: E731
    docs_path = Path(prepared_dir) / "documents.parquet"
    design = None
    if docs_path.exists():
        design = build_design(
            tc.units,
            read_table(docs_path),
            list(cfg.get("covariates") or []),
            it("year_degree"),
            tc.units["n_tokens"].to_numpy(),
        )
        res.notes.extend(f"covariate model: {n}" for n in design.notes)
    else:
        res.notes.append(f"{docs_path} absent: covariate and dynamic models skipped")

    if design is not None and cfg.get("covariate_model", True):
        if not design.categorical and not design.year:
            res.notes.append("covariate model skipped: no covariate with two or more values")
            for name in ("covariate_topic_terms", "topic_prevalence", "topic_prevalence_contrasts"):
                write_empty(res, tables / f"{name}.csv", ["topic"])
        else:
            t0 = time.perf_counter()
            fit, prev, contr = estimate_effects(
                texts,
                design,
                vocab,
                k,
                seed,
                iterations=it("covariate_iterations"),
                replicates=it("covariate_replicates"),
                ci=float(cfg["ci"]),
                n_year_points=it("year_points"),
                n_jobs=it("n_jobs"),
            )
            res.seconds["covariate model (GDMR, all replicates)"] = time.perf_counter() - t0
            labels = _labels(fit.topic_word, vocab)
            prev.insert(1, "topic_label", prev["topic"].map(labels))
            contr.insert(1, "topic_label", contr["topic"].map(labels))
            terms = round_floats(topic_terms_cfg(fit.topic_word, vocab, tf, cfg), FLOAT32_DECIMALS)
            w(write_table(terms, tables / "covariate_topic_terms.csv"))
            w(write_table(prev, tables / "topic_prevalence.csv"))
            w(write_table(contr, tables / "topic_prevalence_contrasts.csv"))
            small = design.n_docs < SMALL_CORPUS_DOCS
            caveat = (
                f"only {design.n_docs} reports: the intervals are descriptive, not inference"
                if small
                else f"{design.n_docs} reports"
            )
            meta: dict[str, Any] = {
                "k": k,
                "n_docs": design.n_docs,
                "n_units": len(design.units),
                "categorical": design.categorical,
                "year_smooth_degree": design.degree if design.year else None,
                "replicates": it("covariate_replicates"),
                "caveat": caveat,
            }
            res.metrics["covariate_model"] = meta
            if small:
                res.notes.append(f"covariate model: {caveat}")
            if cfg.get("html", True):
                from research.topics.prevalence_page import write_prevalence_page

                w(
                    write_prevalence_page(
                        prev,
                        labels,
                        paths["reports"] / "topics" / "prevalence.html",
                        title=f"Topic prevalence by covariate (GDMR, K={k})",
                        note="Estimated share of each topic for reports with the chosen "
                        "covariate value (averaged over the other covariates of the reports), "
                        f"with {cfg['ci']:g} intervals over {meta['replicates']} replicates "
                        f"(seeds and a report bootstrap). {caveat}.",
                    )
                )

    if design is not None and cfg.get("dynamic_model", True):
        from research.topics.dynamic import fit_dynamic

        t0 = time.perf_counter()
        out = fit_dynamic(
            texts,
            design,
            vocab,
            k,
            seed,
            width=it("dynamic_period_years"),
            iterations=it("dynamic_iterations"),
            lr_a=float(cfg["dynamic_lr_a"]),
            lr_c=float(cfg["dynamic_lr_c"]),
        )
        res.seconds["dynamic model (DTM)"] = time.perf_counter() - t0
        if out is None:
            res.notes.append("dynamic model skipped: fewer than two periods with a year")
            for name in ("dynamic_topic_terms", "dynamic_topic_prevalence"):
                write_empty(res, tables / f"{name}.csv", ["topic", "period"])
        else:
            terms, prev = out
            w(write_table(terms, tables / "dynamic_topic_terms.csv"))
            w(write_table(prev, tables / "dynamic_topic_prevalence.csv"))
            res.metrics["dynamic_model"] = {
                "k": k,
                "periods": prev.drop_duplicates("period")["label"].tolist(),
            }

    if cfg.get("correlated_model", True):
        from research.topics.correlated import fit_correlated

        t0 = time.perf_counter()
        corr, _ = fit_correlated(texts, vocab, k, seed, iterations=it("correlated_iterations"))
        res.seconds["correlated model (CTM)"] = time.perf_counter() - t0
        w(write_table(corr, tables / "topic_correlations.csv"))
        off = corr[corr["topic_a"] < corr["topic_b"]].sort_values("correlation")
        res.metrics["correlated_model"] = {
            "k": k,
            "strongest_positive": off.iloc[-1][["topic_a", "topic_b", "correlation"]].tolist()
            if len(off)
            else None,
        }
