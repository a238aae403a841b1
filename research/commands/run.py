"""``research run``: the whole pipeline on the corpus in params.yaml (default: seeds/)."""

from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 90


def register(sub: argparse._SubParsersAction) -> None:
    from research.pipeline import stages

    names = ", ".join(s.name for s in stages())
    p = sub.add_parser(
        "run",
        help="run the whole pipeline (same stages as `dvc repro`)",
        description=f"Run every stage in order: {names}. Outputs go to data/, models/ and reports/.",
    )
    p.add_argument("--from", dest="start", default=None, help="start at this stage")
    p.add_argument("--only", nargs="+", default=None, help="run only these stages")
    p.add_argument(
        "--force",
        action="store_true",
        help="run every selected stage even if its inputs, params and code are unchanged",
    )
    p.add_argument(
        "--serial",
        action="store_true",
        help="run the stages strictly one after another (by default a stage the next one "
        "does not need runs beside it on Linux with 2+ cores; results are the same)",
    )
    p.set_defaults(func=run)
    r = sub.add_parser(
        "report",
        help="headline numbers (summary.json), warnings, reports/index.html and tables.xlsx",
        description="Collect the headline numbers of a run into <reports>/metrics/summary.json "
        "(the DVC metric), and write <reports>/index.html (each figure with its how-to-read "
        "text and table) and <reports>/tables.xlsx.",
    )
    r.add_argument("--reports", default=None, help="reports folder (default: params paths.reports)")
    r.set_defaults(func=report)
    d = sub.add_parser(
        "dvc-yaml",
        help="write dvc.yaml from the pipeline definition",
        description="Write dvc.yaml (the same stages as `research run`) to the given path.",
    )
    d.add_argument(
        "--out",
        "--output",
        dest="output",
        default="dvc.yaml",
        help="where to write (default: dvc.yaml)",
    )
    d.add_argument(
        "--no-code-deps",
        action="store_true",
        help="leave the package's own files out of the dependencies (a user's project)",
    )
    d.set_defaults(func=write_dvc)


def run(args: argparse.Namespace) -> int:
    from research.config import load_params, project_paths
    from research.report import headline, print_summary
    from research.runcache import run_cached

    timings = run_cached(
        args.params,
        only=args.only,
        start=args.start,
        force=args.force,
        parallel=not args.serial,
    )
    params = load_params(args.params)
    paths = project_paths(params)
    reports = Path(paths["reports"])
    print("\n=== research run: done")
    for t in timings:
        note = "  (unchanged: skipped)" if t.skipped else ""
        print(f"  {t.name:<14} {t.wall_s:6.1f} s wall {t.cpu_s:6.1f} s CPU{note}")
    print_summary(*headline(reports, params))
    print(
        f"outputs: {paths['data']}/ (tables), {paths['models']}/ (classifier), {reports}/tables, "
        f"{reports}/figures; the run report: {reports / 'index.html'}"
    )
    return 0


def report(args: argparse.Namespace) -> int:
    from research.config import load_params, project_paths
    from research.report import write_report

    params = load_params(args.params)
    reports = Path(args.reports or project_paths(params)["reports"])
    numbers, warnings, written = write_report(reports, params)
    print(f"report: {len(numbers)} headline numbers, {len(warnings)} warning(s)")
    print("wrote: " + ", ".join(str(p) for p in written))
    return 0


def write_dvc(args: argparse.Namespace) -> int:
    from research.config import load_params
    from research.io import write_text
    from research.pipeline import dvc_yaml, has_gold

    gold = has_gold(load_params(args.params))
    write_text(dvc_yaml(code_deps=not args.no_code_deps, gold=gold), Path(args.output))
    if not gold:
        print(
            "note: no gold labels yet: the outputs that need them are not declared "
            "(run `research dvc-yaml` again once paths.annotations holds gold)"
        )
    print(f"wrote {args.output}")
    return 0
