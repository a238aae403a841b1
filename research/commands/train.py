"""``research train ANNOTATIONS --out MODEL_DIR``: train and evaluate the domain classifier;
``research evaluate``: the evaluation alone (the pipeline's own stage).

Any annotated table (.csv/.parquet/.jsonl) with a text column and a label column. With a
group column (documents) ``train`` runs nested grouped cross-validation of the candidates
and baselines on real gold and writes the reports; then it fits the chosen model on all
rows and saves it with a model card. The pipeline splits the two, so that the evaluation
(most of the fitting) is computed once per change of its inputs::

    research evaluate seeds/annotations.csv --units data/prepared/paragraphs.parquet \\
        --documents data/prepared/documents.parquet --reports reports --out data/evaluation
    research train seeds/annotations.csv --units data/prepared/paragraphs.parquet \\
        --out models/classifier --choice data/evaluation/choice.json
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

ORDER = 30


def _data_args(p: argparse.ArgumentParser) -> None:
    """The arguments that say what the training data is (shared by train and evaluate)."""
    p.add_argument(
        "annotations",
        nargs="?",
        default=None,
        help="your annotated table (.csv, .parquet or .jsonl); omit to train on the base set alone",
    )
    p.add_argument("--text-column", default=None, help="column with the unit text (default: text)")
    p.add_argument("--label-column", default=None, help="column with the label (default: gold)")
    p.add_argument(
        "--group-column",
        default=None,
        help="column grouping units into documents for grouped CV (default: doc_id)",
    )
    p.add_argument(
        "--province-column",
        default=None,
        help="column with the province for leave-one-province-out CV (optional)",
    )
    p.add_argument(
        "--units",
        default=None,
        help="prepared paragraphs.parquet: joins heading/doc_id/province by unit_id "
        "and supplies unlabeled units for weak-label augmentation",
    )
    p.add_argument(
        "--documents",
        default=None,
        help="prepared documents.parquet: the province of each document, for "
        "leave-one-province-out (default: the one beside --units, with a note)",
    )
    p.add_argument(
        "--codebook", default=None, help="codebook YAML (default: params paths.codebook)"
    )
    p.add_argument(
        "--no-base-set",
        action="store_true",
        help="train on your annotations only, without the shipped base training set",
    )
    p.add_argument(
        "--allow-missing-classes",
        action="store_true",
        help="allow codebook categories with no example (they get probability 0)",
    )
    p.add_argument(
        "--if-unlabelled-base-set",
        action="store_true",
        help="(pipeline) annotations without labels yet → train on the base set alone, with a note",
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the domain classifier from annotations (grouped CV + model card)",
        description="Train the work-domain classifier from an annotated table, evaluate it "
        "and the baselines by nested grouped cross-validation (by document and by province), "
        "and save the chosen model with a model card.",
    )
    _data_args(p)
    p.add_argument("--out", default=None, help="model folder (default: <models>/classifier)")
    p.add_argument(
        "--reports",
        default=None,
        help="reports folder for CV metrics/tables (default: <MODEL_DIR>/reports)",
    )
    p.add_argument(
        "--evaluation",
        default=None,
        help="folder for the evaluation tables later stages read (cross-fitted predictions, "
        "scores; default: <reports>/evaluation)",
    )
    p.add_argument("--no-cv", action="store_true", help="skip the evaluation (just fit and save)")
    p.add_argument(
        "--choice",
        default=None,
        help="choice.json written by `research evaluate`: fit the method it chose, with its "
        "temperature, instead of evaluating again (it must match the data and params)",
    )
    p.set_defaults(func=run)
    e = sub.add_parser(
        "evaluate",
        help="evaluate the classifier candidates on real gold and choose one (no final fit)",
        description="The evaluation of `research train` alone: nested grouped cross-validation "
        "of the candidates and baselines on real gold (by document and by province), the "
        "reports, and OUT/choice.json (the chosen candidate and its temperature) for "
        "`research train --choice`.",
    )
    _data_args(e)
    e.add_argument(
        "--out",
        default=None,
        help="folder for choice.json and the tables later stages read (default: <data>/evaluation)",
    )
    e.add_argument(
        "--reports",
        default=None,
        help="reports folder for the evaluation's tables and metrics (default: params paths.reports)",
    )
    e.set_defaults(func=evaluate)


def _load(args: argparse.Namespace, params: Any) -> tuple[Any, Any]:
    """(training table or None, codebook) from the data arguments, with the notes they need."""
    from research.classify.data import load_training_table
    from research.labels.annotation import has_labels
    from research.labels.codebook import load_codebook, resolve_codebook_path

    tr = params.train
    text_col = args.text_column or tr.text_column
    label_col = args.label_column or tr.label_column
    group_col = args.group_column or tr.group_column
    if (
        args.if_unlabelled_base_set
        and args.annotations
        and not args.no_base_set
        and not has_labels(args.annotations, label_col)
    ):
        print(
            f"note: {args.annotations} has no {label_col!r} labels yet: training on the base set "
            "alone (the evaluation on real gold of this corpus is skipped)"
        )
        args.annotations = None
    if args.annotations and args.group_column is None and not args.units:
        from research.io import read_table as _peek

        if group_col not in _peek(args.annotations).columns:
            print(
                f"note: no {group_col!r} column (give --group-column): the evaluation on your "
                "gold is skipped and the method is chosen on the base set"
            )
            group_col = None
    cb = load_codebook(resolve_codebook_path(args.codebook, params))
    documents = args.documents
    if documents is None and args.units and not args.province_column:
        beside = Path(args.units).with_name("documents.parquet")
        if beside.exists():
            print(f"note: provinces from {beside} (give --documents to choose another table)")
            documents = str(beside)
    if not args.annotations:
        return None, cb
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_training_table(
            args.annotations,
            cb,
            text_column=text_col,
            label_column=label_col,
            group_column=group_col,
            province_column=args.province_column,
            units_path=args.units,
            documents_path=documents,
            min_examples=0 if not args.no_base_set else tr.min_examples_per_class,
            allow_missing_classes=not args.no_base_set or args.allow_missing_classes,
            params=params,
        )
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}")
    return table, cb


def _print_targets(evaluation: dict | None) -> None:
    if evaluation:
        print("\ntargets on real gold (selected procedure):")
        for name, t in evaluation["targets"].items():
            print(
                f"  {name}: {t['value']} (target {t['target']}): {'met' if t['met'] else 'NOT met'}"
            )


def run(args: argparse.Namespace) -> int:
    from research.classify.training import fit_final, read_choice, train_and_report
    from research.io import check_output
    from research.settings import load_settings

    params = load_settings(args.params)
    out = Path(args.out or Path(params.paths.models) / "classifier")
    check_output(out, "dir")  # before minutes of fitting, not after
    reports = Path(args.reports) if args.reports else out / "reports"
    evaluation = Path(args.evaluation) if args.evaluation else reports / "evaluation"
    if not args.choice and not args.no_cv:
        for d in (reports / "tables", reports / "metrics", evaluation):
            check_output(d, "dir")
    if args.no_base_set and not args.annotations:
        print("error: --no-base-set needs an annotations table")
        return 2
    table, cb = _load(args, params)
    use_base_set = False if args.no_base_set else None
    source = str(args.annotations or "base set")
    if args.choice:
        choice = read_choice(args.choice, table, cb, params, use_base_set)
        res = fit_final(table, cb, params, out, choice, source, use_base_set)
    else:
        res = train_and_report(
            table,
            cb,
            params,
            out,
            reports_dir=reports,
            evaluation_dir=evaluation,
            source=source,
            run_cv_flag=not args.no_cv,
            use_base_set=use_base_set,
        )
    _print_targets((res.card or {}).get("evaluation"))
    print(f"\nchosen model: {res.card['chosen']}")
    print("wrote:")
    for p in res.written:
        print(f"  {p}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from research.classify.training import evaluate_and_report
    from research.io import check_output
    from research.settings import load_settings

    params = load_settings(args.params)
    out = Path(args.out or Path(params.paths.data) / "evaluation")
    reports = Path(args.reports or params.paths.reports)
    for d in (out, reports / "tables", reports / "metrics"):
        check_output(d, "dir")  # before minutes of fitting, not after
    if args.no_base_set and not args.annotations:
        print("error: --no-base-set needs an annotations table")
        return 2
    table, cb = _load(args, params)
    use_base_set = False if args.no_base_set else None
    choice, written = evaluate_and_report(table, cb, params, reports, out, True, use_base_set)
    _print_targets(choice.get("evaluation"))
    print(f"\nchosen: {choice['chosen']} (temperature {choice['temperature']:.3f})")
    print("wrote:")
    for p in written:
        print(f"  {p}")
    return 0
