"""`research figures`: draw every registered figure from the tables in reports/ into
reports/figures/ (PDF, SVG, 300-dpi PNG + the CSV behind each); figures whose input tables
are missing are skipped with a note."""

from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 70


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "figures", help="draw the publication figures from the report tables", description=__doc__
    )
    p.add_argument(
        "--language",
        choices=["en", "zh"],
        default=None,
        help="label language (default: params figures.language)",
    )
    p.add_argument(
        "--reports",
        default=None,
        help="reports folder with tables/ (default: params paths.reports)",
    )
    p.add_argument("--out", default=None, help="output folder (default: <reports>/figures)")
    p.add_argument(
        "--only", nargs="+", default=None, metavar="NAME", help="draw only these figures"
    )
    p.add_argument("--list", action="store_true", help="list the registered figures and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import matplotlib

    from research.config import load_params
    from research.errors import ResearchError
    from research.settings import settings_of
    from research.viz.registry import discover, run_figures

    matplotlib.use("Agg")  # the CLI only writes files (the API leaves the backend alone)
    params = load_params(args.params)
    if args.list:
        for name, spec in discover().items():
            print(f"{name:24s} {spec.module}  needs: {', '.join(spec.requires) or '-'}")
        return 0
    s = settings_of(params)
    language = args.language or s.figures.language
    reports = Path(args.reports or s.paths.reports)
    out = Path(args.out) if args.out else reports / "figures"
    print(f"figures ({language}):")
    try:
        results = run_figures(reports, out, params, language, args.only)
    except KeyError as exc:
        raise ResearchError(str(exc.args[0])) from exc
    drawn = [r for r in results if r.paths]
    skipped = [r for r in results if r.skipped]
    failed = [r for r in results if r.error]
    print(f"figures: {len(drawn)} drawn, {len(skipped)} skipped, {len(failed)} failed → {out}")
    return 1 if failed else 0
