"""``research learning-curve ANNOTATIONS``: how many of your own labels buy how much.

Simulated on the real gold you have: the reports are split into ``learning_curve.folds``
groups (GroupKFold; null = each report alone), each group is held out in turn, ``n``
units are drawn from the other reports' gold (random, stratified by document, or by
uncertainty), the classifier is trained on the base set plus those units (and on the
units alone), and scored on the held-out reports. Writes ``<reports>/tables/learning_curve.csv``; the figure
is drawn by ``research figures``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 32


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "learning-curve",
        help="macro-F1 against the number of your own labels (simulated on your gold)",
        description="Simulate labelling n units of your corpus (random, stratified or by "
        "uncertainty) and score the classifier on held-out reports, with and without the "
        "shipped base training set.",
    )
    p.add_argument("annotations", help="your annotated table (.csv, .parquet or .jsonl)")
    p.add_argument(
        "--units", default=None, help="prepared paragraphs.parquet (headings, provinces)"
    )
    p.add_argument(
        "--method",
        default=None,
        help="classifier candidate (default: the one --choice names, else the saved model's)",
    )
    p.add_argument(
        "--choice",
        default=None,
        help="choice.json written by `research evaluate`: use the candidate it chose (the "
        "pipeline's way: the curve then need not wait for `research train`)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="model folder whose card names the method (default: <models>/classifier)",
    )
    p.add_argument(
        "--codebook", default=None, help="codebook YAML (default: params paths.codebook)"
    )
    p.add_argument("--reports", default=None, help="reports folder (default: params paths.reports)")
    p.add_argument(
        "--skip-without-labels",
        action="store_true",
        help="(pipeline) no gold labels yet → write an empty table, say why, exit 0",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from research.classify.base_set import base_set_for
    from research.classify.data import load_training_table
    from research.classify.instrument import learning_curve
    from research.classify.persist import read_card
    from research.io import write_table
    from research.labels.codebook import load_codebook, resolve_codebook_path
    from research.settings import load_settings

    params = load_settings(args.params)
    tr = params.train
    out = Path(args.reports or params.paths.reports) / "tables" / "learning_curve.csv"
    if args.skip_without_labels:
        from research.labels.annotation import has_labels

        if not has_labels(args.annotations, tr.label_column):
            import pandas as pd

            print(f"learning-curve skipped: {args.annotations} has no gold labels yet")
            write_table(pd.DataFrame(columns=["n", "strategy", "macro_f1"]), out)
            return 0
    cb = load_codebook(resolve_codebook_path(args.codebook, params))
    method = args.method
    if method is None and args.choice:
        method = _chosen(Path(args.choice))
    if method is None:
        card = read_card(args.model or Path(params.paths.models) / "classifier")
        method = str(card.get("chosen", "svm_seeded"))
    gold = load_training_table(
        args.annotations,
        cb,
        text_column=tr.text_column,
        label_column=tr.label_column,
        group_column=tr.group_column,
        units_path=args.units,
        min_examples=0,
        allow_missing_classes=True,
        params=params,
    )
    base = base_set_for(params, list(cb.ids))
    table = learning_curve(gold, base, cb, params, method, log=print)
    print(f"wrote: {write_table(table, out)}")
    return 0


def _chosen(path: Path) -> str:
    """The candidate ``research evaluate`` chose, from its choice.json."""
    import json

    from research.errors import InputError

    try:
        chosen = json.loads(path.read_text(encoding="utf-8")).get("chosen")
    except (OSError, ValueError, AttributeError) as e:
        raise InputError(path, f"cannot read the evaluation's choice ({e})") from e
    if not isinstance(chosen, str) or not chosen:
        raise InputError(path, "names no chosen candidate; run `research evaluate` again")
    return chosen
