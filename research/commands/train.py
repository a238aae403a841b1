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

from research.config import project_paths

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
    from research.config import load_params, section
    from research.io import read_table
    from research.labels.codebook import load_codebook, resolve_codebook_path

    params = load_params(args.params)
    paths = project_paths(params)
    tr = section(params, "train")
    text_col = args.text_column or tr.get("text_column", "text")
    label_col = args.label_column or tr.get("label_column", "gold")
    group_col = args.group_column or tr.get("group_column", "doc_id")
    if args.group_column is None and not args.units:
        from research.io import read_table as _peek

        if group_col not in _peek(args.annotations).columns:
            print(
                f"note: no {group_col!r} column (give --group-column): grouped CV is skipped "
                "and the default model is trained"
            )
            group_col = None
    if args.units and not _matches_units(args.annotations, args.units):
        print(
            f"note: no unit_id of {args.annotations} is in {args.units}: it is a training set "
            "from other reports (e.g. the bundled one), so it is used as it is, without "
            "joining this corpus's units"
        )
        args.units = None
        if args.group_column is None and group_col not in read_table(args.annotations).columns:
            group_col = None
    cb = load_codebook(resolve_codebook_path(args.codebook, params))
    out = Path(args.out or Path(paths.get("models", "models")) / "classifier")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_training_table(
            args.annotations,
            cb,
            text_column=text_col,
            label_column=label_col,
            group_column=group_col,
            province_column=args.province_column
            or (
                "province" if not args.units and _has_column(args.annotations, "province") else None
            ),
            units_path=args.units,
            min_examples=int(tr.get("min_examples_per_class", 3)),
            allow_missing_classes=args.allow_missing_classes,
            params=params,
        )
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}")
    unlabeled = None
    if args.units:
        unlabeled = weak_pool(read_table(args.units), cb, params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        res = train_and_report(
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


def _matches_units(table: str, units: str) -> bool:
    """Whether any unit_id of the training table is a unit of the prepared corpus."""
    from research.io import read_table

    t = read_table(table)
    if "unit_id" not in t.columns:
        return False
    u = read_table(units)
    return bool(t["unit_id"].astype(str).isin(set(u["unit_id"].astype(str))).any())


def _has_column(table: str, column: str) -> bool:
    from research.io import read_table

    return column in read_table(table).columns
