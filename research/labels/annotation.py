"""Annotation workflow: export units for annotators, import their labels, measure agreement.

* :func:`export_csv` / :func:`export_label_studio` / :func:`label_config_xml` — units to an
  annotation CSV (empty label columns) and to Label Studio's JSON import format, with a
  labeling config generated from the codebook (single choice for the primary domain,
  multiple choice for secondary domains, the codebook definitions as hints).
* :func:`read_annotations` — a filled CSV/Parquet/JSONL table or a Label Studio JSON export
  → a tidy table ``unit_id, doc_id, annotator, label, secondary, note, text``, validating
  every label against the codebook with errors naming the file and the row.
* :func:`agreement` — Cohen's kappa (pairwise), Krippendorff's alpha (nominal) and percent
  agreement between two or more raters, overall and per category (one-vs-rest), plus the
  list of units the raters disagree on.

Labels are codebook ids; ``secondary`` is a ";"-joined list of domain ids in codebook order
("" if none). Display names (name_zh, name_en, or the Label Studio choice text) are mapped
back to ids on import.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from research.errors import InputError
from research.labels.codebook import Codebook

TIDY_COLUMNS = ["unit_id", "doc_id", "annotator", "label", "secondary", "note", "text"]
_SPLIT = re.compile(r"\s*[;；,，、|]\s*")


# ---------------------------------------------------------------- export


def order_units(units: pd.DataFrame) -> pd.DataFrame:
    """Units in reading order (doc_id, para_id) when available, else by unit_id."""
    keys = ["doc_id", "para_id"] if {"doc_id", "para_id"} <= set(units.columns) else ["unit_id"]
    return units.sort_values(keys, kind="stable").reset_index(drop=True)


def annotation_frame(units: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """The annotation-CSV table for ``units``: unit_id, doc_id, heading, text, [extra],
    and empty label, secondary, note columns."""
    for col in ("unit_id", "text"):
        if col not in units.columns:
            raise InputError("<units>", f"missing column {col!r}")
    out = pd.DataFrame(
        {
            "unit_id": units["unit_id"].astype(str).to_numpy(),
            "doc_id": (units["doc_id"] if "doc_id" in units else pd.Series([""] * len(units)))
            .astype(str)
            .to_numpy(),
            "heading": (units["heading"] if "heading" in units else pd.Series([""] * len(units)))
            .fillna("")
            .astype(str)
            .to_numpy(),
            "text": units["text"].fillna("").astype(str).to_numpy(),
        }
    )
    for col in extra:
        out[col] = units[col].to_numpy()
    for col in ("label", "secondary", "note"):
        out[col] = ""
    return out


def export_csv(units: pd.DataFrame, path: str | Path, extra: Sequence[str] = ()) -> Path:
    """Write the annotation CSV (UTF-8 with BOM so Excel shows Chinese correctly)."""
    from research.io import atomic_path

    path = Path(path)
    frame = annotation_frame(units, extra)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\n")
    return path


def label_studio_tasks(units: pd.DataFrame) -> list[dict[str, Any]]:
    """Label Studio import tasks: one ``{"data": {...}}`` per unit."""
    frame = annotation_frame(units)
    return [
        {"data": {"unit_id": r.unit_id, "doc_id": r.doc_id, "heading": r.heading, "text": r.text}}
        for r in frame.itertuples(index=False)
    ]


def export_label_studio(units: pd.DataFrame, path: str | Path) -> Path:
    """Write Label Studio's JSON import file for ``units``."""
    from research.io import write_text

    return write_text(
        json.dumps(label_studio_tasks(units), ensure_ascii=False, indent=1) + "\n", path
    )


def choice_text(cb: Codebook, cid: str, lang: str = "en") -> str:
    """The text a Label Studio choice shows: ``id — 中文名 / English name``."""
    c = cb[cid]
    return f"{cid} — {c.name_zh} / {c.name_en}" if lang != "id" else cid


def label_config_xml(cb: Codebook) -> str:
    """Label Studio labeling config generated from the codebook.

    Primary: single-choice radio over all categories (required); secondary: multiple choice
    over the domains; a free-text note. Each choice stores the codebook id (``alias``) and
    shows the definition as a hint.
    """
    lines = [
        "<View>",
        '  <Header value="$unit_id"/>',
        '  <Text name="heading" value="$heading"/>',
        '  <Text name="text" value="$text"/>',
        '  <Header value="Primary domain (most words)"/>',
        '  <Choices name="primary" toName="text" choice="single-radio" required="true" showInline="false">',
    ]
    for i, c in enumerate(cb.categories, start=1):
        hint = c.definition
        if c.excludes:
            hint += " Excludes: " + "; ".join(c.excludes)
        lines.append(
            f"    <Choice value={quoteattr(choice_text(cb, c.id))} alias={quoteattr(c.id)} "
            f"hint={quoteattr(hint)} hotkey={quoteattr(str(i))}/>"
        )
    lines += [
        "  </Choices>",
        '  <Header value="Secondary domains (optional, a substantial share)"/>',
        '  <Choices name="secondary" toName="text" choice="multiple" showInline="true">',
    ]
    for c in cb.categories:
        if c.residual:
            continue
        lines.append(
            f"    <Choice value={quoteattr(choice_text(cb, c.id))} alias={quoteattr(c.id)} "
            f"hint={quoteattr(c.definition)}/>"
        )
    lines += [
        "  </Choices>",
        '  <TextArea name="note" toName="text" placeholder="note for hard cases" maxSubmissions="1"/>',
        "</View>",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- import


def _label_lookup(cb: Codebook) -> dict[str, str]:
    """Accepted spellings → id: the id, names, and the Label Studio choice text."""
    look: dict[str, str] = {}
    for c in cb.categories:
        for v in (c.id, c.name_zh, c.name_en, choice_text(cb, c.id)):
            look[v.strip().lower()] = c.id
    return look


def _is_blank(v: Any) -> bool:
    return (
        v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "" or v is pd.NA
    )


def normalise_label(
    value: Any, cb: Codebook, where: str, path: str | Path, look: dict[str, str] | None = None
) -> str:
    """One primary label → codebook id ("" if blank); InputError naming file and row."""
    if _is_blank(value):
        return ""
    look = look or _label_lookup(cb)
    key = str(value).strip().lower()
    if key not in look:
        raise InputError(
            path,
            f"{where}: label {str(value).strip()!r} is not a codebook category (use one of: {', '.join(cb.ids)})",
        )
    return look[key]


def normalise_secondary(
    value: Any,
    primary: str,
    cb: Codebook,
    where: str,
    path: str | Path,
    look: dict[str, str] | None = None,
) -> str:
    """Secondary labels → ";"-joined domain ids in codebook order ("" if none).

    The residual category is not allowed as a secondary label; repeating the primary label
    is dropped silently (it adds nothing).
    """
    if isinstance(value, (list, tuple)):
        parts = [str(v) for v in value]
    elif _is_blank(value):
        return ""
    else:
        parts = _SPLIT.split(str(value).strip())
    ids = set()
    for part in parts:
        if not part.strip():
            continue
        cid = normalise_label(part, cb, where, path, look)
        if cid == cb.other_id:
            raise InputError(path, f"{where}: {cb.other_id!r} cannot be a secondary label")
        if cid != primary:
            ids.add(cid)
    return ";".join(c for c in cb.ids if c in ids)


def _tidy(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=TIDY_COLUMNS)
    for col in TIDY_COLUMNS:
        df[col] = df[col].fillna("").astype(str)
    return df.sort_values(["unit_id", "annotator"], kind="stable").reset_index(drop=True)


def read_annotations(
    path: str | Path,
    cb: Codebook,
    label_column: str = "label",
    secondary_column: str | None = "secondary",
    annotator: str | None = None,
    keep_unlabelled: bool = False,
) -> pd.DataFrame:
    """Read a filled annotation table or a Label Studio JSON export into the tidy format.

    ``.json`` files are read as Label Studio exports (a list of tasks with ``annotations``);
    anything else through :func:`research.io.read_table`. Unlabelled rows are dropped
    unless ``keep_unlabelled``. Raises InputError naming the file and row for labels that
    are not in the codebook, duplicate unit ids, and missing columns.
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        df = _read_label_studio(path, cb)
    else:
        df = _read_table_annotations(path, cb, label_column, secondary_column, annotator)
    if annotator is not None:
        df["annotator"] = annotator
    if not keep_unlabelled:
        df = df[df["label"] != ""]
    return _tidy(df.to_dict(orient="records"))


def _read_table_annotations(
    path: Path, cb: Codebook, label_column: str, secondary_column: str | None, annotator: str | None
) -> pd.DataFrame:
    from research.io import read_table

    t = read_table(path)
    have = ", ".join(map(str, t.columns))
    if "unit_id" not in t.columns:
        raise InputError(path, f"missing column 'unit_id' (have: {have})")
    if label_column not in t.columns:
        raise InputError(path, f"missing label column {label_column!r} (have: {have})")
    sec_col = secondary_column if secondary_column and secondary_column in t.columns else None
    ids = t["unit_id"].astype(str).str.strip()
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(path, f"row {int(dup.index[0]) + 2}: duplicate unit_id {dup.iloc[0]!r}")
    look = _label_lookup(cb)
    rows = []
    name = annotator or (label_column if label_column != "label" else path.stem)
    for i, rec in enumerate(t.to_dict(orient="records")):
        where = f"row {i + 2} (unit_id {ids.iloc[i]})"  # +2: header line, 1-based
        if ids.iloc[i] in ("", "nan", "None"):
            raise InputError(path, f"row {i + 2}: empty unit_id")
        lab = normalise_label(rec.get(label_column), cb, where, path, look)
        sec = normalise_secondary(rec.get(sec_col) if sec_col else None, lab, cb, where, path, look)
        if sec and not lab:
            raise InputError(path, f"{where}: secondary labels given without a primary label")
        rows.append(
            {
                "unit_id": ids.iloc[i],
                "doc_id": "" if _is_blank(rec.get("doc_id")) else str(rec.get("doc_id")),
                "annotator": name,
                "label": lab,
                "secondary": sec,
                "note": "" if _is_blank(rec.get("note")) else str(rec.get("note")),
                "text": "" if _is_blank(rec.get("text")) else str(rec.get("text")),
            }
        )
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def _ls_tasks(path: Path) -> list:
    """The task list of a Label Studio JSON export (one task object is accepted too)."""
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a valid Label Studio JSON export: {exc}") from exc
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise InputError(path, "a Label Studio export must be a JSON list of tasks")
    return tasks


def _ls_annotator(a: dict) -> str:
    who = a.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return "" if who is None else str(who)


def _ls_result(
    a: dict, cb: Codebook, where: str, path: Path, look: dict[str, str]
) -> tuple[str, str, str]:
    """(primary id, secondary ids, note) of one annotation."""
    prim, sec, note = "", [], ""
    for r in a.get("result") or []:
        name, val = r.get("from_name"), r.get("value") or {}
        if name == "primary":
            ch = val.get("choices") or []
            if len(ch) > 1:
                raise InputError(path, f"{where}: more than one primary label {ch}")
            prim = normalise_label(ch[0] if ch else "", cb, where, path, look)
        elif name == "secondary":
            sec = list(val.get("choices") or [])
        elif name == "note":
            note = " ".join(str(x) for x in (val.get("text") or []))
    return prim, normalise_secondary(sec, prim, cb, where, path, look), note


def _read_label_studio(path: Path, cb: Codebook) -> pd.DataFrame:
    look = _label_lookup(cb)
    rows = []
    for n, task in enumerate(_ls_tasks(path), start=1):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise InputError(path, f"task #{n}: expected an object with a 'data' field")
        data = task["data"]
        uid = str(data.get("unit_id", "")).strip()
        if not uid:
            raise InputError(path, f"task #{n}: data has no 'unit_id'")
        anns = [a for a in (task.get("annotations") or []) if not a.get("was_cancelled")]
        if not anns:
            rows.append(_ls_row(data, uid, "", "", "", ""))
        for a in anns:
            who = _ls_annotator(a)
            where = f"task #{n} (unit_id {uid}, annotator {who or '?'})"
            prim, sec_ids, note = _ls_result(a, cb, where, path, look)
            rows.append(_ls_row(data, uid, who, prim, sec_ids, note))
    df = pd.DataFrame(rows, columns=TIDY_COLUMNS)
    dup = df[df.duplicated(["unit_id", "annotator"]) & (df["label"] != "")]
    if len(dup):
        raise InputError(
            path, f"unit_id {dup['unit_id'].iloc[0]!r} annotated twice by the same annotator"
        )
    return df


def _ls_row(data: dict, uid: str, who: str, prim: str, sec: str, note: str) -> dict[str, str]:
    return {
        "unit_id": uid,
        "doc_id": str(data.get("doc_id", "") or ""),
        "annotator": who,
        "label": prim,
        "secondary": sec,
        "note": note,
        "text": str(data.get("text", "") or ""),
    }


# ---------------------------------------------------------------- agreement


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two equal-length label sequences; NaN when chance agreement is 1."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    if len(a) != len(b):
        raise ValueError("label sequences differ in length")
    if len(a) == 0:
        return float("nan")
    cats = sorted(set(a) | set(b), key=str)
    pe = sum(float(np.mean(a == c)) * float(np.mean(b == c)) for c in cats)
    if math.isclose(pe, 1.0):  # chance agreement 1: kappa undefined (sklearn would warn)
        return float("nan")
    return float(cohen_kappa_score(a.astype(str), b.astype(str)))


def krippendorff_alpha(matrix: Sequence[Sequence[Any]]) -> float:
    """Krippendorff's alpha (nominal) over raters × units with "" for missing; NaN if undefined."""
    import krippendorff

    mat = [list(r) for r in matrix]
    values = sorted({v for r in mat for v in r if v != ""}, key=str)
    if len(values) < 2:
        return float("nan")
    code = {v: i for i, v in enumerate(values)}
    data = np.array([[code[v] if v != "" else np.nan for v in r] for r in mat], dtype=float)
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if pairable.sum() == 0:
        return float("nan")
    try:
        return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        return float("nan")


def _r(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def _stats(wide: pd.DataFrame, raters: list[str], positive: str | None = None) -> dict[str, Any]:
    """Agreement statistics over ``wide`` (units × raters, "" = missing); one-vs-rest if
    ``positive`` is given."""
    mat = wide[raters].copy()
    if positive is not None:
        for r in raters:
            col = mat[r]
            mat[r] = np.where(col == "", "", np.where(col == positive, "yes", "no"))
    pairs = []
    for r1, r2 in combinations(raters, 2):
        both = (mat[r1] != "") & (mat[r2] != "")
        a, b = mat.loc[both, r1].tolist(), mat.loc[both, r2].tolist()
        pa = (
            float(np.mean(np.asarray(a, dtype=object) == np.asarray(b, dtype=object)))
            if a
            else float("nan")
        )
        pairs.append(
            {
                "rater_a": r1,
                "rater_b": r2,
                "n": int(both.sum()),
                "kappa": _r(cohen_kappa(a, b)),
                "percent_agreement": _r(pa),
            }
        )
    full = (mat != "").all(axis=1)
    all_agree = mat[full].nunique(axis=1) == 1 if full.any() else pd.Series(dtype=bool)
    kappas = [p["kappa"] for p in pairs if p["kappa"] is not None]
    return {
        "n_units": int(full.sum()),
        "percent_agreement": _r(float(all_agree.mean())) if full.any() else None,
        "kappa": _r(float(np.mean(kappas))) if kappas else None,
        "alpha": _r(krippendorff_alpha(mat.T.to_numpy().tolist())),
        "pairwise": pairs,
    }


def agreement(wide: pd.DataFrame, raters: Sequence[str], cb: Codebook) -> dict[str, Any]:
    """Agreement among ``raters`` (columns of ``wide``, one row per unit, "" = missing).

    Overall: Cohen's kappa per pair and their mean (``kappa``), Krippendorff's alpha
    (nominal, uses every unit with at least two labels), and percent agreement (share of
    units labelled by all raters on which all agree; per pair in ``pairwise``). Per
    category: the same statistics for the one-vs-rest binary labels, plus how many units
    each rater put in the category. Kappa/alpha are null where undefined (e.g. nobody used
    the category).
    """
    raters = list(raters)
    if len(raters) < 2:
        raise ValueError("agreement needs at least two raters")
    wide = wide.copy()
    for r in raters:
        wide[r] = wide[r].fillna("").astype(str)
    out = _stats(wide, raters)
    out["raters"] = raters
    out["n_units_any"] = int((wide[raters] != "").any(axis=1).sum())
    per = {}
    for cid in cb.ids:
        s = _stats(wide, raters, positive=cid)
        s["counts"] = {r: int((wide[r] == cid).sum()) for r in raters}
        per[cid] = s
    out["per_category"] = per
    return out


def by_category_table(result: dict[str, Any]) -> pd.DataFrame:
    """Per-category agreement as a tidy table (one row per category, plus ``overall``)."""
    overall = {
        "category": "overall",
        "n_units": result["n_units"],
        "kappa": result["kappa"],
        "alpha": result["alpha"],
        "percent_agreement": result["percent_agreement"],
    }
    for r in result["raters"]:
        overall[f"n_{r}"] = sum(s["counts"][r] for s in result["per_category"].values())
    rows = [overall]
    for cid, s in result["per_category"].items():
        row = {
            "category": cid,
            "n_units": s["n_units"],
            "kappa": s["kappa"],
            "alpha": s["alpha"],
            "percent_agreement": s["percent_agreement"],
        }
        for r, n in s["counts"].items():
            row[f"n_{r}"] = n
        rows.append(row)
    return pd.DataFrame(rows)


def disagreements(wide: pd.DataFrame, raters: Sequence[str]) -> pd.DataFrame:
    """Units labelled by two or more raters whose labels differ (for adjudication)."""
    raters = list(raters)
    lab = wide[raters].fillna("").astype(str)
    n_lab = (lab != "").sum(axis=1)
    distinct = lab.apply(lambda r: len({v for v in r if v}), axis=1)
    mask = (n_lab >= 2) & (distinct > 1)
    cols = [c for c in ("unit_id", "doc_id") if c in wide.columns] + raters
    cols += [c for c in ("text",) if c in wide.columns]
    return wide.loc[mask, cols].sort_values("unit_id", kind="stable").reset_index(drop=True)


def wide_from_files(
    paths: Sequence[str | Path],
    cb: Codebook,
    columns: Sequence[str] | None = None,
    label_column: str = "label",
) -> tuple[pd.DataFrame, list[str]]:
    """Build the units × raters table from annotation files.

    * one file + ``columns``: each column is a rater (e.g. ``pass1 pass2`` of annotations.csv);
    * several files (or one Label Studio export with several annotators): each file's
      ``label_column`` (or each annotator) is a rater, joined on unit_id.
    Labels are validated against the codebook (errors name the file and row).
    """
    paths = [Path(p) for p in paths]
    frames: list[pd.DataFrame] = []
    if columns:
        if len(paths) != 1:
            raise InputError(
                paths[0] if paths else "<files>", "--columns takes exactly one annotation file"
            )
        if len(columns) < 2:
            raise InputError(paths[0], "--columns needs at least two label columns")
        for col in columns:
            t = read_annotations(
                paths[0],
                cb,
                label_column=col,
                secondary_column=None,
                annotator=col,
                keep_unlabelled=True,
            )
            frames.append(t)
    else:
        seen: dict[str, int] = {}
        for p in paths:
            t = read_annotations(
                p, cb, label_column=label_column, secondary_column=None, keep_unlabelled=True
            )
            if p.suffix.lower() != ".json" or t["annotator"].nunique() <= 1:
                name = p.stem
                seen[name] = seen.get(name, 0) + 1
                t["annotator"] = name if seen[name] == 1 else f"{name}_{seen[name]}"
            frames.append(t)
    tidy = pd.concat(frames, ignore_index=True)
    tidy = tidy[tidy["annotator"] != ""]
    raters = list(dict.fromkeys(tidy.loc[tidy["label"] != "", "annotator"]))
    if len(raters) < 2:
        raise InputError(
            paths[0], f"agreement needs labels from at least two raters (found {len(raters)})"
        )
    lab = tidy.pivot_table(
        index="unit_id", columns="annotator", values="label", aggfunc="first"
    ).reindex(columns=raters)
    meta = (
        tidy.sort_values("unit_id")
        .groupby("unit_id")
        .agg(doc_id=("doc_id", "max"), text=("text", "max"))
    )
    wide = meta.join(lab).reset_index().fillna("")
    return wide.sort_values("unit_id", kind="stable").reset_index(drop=True), raters
