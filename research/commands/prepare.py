"""``research prepare CORPUS --out DIR``: ingest, clean and segment a corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

from research.config import load_params, project_paths

ORDER = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="ingest, clean and segment a corpus folder (with manifest.csv) or a .jsonl file",
        description="Read CORPUS (a folder of .txt/.html/.docx/.pdf documents with manifest.csv, "
        "or a .jsonl file with one document per line), normalise (traditional→simplified, "
        "pinyin artefacts, width, whitespace), repair broken paragraphs, type and segment units, "
        "and write documents/paragraphs/items/removed .parquet tables to OUT.",
    )
    p.add_argument(
        "corpus",
        nargs="?",
        default=None,
        help="corpus folder or .jsonl (default: params paths.corpus)",
    )
    p.add_argument("--out", default=None, help="output folder (default: <paths.data>/prepared)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes (default: params tokenize.n_jobs; -1 = all cores)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from research.corpus.prepare import prepare_to_dir

    params = load_params(args.params)
    if getattr(args, "jobs", None) is not None:
        params = {**params, "tokenize": {**(params.get("tokenize") or {}), "n_jobs": args.jobs}}
    paths = project_paths(params)
    corpus = Path(args.corpus or paths.get("corpus", "seeds"))
    out = Path(args.out or Path(paths.get("data", "data")) / "prepared")
    # streaming: chunk by chunk into Parquet row groups, renamed into place at the end
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        written, stats = prepare_to_dir(corpus, out, params, progress=not args.quiet)
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}")
    print(stats.summary())
    print("wrote: " + ", ".join(str(p) for p in written))
    return 0
