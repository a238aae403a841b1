"""The training stage end to end: table → grouped CV reports → chosen model + model card.

Used by ``research train`` for a researcher's own annotations and by the pipeline on the
seed gold labels (same code, different arguments).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from research.classify.cv import fit_warnings
from research.classify.experiment import (
    SELECTED,
    CVReport,
    _weak_augment,
    fit_final,
    model_params,
    run_cv,
    select_final,
)
from research.classify.persist import data_hash, save_model
from research.config import params_hash
from research.io import write_table
from research.provenance import write_metrics
from research.settings import settings_of


@dataclass
class TrainResult:
    """What the training stage produced."""

    model: Any
    card: dict[str, Any]
    written: list[Path] = field(default_factory=list)
    report: CVReport | None = None


def weak_pool(units: pd.DataFrame, codebook: Any, params: dict) -> pd.DataFrame:
    """Weak labels (dictionary + heading) for body units: unit_id, text, heading, group, weak_label."""
    from research.corpus.tokenize import TokenizerSettings, get_tokenizer
    from research.labels.weak_labels import weak_label_table

    u = units
    if "kind" in u.columns:
        u = u[u["kind"] == "body"]
    u = u.reset_index(drop=True)
    if len(u) == 0:
        return pd.DataFrame(columns=["unit_id", "text", "heading", "group", "weak_label"])
    if "heading" not in u.columns:
        u = u.assign(heading="")
    s = settings_of(params)
    tok = get_tokenizer(TokenizerSettings.from_params(s.tokenize))
    wl = weak_label_table(u, codebook, tokenizer=tok, settings=s.weak_labels)
    m = (
        u[["unit_id", "doc_id", "text", "heading"]]
        .astype(str)
        .merge(wl[["unit_id", "weak_label"]].astype(str), on="unit_id", how="left")
    )
    return m.rename(columns={"doc_id": "group"}).fillna("")


def _cv_outputs(rep: CVReport, reports_dir: Path, labels: list[str]) -> list[Path]:
    tables = reports_dir / "tables"
    written = [write_table(rep.table, tables / "classifier_cv.csv")]
    conf = rep.confusion
    main_cv = "by_document"
    written.append(
        write_table(conf[conf["cv"] == main_cv].drop(columns="cv"), tables / "confusion_matrix.csv")
    )
    written.append(write_table(conf, tables / "confusion_matrix_all.csv"))
    pred = rep.predictions
    sel = pred[(pred["method"] == SELECTED) & (pred["cv"] == main_cv)]
    cols = (
        ["unit_id", "doc_id", "province", "gold", "pred"]
        + [f"p_{i}" for i in labels]
        + ["method", "cv"]
    )
    written.append(
        write_table(
            sel[cols].sort_values("unit_id").reset_index(drop=True), tables / "cv_predictions.csv"
        )
    )
    written.append(
        write_table(
            pred[cols].sort_values(["method", "cv", "unit_id"]).reset_index(drop=True),
            tables / "cv_predictions_all.csv",
        )
    )
    return written


def train_and_report(
    table: pd.DataFrame,
    codebook: Any,
    params: dict,
    out_dir: str | Path,
    reports_dir: str | Path | None = None,
    unlabeled: pd.DataFrame | None = None,
    source: str = "",
    run_cv_flag: bool = True,
    log: Any = print,
) -> TrainResult:
    """Grouped CV of every method (if ≥2 groups), choose, fit on all data, save with card."""
    t0 = time.time()
    labels = list(codebook.ids)
    train = settings_of(params).train
    n_groups = table["group"].nunique()
    rep = None
    written: list[Path] = []
    use_weak = False
    summary: dict[str, Any] = {}
    convergence: dict[str, list[str]] = {"cross_validation": [], "selection": [], "final_model": []}
    if run_cv_flag and n_groups >= 2:
        log(f"grouped CV on {len(table)} units in {n_groups} groups …")
        with fit_warnings() as cv_conv:
            rep = run_cv(table, codebook, params, unlabeled=unlabeled, log=log)
        convergence["cross_validation"] = rep.convergence + [
            w for w in cv_conv if w not in rep.convergence
        ]
        by = {(r.method, r.cv): r for r in rep.table.itertuples()}
        if ("lr_seeded+weak", "by_document") in by:
            gain = (
                by[("lr_seeded+weak", "by_document")].macro_f1
                - by[("lr_seeded", "by_document")].macro_f1
            )
            use_weak = bool(gain > 0)
            log(
                f"  weak-label augmentation: macro-F1 {gain:+.4f} by document → "
                f"{'kept' if use_weak else 'not used'}"
            )
        for (m, cv), r in sorted(by.items()):
            summary.setdefault(m, {})[cv] = {
                "macro_f1": r.macro_f1,
                "accuracy": r.accuracy,
                "doc_share_mae": r.doc_share_mae,
                "brier": r.brier,
                "ece": r.ece,
            }
    elif run_cv_flag:
        log("note: fewer than two groups — grouped CV skipped (give --group-column)")
    with fit_warnings() as sel_conv:
        cand, scores, temperature = select_final(table, codebook, params, unlabeled, use_weak)
    convergence["selection"] = sel_conv
    aug = _weak_augment(table, unlabeled, train.weak_label_weight) if use_weak else None
    with fit_warnings() as final_conv:
        model = fit_final(cand, table, aug, temperature)
    convergence["final_model"] = final_conv
    for stage, found in convergence.items():
        if found:
            log(f"warning: {len(found)} convergence warning(s) in {stage} (see model_card.json)")
    card = {
        "task": "work-domain classification of report units",
        "source": source,
        "n_train": len(table),
        "n_weak": len(aug.y) if aug is not None else 0,
        "groups": int(n_groups),
        "label_counts": {k: int(v) for k, v in table["label"].value_counts().sort_index().items()},
        "training_data_sha256": data_hash(table),
        "codebook_path": str(codebook.path),
        "codebook_fingerprint": codebook.fingerprint(),
        "labels": labels,
        "chosen": cand.key,
        "temperature": temperature,
        "selection": {
            "cv": "leave-one-document-out on all training data; highest macro-F1, "
            "ties within 0.01 decided by the lower Brier score",
            "macro_f1": {k: round(v[0], 4) for k, v in sorted(scores.items())},
            "brier": {k: round(v[1], 4) for k, v in sorted(scores.items())},
        },
        "params": model_params(model),
        "train_params": train.model_dump(),
        "train_params_hash": params_hash(train.model_dump()),
        "metrics": summary,
        "weak_labels_used": use_weak,
        # distinct sklearn ConvergenceWarnings met while fitting (empty lists: none)
        "convergence_warnings": convergence,
    }
    written += save_model(model, out_dir, card)
    if rep is not None:
        reports_dir = Path(reports_dir) if reports_dir else Path(out_dir) / "reports"
        written += _cv_outputs(rep, reports_dir, labels)
        metrics = {
            "n_units": len(table),
            "n_groups": int(n_groups),
            "labels": labels,
            "methods": rep.metrics,
            "chosen_per_fold": rep.chosen,
            "final_model": cand.key,
            "weak_labels_used": use_weak,
            "comparison": _comparison(rep.table),
            "notes": [
                "Outer CV: leave-one-document-out (by_document) and leave-one-province-out "
                "(by_province); model family and hyper-parameters chosen by inner grouped CV on "
                "the training documents of each outer fold only (nested).",
                "'selected' is the selection procedure that produced the saved model; its "
                "nested score is the honest estimate. Rows of single families also had their "
                "hyper-parameters chosen by inner CV, but picking the best family after seeing "
                "them would be optimistic.",
                "'+weak' rows (if any) add weakly labelled units without gold labels (from the "
                "prepared corpus, including held-out documents: transductive) at "
                "train.weak_label_weight; no gold label of a test document is used.",
                "doc_share_mae uses hard labels; doc_share_mae_proba probability-weighted shares.",
                "Probabilities of every model method are tempered (p^(1/T)) with a temperature "
                "fitted by log-loss on the inner out-of-fold probabilities of the training "
                "folds (train.temperature); baselines are not tempered.",
            ],
        }
        written.append(write_metrics(metrics, reports_dir / "metrics" / "classifier.json", params))
    log(f"trained {cand.key} on {len(table)} units in {time.time() - t0:.1f}s")
    return TrainResult(model=model, card=card, written=written, report=rep)


def _comparison(tab: pd.DataFrame) -> list[dict[str, Any]]:
    """Selected model vs plain TF-IDF + LR vs dictionary, per CV scheme."""
    out = []
    for cv in sorted(tab["cv"].unique()):
        t = tab[tab["cv"] == cv].set_index("method")
        if SELECTED not in t.index or "lr_plain" not in t.index:
            continue
        row = {"cv": cv}
        for m in ("majority", "dictionary", "lr_plain", "lr_seeded", "lr_seeded+weak", SELECTED):
            if m in t.index:
                row[f"{m}_macro_f1"] = float(t.loc[m, "macro_f1"])
        row["gain_over_lr_plain"] = round(
            float(t.loc[SELECTED, "macro_f1"] - t.loc["lr_plain", "macro_f1"]), 4
        )
        out.append(row)
    return out
