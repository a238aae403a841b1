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
from typing import Any, cast
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from research.errors import InputError
from research.io import is_blank
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


def normalise_label(
    value: Any, cb: Codebook, where: str, path: str | Path, look: dict[str, str] | None = None
) -> str:
    """One primary label → codebook id ("" if blank); InputError naming file and row."""
    if is_blank(value):
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
    elif is_blank(value):
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


#: Label Studio export columns that are never label fields
LS_META = {
    "id",
    "annotation_id",
    "annotator",
    "created_at",
    "updated_at",
    "lead_time",
    "unit_id",
    "doc_id",
    "text",
    "heading",
    "agreement",
    "annotations_count",
    "predictions",
}


def read_annotations(
    path: str | Path,
    cb: Codebook,
    label_column: str | None = "label",
    secondary_column: str | None = "secondary",
    annotator: str | None = None,
    keep_unlabelled: bool = False,
    annotator_column: str | None = None,
    config: str | Path | None = None,
) -> pd.DataFrame:
    """Read filled annotations into the tidy format (one row per unit × annotator).

    Accepted: a filled annotation CSV/XLSX/Parquet/JSONL (one annotator), a long table with
    an ``annotator`` column (e.g. written by ``annotate import``), and Label Studio's JSON,
    JSON-MIN and CSV exports (several annotators; skipped tasks and cancelled annotations
    are dropped). Label Studio field names come from ``label_column``/``secondary_column``
    when those fields exist, else from the labeling ``config`` (or ``label_config.xml``
    beside the export), else from the export itself. Unlabelled rows are dropped unless
    ``keep_unlabelled``. Raises InputError naming the file and row for labels that are not
    in the codebook, duplicate units, and missing columns.

    >>> read_annotations("project.json", cb)  # doctest: +SKIP
    """
    path = Path(path)
    records = _label_studio_records(path)
    if records is None:
        from research.io import read_table

        t = read_table(path)
        who = annotator_column or ("annotator" if "annotator" in t.columns else None)
        if who is None and "annotation_id" not in t.columns:
            df = _read_table_annotations(
                path, cb, label_column or "label", secondary_column, annotator, t
            )
        else:
            records = t.to_dict(orient="records")
            for r in records:
                r["annotator"] = r.get(who or "annotator", "")
    if records is not None:
        fields = _resolve_fields(records, cb, path, label_column, secondary_column, config)
        df = _flat_annotations(records, cb, path, fields)
    if annotator is not None:
        df["annotator"] = annotator
    if not keep_unlabelled:
        df = df[df["label"] != ""]
    return _tidy(df.to_dict(orient="records"))


def _read_table_annotations(
    path: Path,
    cb: Codebook,
    label_column: str,
    secondary_column: str | None,
    annotator: str | None,
    t: pd.DataFrame,
) -> pd.DataFrame:
    have = ", ".join(map(str, t.columns))
    if "unit_id" not in t.columns:
        raise InputError(path, f"missing column 'unit_id' (have: {have})")
    if label_column not in t.columns:
        raise InputError(path, f"missing label column {label_column!r} (have: {have})")
    sec_col = secondary_column if secondary_column and secondary_column in t.columns else None
    ids = t["unit_id"].astype(str).str.strip()
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(
            path,
            f"row {int(dup.index[0]) + 2}: duplicate unit_id {dup.iloc[0]!r} "
            "(several annotators? add an 'annotator' column)",
        )
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
        rows.append(_row(rec, ids.iloc[i], name, lab, sec, _text(rec.get("note"))))
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def _text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return " ".join(str(x) for x in v)
    if isinstance(v, float) and v.is_integer():  # ids in a column with blanks read as floats
        return str(int(v))
    return "" if is_blank(v) else str(v)


def _row(rec: dict, uid: str, who: str, prim: str, sec: str, note: str) -> dict[str, str]:
    return {
        "unit_id": uid,
        "doc_id": _text(rec.get("doc_id")),
        "annotator": who,
        "label": prim,
        "secondary": sec,
        "note": note,
        "text": _text(rec.get("text")),
    }


def _load_tasks(path: Path) -> list[Any]:
    """The task list of a Label Studio JSON export (a single task object is a list of one);
    unreadable or non-list JSON is an error naming the file."""
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


def _annotator(annotation: dict[str, Any]) -> str:
    """Who made an annotation: ``completed_by`` as an id, or a user object's email or id."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return "" if who is None else str(who)


def _result_fields(annotation: dict[str, Any]) -> dict[str, Any]:
    """An annotation's results by control name: choices as a list, text areas as text."""
    fields: dict[str, Any] = {}
    for r in annotation.get("result") or []:
        name, val = r.get("from_name"), r.get("value") or {}
        if name is None:
            continue
        if "choices" in val:
            fields[name] = list(val.get("choices") or [])
        elif "text" in val:
            fields[name] = _text(val.get("text"))
    return fields


def _task_records(path: Path, n: int, task: Any) -> list[dict[str, Any]]:
    """The flat records of task ``n``: one per annotation that was not cancelled (one
    unlabelled record when there is none), or the task itself when JSON-MIN made it flat."""
    if not isinstance(task, dict):
        raise InputError(path, f"task #{n}: expected an object")
    if "data" not in task and "annotations" not in task:  # JSON-MIN: already flat
        return [{**task, "_where": f"item #{n}"}]
    data = task.get("data")
    if not isinstance(data, dict):
        raise InputError(path, f"task #{n}: expected an object with a 'data' field")
    base = {k: v for k, v in data.items() if k in LS_META}
    anns = [a for a in (task.get("annotations") or []) if not a.get("was_cancelled")]
    if not anns:
        return [{**base, "annotator": "", "_where": f"task #{n}"}]
    return [
        {**base, "annotator": _annotator(a), "_where": f"task #{n}", **_result_fields(a)}
        for a in anns
    ]


def _label_studio_records(path: Path) -> list[dict[str, Any]] | None:
    """A Label Studio JSON or JSON-MIN export as flat records (one per annotation, field
    name → list of choices or text); None when ``path`` is not a .json file."""
    if path.suffix.lower() != ".json":
        return None
    tasks = _load_tasks(path)
    return [rec for n, task in enumerate(tasks, start=1) for rec in _task_records(path, n, task)]


def _choices(v: Any) -> list[str] | None:
    """A label field's value as a list of choices ([] if blank, None if not choice-like)."""
    if isinstance(v, dict):
        return [str(x) for x in v.get("choices") or []] if "choices" in v else None
    if isinstance(v, (list, tuple)):
        return [str(x) for x in v]
    if is_blank(v):
        return []
    s = str(v).strip()
    if s.startswith("{") and '"choices"' in s:
        try:
            return _choices(json.loads(s))
        except json.JSONDecodeError:
            return None
    return [s]


def config_fields(xml: str) -> dict[str, Any]:
    """Field names in a Label Studio labeling config: single-choice ``Choices`` → primary
    candidates, multiple-choice → secondary, ``TextArea`` → note."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    out: dict[str, Any] = {"single": [], "multiple": [], "text": []}
    for el in root.iter():
        name = el.get("name")
        if el.tag == "Choices" and name:
            out["multiple" if el.get("choice") == "multiple" else "single"].append(name)
        elif el.tag == "TextArea" and name:
            out["text"].append(name)
    return out


def _label_fields(records: list[dict[str, Any]]) -> list[str]:
    """Field names that may hold labels: every key of the records except Label Studio's
    task metadata and our own ``_``-prefixed bookkeeping, in first-seen order."""
    return list(dict.fromkeys(k for r in records for k in r if k not in LS_META and k[0] != "_"))


def _read_config_fields(path: Path, config: str | Path | None) -> dict[str, Any] | None:
    """The fields named by the labeling config: ``config`` if given (it must exist), else
    ``label_config.xml`` beside the export when there is one, else None."""
    cfg_path = Path(config) if config else path.with_name("label_config.xml")
    if cfg_path.exists():
        return config_fields(cfg_path.read_text(encoding="utf-8"))
    if config:
        raise InputError(config, "labeling config not found")
    return None


def _codebook_choices(
    records: list[dict[str, Any]], key: str, look: dict[str, str]
) -> tuple[bool, int]:
    """Whether field ``key`` holds only codebook labels (choice-like and filled somewhere),
    and the most choices any record gives in it (1 means single choice)."""
    vals = [_choices(r.get(key)) for r in records]
    if any(v is None for v in vals) or not any(vals):
        return False, 0
    present = cast("list[list[str]]", vals)  # no None left (checked above)
    ok = all(str(x).strip().lower() in look for v in present for x in v)
    return ok, max(len(v) for v in present)


def _named_field(
    explicit: str | None, cfg_names: list[str], default: str, keys: list[str]
) -> str | None:
    """The field the user named (if present), else the first the config names, else the
    conventional ``default`` name; None when the export has none of them."""
    if explicit and explicit in keys:
        return explicit
    for k in cfg_names:
        if k in keys:
            return k
    return default if default in keys else None


def _guess_primary(
    records: list[dict[str, Any]], candidates: list[str], look: dict[str, str], path: Path
) -> str:
    """The field holding the primary label when nothing names it.

    The primary label is single choice and given on every annotation; secondary ones are
    optional, so the best-covered single-choice codebook field wins. A tie is ambiguous and
    an error (guessing would silently swap primary and secondary labels).
    """
    filled = {}
    for k in candidates:
        ok, n = _codebook_choices(records, k, look)
        if ok and n == 1:
            filled[k] = sum(bool(_choices(r.get(k))) for r in records)
    single = sorted(filled, key=lambda k: filled[k], reverse=True)
    if len(single) > 1 and filled[single[0]] > filled[single[1]]:
        single = single[:1]
    if len(single) != 1:
        keys = _label_fields(records)
        raise InputError(
            path,
            "cannot tell which field holds the primary label "
            f"(fields: {', '.join(keys) or 'none'}); give --label-column NAME or --config "
            "label_config.xml",
        )
    return single[0]


def _resolve_fields(
    records: list[dict[str, Any]],
    cb: Codebook,
    path: Path,
    label: str | None,
    secondary: str | None,
    config: str | Path | None,
) -> dict[str, str | None]:
    """Which field holds the primary label, the secondary labels and the note.

    Named fields (arguments, then the labeling config, then the conventional names) win;
    otherwise the fields are recognised by their content, so any Label Studio template
    imports without configuration.
    """
    keys = _label_fields(records)
    if not keys:  # nothing annotated at all
        return {"primary": None, "secondary": None, "note": None}
    cfg = _read_config_fields(path, config) or {"single": [], "multiple": [], "text": []}
    look = _label_lookup(cb)
    prim = _named_field(label, cfg["single"], "primary", keys)
    sec = _named_field(secondary, cfg["multiple"], "secondary", keys)
    note = _named_field(None, cfg["text"], "note", keys)
    if prim is None:
        prim = _guess_primary(records, [k for k in keys if k not in (sec, note)], look, path)
    if sec is None:  # the one other field of codebook labels, if unambiguous
        multi = [
            k for k in keys if k not in (prim, note) and _codebook_choices(records, k, look)[0]
        ]
        sec = multi[0] if len(multi) == 1 else None
    if note is None:
        note = next((k for k in keys if k in ("comment", "comments")), None)
    return {"primary": prim, "secondary": sec, "note": note}


def _flat_annotations(
    records: list[dict[str, Any]], cb: Codebook, path: Path, fields: dict[str, str | None]
) -> pd.DataFrame:
    look = _label_lookup(cb)
    rows = []
    for i, rec in enumerate(records):
        uid = _text(rec.get("unit_id")).strip()
        place = rec.get("_where") or f"row {i + 2}"
        if not uid:
            raise InputError(path, f"{place}: data has no 'unit_id'")
        who = _text(rec.get("annotator")).strip()
        where = f"{place} (unit_id {uid}, annotator {who or '?'})"
        ch = (_choices(rec.get(fields["primary"])) if fields["primary"] else []) or []
        if len(ch) > 1:
            raise InputError(path, f"{where}: more than one primary label {ch}")
        prim = normalise_label(ch[0] if ch else "", cb, where, path, look)
        sec_v = _choices(rec.get(fields["secondary"])) if fields["secondary"] else []
        sec = normalise_secondary(sec_v or [], prim, cb, where, path, look)
        note = _text(rec.get(fields["note"])) if fields["note"] else ""
        rows.append(_row(rec, uid, who, prim, sec, note))
    df = pd.DataFrame(rows, columns=TIDY_COLUMNS)
    dup = df[df.duplicated(["unit_id", "annotator"]) & (df["label"] != "")]
    if len(dup):
        raise InputError(
            path,
            f"unit_id {dup['unit_id'].iloc[0]!r} annotated twice by the same annotator "
            f"{dup['annotator'].iloc[0]!r}",
        )
    return df


def has_labels(path: str | Path, column: str = "gold") -> bool:
    """Whether the table at ``path`` exists and has at least one non-blank ``column`` value."""
    from research.io import read_table

    if not Path(path).exists():
        return False
    t = read_table(path)
    return column in t.columns and bool(t[column].map(lambda v: not is_blank(v)).any())


def holds_labels(path: str | Path) -> bool:
    """Whether ``path`` exists and holds labels (a non-blank label/gold/pass/secondary
    column); unreadable files count as holding labels, to be safe."""
    from research.io import read_table

    path = Path(path)
    if not path.exists():
        return False
    if path.suffix.lower() not in {".csv", ".tsv", ".xlsx", ".parquet", ".jsonl"}:
        return path.stat().st_size > 0
    try:
        t = read_table(path)
    except InputError:
        return True
    cols = [
        c for c in t.columns if str(c).startswith(("label", "gold", "pass", "secondary", "primary"))
    ]
    return any(t[c].map(lambda v: not is_blank(v)).any() for c in cols)


def safe_output(path: str | Path, force: bool = False) -> Path:
    """``path``, or the first free numbered name beside it (``units-2.csv`` …) when ``path``
    holds labels and ``force`` is not set — annotation work is never overwritten silently."""
    path = Path(path)
    if force or not holds_labels(path):
        return path
    n = 2
    while True:
        cand = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not cand.exists():
            return cand
        n += 1


# ---------------------------------------------------------------- agreement


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two equal-length label sequences; NaN when chance agreement is 1."""
    xa, xb = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    if len(xa) != len(xb):
        raise ValueError("label sequences differ in length")
    if len(xa) == 0:
        return float("nan")
    if len(set(xa) | set(xb)) == 1:  # chance agreement 1: undefined (sklearn would warn)
        return float("nan")
    return float(cohen_kappa_score(xa.astype(str), xb.astype(str)))


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
    pairs: list[dict[str, Any]] = []
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
    annotator_column: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Build the units × raters table from annotation files.

    * one file + ``columns``: each column is a rater (e.g. ``pass1 pass2`` of annotations.csv);
    * ``annotator_column``: long tables (one row per unit × annotator, as ``annotate import``
      writes them), each annotator a rater;
    * several files (or one Label Studio export with several annotators): each file's
      ``label_column`` (or each annotator) is a rater, joined on unit_id.
    Labels are validated against the codebook (errors name the file and row).
    """
    files = [Path(p) for p in paths]
    frames: list[pd.DataFrame] = []
    if columns:
        if len(files) != 1:
            raise InputError(
                files[0] if files else "<files>", "--columns takes exactly one annotation file"
            )
        if len(columns) < 2:
            raise InputError(files[0], "--columns needs at least two label columns")
        for col in columns:
            t = read_annotations(
                files[0],
                cb,
                label_column=col,
                secondary_column=None,
                annotator=col,
                keep_unlabelled=True,
            )
            frames.append(t)
    else:
        seen: dict[str, int] = {}
        for p in files:
            t = read_annotations(
                p,
                cb,
                label_column=label_column,
                secondary_column=None,
                keep_unlabelled=True,
                annotator_column=annotator_column,
            )
            if t.loc[t["label"] != "", "annotator"].nunique() <= 1 and annotator_column is None:
                name = p.stem
                seen[name] = seen.get(name, 0) + 1
                t["annotator"] = name if seen[name] == 1 else f"{name}_{seen[name]}"
            frames.append(t)
    tidy = pd.concat(frames, ignore_index=True)
    tidy = tidy[tidy["annotator"] != ""]
    raters = list(dict.fromkeys(tidy.loc[tidy["label"] != "", "annotator"]))
    if len(raters) < 2:
        raise InputError(
            files[0], f"agreement needs labels from at least two raters (found {len(raters)})"
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
