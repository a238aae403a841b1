"""``research annotate {export,import,agreement,suggest,reanchor}``: the annotation workflow."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from research.settings import PathsSettings, Settings


ORDER = 15


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "annotate",
        help="export units for annotation, import labels, measure agreement, suggest units",
        description="Annotation workflow: `export` units to a CSV and to Label Studio (with a "
        "labeling config built from the codebook), `import` filled CSVs or Label Studio exports, "
        "`agreement` between annotators (Cohen's kappa, Krippendorff's alpha, percent agreement), "
        "`suggest` units to annotate next (by uncertainty, or a random/stratified sample).",
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
    e.add_argument(
        "--out",
        "--out-dir",
        dest="out",
        default=None,
        help="output folder (default: <data>/annotation)",
    )
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
        help="filled annotation CSV/XLSX/Parquet/JSONL, or Label Studio JSON, JSON-MIN or "
        "CSV export(s)",
    )
    i.add_argument(
        "--out", default=None, help="output table (default: <data>/annotation/imported.csv)"
    )
    i.add_argument(
        "--label-column",
        default=None,
        help="primary label column/field (default: label; Label Studio: from the config or "
        "the export)",
    )
    i.add_argument("--secondary-column", default="secondary", help="secondary label column/field")
    i.add_argument(
        "--config",
        default=None,
        help="Label Studio labeling config XML naming the fields (default: label_config.xml "
        "beside the export, if any)",
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
        "--annotator-column",
        default=None,
        help="long table (e.g. from `annotate import`): the column naming the annotator; each "
        "annotator is a rater (default: params annotate.annotator_column when the file has it)",
    )
    a.add_argument(
        "--label-column",
        default=None,
        help="label column when comparing files or a long table (default: label)",
    )
    a.add_argument(
        "--skip-without-labels",
        action="store_true",
        help="(pipeline) fewer than two raters' labels → write empty outputs, say why, exit 0",
    )
    a.add_argument("--reports", default=None, help="reports folder (default: params paths.reports)")
    a.add_argument(
        "--name", default="agreement", help="file stem of the outputs (default: agreement)"
    )
    a.set_defaults(func=run_agreement)

    s = asub.add_parser(
        "suggest",
        help="the N unlabelled units to annotate next (uncertainty, random or stratified)",
        description="Pick units to annotate. `uncertainty` (default) picks what the model is "
        "least sure of: it teaches the model most, but those units are NOT a sample and must "
        "never be used to estimate accuracy or shares. `random` (a simple random sample) and "
        "`stratified` (the same number from every report) are samples: use them to measure "
        "accuracy and to correct shares for classifier error.",
    )
    s.add_argument("--n", type=int, default=50, help="how many units (default 50)")
    s.add_argument(
        "--strategy",
        choices=("uncertainty", "random", "stratified"),
        default="uncertainty",
        help="how to pick (default: uncertainty; use random or stratified for estimates)",
    )
    s.add_argument("--model", default=None, help="model folder (default: <models>/classifier)")
    s.add_argument(
        "--input", default=None, help="units table (default: <data>/prepared/paragraphs.parquet)"
    )
    s.add_argument(
        "--out", default=None, help="output CSV (default: <data>/annotation/suggested.csv)"
    )
    s.set_defaults(func=run_suggest)
    for action in (e, i, s):
        action.add_argument(
            "--force",
            action="store_true",
            help="overwrite output files that hold labels (default: write a new numbered name)",
        )

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


def _safe(path: Path, force: bool) -> Path:
    """The output path, or a new numbered name when ``path`` holds labels (no ``--force``)."""
    from research.labels.annotation import safe_output

    out = safe_output(path, force)
    if out != path:
        print(f"note: {path} holds labels; writing {out} instead (--force overwrites)")
    return out


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
    out_dir = Path(args.out or data / "annotation")
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
    csv = export_csv(units, _safe(out_dir / f"{args.name}.csv", args.force))
    ls = export_label_studio(units, csv.with_name(f"{csv.stem}.label_studio.json"))
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
            config=args.config,
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
    if tidy.empty:
        from research.errors import InputError

        raise InputError(
            args.files[0],
            "nothing labelled: no unit has a primary label (check --label-column / --config, "
            "or whether the tasks were annotated)",
        )
    out = _safe(out, args.force)
    write_table(tidy.reset_index(drop=True), out)
    counts = tidy["label"].value_counts()
    print(
        f"annotate import: {len(tidy)} labelled units from {len(args.files)} file(s), "
        f"{tidy['annotator'].nunique()} annotator(s)"
    )
    print("labels: " + ", ".join(f"{c}={int(counts.get(c, 0))}" for c in cb.ids))
    print(f"wrote: {out}")
    return 0


def agreement_layout(args: argparse.Namespace, params: Settings) -> dict:
    """How to read raters from the files: explicit flags first, else the file's own layout
    (an annotator column → long table; the params' agreement columns → wide table)."""
    from research.io import read_table

    ann = params.annotate
    label = args.label_column or ann.label_column
    if args.columns or args.annotator_column or len(args.files) != 1:
        return {"columns": args.columns, "annotator_column": args.annotator_column, "label": label}
    path = Path(args.files[0])
    have = set(read_table(path).columns) if path.suffix.lower() != ".json" else set()
    who = ann.annotator_column
    cols = list(ann.agreement_columns)
    if who in have:
        return {"columns": None, "annotator_column": who, "label": label}
    if cols and set(cols) <= have:
        return {"columns": cols, "annotator_column": None, "label": label}
    return {"columns": None, "annotator_column": None, "label": label}


def run_agreement(args: argparse.Namespace) -> int:
    from research.errors import InputError
    from research.io import write_table
    from research.labels.annotation import (
        agreement,
        by_category_table,
        disagreements,
        wide_from_files,
    )
    from research.provenance import write_metrics

    params, paths, cb = _ctx(args)
    reports = Path(args.reports or paths.reports)
    outs = (
        reports / "metrics" / f"{args.name}.json",
        reports / "tables" / f"{args.name}_by_category.csv",
        reports / "tables" / f"{args.name}_disagreements.csv",
    )
    try:
        if not all(Path(f).exists() for f in args.files):
            missing = next(f for f in args.files if not Path(f).exists())
            raise InputError(missing, "file not found")
        layout = agreement_layout(args, params)
        wide, raters = wide_from_files(
            args.files,
            cb,
            columns=layout["columns"],
            label_column=layout["label"],
            annotator_column=layout["annotator_column"],
        )
    except InputError as exc:
        if not args.skip_without_labels:
            raise
        reason = f"skipped: {exc}"
        print(f"annotate agreement {reason}")
        import pandas as pd

        write_metrics({"skipped": reason, "files": [str(f) for f in args.files]}, outs[0], params)
        write_table(pd.DataFrame(columns=["category", "n_units", "kappa", "alpha"]), outs[1])
        write_table(pd.DataFrame(columns=["unit_id", "doc_id", "text"]), outs[2])
        return 0
    res = agreement(wide, raters, cb)
    res["files"] = [str(f) for f in args.files]
    dis = disagreements(wide, raters)
    res["n_disagreements"] = len(dis)
    m = write_metrics(res, outs[0], params)
    t = write_table(by_category_table(res), outs[1])
    d = write_table(dis, outs[2])
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
    out = _safe(Path(args.out or data / "annotation" / "suggested.csv"), args.force)
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
    picked = suggest(model_dir, pool, int(args.n), params.seed, strategy=args.strategy)
    picked = picked.merge(
        pool.drop(columns=[c for c in picked.columns if c != "unit_id" and c in pool.columns]),
        on="unit_id",
        how="left",
    )
    extra = [c for c in ("uncertainty",) if c in picked.columns]
    export_csv(picked, out, extra=extra)
    print(
        f"annotate suggest: {len(picked)} of {len(pool)} unlabelled units by {args.strategy} "
        f"(model {model_dir})"
    )
    if args.strategy == "uncertainty":
        print(
            "note: units chosen by uncertainty are not a sample: do not use them to estimate "
            "accuracy or shares (use --strategy random or stratified for that)"
        )
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
