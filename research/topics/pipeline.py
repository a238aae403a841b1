"""The ``topics`` stage: corpus → K sweep → unseeded LDA tables + LDAvis → seeded LDA + evaluation.

Everything is read from params (``seed``, ``paths``, ``tokenize``, ``topics``); see
``params.yaml`` for the meaning of each ``topics:`` key. Outputs (relative to the params
``paths.data`` / ``paths.reports`` / ``paths.models``):

- ``data/topics/``: tokens.txt, dictionary.txt, corpus.mm (the streamed corpus),
  units.parquet (unit_id, doc_id, para_unit_id, n_tokens in corpus order),
  unit_topics.parquet (long: unit_id, doc_id, topic, prop), seeded_units.parquet
  (unit_id, doc_id, seeded_domain, p_<id> for every codebook id).
- ``reports/tables/``: k_sweep.csv, topic_terms.csv, doc_topics.csv,
  seeded_topic_terms.csv, seeded_doc_topics.csv, seeded_seed_terms.csv, seeded_eval.csv
  (only when gold labels exist).
- ``reports/topics/lda.html`` and ``seeded_lda.html`` (offline LDAvis pages).
- ``reports/metrics/topics.json``: sizes, chosen K, coherence of the final models, eval.
"""

from __future__ import annotations

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
from research.topics.selection import coherence_scores, k_sweep
from research.topics.tables import (
    doc_topics,
    prevalence_order,
    topic_labels,
    topic_terms,
    unit_topics,
)


@dataclass
class TopicsResult:
    """What the stage wrote and the headline numbers (for the CLI summary)."""

    written: list[Path] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


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
    tc = build_corpus(
        units,
        paths["topics"],
        tok_settings,
        no_below=int(cfg["no_below"]),
        no_above=float(cfg["no_above"]),
        keep_n=cfg["keep_n"],
        extra_stopwords=cfg["extra_stopwords"],
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
    k = int(cfg["k"])
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
        )
        w(write_table(sweep, tables / "k_sweep.csv"))

    # --- unseeded LDA -------------------------------------------------------------
    fitted, theta = fit_unseeded(tc, k, settings, seed)
    topic_ids = list(range(1, k + 1))
    vocab, tf = tc.vocab, tc.term_frequency()
    terms = topic_terms(
        fitted.topic_word,
        vocab,
        tf,
        lam=float(cfg["relevance_lambda"]),
        frex_weight=float(cfg["frex_weight"]),
        top_n=int(cfg["top_n"]),
        topic_ids=topic_ids,
    )
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


def _run_seeded(tc, codebook, cfg, settings, seed, paths, res) -> None:
    domain_ids = list(codebook.domain_ids)
    n_free = int(cfg["seeded_free_topics"])
    tids = seeded_topic_ids(domain_ids, n_free)
    k = len(tids)
    eta, seed_report = build_eta(
        tc.dictionary,
        codebook.seed_terms,
        domain_ids,
        n_free,
        settings.base_eta(k),
        float(cfg["seeded_weight"]),
    )
    tables = paths["reports"] / "tables"
    w = res.written.append
    w(write_table(seed_report, tables / "seeded_seed_terms.csv"))
    fitted = fit_lda(tc.corpus, tc.dictionary, k, settings, seed, eta=eta)
    theta = fitted.doc_topics(tc.corpus)
    vocab, tf = tc.vocab, tc.term_frequency()
    terms = topic_terms(
        fitted.topic_word,
        vocab,
        tf,
        lam=float(cfg["relevance_lambda"]),
        frex_weight=float(cfg["frex_weight"]),
        top_n=int(cfg["top_n"]),
        topic_ids=tids,
    )
    seeds_of = {d: set(codebook.seed_terms[d]) for d in domain_ids}
    terms.insert(
        1, "seed_term", [t in seeds_of.get(d, ()) for d, t in zip(terms["topic"], terms["term"])]
    )
    w(write_table(terms, tables / "seeded_topic_terms.csv"))
    w(write_table(doc_topics(theta, tc.units, tids), tables / "seeded_doc_topics.csv"))
    if cfg["html"]:
        w(
            _write_vis(
                fitted,
                theta,
                tc,
                vocab,
                tf,
                cfg,
                paths["reports"] / "topics" / "seeded_lda.html",
                title=f"Seeded LDA ({len(domain_ids)} domain topics + {n_free} free)",
                note=f"Topics 1–{len(domain_ids)} are the codebook domains in order: "
                f"{', '.join(domain_ids)}; the rest are free topics.",
            )
        )

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
    w(write_table(out, paths["topics"] / "seeded_units.parquet"))
    coh = coherence_scores(
        fitted.top_terms(int(cfg["coherence_topn"])), tc, int(cfg["coherence_topn"])
    )
    res.metrics["seeded"] = {
        "k": k,
        "topics": tids,
        "backend": settings.backend,
        **{m: round(v, 4) for m, v in coh.items()},
        "label_counts": {
            str(a): int(b) for a, b in sorted(pd.Series(labels).value_counts().items())
        },
        "seed_terms_in_vocab": int(seed_report["in_vocab"].sum()),
        "seed_terms_total": len(seed_report),
    }
    evaluate_seeded(
        out,
        codebook,
        paths["annotations"],
        tables / "seeded_eval.csv",
        cfg["unit"],
        res,
        prepared=paths["prepared"],
    )


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


def evaluate_seeded(
    units: pd.DataFrame,
    codebook,
    ann_path: Path,
    out_path: Path,
    unit: str,
    res,
    prepared: Path | None = None,
) -> None:
    """Score seeded labels against gold with the shared evaluator; one comparison-table row."""
    gold = load_gold(ann_path, prepared)
    why = (
        f"no gold labels in {ann_path}"
        if gold is None
        else "unit=document: gold labels are per paragraph"
        if unit == "document"
        else ""
    )
    if why:  # an empty table, so the declared output exists (dvc repro) and says nothing
        res.notes.append(f"{why}: seeded_eval.csv left empty")
        write_table(pd.DataFrame(columns=["method", "cv", "n", "macro_f1", "accuracy"]), out_path)
        return
    from research.labels.evaluation import evaluate_labels

    df = units.merge(gold, on="unit_id", how="inner").sort_values("unit_id", kind="stable")
    if df.empty:
        res.notes.append(f"no unit ids in common with {ann_path}: seeded_eval.csv not written")
        return
    pcols = [f"p_{c}" for c in codebook.ids]
    result = evaluate_labels(
        df["gold"], df["seeded_domain"], codebook.ids, groups=df["doc_id"], proba=df[pcols]
    )
    row = eval_row(result, "seeded_lda", "none (unsupervised)", codebook.ids)
    table = pd.DataFrame([row])
    floats = [c for c in table.columns if table[c].dtype.kind == "f"]
    table[floats] = table[floats].round(4)
    res.written.append(write_table(table, out_path))
    res.metrics["seeded_eval"] = {k: row[k] for k in ("n", "macro_f1", "accuracy", "doc_share_mae")}
