"""``research annotate {export,import,agreement,suggest,reanchor}``: the annotation workflow."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from research.settings import PathsSettings

ORDER = 15


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "annotate",
        help="export units for annotation, import labels, measure agreement, suggest units",
        description="Annotation workflow: `export` units to a CSV and to Label Studio (with a "
        "labeling config built from the codebook), `import` filled CSVs or Label Studio exports, "
        "`agreement` between annotators (Cohen's kappa, Krippendorff's alpha, percent agreement), "
        "`suggest` the units the classifier is least sure about.",
    )
    p.add_argument(
        "--codebook", default=None, help="codebook YAML (default: params paths.codebook)"
    )
    asub = p.add_subparsers(dest="annotate_command", metavar="ACTION")

    e = asub.add_parser(
        "export", help="units → annotation CSV, Label Studio tasks JSON and labeling config XML"
    )
    e.add_argument(
        "--input",
        default=None,
        help="units table (default: <data>/prepared/paragraphs.parquet; body units)",
    )
    e.add_argument("--out-dir", default=None, help="output folder (default: <data>/annotation)")
    e.add_argument(
        "--name", default="units", help="file stem for <name>.csv and <name>.label_studio.json"
    )
    e.add_argument(
        "--sample", type=int, default=None, help="export a random sample of N units (seeded)"
    )
    e.add_argument("--doc", nargs="*", default=None, help="only these doc_ids")
    e.add_argument(
        "--exclude-annotated",
        action="store_true",
        help="leave out units that already have a gold label in params paths.annotations",
    )
    e.set_defaults(func=run_export)

    i = asub.add_parser(
        "import", help="filled CSV / Label Studio JSON export → tidy annotations table"
    )
    i.add_argument(
        "files",
        nargs="+",
        help="filled annotation CSV/Parquet/JSONL or Label Studio .json export(s)",
    )
    i.add_argument(
        "--out", default=None, help="output table (default: <data>/annotation/imported.csv)"
    )
    i.add_argument(
        "--label-column", default="label", help="primary label column of CSV input (default: label)"
    )
    i.add_argument(
        "--secondary-column", default="secondary", help="secondary label column of CSV input"
    )
    i.add_argument(
        "--annotator", default=None, help="annotator name (default: from the file or Label Studio)"
    )
    i.set_defaults(func=run_import)

    a = asub.add_parser("agreement", help="Cohen's kappa, Krippendorff's alpha, percent agreement")
    a.add_argument("files", nargs="+", help="annotation files (two or more, or one with --columns)")
    a.add_argument(
        "--columns",
        nargs="+",
        default=None,
        help="label columns of ONE file to compare (e.g. pass1 pass2)",
    )
    a.add_argument(
        "--label-column", default="label", help="label column when comparing files (default: label)"
    )
    a.add_argument("--reports", default=None, help="reports folder (default: params paths.reports)")
    a.add_argument(
        "--name", default="agreement", help="file stem of the outputs (default: agreement)"
    )
    a.set_defaults(func=run_agreement)

    s = asub.add_parser(
        "suggest", help="active learning: the N unlabelled units the model is least sure about"
    )
    s.add_argument("--n", type=int, default=50, help="how many units (default 50)")
    s.add_argument("--model", default=None, help="model folder (default: <models>/classifier)")
    s.add_argument(
        "--input", default=None, help="units table (default: <data>/prepared/paragraphs.parquet)"
    )
    s.add_argument(
        "--out", default=None, help="output CSV (default: <data>/annotation/suggested.csv)"
    )
    s.set_defaults(func=run_suggest)

    r = asub.add_parser(
        "reanchor",
        help="move gold labels to the units with the same text (after re-segmentation)",
        description="Unit ids follow segmentation: after a prepare setting changes, the same "
        "id can name another paragraph. This re-points every annotated row at the unit whose "
        "text (CJK, letters, digits) is the same, and lists rows whose text no unit has.",
    )
    r.add_argument(
        "--annotations", default=None, help="annotation table (default: params paths.annotations)"
    )
    r.add_argument(
        "--units", default=None, help="units table (default: <data>/prepared/paragraphs.parquet)"
    )
    r.add_argument("--out", default=None, help="where to write (default: over --annotations)")
    r.add_argument(
        "--drop-unmatched",
        action="store_true",
        help="leave out rows whose text matches no single unit (default: refuse and list them)",
    )
    r.set_defaults(func=run_reanchor)
    for action in (e, i, a, s, r):  # also accept --codebook after the action name
        action.add_argument(
            "--codebook",
            default=argparse.SUPPRESS,
            help="codebook YAML (default: params paths.codebook)",
        )
    p.set_defaults(func=lambda args: (p.print_help(), 1)[1])


def _ctx(args: argparse.Namespace):
    from research.labels.codebook import load_codebook, resolve_codebook_path
    from research.settings import load_settings

    params = load_settings(args.params)
    cb = load_codebook(resolve_codebook_path(args.codebook, params))
    return params, params.paths, cb


def _body_units(path: Path):
    from research.errors import InputError
    from research.io import read_table

    units = read_table(path)
    for col in ("unit_id", "text"):
        if col not in units.columns:
            raise InputError(
                path, f"missing column {col!r} (have: {', '.join(map(str, units.columns))})"
            )
    if "kind" in units.columns:
        units = units[units["kind"] == "body"]
    return units.reset_index(drop=True)


def _annotated_ids(paths: PathsSettings) -> set[str]:
    from research.io import read_table

    ann = Path(paths.annotations)
    if not ann.exists():
        return set()
    t = read_table(ann)
    if "unit_id" not in t.columns or "gold" not in t.columns:
        return set()
    g = t["gold"].fillna("").astype(str).str.strip()
    return set(t.loc[g != "", "unit_id"].astype(str))


def run_export(args: argparse.Namespace) -> int:
    from research.errors import InputError
    from research.io import write_text
    from research.labels.annotation import (
        export_csv,
        export_label_studio,
        label_config_xml,
        order_units,
    )

    params, paths, cb = _ctx(args)
    data = Path(paths.data)
    src = Path(args.input or data / "prepared" / "paragraphs.parquet")
    out_dir = Path(args.out_dir or data / "annotation")
    units = _body_units(src)
    if args.doc:
        units = units[units["doc_id"].astype(str).isin(args.doc)]
    if args.exclude_annotated:
        done = _annotated_ids(paths)
        units = units[~units["unit_id"].astype(str).isin(done)]
    if args.sample is not None and args.sample < len(units):
        units = units.sample(n=args.sample, random_state=params.seed)
    units = order_units(units)
    if units.empty:
        raise InputError(src, "no units to export")
    csv = export_csv(units, out_dir / f"{args.name}.csv")
    ls = export_label_studio(units, out_dir / f"{args.name}.label_studio.json")
    xml = write_text(label_config_xml(cb), out_dir / "label_config.xml")
    print(f"annotate export: {len(units)} units from {src}; labels: {', '.join(cb.ids)}")
    print(f"wrote: {csv}, {ls}, {xml}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    import pandas as pd

    from research.io import write_table
    from research.labels.annotation import read_annotations

    params, paths, cb = _ctx(args)
    out = Path(args.out or Path(paths.data) / "annotation" / "imported.csv")
    frames = [
        read_annotations(
            f,
            cb,
            label_column=args.label_column,
            secondary_column=args.secondary_column,
            annotator=args.annotator,
        )
        for f in args.files
    ]
    tidy = pd.concat(frames, ignore_index=True).sort_values(["unit_id", "annotator"], kind="stable")
    dup = tidy[tidy.duplicated(["unit_id", "annotator"])]
    if len(dup):
        from research.errors import InputError

        raise InputError(
            args.files[-1],
            f"unit_id {dup['unit_id'].iloc[0]!r} labelled twice by annotator "
            f"{dup['annotator'].iloc[0]!r} across the input files",
        )
    write_table(tidy.reset_index(drop=True), out)
    counts = tidy["label"].value_counts()
    print(
        f"annotate import: {len(tidy)} labelled units from {len(args.files)} file(s), "
        f"{tidy['annotator'].nunique()} annotator(s)"
    )
    print("labels: " + ", ".join(f"{c}={int(counts.get(c, 0))}" for c in cb.ids))
    print(f"wrote: {out}")
    return 0


def run_agreement(args: argparse.Namespace) -> int:
    from research.io import write_table
    from research.labels.annotation import (
        agreement,
        by_category_table,
        disagreements,
        wide_from_files,
    )

    params, paths, cb = _ctx(args)
    reports = Path(args.reports or paths.reports)
    wide, raters = wide_from_files(
        args.files, cb, columns=args.columns, label_column=args.label_column
    )
    res = agreement(wide, raters, cb)
    res["files"] = [str(f) for f in args.files]
    dis = disagreements(wide, raters)
    res["n_disagreements"] = len(dis)
    from research.provenance import write_metrics

    m = write_metrics(res, reports / "metrics" / f"{args.name}.json", params)
    t = write_table(by_category_table(res), reports / "tables" / f"{args.name}_by_category.csv")
    d = write_table(dis, reports / "tables" / f"{args.name}_disagreements.csv")
    print(f"annotate agreement: raters {', '.join(raters)}; {res['n_units']} units labelled by all")
    print(
        f"  percent agreement {res['percent_agreement']}, Cohen's kappa {res['kappa']}, "
        f"Krippendorff's alpha {res['alpha']}; {len(dis)} disagreements"
    )
    for cid in cb.ids:
        s = res["per_category"][cid]
        print(f"  {cid:<13} kappa {s['kappa']}  alpha {s['alpha']}")
    print(f"wrote: {m}, {t}, {d}")
    return 0


def run_suggest(args: argparse.Namespace) -> int:
    from research.errors import ResearchError
    from research.labels.annotation import export_csv, order_units

    params, paths, cb = _ctx(args)
    data = Path(paths.data)
    model_dir = Path(args.model or Path(paths.models) / "classifier")
    src = Path(args.input or data / "prepared" / "paragraphs.parquet")
    out = Path(args.out or data / "annotation" / "suggested.csv")
    try:
        from research.classify.active_learning import suggest  # provided by the classifier owner
    except ImportError as exc:
        raise ResearchError(
            "annotate suggest: active learning is not available (research.classify.active_learning.suggest "
            f"could not be imported: {exc})"
        ) from exc
    units = _body_units(src)
    done = _annotated_ids(paths)
    pool = order_units(units[~units["unit_id"].astype(str).isin(done)])
    picked = suggest(model_dir, pool, int(args.n), params.seed)
    picked = picked.merge(
        pool.drop(columns=[c for c in picked.columns if c != "unit_id" and c in pool.columns]),
        on="unit_id",
        how="left",
    )
    extra = [c for c in ("uncertainty",) if c in picked.columns]
    export_csv(picked, out, extra=extra)
    print(f"annotate suggest: {len(picked)} of {len(pool)} unlabelled units (model {model_dir})")
    print(f"wrote: {out}")
    return 0


def run_reanchor(args: argparse.Namespace) -> int:
    from research.errors import InputError
    from research.io import read_table, write_table
    from research.labels.anchors import reanchor

    _, paths, _ = _ctx(args)
    ann_path = Path(args.annotations or paths.annotations)
    units_path = Path(args.units or Path(paths.data) / "prepared" / "paragraphs.parquet")
    out = Path(args.out or ann_path)
    ann = read_table(ann_path)
    for col in ("unit_id", "text"):
        if col not in ann.columns:
            raise InputError(ann_path, f"missing column {col!r}: labels cannot be re-anchored")
    table, moved, lost = reanchor(ann, read_table(units_path), args.drop_unmatched)
    if lost and not args.drop_unmatched:
        raise InputError(
            ann_path,
            f"{len(lost)} row(s) have a text that no single unit of {units_path} has "
            f"({', '.join(lost[:10])}{' …' if len(lost) > 10 else ''}); re-annotate them, "
            "or give --drop-unmatched to leave them out",
        )
    write_table(table, out)
    print(f"annotate reanchor: {len(moved)} of {len(ann)} rows moved, {len(lost)} left out")
    for m in moved[:20]:
        print(f"  {m}")
    print(f"wrote: {out}")
    return 0
