"""Gold labels are joined on ``unit_id`` *and* checked against the text they were given for.

Unit ids are positional (``doc:p007``): changing a ``prepare`` setting (e.g. ``join_window``)
re-segments a report and the same id then names another paragraph. The annotation tables
keep each unit's text, so every join of gold labels onto units verifies it
(:func:`check_anchors`) and refuses a mismatch, naming the units; :func:`reanchor` (the
``research annotate reanchor`` command) moves labels to the unit whose text is the same.
Texts are compared by :func:`research.corpus.segment.text_key` (CJK, letters and digits).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from research.corpus.segment import text_key
from research.errors import InputError
from research.io import is_blank

REANCHOR = "research annotate reanchor"


def check_anchors(
    annotations: pd.DataFrame,
    units: pd.DataFrame,
    where: str | Path,
    units_where: str | Path = "the prepared units",
    show: int = 5,
) -> None:
    """Raise when an annotated row's text is not the text of the unit its ``unit_id`` names.

    Rows without text (tables that carry only ids) and ids absent from ``units`` (another
    corpus) are not checked here.
    """
    if "text" not in annotations.columns or "unit_id" not in annotations.columns:
        return
    if "text" not in units.columns or "unit_id" not in units.columns:
        return
    a = annotations.loc[~annotations["text"].map(is_blank), ["unit_id", "text"]]
    if a.empty:
        return
    unit_text = dict(zip(units["unit_id"].astype(str), units["text"].astype(str)))
    bad = [
        uid
        for uid, t in zip(a["unit_id"].astype(str), a["text"].astype(str))
        if uid in unit_text and text_key(t) != text_key(unit_text[uid])
    ]
    if not bad:
        return
    listed = ", ".join(bad[:show]) + (f" and {len(bad) - show} more" if len(bad) > show else "")
    raise InputError(
        where,
        f"{len(bad)} labelled unit(s) no longer have the text they were labelled with in "
        f"{units_where} ({listed}): unit ids follow segmentation, so a changed prepare "
        f"setting moves them. Run `{REANCHOR}` to move the labels to the units with the "
        "same text (or restore the prepare settings).",
    )


def reanchor(
    annotations: pd.DataFrame, units: pd.DataFrame, drop_unmatched: bool = False
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Point each annotated row at the unit with the same text.

    Returns (table with ``unit_id`` — and ``doc_id``/``para_id`` when present — updated,
    ids that moved, ids whose text matches no unit or several in different places). A text
    found more than once is matched within the row's own document when that decides it.
    ``drop_unmatched`` leaves the unmatched rows out of the returned table.
    """
    by_key: dict[str, list[int]] = {}
    keys = units["text"].astype(str).map(text_key)
    for i, k in enumerate(keys):
        if k:
            by_key.setdefault(k, []).append(i)
    uid = units["unit_id"].astype(str).to_numpy()
    doc = units["doc_id"].astype(str).to_numpy() if "doc_id" in units.columns else None
    out = annotations.copy()
    moved: list[str] = []
    lost: list[str] = []
    keep = [True] * len(out)
    for r, (old, text) in enumerate(zip(out["unit_id"].astype(str), out["text"])):
        if is_blank(text):
            continue
        hits = by_key.get(text_key(str(text)), [])
        if len(hits) > 1 and doc is not None and "doc_id" in out.columns:
            same = [h for h in hits if doc[h] == str(out["doc_id"].iloc[r])]
            hits = same or hits
        if len(hits) != 1:
            lost.append(old)
            keep[r] = False
            continue
        h = hits[0]
        if uid[h] != old:
            moved.append(f"{old} → {uid[h]}")
            out.iloc[r, out.columns.get_loc("unit_id")] = uid[h]
            for col in ("doc_id", "para_id"):
                if col in out.columns and col in units.columns:
                    out.iloc[r, out.columns.get_loc(col)] = units[col].iloc[h]
    if drop_unmatched:
        out = out.loc[keep].reset_index(drop=True)
    return out, moved, lost
