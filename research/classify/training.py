"""The training stage end to end: table → grouped CV reports → chosen model + model card.

Used by ``research train`` for a researcher's own annotations and by the pipeline on the
seed gold labels (same code, different arguments).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from research.classify.calibration import fit_warnings
from research.classify.instrument import SELECTED, model_params
from research.classify.persist import data_hash, save_model
from research.config import params_hash
from research.io import write_json, write_table
from research.provenance import write_metrics
from research.settings import Params, Settings, settings_of


@dataclass
class TrainResult:
    """What the training stage produced."""

    model: Any
    card: dict[str, Any]
    written: list[Path] = field(default_factory=list)
    report: Any = None


def _evaluation_outputs(ev: Any, reports_dir: Path, evaluation_dir: Path) -> list[Path]:
    """Tables of the evaluation on real gold: for people in ``reports_dir/tables``; the two
    that later stages read (scores, the selected method's cross-fitted predictions) also
    in ``evaluation_dir`` (``<data>/evaluation``) as Parquet."""
    tables = reports_dir / "tables"
    written = [
        write_table(ev.scores, evaluation_dir / "classifier_cv.parquet"),
        write_table(ev.scores, tables / "classifier_cv.csv"),
        write_table(ev.per_class, tables / "classifier_per_class.csv"),
        write_table(ev.paired, tables / "classifier_paired.csv"),
        write_table(ev.calibration, tables / "classifier_calibration.csv"),
        write_table(ev.other_confusion, tables / "classifier_other_confusion.csv"),
    ]
    if len(ev.selection):
        written.append(write_table(ev.selection, tables / "classifier_selection.csv"))
    pred = ev.predictions.rename(columns={"group": "doc_id"})
    conf = (
        pred.groupby(["method", "cv", "gold", "pred"])
        .size()
        .rename("count")
        .reset_index()
        .rename(columns={"gold": "true"})
    )
    written.append(
        write_table(
            conf[conf["cv"] == "by_document"].drop(columns="cv"), tables / "confusion_matrix.csv"
        )
    )
    written.append(write_table(conf, tables / "confusion_matrix_all.csv"))
    sel = pred[(pred["method"] == SELECTED) & (pred["cv"] == "by_document")]
    sel = sel.sort_values("unit_id").reset_index(drop=True)
    written.append(write_table(sel, evaluation_dir / "cv_predictions.parquet"))
    written.append(write_table(sel, tables / "cv_predictions.csv"))
    written.append(
        write_table(
            pred.sort_values(["method", "cv", "unit_id"]).reset_index(drop=True),
            tables / "cv_predictions_all.csv",
        )
    )
    return written


def _choose(
    gold: pd.DataFrame | None,
    base: pd.DataFrame | None,
    codebook: Any,
    st: Settings,
    evaluate: bool,
    log: Any,
) -> tuple[str, Any, float]:
    """(candidate, evaluation or None, temperature) by the rule in the module docstring."""
    from research.classify.calibration import fit_temperature
    from research.classify.instrument import evaluate_on_gold, select_candidate

    labels = list(codebook.ids)
    names = list(st.train.candidates)
    n_docs = int(gold["group"].nunique()) if gold is not None else 0
    if evaluate and gold is not None and n_docs >= 2:
        where = (
            f", base set of {len(base)} written paragraphs always in training"
            if base is not None
            else ""
        )
        log(f"evaluation on real gold: {len(gold)} units in {n_docs} documents{where}")
        ev = evaluate_on_gold(gold, base, codebook, st, log=log)
        held = ev.predictions[
            (ev.predictions["method"] == SELECTED) & (ev.predictions["cv"] == "by_document")
        ]
        temperature = fit_temperature(
            held[[f"p_{lab}" for lab in labels]].to_numpy(), held["gold"], labels
        )
        return ev.selected, ev, temperature
    if evaluate and base is not None:
        log(
            "fewer than two gold reports: the method is chosen on the base set (leave-one-writer-out)"
        )
        return select_candidate(base, codebook, st, names)[0], None, 1.0
    return names[0], None, 1.0


#: the file the evaluation leaves for the final fit (``research train --choice``)
CHOICE = "choice.json"


def choice_params(st: Settings) -> dict[str, Any]:
    """The train params the evaluation's choice depends on (not the learning curve's, nor
    the number of processes, which never changes a result)."""
    from research.pipeline import NOT_EVALUATION

    return {k: v for k, v in st.train.model_dump().items() if k not in NOT_EVALUATION}


def _data(
    table: pd.DataFrame | None, st: Settings, labels: list[str], use_base_set: bool | None
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame]:
    """(gold or None, base set or None, the final model's training table)."""
    from research.classify.base_set import base_set_for, combine

    if use_base_set is None:
        use_base_set = st.train.base_set
    base = base_set_for(st, labels) if use_base_set else None
    gold = table if table is not None and len(table) else None
    return gold, base, combine(gold, base, st.train.gold_weight)


def evaluate_and_report(
    table: pd.DataFrame | None,
    codebook: Any,
    params: Params,
    reports_dir: str | Path,
    evaluation_dir: str | Path,
    run_cv_flag: bool = True,
    use_base_set: bool | None = None,
    log: Any = print,
    write_choice: bool = True,
) -> tuple[dict[str, Any], list[Path]]:
    """Evaluate on the real gold in ``table`` and choose the method (no final fit).

    Writes the evaluation's tables for people (``reports_dir``), the two later stages read
    (``evaluation_dir``) and ``evaluation_dir/choice.json``: the chosen candidate, its
    temperature and the evaluation's targets, keyed by the training data, the codebook and
    the train params, for :func:`fit_final`. Returns (choice, written files).
    """
    labels = list(codebook.ids)
    st = settings_of(params)
    gold, base, train_table = _data(table, st, labels, use_base_set)
    n_docs = int(gold["group"].nunique()) if gold is not None else 0
    written: list[Path] = []
    with fit_warnings() as convergence:
        chosen, ev, temperature = _choose(gold, base, codebook, st, run_cv_flag, log)
    choice = {
        "chosen": chosen,
        "temperature": temperature,
        "evaluation": ev.summary if ev is not None else None,
        "gold_documents": n_docs,
        "n_base_set": 0 if base is None else len(base),
        "convergence_warnings": convergence,
        "training_data_sha256": data_hash(train_table),
        "codebook_fingerprint": codebook.fingerprint(),
        "train_params_hash": params_hash(choice_params(st)),
    }
    if ev is not None:
        assert gold is not None  # an evaluation is only made on gold
        written += _evaluation_outputs(ev, Path(reports_dir), Path(evaluation_dir))
        scores = ev.scores.round(4)
        metrics = {
            "n_gold_units": len(gold),
            "n_gold_documents": n_docs,
            "n_base_set": choice["n_base_set"],
            "labels": labels,
            "final_model": chosen,
            "temperature": temperature,
            "scores": scores.to_dict(orient="records"),
            "targets": ev.summary["targets"],
            "notes": [
                "Evaluated on real gold only; the base set (written by language-model sessions) is "
                "training data, never test data.",
                "base_only: base set alone → every gold unit; by_document / by_province: one real "
                "report (province) held out, the base set and the other reports' gold in training.",
                "'selected' is the nested selection procedure (the candidate chosen on the training "
                "documents of each fold); intervals: document-cluster bootstrap, paired for "
                "differences (classifier_paired.csv).",
            ],
        }
        path = Path(reports_dir) / "metrics" / "classifier.json"
        written.append(write_metrics(metrics, path, params))
    if write_choice:
        written.append(write_json(choice, Path(evaluation_dir) / CHOICE))
    return choice, written


def read_choice(
    path: str | Path,
    table: pd.DataFrame | None,
    codebook: Any,
    params: Params,
    use_base_set: bool | None = None,
) -> dict[str, Any]:
    """The evaluation's choice from ``path``, checked against this training data, codebook
    and train params (a stale choice is an error naming what changed)."""
    from research.errors import InputError

    path = Path(path)
    try:
        choice = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(
            path, f"cannot read the evaluation's choice ({e}); run `research evaluate`"
        ) from e
    st = settings_of(params)
    _, _, train_table = _data(table, st, list(codebook.ids), use_base_set)
    now = {
        "training_data_sha256": data_hash(train_table),
        "codebook_fingerprint": codebook.fingerprint(),
        "train_params_hash": params_hash(choice_params(st)),
    }
    stale = [k for k, v in now.items() if choice.get(k) != v]
    if stale:
        raise InputError(
            path,
            f"made for other {', '.join(k.split('_sha')[0].replace('_', ' ') for k in stale)}; "
            "run `research evaluate` again (or `research run`)",
        )
    return choice


def fit_final(
    table: pd.DataFrame | None,
    codebook: Any,
    params: Params,
    out_dir: str | Path,
    choice: dict[str, Any],
    source: str = "",
    use_base_set: bool | None = None,
    log: Any = print,
) -> TrainResult:
    """Fit the chosen candidate on the base set + all gold, temper it, save it with its card."""
    from research.classify.base_set import describe
    from research.classify.instrument import make_candidate
    from research.classify.models import TemperedClassifier

    t0 = time.time()
    labels = list(codebook.ids)
    st = settings_of(params)
    tr = st.train
    gold, base, train_table = _data(table, st, labels, use_base_set)
    chosen, temperature = str(choice["chosen"]), float(choice["temperature"])
    with fit_warnings() as convergence:
        est = make_candidate(chosen, codebook, st.tokenize.model_dump(), st.seed)
        model = TemperedClassifier(est, temperature).fit(
            train_table[["text", "heading"]],
            train_table["label"].to_numpy(),
            sample_weight=train_table["weight"].to_numpy(),
        )
    card = {
        "task": "work-domain classification of report units",
        "source": source,
        "training_data": {
            "counts": describe(train_table),
            "base_set": "written by language-model sessions, labelled blind by others (training data only)"
            if base is not None
            else "not used",
            "gold_weight": tr.gold_weight,
        },
        "n_train": len(train_table),
        "gold_documents": int(gold["group"].nunique()) if gold is not None else 0,
        "training_data_sha256": data_hash(train_table),
        "codebook_path": str(codebook.path),
        "codebook_fingerprint": codebook.fingerprint(),
        "labels": labels,
        "chosen": chosen,
        "temperature": temperature,
        "selection": "nested: leave-one-gold-document-out among the candidates (base set always in "
        "training); without ≥ 2 gold documents, leave-one-writer-out on the base set",
        "params": model_params(model),
        "train_params": tr.model_dump(),
        "train_params_hash": params_hash(tr.model_dump()),
        "evaluation": choice.get("evaluation"),
        "convergence_warnings": list(
            dict.fromkeys([*choice.get("convergence_warnings", []), *convergence])
        ),
    }
    written = save_model(model, out_dir, card)
    log(f"trained {chosen} on {len(train_table)} units in {time.time() - t0:.1f}s")
    return TrainResult(model=model, card=card, written=written, report=None)


def train_and_report(
    table: pd.DataFrame | None,
    codebook: Any,
    params: Params,
    out_dir: str | Path,
    reports_dir: str | Path | None = None,
    evaluation_dir: str | Path | None = None,
    source: str = "",
    run_cv_flag: bool = True,
    use_base_set: bool | None = None,
    log: Any = print,
) -> TrainResult:
    """Evaluate on the real gold in ``table`` (if ≥ 2 documents), choose, fit, save.

    Training data = the shipped base set (unless ``use_base_set`` is False or
    ``train.base_set`` is off) + the gold units of ``table`` weighted ``train.gold_weight``.
    Evaluation uses real gold only (:mod:`research.classify.instrument`); with fewer than two
    gold documents the method is chosen on the base set alone (leave-one-writer-out).
    The evaluation's tables go to ``reports_dir`` (default ``out_dir/reports``) and the ones
    later stages read to ``evaluation_dir`` (default ``reports_dir/evaluation``).
    :func:`evaluate_and_report` then :func:`fit_final` (the pipeline runs them as two stages).
    """
    reports = Path(reports_dir) if reports_dir else Path(out_dir) / "reports"
    ev_dir = Path(evaluation_dir) if evaluation_dir else reports / "evaluation"
    choice, written = evaluate_and_report(
        table, codebook, params, reports, ev_dir, run_cv_flag, use_base_set, log, False
    )
    res = fit_final(table, codebook, params, out_dir, choice, source, use_base_set, log)
    res.written = res.written + written
    return res
