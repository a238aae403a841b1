"""Load and validate annotated training tables (a researcher's own, or the seed gold labels).

Every problem gets an :class:`~research.errors.InputError` naming the file and what to fix:
empty table, missing columns, labels outside the codebook, too few examples of a category.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from research.errors import InputError
from research.io import is_blank, read_table
from research.labels.anchors import check_anchors
from research.settings import Params, settings_of


def require_columns(df: pd.DataFrame, columns: list[str], path: str | Path) -> None:
    """Raise InputError if any of ``columns`` is missing from ``df``."""
    missing = [c for c in columns if c and c not in df.columns]
    if missing:
        raise InputError(
            path,
            f"missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"the table has: {', '.join(map(str, df.columns))}",
        )


def normalizer(params: Params | None) -> Any:
    """``normalize_text`` bound to the prepare params (same normalisation as ``prepare``)."""
    from research.corpus.normalize import normalize_params, normalize_text

    kw = normalize_params(settings_of(params).prepare)

    def norm(text: str) -> str:
        return normalize_text(text, **kw) if text else ""

    return norm


def _join_units(
    df: pd.DataFrame,
    path: Path,
    units_path: str | Path,
    text_column: str,
    group_column: str | None,
) -> pd.DataFrame:
    """Heading, doc id (and text when missing) from the prepared units, by ``unit_id``
    checked against the unit's text (anchors)."""
    units = read_table(units_path)
    require_columns(units, ["unit_id", "doc_id", "text"], units_path)
    require_columns(df, ["unit_id"], path)
    check_anchors(df, units, path, units_path)
    keep = ["unit_id", "doc_id", "heading", "text"]
    u = units[[c for c in keep if c in units.columns]].rename(
        columns={"doc_id": "_doc_id", "heading": "_heading", "text": "_unit_text"}
    )
    df = df.merge(u, on="unit_id", how="left", validate="many_to_one")
    unmatched = int(df["_doc_id"].isna().sum())
    if unmatched:
        raise InputError(path, f"{unmatched} row(s) have a unit_id not found in {units_path}")
    if text_column not in df.columns:
        df[text_column] = df["_unit_text"]
    if group_column and group_column not in df.columns:
        df[group_column] = df["_doc_id"]
    if "heading" not in df.columns and "_heading" in df.columns:
        df["heading"] = df["_heading"]
    return df


def _labelled_rows(df: pd.DataFrame, path: Path, label_column: str) -> pd.DataFrame:
    """Rows with a label; blank ones are dropped with a warning (all blank: an error)."""
    blank = df[label_column].map(is_blank)
    if blank.all():
        raise InputError(path, f"column {label_column!r} has no labels (all blank)")
    if blank.any():
        warnings.warn(
            f"{path}: {int(blank.sum())} row(s) without a {label_column!r} label ignored",
            stacklevel=3,
        )
        df = df.loc[~blank.to_numpy()].reset_index(drop=True)
    return df


def _checked_labels(
    y: pd.Series, codebook: Any, path: Path, min_examples: int, allow_missing: bool
) -> None:
    """Every label is a codebook id, and each id has ``min_examples`` (see the flags)."""
    bad = sorted(set(y) - set(codebook.ids))
    if bad:
        counts = y[y.isin(bad)].value_counts()
        listed = ", ".join(f"{b!r} ({int(counts[b])} rows)" for b in bad)
        raise InputError(
            path,
            f"label(s) not in the codebook {codebook.path.name}: {listed}; "
            f"allowed ids: {', '.join(codebook.ids)}",
        )
    counts = y.value_counts()
    few = {c: int(counts.get(c, 0)) for c in codebook.ids if counts.get(c, 0) < min_examples}
    if allow_missing:
        few = {c: n for c, n in few.items() if n > 0}
    if few:
        listed = ", ".join(f"{c}: {n}" for c, n in few.items())
        raise InputError(
            path,
            f"too few examples per category (need at least {min_examples}, "
            f"train.min_examples_per_class): {listed}",
        )


def _provinces(
    df: pd.DataFrame,
    groups: pd.Series,
    path: Path,
    province_column: str | None,
    documents_path: str | Path | None,
) -> list[str]:
    """Province per row: the given column, else the documents table (by document id)."""
    if province_column:
        require_columns(df, [province_column], path)
        return df[province_column].astype(str).tolist()
    if documents_path is not None:
        docs = read_table(documents_path)
        require_columns(docs, ["doc_id", "province"], documents_path)
        prov = dict(zip(docs["doc_id"].astype(str), docs["province"].astype(str)))
        return [prov.get(g, "") for g in groups]
    return [""] * len(df)


def load_training_table(
    path: str | Path,
    codebook: Any,
    text_column: str = "text",
    label_column: str = "gold",
    group_column: str | None = "doc_id",
    province_column: str | None = None,
    units_path: str | Path | None = None,
    documents_path: str | Path | None = None,
    min_examples: int = 3,
    allow_missing_classes: bool = False,
    params: Params | None = None,
) -> pd.DataFrame:
    """Read an annotated table into columns unit_id, text, heading, label, group, province.

    ``units_path`` (a prepared ``paragraphs.parquet``) supplies ``heading`` and ``doc_id``
    (and ``text`` when the table lacks it) by ``unit_id``; ``documents_path`` (a prepared
    ``documents.parquet``) supplies ``province`` by document, unless ``province_column``
    names a column of the table. Rows with a blank label are dropped (counted in a warning).
    """
    path = Path(path)
    df = read_table(path)
    if len(df) == 0:
        raise InputError(path, "the annotation table is empty (no rows)")
    if units_path is not None:
        df = _join_units(df, path, units_path, text_column, group_column)
    require_columns(
        df, [text_column, label_column] + ([group_column] if group_column else []), path
    )
    df = _labelled_rows(df, path, label_column)
    y = df[label_column].map(lambda v: str(v).strip())
    _checked_labels(y, codebook, path, min_examples, allow_missing_classes)
    norm = normalizer(params)
    text = df[text_column].map(lambda v: "" if is_blank(v) else norm(str(v)))
    if (text == "").all():
        raise InputError(path, f"column {text_column!r} has no text")
    heading = (
        df["heading"].map(lambda v: "" if is_blank(v) else norm(str(v)))
        if "heading" in df.columns
        else pd.Series([""] * len(df))
    )
    out = pd.DataFrame(
        {
            "unit_id": df["unit_id"].astype(str)
            if "unit_id" in df.columns
            else [f"row{i:06d}" for i in range(len(df))],
            "text": text.astype(object).to_numpy(),
            "heading": heading.astype(object).to_numpy(),
            "label": y.astype(object).to_numpy(),
            # without a group column all rows form one group: grouped CV is then skipped,
            # because units of one report on both sides of a split would inflate the scores
            "group": df[group_column].astype(str).to_numpy() if group_column else ["all"] * len(df),
        }
    )
    out["province"] = _provinces(df, out["group"], path, province_column, documents_path)
    return out
