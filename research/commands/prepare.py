"""``research prepare CORPUS --out DIR``: ingest, clean and segment a corpus."""

from __future__ import annotations

import argparse
from pathlib import Path

from research.config import load_params

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
    p.add_argument("corpus", nargs="?", default=None, help="corpus folder or .jsonl (default: params paths.corpus)")
    p.add_argument("--out", default=None, help="output folder (default: <paths.data>/prepared)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from research.prepare import prepare_corpus, write_prepared

    params = load_params(args.params)
    paths = params.get("paths") or {}
    corpus = Path(args.corpus or paths.get("corpus", "seeds"))
    out = Path(args.out or Path(paths.get("data", "data")) / "prepared")
    prepared = prepare_corpus(corpus, params, progress=not args.quiet)
    written = write_prepared(prepared, out)
    print(prepared.summary())
    print("wrote: " + ", ".join(str(p) for p in written))
    return 0
