"""The ``topics`` stage: corpus → K sweep → unseeded LDA tables + LDAvis → seeded LDA + evaluation.

Everything is read from params (``seed``, ``paths``, ``tokenize``, ``topics``); see
``params.yaml`` for the meaning of each ``topics:`` key. Outputs (relative to the params
``paths.data`` / ``paths.reports`` / ``paths.models``):

- ``data/topics/``: tokens.txt, dictionary.txt, corpus.mm (the streamed corpus),
  units.parquet (unit_id, doc_id, para_unit_id, n_tokens in corpus order),
  unit_topics.parquet (long: unit_id, doc_id, topic, prop), seeded_units.parquet
  (unit_id, doc_id, seeded_domain, p_<id> for every codebook id, n_tokens), seeded_eval.parquet
  (the seeded LDA scored against gold, read by the analysis; empty without gold).
- ``reports/tables/``: k_sweep.csv, topic_terms.csv, doc_topics.csv,
  seeded_topic_terms.csv, seeded_doc_topics.csv, seeded_seed_terms.csv, seeded_eval.csv
  (a readable copy of seeded_eval.parquet).
- ``reports/topics/lda.html`` and ``seeded_lda.html`` (offline LDAvis pages).
- ``reports/metrics/topics.json``: sizes, chosen K, coherence of the final models, eval.

The stage reads nothing of the classifier (the seeded-vs-classifier comparison is the
analysis stage's), so ``research run`` can fit the topic models beside the classifier.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from research.config import params_hash, section
from research.corpus.tokenize import TokenizerSettings
from research.io import read_table, write_table
from research.provenance import write_metrics
from research.settings import settings_of
from research.topics.corpus import TopicCorpus, build_corpus, load_units
from research.topics.lda import FittedLDA, LdaSettings, available_backend, fit_lda
from research.topics.ldavis import prepare_vis, write_offline_html
from research.topics.seeded import (
    aggregate_to_paragraphs,
    build_eta,
    eval_row,
    label_units,
    seeded_topic_ids,
)
from research.topics.selection import choose_k, coherence_scores, k_sweep
from research.topics.stoplist import build_stoplist
from research.topics.structure import run_structure
from research.topics.tables import (
    doc_topics,
    prevalence_order,
    topic_labels,
    topic_terms_cfg,
    unit_topics,
)


@dataclass
class TopicsResult:
    """What the stage wrote and the headline numbers (for the CLI summary)."""

    written: list[Path] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # wall times (printed, not written)


def topics_config(params: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The ``topics`` section with defaults filled in (schema: research/settings.py)."""
    return section(params, "topics", **overrides)


def _paths(params: dict[str, Any]) -> dict[str, Path]:
    p = settings_of(params).paths
    data = Path(p.data)
    return {
        "data": data,
        "prepared": data / "prepared",
        "topics": data / "topics",
        "cache": data / "cache",
        "reports": Path(p.reports),
        "models": Path(p.models),
        "annotations": Path(p.annotations),
    }


def _load_codebook(params: dict[str, Any]):
    from research.labels.codebook import load_codebook, resolve_codebook_path

    return load_codebook(resolve_codebook_path(None, params))


def fit_unseeded(
    tc: TopicCorpus, k: int, settings: LdaSettings, seed: int
) -> tuple[FittedLDA, np.ndarray]:
    """Final unseeded model on the whole corpus; topics renumbered by prevalence."""
    fitted = fit_lda(tc.corpus, tc.dictionary, k, settings, seed)
    theta = fitted.doc_topics(tc.corpus)
    order = prevalence_order(theta, tc.units["n_tokens"].to_numpy())
    fitted.reorder(order)
    return fitted, theta[:, order]


def run_topics(
    params: dict[str, Any],
    prepared_dir: str | Path | None = None,
    **overrides: Any,
) -> TopicsResult:
    """Run the whole topics stage from params; returns what was written."""
    cfg = topics_config(params, **overrides)
    paths = _paths(params)
    prepared_dir = Path(prepared_dir) if prepared_dir is not None else paths["prepared"]
    seed = settings_of(params).seed
    tok_params = settings_of(params).tokenize
    res = TopicsResult()
    for key in ("backend", "seeded_backend"):
        if cfg.get(key):
            cfg[key], note = available_backend(str(cfg[key]))
            if note:
                res.notes.append(f"topics.{key}: {note}")
    settings = LdaSettings.from_params(cfg)
    w = res.written.append
    tables = paths["reports"] / "tables"

    # --- corpus -------------------------------------------------------------------
    codebook = _load_codebook(params)  # a broken user codebook is an error, not a skip
    seed_words = (
        sorted({t for d in codebook.domain_ids for t in codebook.seed_terms[d]}) if codebook else []
    )
    tok_settings = TokenizerSettings.from_params(tok_params, extra_words=seed_words)
    units = load_units(prepared_dir, cfg["unit"])
    stoplist = build_stoplist(
        prepared_dir,
        codebook,
        cfg.get("extra_stopwords") or [],
        from_manifest=bool(cfg["stoplist_manifest"]),
        from_codebook=bool(cfg["stoplist_codebook"]),
    )
    w(write_table(stoplist, tables / "topic_stoplist.csv"))
    tc = build_corpus(
        units,
        paths["topics"],
        tok_settings,
        no_below=int(cfg["no_below"]),
        no_above=float(cfg["no_above"]),
        keep_n=cfg["keep_n"],
        extra_stopwords=stoplist["term"].tolist(),
        stop_prefixes=stoplist.loc[stoplist["prefix"], "term"].tolist(),
        keep_terms=seed_words,
        n_jobs=tok_params.n_jobs,
        cache_dir=paths["cache"] if tok_params.cache else None,
    )
    w(write_table(tc.units, paths["topics"] / "units.parquet"))
    w(paths["topics"] / "corpus.mm")
    res.metrics.update(
        unit=cfg["unit"],
        n_units=len(tc),
        n_docs=int(tc.units["doc_id"].nunique()),
        vocab_size=len(tc.dictionary),
        n_tokens=int(tc.units["n_tokens"].sum()),
        backend=settings.backend,
        seed=seed,
        params_hash=params_hash(cfg),
    )

    # --- K sweep ------------------------------------------------------------------
    k_param: Any = cfg.get("k")
    auto = k_param in (None, "auto")
    k = int(cfg["k_fallback"]) if auto else int(k_param)
    if cfg["sweep"]:
        sweep = k_sweep(
            tc,
            cfg["k_grid"],
            settings,
            seed,
            n_runs=int(cfg["stability_seeds"]),
            heldout_fraction=float(cfg["heldout_fraction"]),
            heldout_by=str(cfg["heldout_by"]),
            top_n=int(cfg["coherence_topn"]),
            coherence_topn=int(cfg["coherence_topn"]),
            chosen_k=k,
            n_jobs=int(cfg["n_jobs"]),
        )
        if auto:
            k, sweep = choose_k(
                sweep,
                coherence=str(cfg["k_rule_coherence"]),
                within_sd=float(cfg["k_rule_within_sd"]),
                stability=str(cfg["k_rule_stability"]),
                min_stability=float(cfg["k_rule_min_stability"]),
            )
        else:
            sweep["why"] = np.where(sweep["chosen"], "chosen: set by params topics.k", "")
        w(write_table(sweep, tables / "k_sweep.csv"))
    elif auto:
        res.notes.append(f"topics.k is auto but the sweep is off: K = k_fallback = {k}")
    res.metrics["k_rule"] = "auto (stated rule, see k_sweep.csv why)" if auto else "params topics.k"

    # --- unseeded LDA -------------------------------------------------------------
    fitted, theta = fit_unseeded(tc, k, settings, seed)
    topic_ids = list(range(1, k + 1))
    vocab, tf = tc.vocab, tc.term_frequency()
    terms = topic_terms_cfg(fitted.topic_word, vocab, tf, cfg, topic_ids)
    labels = topic_labels(terms)
    terms.insert(1, "topic_label", terms["topic"].map(labels))
    w(write_table(terms, tables / "topic_terms.csv"))
    w(write_table(unit_topics(theta, tc.units, topic_ids), paths["topics"] / "unit_topics.parquet"))
    w(write_table(doc_topics(theta, tc.units, topic_ids), tables / "doc_topics.csv"))
    coh = coherence_scores(
        fitted.top_terms(int(cfg["coherence_topn"])), tc, int(cfg["coherence_topn"])
    )
    res.metrics["lda"] = {"k": k, **{m: round(v, 4) for m, v in coh.items()}}
    if cfg["html"]:
        w(
            _write_vis(
                fitted,
                theta,
                tc,
                vocab,
                tf,
                cfg,
                paths["reports"] / "topics" / "lda.html",
                title=f"LDA topics (K={k}, unit={cfg['unit']})",
                note="Topics are numbered by prevalence as in reports/tables/topic_terms.csv. "
                "Relevance slider: λ=1 ranks by probability, small λ by lift.",
            )
        )
    _save_model(fitted, paths["models"] / "topics" / "lda")

    # --- seeded LDA ---------------------------------------------------------------
    if codebook is not None:
        seeded_settings = LdaSettings.from_params({**cfg, "backend": cfg["seeded_backend"]})
        _run_seeded(tc, codebook, cfg, seeded_settings, seed, paths, res)

    # --- covariate, dynamic and correlated topic models (tomotopy) ------------------
    run_structure(tc, k, cfg, seed, prepared_dir, paths, res)
    write_metrics(res.metrics, paths["reports"] / "metrics" / "topics.json", params)
    w(paths["reports"] / "metrics" / "topics.json")
    return res


def _write_vis(
    fitted: FittedLDA,
    theta: np.ndarray,
    tc: TopicCorpus,
    vocab,
    tf,
    cfg: dict,
    path: Path,
    title: str,
    note: str,
) -> Path:
    """The offline LDAvis page of one fitted model."""
    vis = prepare_vis(
        fitted.topic_word,
        theta,
        tc.units["n_tokens"].to_numpy(),
        vocab,
        tf,
        top_n=int(cfg["vis_terms"]),
    )
    return write_offline_html(vis, path, title=title, note=note, lam=float(cfg["relevance_lambda"]))


def _save_model(fitted: FittedLDA, stem: Path) -> None:
    """Keep the trained model for reuse (models/ is not versioned)."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    if fitted.backend == "gensim":
        fitted.model.save(str(stem.with_suffix(".gensim")))
    else:
        fitted.model.save(str(stem.with_suffix(".tomotopy.bin")))


def _fit_seeded(tc, codebook, cfg, settings, seed) -> dict[str, Any]:
    """Fit the seeded model with one backend; its labels, θ, coherence and training time."""
    domain_ids = list(codebook.domain_ids)
    n_free = int(cfg["seeded_free_topics"])
    tids = seeded_topic_ids(domain_ids, n_free)
    eta, seed_report = build_eta(
        tc.dictionary,
        codebook.seed_terms,
        domain_ids,
        n_free,
        settings.base_eta(len(tids)),
        float(cfg["seeded_weight"]),
    )
    t0 = time.perf_counter()
    fitted = fit_lda(tc.corpus, tc.dictionary, len(tids), settings, seed, eta=eta)
    seconds = time.perf_counter() - t0
    theta = fitted.doc_topics(tc.corpus)
    if cfg["unit"] == "item":
        theta_u, meta = aggregate_to_paragraphs(theta, tc.units)
    else:
        theta_u, meta = theta, tc.units[["unit_id", "doc_id", "n_tokens"]]
    labels, probs = label_units(
        theta_u, domain_ids, codebook.ids, codebook.other_id, float(cfg["seeded_min_share"])
    )
    out = (
        pd.concat(
            [
                meta[["unit_id", "doc_id"]].reset_index(drop=True),
                pd.Series(labels, name="seeded_domain", dtype=str),
                probs,
            ],
            axis=1,
        )
        .sort_values("unit_id", kind="stable")
        .reset_index(drop=True)
    )
    coh = coherence_scores(
        fitted.top_terms(int(cfg["coherence_topn"])), tc, int(cfg["coherence_topn"])
    )
    return {
        "backend": settings.backend,
        "fitted": fitted,
        "theta": theta,
        "tids": tids,
        "units": out,
        "labels": labels,
        "seed_report": seed_report,
        "seconds": seconds,
        "coherence": coh,
        "n_tokens": meta.set_index("unit_id")["n_tokens"],
    }


def _run_seeded(tc, codebook, cfg, settings, seed, paths, res) -> pd.DataFrame:
    """Seeded LDA with every compared backend; the default's outputs are written.

    Returns the chosen backend's unit table.
    """
    tables = paths["reports"] / "tables"
    w = res.written.append
    gold = load_gold(paths["annotations"], paths["prepared"])
    default = settings.backend
    backends = list(dict.fromkeys([default] + list(cfg.get("seeded_compare") or [])))
    runs, rows = {}, []
    for b in backends:
        b, note = available_backend(b)
        if note or b in runs:
            continue
        run = _fit_seeded(tc, codebook, cfg, LdaSettings.from_params({**cfg, "backend": b}), seed)
        runs[b] = run
        res.seconds[f"seeded LDA ({b})"] = run["seconds"]
        row: dict[str, Any] = {"backend": b}
        row.update({m: round(v, 4) for m, v in run["coherence"].items()})
        score = (
            score_seeded(run["units"], codebook, gold, cfg["unit"], res)
            if gold is not None
            else None
        )
        if score is not None:
            row.update({k: score[k] for k in ("n", "macro_f1", "accuracy", "doc_share_mae")})
        row["default"] = b == default
        rows.append(row)
    if len(rows) > 1:
        from research.topics.keyword import rank_backends

        comp = rank_backends(pd.DataFrame(rows), float(cfg["seeded_f1_tolerance"]))
        w(write_table(comp.round(4), tables / "seeded_backends.csv"))
        best = comp.loc[comp["chosen"], "backend"].iloc[0]
        res.metrics["seeded_backends"] = {
            "compared": comp["backend"].tolist(),
            "best_by_rule": best,
            "default": default,
        }
        if best != default:
            res.notes.append(
                f"seeded_backends.csv: {best} beats the default {default} by the stated rule; "
                "consider topics.seeded_backend"
            )
    run = runs[default]
    fitted, theta, tids = run["fitted"], run["theta"], run["tids"]
    domain_ids = list(codebook.domain_ids)
    w(write_table(run["seed_report"], tables / "seeded_seed_terms.csv"))
    vocab, tf = tc.vocab, tc.term_frequency()
    terms = topic_terms_cfg(fitted.topic_word, vocab, tf, cfg, tids)
    seeds_of = {d: set(codebook.seed_terms[d]) for d in domain_ids}
    terms.insert(
        1, "seed_term", [t in seeds_of.get(d, ()) for d, t in zip(terms["topic"], terms["term"])]
    )
    w(write_table(terms, tables / "seeded_topic_terms.csv"))
    w(write_table(doc_topics(theta, tc.units, tids), tables / "seeded_doc_topics.csv"))
    if cfg.get("html", True):
        w(
            _write_vis(
                fitted,
                theta,
                tc,
                vocab,
                tf,
                cfg,
                paths["reports"] / "topics" / "seeded_lda.html",
                title=f"Seeded LDA ({len(domain_ids)} domain topics + {len(tids) - len(domain_ids)} free)",
                note=f"Topics 1–{len(domain_ids)} are the codebook domains in order: "
                f"{', '.join(domain_ids)}; the rest are free topics.",
            )
        )
    out = run["units"]
    # tokens per unit: the analysis weighs document shares by them (seeded vs classifier)
    n_tokens = out["unit_id"].map(run["n_tokens"]).astype("int64")
    w(write_table(out.assign(n_tokens=n_tokens), paths["topics"] / "seeded_units.parquet"))
    coh = run["coherence"]
    res.metrics["seeded"] = {
        "k": len(tids),
        "topics": tids,
        "backend": default,
        **{m: round(v, 4) for m, v in coh.items()},
        "label_counts": {
            str(a): int(b) for a, b in sorted(pd.Series(run["labels"]).value_counts().items())
        },
        "seed_terms_in_vocab": int(run["seed_report"]["in_vocab"].sum()),
        "seed_terms_total": len(run["seed_report"]),
    }
    seeded_row = (
        None if gold is None else score_seeded(out, codebook, gold, cfg["unit"], res, note=True)
    )
    if seeded_row is None:  # an empty table, so the declared output exists (dvc repro)
        if gold is None:
            res.notes.append(
                f"no gold labels in {paths['annotations']}: seeded_eval.csv left empty"
            )
        row_cols = ["method", "cv", "n", "macro_f1", "accuracy"]
        table = pd.DataFrame(columns=row_cols)
    else:
        table = pd.DataFrame([seeded_row])
        floats = [c for c in table.columns if table[c].dtype.kind == "f"]
        table[floats] = table[floats].round(4)
    # the analysis reads the data/ copy (stage to stage); reports/ keeps one for people
    w(write_table(table, paths["topics"] / "seeded_eval.parquet"))
    w(write_table(table, tables / "seeded_eval.csv"))
    if seeded_row is not None:
        res.metrics["seeded_eval"] = {
            k: seeded_row[k] for k in ("n", "macro_f1", "accuracy", "doc_share_mae")
        }
    return out


def load_gold(path: Path, prepared: Path | None = None) -> pd.DataFrame | None:
    """unit_id → gold label from the annotations file, or None when not available.

    With ``prepared``, the labelled texts are checked against its paragraphs (anchors).
    """
    if not path.exists():
        return None
    ann = read_table(path)
    if "gold" not in ann.columns or "unit_id" not in ann.columns:
        return None
    paras = prepared / "paragraphs.parquet" if prepared is not None else None
    if paras is not None and paras.exists():
        from research.labels.anchors import check_anchors

        check_anchors(ann, read_table(paras), path, paras)
    ann = ann[["unit_id", "gold"]].astype(str)
    ann = ann[(ann["gold"].str.strip() != "") & (ann["gold"] != "nan")]
    return ann if len(ann) else None


def score_seeded(
    units: pd.DataFrame, codebook, gold: pd.DataFrame, unit: str, res, note: bool = False
) -> dict | None:
    """Seeded labels scored against gold with the shared evaluator: one comparison-table row
    (None, with a note when ``note``, if the units cannot be matched to the gold labels)."""
    if unit == "document":
        if note:
            res.notes.append(
                "unit=document: gold labels are per paragraph, seeded_eval.csv left empty"
            )
        return None
    from research.labels.evaluation import evaluate_labels

    df = units.merge(gold, on="unit_id", how="inner").sort_values("unit_id", kind="stable")
    if df.empty:
        if note:
            res.notes.append(
                "no unit ids in common with the gold labels: seeded_eval.csv left empty"
            )
        return None
    pcols = [f"p_{c}" for c in codebook.ids]
    proba = df[pcols].to_numpy(dtype=float)
    proba = proba / proba.sum(axis=1, keepdims=True)  # stored rounded: rows sum to 1 ± 1e-6
    result = evaluate_labels(
        df["gold"], df["seeded_domain"], codebook.ids, groups=df["doc_id"], proba=proba
    )
    return eval_row(result, "seeded_lda", "none (unsupervised)", codebook.ids)
