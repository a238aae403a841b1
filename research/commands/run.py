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
    p.set_defaults(func=run)
    d = sub.add_parser(
        "dvc-yaml",
        help="write dvc.yaml from the pipeline definition",
        description="Write dvc.yaml (the same stages as `research run`) to the given path.",
    )
    d.add_argument("--output", default="dvc.yaml", help="where to write (default: dvc.yaml)")
    d.set_defaults(func=write_dvc)


def run(args: argparse.Namespace) -> int:
    from research.runcache import run_cached

    timings = run_cached(args.params, only=args.only, start=args.start, force=args.force)
    print("\n=== research run: done")
    for name, secs in timings:
        print(f"  {name:<12} {secs:6.1f} s")
    print(
        "outputs: data/ (tables), models/ (classifier), reports/metrics, reports/tables, "
        "reports/figures, reports/topics/lda.html"
    )
    return 0


def write_dvc(args: argparse.Namespace) -> int:
    from research.io import write_text
    from research.pipeline import dvc_yaml

    write_text(dvc_yaml(), Path(args.output))
    print(f"wrote {args.output}")
    return 0
