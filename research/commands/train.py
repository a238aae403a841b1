"""``research train ANNOTATIONS --out MODEL_DIR``: train and evaluate the domain classifier.

Any annotated table (.csv/.parquet/.jsonl) with a text column and a label column. With a
group column (documents) the command runs nested grouped cross-validation of every model
and baseline and writes the reports; then it fits the chosen model on all rows and saves
it with a model card. The pipeline runs it on the seed gold labels::

    research train seeds/annotations.csv --units data/prepared/paragraphs.parquet \\
        --out models/classifier --reports reports
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the domain classifier from annotations (grouped CV + model card)",
        description="Train the work-domain classifier from an annotated table, evaluate it "
        "and the baselines by nested grouped cross-validation (by document and by province), "
        "and save the chosen model with a model card.",
    )
    p.add_argument("annotations", help="annotated table (.csv, .parquet or .jsonl)")
    p.add_argument("--out", default=None, help="model folder (default: <models>/classifier)")
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
        "--codebook", default=None, help="codebook YAML (default: params paths.codebook)"
    )
    p.add_argument(
        "--reports",
        default=None,
        help="reports folder for CV metrics/tables (default: <MODEL_DIR>/reports)",
    )
    p.add_argument("--no-cv", action="store_true", help="skip cross-validation (just fit and save)")
    p.add_argument(
        "--allow-missing-classes",
        action="store_true",
        help="allow codebook categories with no example (they get probability 0)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from research.classify.data import load_training_table
    from research.classify.training import train_and_report, weak_pool
    from research.io import check_output, read_table
    from research.labels.codebook import load_codebook, resolve_codebook_path
    from research.settings import load_settings

    params = load_settings(args.params)
    tr = params.train
    text_col = args.text_column or tr.text_column
    label_col = args.label_column or tr.label_column
    group_col = args.group_column or tr.group_column
    if args.group_column is None and not args.units:
        from research.io import read_table as _peek

        if group_col not in _peek(args.annotations).columns:
            print(
                f"note: no {group_col!r} column (give --group-column): grouped CV is skipped "
                "and the default model is trained"
            )
            group_col = None
    cb = load_codebook(resolve_codebook_path(args.codebook, params))
    out = Path(args.out or Path(params.paths.models) / "classifier")
    check_output(out, "dir")  # before minutes of cross-validation, not after
    reports = Path(args.reports) if args.reports else out / "reports"
    for sub in ("tables", "metrics"):
        check_output(reports / sub, "dir")

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
            min_examples=tr.min_examples_per_class,
            allow_missing_classes=args.allow_missing_classes,
            params=params,
        )
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}")
    unlabeled = None
    if args.units:
        unlabeled = weak_pool(read_table(args.units), cb, params)
    res = train_and_report(  # warnings scoped inside (research.classify.cv.fit_warnings)
        table,
        cb,
        params,
        out,
        reports_dir=args.reports,
        unlabeled=unlabeled,
        source=str(args.annotations),
        run_cv_flag=not args.no_cv,
    )
    if res.report is not None:
        t = res.report.table
        show = t[t["cv"] == "by_document"][
            ["method", "macro_f1", "accuracy", "doc_share_mae", "brier", "ece"]
        ]
        print("\nleave-one-document-out (nested):")
        print(show.to_string(index=False))
        prov = t[t["cv"] == "by_province"]
        if len(prov):
            print("\nleave-one-province-out (nested):")
            print(
                prov[["method", "macro_f1", "accuracy", "doc_share_mae", "brier", "ece"]].to_string(
                    index=False
                )
            )
    print(f"\nchosen model: {res.card['chosen']}")
    print("wrote:")
    for p in res.written:
        print(f"  {p}")
    return 0
