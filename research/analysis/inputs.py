"""Load the unit-level inputs of the analysis, each in one shape, skipping absent sources.

Every source becomes a unit table: doc_id, unit_id, para_id, text, n_chars, ``label``
(hard label: gold, or argmax/predicted domain) and one ``p_<id>`` per category
(one-hot for gold). Only body units count towards shares (headings, captions, bylines,
meta and duplicates are not work content).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from research.analysis.shares import (
    ids_from_columns,
    normalise_rows,
    one_hot,
    prob_columns,
)
from research.io import read_table
from research.labels.anchors import check_anchors
from research.settings import settings_of

if TYPE_CHECKING:
    from research.labels.codebook import Codebook

META_COLUMNS = [
    "doc_id", "province", "place", "level", "year", "period_start", "period_end", "genre",
    "organisation", "title",
]  # fmt: skip


@dataclass
class AnalysisInputs:
    """What the analysis found on disk (None for an absent source) and notes on what is missing."""

    ids: list[str]
    domain_ids: list[str] = field(default_factory=list)  # the codebook's, without `other`
    documents: pd.DataFrame | None = None
    units: pd.DataFrame | None = None  # prepared body units
    sources: dict[str, pd.DataFrame] = field(default_factory=dict)  # gold / classifier / seeded_lda
    cv: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


#: Where each stage-to-stage input lives: (root, relative path). Stages read each other's
#: tables from data/ only (reports/ is for people); a move is a one-line edit here.
INPUTS: dict[str, tuple[str, str]] = {
    "documents": ("data", "prepared/documents.parquet"),
    "paragraphs": ("data", "prepared/paragraphs.parquet"),
    "predictions": ("data", "predictions/units.parquet"),
    "seeded_units": ("data", "topics/seeded_units.parquet"),
    "cv_predictions": ("data", "evaluation/cv_predictions.parquet"),
    "classifier_cv": ("data", "evaluation/classifier_cv.parquet"),
    "seeded_eval": ("data", "topics/seeded_eval.parquet"),
}


def input_path(name: str, data_dir: Path | str, reports_dir: Path | str) -> Path:
    """The path of analysis input ``name`` (see :data:`INPUTS`)."""
    root, rel = INPUTS[name]
    return Path(data_dir if root == "data" else reports_dir) / rel


def codebook_ids(path: str | Path | None = None) -> tuple[list[str], Codebook]:
    """Category ids of the codebook (and the codebook); a broken codebook is an error."""
    from research.labels.codebook import load_codebook, resolve_codebook_path

    cb = load_codebook(resolve_codebook_path(path))
    return list(cb.ids), cb


def _para_id(unit_id: str) -> int:
    m = re.search(r":p(\d+)$", str(unit_id))
    return int(m.group(1)) if m else -1


def body_units(paragraphs: pd.DataFrame) -> pd.DataFrame:
    """Body units only, with n_chars, ordered by doc_id and para_id."""
    u = paragraphs
    if "kind" in u:
        u = u[u["kind"].astype(str) == "body"]
    u = u.copy()
    if "n_chars" not in u:
        u["n_chars"] = u["text"].astype(str).str.len()
    if "para_id" not in u:
        u["para_id"] = u["unit_id"].map(_para_id)
    return u.sort_values(["doc_id", "para_id"], kind="mergesort").reset_index(drop=True)


def _with_probs(df: pd.DataFrame, ids: Sequence[str], label_col: str | None) -> pd.DataFrame:
    """Ensure p_<id> columns for all ids (missing → 0, rows renormalised) and a ``label``."""
    df = df.copy()
    for c in prob_columns(ids):
        if c not in df:
            df[c] = 0.0
    P = normalise_rows(df[prob_columns(ids)].to_numpy(dtype=float))
    df[prob_columns(ids)] = P
    if label_col and label_col in df:
        df["label"] = df[label_col].astype(str)
    else:
        df["label"] = np.array(ids, dtype=object)[P.argmax(axis=1)] if len(df) else []
    return df


def gold_units(
    annotations: pd.DataFrame, units: pd.DataFrame | None, ids: Sequence[str]
) -> pd.DataFrame:
    """Gold-labelled body units (one-hot p_<id>); labels outside ``ids`` or empty are dropped."""
    a = annotations[["unit_id", "gold"]].copy()
    a["gold"] = a["gold"].fillna("").astype(str).str.strip()
    a = a[a["gold"].isin(list(ids))].drop_duplicates("unit_id")
    if units is not None:
        g = units.merge(a, on="unit_id", how="inner")
    else:
        g = (
            annotations.merge(a, on=["unit_id", "gold"], how="inner")
            if "text" in annotations
            else a
        )
        if "doc_id" not in g:
            g["doc_id"] = g["unit_id"].astype(str).str.rsplit(":", n=1).str[0]
        g = body_units(g.assign(kind="body"))
    oh = one_hot(g["gold"], ids)
    g = pd.concat([g.reset_index(drop=True), oh], axis=1)
    g["label"] = g["gold"]
    return g


def prob_units(
    pred: pd.DataFrame, units: pd.DataFrame | None, ids: Sequence[str], label_col: str | None
) -> pd.DataFrame:
    """Units with probability columns (classifier or seeded LDA), restricted to body units."""
    p = pred
    if units is not None:
        keep = [c for c in p.columns if c == "unit_id" or c.startswith("p_") or c == label_col]
        p = units.merge(p[keep], on="unit_id", how="inner")
    else:
        p = body_units(p)
    return _with_probs(p, ids, label_col)


def load_inputs(params: dict, data_dir: Path, reports_dir: Path, echo=print) -> AnalysisInputs:
    """Read whatever of prepared units, gold, predictions, seeded LDA and CV predictions exists."""
    paths = settings_of(params).paths
    ids, codebook = codebook_ids(paths.codebook)
    inp = AnalysisInputs(ids=ids, domain_ids=list(codebook.domain_ids))

    def note(msg: str) -> None:
        inp.notes.append(msg)
        if echo:
            echo(f"  note: {msg}")

    docs_path = input_path("documents", data_dir, reports_dir)
    paras_path = input_path("paragraphs", data_dir, reports_dir)
    if docs_path.exists():
        inp.documents = read_table(docs_path)
    else:
        note(f"{docs_path} missing: no province/level/year metadata")
    if paras_path.exists():
        inp.units = body_units(read_table(paras_path))
    else:
        note(f"{paras_path} missing: shares use the sources' own units")

    ann_path = Path(paths.annotations)
    if ann_path.exists():
        ann = read_table(ann_path)
        if "gold" in ann and "unit_id" in ann:
            if inp.units is not None:
                check_anchors(ann, inp.units, ann_path, paras_path)
            g = gold_units(ann, inp.units, ids)
            if len(g):
                inp.sources["gold"] = g
            else:
                note(f"{ann_path}: no gold labels on body units")
        else:
            note(f"{ann_path}: no unit_id/gold columns")
    else:
        note(f"{ann_path} missing: no gold shares")

    # probability sources: (name, table, its label column, what is missing without it)
    for source, path, label_col, what in (
        ("classifier", input_path("predictions", data_dir, reports_dir), "domain", "classifier"),
        (
            "seeded_lda",
            input_path("seeded_units", data_dir, reports_dir),
            "seeded_domain",
            "seeded-LDA",
        ),
    ):
        if not path.exists():
            note(f"{path} missing: no {what} shares")
            continue
        table = read_table(path)
        if ids_from_columns(table):
            inp.sources[source] = prob_units(
                table, inp.units, ids, label_col if label_col in table else None
            )
        else:
            note(f"{path}: no p_<id> columns")

    cv_path = input_path("cv_predictions", data_dir, reports_dir)
    if cv_path.exists():
        cv = read_table(cv_path)
        need = {"doc_id", "gold"} | set(prob_columns(ids))
        if need <= set(cv.columns):
            # one prediction per unit: the selected model, document-grouped CV, if several are listed
            for col, prefer in (("method", "selected"), ("cv", "by_document")):
                if col in cv and cv[col].nunique() > 1:
                    pick = (
                        prefer
                        if prefer in set(cv[col])
                        else sorted(cv[col].astype(str).unique())[0]
                    )
                    note(f"{cv_path}: using {col} == {pick!r}")
                    cv = cv[cv[col].astype(str) == pick]
            cv = cv.drop_duplicates("unit_id") if "unit_id" in cv else cv
            cv = cv[cv["gold"].astype(str).isin(ids)].reset_index(drop=True)
            if inp.units is not None and "n_chars" not in cv:
                cv = cv.merge(inp.units[["unit_id", "n_chars"]], on="unit_id", how="left")
            if "n_chars" in cv:
                cv["n_chars"] = cv["n_chars"].fillna(0)
            inp.cv = cv
        else:
            note(f"{cv_path}: needs columns {sorted(need - set(cv.columns))}")
    else:
        note(f"{cv_path} missing: no misclassification adjustment")
    for df in inp.sources.values():
        if "n_chars" not in df:
            df["n_chars"] = df["text"].astype(str).str.len()
    return inp


def document_meta(inp: AnalysisInputs) -> pd.DataFrame:
    """One row per document with the metadata columns that exist (doc_id always)."""
    if inp.documents is not None:
        cols = [c for c in META_COLUMNS if c in inp.documents]
        return (
            inp.documents[cols]
            .drop_duplicates("doc_id")
            .sort_values("doc_id")
            .reset_index(drop=True)
        )
    docs = sorted({d for df in inp.sources.values() for d in df["doc_id"].astype(str)})
    return pd.DataFrame({"doc_id": docs})
