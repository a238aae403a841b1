"""`research analyse`: domain shares, adjusted shares, uncertainty, emphasis, distinctive terms,
campaign names and models across regions and years → reports/tables/, reports/metrics/analysis.json."""

from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 60


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyse",
        help="measure domain shares and emphasis by document, province, level and year",
        description=__doc__,
    )
    p.add_argument("--data", default=None, help="data folder (default: params paths.data)")
    p.add_argument("--reports", default=None, help="reports folder (default: params paths.reports)")
    p.add_argument(
        "--n-boot",
        type=int,
        default=None,
        help="bootstrap resamples (default: params analyse.n_boot)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from research.analysis.pipeline import run_analysis
    from research.config import load_params
    from research.io import check_output
    from research.settings import settings_of

    params = load_params(args.params)
    if args.n_boot is not None:
        params.setdefault("analyse", {})["n_boot"] = args.n_boot
    paths = settings_of(params).paths  # also validates the --n-boot override
    check_output(Path(args.reports or paths.reports) / "tables", "dir")
    check_output(Path(args.reports or paths.reports) / "metrics", "dir")
    print("analyse:")
    s = run_analysis(params, args.data, args.reports)
    est = ", ".join(f"{b} {m}" for b, m in (s.get("estimator") or {}).items())
    print(f"analyse: label sources per unit {s.get('n_units_by_source', {})}; estimator {est}")
    if s.get("corpus_mean_share"):
        print(
            f"  corpus mean shares ({s.get('primary_basis')}): "
            + ", ".join(f"{k} {v:.2f}" for k, v in s["corpus_mean_share"].items())
        )
    if s.get("adjustment_mae"):
        print(
            "  held-out share error (MAE vs gold): "
            + ", ".join(f"{k} {v:.3f}" for k, v in s["adjustment_mae"].items())
        )
    for path in s["written"].values():
        print(f"  wrote {path}")
    return 0
