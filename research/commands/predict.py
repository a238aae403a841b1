"""``research predict INPUT --output OUT``: the work domain of every text or body unit.

INPUT is a table (.csv/.parquet/.jsonl) with a text column, or a corpus folder with a
``manifest.csv`` (it is prepared first and its body units are predicted). A prepared
``paragraphs.parquet`` (with ``kind``) is restricted to body units unless ``--all-kinds``.
OUT (.csv or .parquet) has every input column plus ``domain`` and ``p_<id>`` per category.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the work domain of texts (table) or of a corpus folder's body units",
        description="Apply a trained classifier: every input column plus `domain` and "
        "`p_<id>` (probabilities summing to 1) for each codebook category.",
    )
    p.add_argument("input", help="table (.csv/.parquet/.jsonl) or corpus folder with manifest.csv")
    p.add_argument("--output", "-o", required=True, help="output table (.csv or .parquet)")
    p.add_argument("--model", default=None, help="model folder (default: <models>/classifier)")
    p.add_argument("--text-column", default="text", help="column with the text (default: text)")
    p.add_argument("--codebook", default=None,
                   help="codebook YAML to check the model against (default: params paths.codebook)")
    p.add_argument("--all-kinds", action="store_true",
                   help="with a prepared paragraphs table, predict every unit, not only body units")
    p.add_argument("--n-jobs", type=int, default=1,
                   help="processes for large inputs (tokenisation is the bottleneck; default 1)")
    p.add_argument("--force", action="store_true",
                   help="load the model despite a codebook or scikit-learn version mismatch")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from research.classify.persist import load_model
    from research.classify.predict import corpus_units, predict_frame
    from research.codebook import load_codebook, resolve_codebook_path
    from research.config import load_params
    from research.errors import InputError
    from research.io import read_table, write_table

    params = load_params(args.params)
    paths = params.get("paths") or {}
    src, out = Path(args.input), Path(args.output)
    if out.suffix.lower() not in {".csv", ".parquet"}:
        raise InputError(out, "output must end in .csv or .parquet")
    model_dir = Path(args.model or Path(paths.get("models", "models")) / "classifier")
    cb = load_codebook(resolve_codebook_path(args.codebook, params))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, card = load_model(model_dir, cb, allow_mismatch=args.force)
    for w in caught:
        print(f"warning: {w.message}")

    t0 = time.perf_counter()
    if src.is_dir():
        if not (src / "manifest.csv").exists():
            raise InputError(src, "a corpus folder needs a manifest.csv (or give a table file)")
        df = corpus_units(src, params)
        text_col, normalize = "text", False  # prepare already normalised the text
        what = f"{len(df)} body units of corpus {src}"
    else:
        df = read_table(src)
        text_col, normalize = args.text_column, True
        if "kind" in df.columns and "unit_id" in df.columns and not args.all_kinds:
            n_all = len(df)
            df = df[df["kind"] == "body"].reset_index(drop=True)
            what = f"{len(df)} body units (of {n_all}) in {src}"
        else:
            what = f"{len(df)} rows of {src}"
        if len(df) == 0:
            raise InputError(src, "the table has no rows to predict")
    pred = predict_frame(model, df, list(card["labels"]), cb.other_id, text_column=text_col,
                         params=params, normalize=normalize, where=src, n_jobs=args.n_jobs)
    secs = time.perf_counter() - t0
    if pred.n_empty:
        print(f"warning: {pred.n_empty} of {len(df)} texts are empty or have no Chinese "
              f"characters; they were assigned '{cb.other_id}'")
    write_table(pred.table, out)
    counts = pred.table["domain"].value_counts()
    dist = ", ".join(f"{lab} {int(counts.get(lab, 0))}" for lab in pred.labels)
    print(f"predicted {what} with {card.get('chosen', 'model')} in {secs:.1f}s: {dist}")
    print(f"wrote {out}")
    return 0
