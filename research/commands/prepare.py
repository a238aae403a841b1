"""``research prepare CORPUS --out DIR``: ingest, clean and segment a corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

from research.io import check_output
from research.settings import load_settings, with_overrides

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

    s = load_settings(args.params)
    if getattr(args, "jobs", None) is not None:
        s = s.model_copy(update={"tokenize": with_overrides(s.tokenize, n_jobs=args.jobs)})
    corpus = Path(args.corpus or s.paths.corpus)
    out = Path(args.out or Path(s.paths.data) / "prepared")
    check_output(out, "dir")
    # streaming: chunk by chunk into Parquet row groups, renamed into place at the end
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        written, stats = prepare_to_dir(corpus, out, s, progress=not args.quiet)
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}")
    print(stats.summary())
    print("wrote: " + ", ".join(str(p) for p in written))
    return 0
