"""``research predict INPUT --output OUT``: the work domain of every text or body unit.

INPUT is a table (.csv/.parquet/.jsonl) with a text column, or a corpus folder with a
``manifest.csv`` (it is prepared first and its body units are predicted). A prepared
``paragraphs.parquet`` (with ``kind``) is restricted to body units unless ``--all-kinds``.
OUT (.csv or .parquet) has every input column plus ``domain`` and ``p_<id>`` per category.
"""

from __future__ import annotations

import argparse
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="predict the work domain of texts (table) or of a corpus folder's body units",
        description="Apply a trained classifier: every input column plus `domain` and "
        "`p_<id>` (probabilities summing to 1) for each codebook category.",
    )
    p.add_argument("input", help="table (.csv/.parquet/.jsonl) or corpus folder with manifest.csv")
    p.add_argument(
        "--out",
        "--output",
        "-o",
        dest="output",
        required=True,
        help="output table (.csv or .parquet)",
    )
    p.add_argument("--model", default=None, help="model folder (default: <models>/classifier)")
    p.add_argument("--text-column", default="text", help="column with the text (default: text)")
    p.add_argument(
        "--codebook",
        default=None,
        help="codebook YAML to check the model against (default: params paths.codebook)",
    )
    p.add_argument(
        "--all-kinds",
        action="store_true",
        help="with a prepared paragraphs table, predict every unit, not only body units",
    )
    p.add_argument(
        "--jobs",
        "--n-jobs",
        dest="n_jobs",
        type=int,
        default=1,
        help="processes for large inputs (tokenisation is the bottleneck; default 1)",
    )
    p.add_argument(
        "--batch-rows",
        type=int,
        default=20000,
        help="rows per batch when streaming a .parquet input (default 20000)",
    )
    p.add_argument(
        "--infer-types",
        action="store_true",
        help="read CSV/JSONL columns with type inference (default: every column passes "
        "through as the text it was, so ids like 007 or 23-digit numbers survive)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="load the model despite a codebook or scikit-learn version mismatch",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from research.classify.persist import load_model
    from research.classify.predict import corpus_units, predict_frame
    from research.errors import InputError
    from research.io import check_output, read_table
    from research.labels.codebook import load_codebook, resolve_codebook_path
    from research.settings import load_settings

    params = load_settings(args.params)
    src, out = Path(args.input), Path(args.output)
    if out.suffix.lower() not in {".csv", ".parquet"}:
        raise InputError(out, "output must end in .csv or .parquet")
    check_output(out)
    if src.exists() and out.resolve() == src.resolve() and not args.all_kinds:
        raise InputError(
            out,
            "output would replace the input; write to another file (units of other kinds "
            "than body are not predicted, so rows would be lost) or give --all-kinds",
        )
    model_dir = Path(args.model or Path(params.paths.models) / "classifier")
    cb = load_codebook(resolve_codebook_path(args.codebook, params))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, card = load_model(model_dir, cb, allow_mismatch=args.force)
    for w in caught:
        print(f"warning: {w.message}")

    t0 = time.perf_counter()
    labels = list(card["labels"])
    skipped = [0]  # rows of a prepared units table that are not body units
    if src.is_dir():
        if not (src / "manifest.csv").exists():
            raise InputError(src, "a corpus folder needs a manifest.csv (or give a table file)")
        frames = iter([corpus_units(src, params)])
        text_col, normalize = "text", False  # prepare already normalised the text
        what = f"body units of corpus {src}"
    elif src.suffix.lower() == ".parquet" and src.exists():
        # streamed in row batches, so memory stays flat however large the table is
        frames = _parquet_batches(src, args.batch_rows, not args.all_kinds, skipped)
        # a prepared paragraphs table is already normalised: normalising again is wasted work
        text_col, normalize = args.text_column, not _is_prepared(src)
        what = f"units of {src}"
    else:
        df = read_table(src, as_text=not args.infer_types)
        if "kind" in df.columns and "unit_id" in df.columns and not args.all_kinds:
            skipped[0] += int((df["kind"] != "body").sum())
            df = df[df["kind"] == "body"].reset_index(drop=True)
        frames = iter([df])
        text_col, normalize = args.text_column, True
        what = f"rows of {src}"
    n_rows = n_empty = 0
    counts: dict[str, int] = {lab: 0 for lab in labels}
    with _TableWriter(out) as writer:
        for df in frames:
            if len(df) == 0:
                continue
            pred = predict_frame(
                model,
                df,
                labels,
                cb.other_id,
                text_column=text_col,
                params=params,
                normalize=normalize,
                where=src,
                n_jobs=args.n_jobs,
            )
            writer.write(pred.table)
            n_rows += len(df)
            n_empty += pred.n_empty
            for lab, c in pred.table["domain"].value_counts().items():
                counts[str(lab)] = counts.get(str(lab), 0) + int(c)
        if n_rows == 0:
            raise InputError(src, "the table has no rows to predict")
    secs = time.perf_counter() - t0
    if n_empty:
        print(
            f"warning: {n_empty} of {n_rows} texts are empty or have no Chinese "
            f"characters; they were assigned '{cb.other_id}'"
        )
    if skipped[0]:
        print(
            f"note: {skipped[0]} units of other kinds than body (headings, captions, …) were "
            "not predicted and are not in the output; --all-kinds predicts every unit"
        )
    dist = ", ".join(f"{lab} {counts.get(lab, 0)}" for lab in labels)
    print(f"predicted {n_rows} {what} with {card.get('chosen', 'model')} in {secs:.1f}s: {dist}")
    print(f"wrote {out}")
    return 0


def _is_prepared(path: Path) -> bool:
    """Is this Parquet table a ``research prepare`` paragraphs table (normalised text)?"""
    import pyarrow.parquet as pq

    try:
        names = set(pq.ParquetFile(path).schema_arrow.names)
    except Exception:
        return False
    return {"unit_id", "doc_id", "kind", "char_start", "char_end"} <= names


def _parquet_batches(path: Path, batch_rows: int, body_only: bool, skipped: list[int]):
    """Row batches of a Parquet table (body units only for a prepared paragraphs table;
    the other units are counted in ``skipped[0]``)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from research.errors import InputError

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise InputError(path, f"could not read table: {exc}") from exc
    names = set(pf.schema_arrow.names)
    body_only = body_only and {"kind", "unit_id"} <= names
    for batch in pf.iter_batches(batch_size=batch_rows):
        if body_only:  # filtered in Arrow: the other units are never converted to pandas
            body = batch.filter(pc.equal(batch.column("kind"), "body"))
            skipped[0] += batch.num_rows - body.num_rows
            yield body.to_pandas().reset_index(drop=True)
        else:
            yield batch.to_pandas()


class _TableWriter:
    """Append DataFrames to one .parquet or .csv output, atomically (temp file, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ctx: AbstractContextManager[Path] | None = None
        self._tmp: Path | None = None
        self._pq: Any = None  # pyarrow.parquet.ParquetWriter (untyped)
        self._schema = None
        self._first = True

    def __enter__(self) -> _TableWriter:
        from research.io import atomic_path

        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, df) -> None:
        if self.path.suffix.lower() == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._pq is None:
                table = pa.Table.from_pandas(df, preserve_index=False)
                self._schema = table.schema
                self._pq = pq.ParquetWriter(self._tmp, self._schema)
            else:
                table = pa.Table.from_pandas(df, schema=self._schema, preserve_index=False)
            self._pq.write_table(table)
        else:
            df.to_csv(
                self._tmp,
                mode="w" if self._first else "a",
                header=self._first,
                index=False,
                encoding="utf-8",
                lineterminator="\n",
            )
        self._first = False

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._pq is not None:
            self._pq.close()
        assert self._ctx is not None  # set by __enter__
        return bool(self._ctx.__exit__(exc_type, exc, tb))
