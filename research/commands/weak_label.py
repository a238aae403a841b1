"""``research weak-label``: dictionary and heading weak labels for every body unit.

Reads ``<data>/prepared/paragraphs.parquet`` (body units), writes
``<data>/labels/weak_labels.parquet``, ``<reports>/tables/weak_label_eval.csv`` (coverage
and dict-vs-heading conflicts per source; accuracy against gold when the annotations file
has a ``gold`` column) and ``<reports>/metrics/weak_labels.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "weak-label",
        help="weak domain labels from codebook seed terms and section headings",
        description="Label every body unit with the codebook dictionary (weighted seed terms) "
        "and its section heading, combine the two, and evaluate them against gold annotations "
        "when available.",
    )
    p.add_argument(
        "--input", default=None, help="units table (default: <data>/prepared/paragraphs.parquet)"
    )
    p.add_argument(
        "--out",
        "--output",
        dest="output",
        default=None,
        help="output table (default: <data>/labels/weak_labels.parquet)",
    )
    p.add_argument(
        "--annotations",
        default=None,
        help="annotations with a gold column (default: params paths.annotations)",
    )
    p.add_argument(
        "--codebook", default=None, help="codebook YAML (default: params paths.codebook)"
    )
    p.add_argument("--reports", default=None, help="reports folder (default: params paths.reports)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from research.corpus.tokenize import TokenizerSettings, get_tokenizer
    from research.errors import InputError
    from research.io import check_output, read_table, write_table
    from research.labels.anchors import check_anchors
    from research.labels.codebook import load_codebook, resolve_codebook_path
    from research.labels.weak_labels import (
        evaluate_weak_labels,
        per_class_vs_gold,
        weak_label_table,
    )
    from research.settings import load_settings

    params = load_settings(args.params)
    paths = params.paths
    data = Path(paths.data)
    reports = Path(args.reports or paths.reports)
    src = Path(args.input or data / "prepared" / "paragraphs.parquet")
    out = Path(args.output or data / "labels" / "weak_labels.parquet")
    settings = params.weak_labels
    check_output(out)
    for sub in ("tables", "metrics"):
        check_output(reports / sub, "dir")
    cb = load_codebook(resolve_codebook_path(args.codebook, params))
    tok = get_tokenizer(TokenizerSettings.from_params(params.tokenize))

    units = read_table(src)
    for col in ("unit_id", "doc_id", "text"):
        if col not in units.columns:
            raise InputError(
                src, f"missing column {col!r} (have: {', '.join(map(str, units.columns))})"
            )
    if "kind" in units.columns:
        units = units[units["kind"] == "body"]
    units = units.reset_index(drop=True)
    if units.empty:
        raise InputError(src, "no body units to label")

    weak = weak_label_table(units, cb, tokenizer=tok, settings=settings)
    write_table(weak, out)

    gold = None
    ann_path = Path(args.annotations or paths.annotations)
    note = ""
    if ann_path.exists():
        ann = read_table(ann_path)
        if "gold" in ann.columns and "unit_id" in ann.columns:
            check_anchors(ann, units, ann_path, src)
            g = ann.set_index(ann["unit_id"].astype(str))["gold"].fillna("").astype(str).str.strip()
            g = g[g != ""]
            unknown = sorted(set(g) - set(cb.ids))
            if unknown:
                raise InputError(ann_path, f"gold labels not in the codebook: {', '.join(unknown)}")
            gold = g if len(g) else None
            if gold is None:
                note = f"note: {ann_path} has an empty gold column; accuracy not computed"
        else:
            note = f"note: {ann_path} has no unit_id/gold columns; accuracy not computed"
    else:
        note = f"note: no annotations at {ann_path}; accuracy against gold skipped"

    ev = evaluate_weak_labels(weak, gold)
    ev_path = write_table(ev, reports / "tables" / "weak_label_eval.csv")
    metrics = {
        "n_units": len(weak),
        "codebook": {"path": str(cb.path), "fingerprint": cb.fingerprint(), "version": cb.version},
        "settings": dict(sorted(settings.model_dump().items())),
        "label_counts": {
            src_col: {k: int(v) for k, v in sorted(weak[src_col].value_counts().items()) if k}
            for src_col in ("dict_label", "heading_label", "weak_label")
        },
        "source_counts": {
            (k or "none"): int(v) for k, v in sorted(weak["weak_source"].value_counts().items())
        },
        "eval": _records(ev),
        "gold_available": gold is not None,
    }
    if gold is not None:
        metrics["per_class_combined"] = per_class_vs_gold(weak, gold, cb.domain_ids + [cb.other_id])
    from research.provenance import write_metrics

    m_path = write_metrics(metrics, reports / "metrics" / "weak_labels.json", params)

    print(f"weak-label: {len(weak)} body units from {src}")
    with pd.option_context("display.width", 120):
        print(ev.to_string(index=False))
    if note:
        print(note)
    print(f"wrote: {out}, {ev_path}, {m_path}")
    return 0


def _records(df) -> list[dict]:
    import math

    recs = []
    for r in df.to_dict(orient="records"):
        recs.append(
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        )
    return recs
