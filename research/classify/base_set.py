"""The base training set shipped with the package, and how it joins a user's gold labels.

The base set is ~3,000+ paragraphs written in the style of Women's Federation texts by
language-model writer sessions and labelled blind by separate language-model annotator
sessions (see ``research/resources/base_set/DATA_CARD.md``). It is TRAINING data only:
never evidence about real federations and never used to evaluate a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from research.errors import InputError

BASE_SET_DIR = Path(__file__).resolve().parent.parent / "resources" / "base_set"
BASE_SET = BASE_SET_DIR / "base_set.csv"
COLUMNS = ("unit_id", "text", "label", "secondary", "writer", "province", "level", "year", "genre")
SOURCE_BASE = "base_set"
SOURCE_GOLD = "gold"


def base_set_path(path: str | Path | None = None) -> Path:
    """The base set to use: ``path`` if given, else the one shipped in the package."""
    return Path(path) if path else BASE_SET


def load_base_set(path: str | Path | None = None, labels: list[str] | None = None) -> pd.DataFrame:
    """Read the base set as a training table.

    Columns: unit_id, text, heading (empty: written paragraphs have no section heading),
    label, group (``base:<writer>``: the unit of grouped CV on the base set), province,
    source (``base_set``), plus the descriptive columns of the file. Labels outside
    ``labels`` (the codebook ids) are an error naming the file.
    """
    p = base_set_path(path)
    if not p.exists():
        raise InputError(
            p, "base training set not found (reinstall the package or set train.base_set_path)"
        )
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(p, f"missing column(s) {', '.join(missing)}")
    if labels is not None:
        bad = sorted(set(df["label"]) - set(labels))
        if bad:
            raise InputError(
                p, f"labels not in the codebook: {', '.join(bad)} (codebook: {', '.join(labels)})"
            )
    return df.assign(
        heading="",
        group="base:" + df["writer"],
        source=SOURCE_BASE,
    ).reset_index(drop=True)


def sample_base_set(base: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """A label-stratified random sample of ``n`` base-set rows (all rows when ``n`` is None).

    For quick iteration and tests (``train.base_set_sample``); results with a sample are not
    the shipped instrument's.
    """
    if not n or n >= len(base):
        return base
    frac = n / len(base)
    parts = [
        g.sample(n=max(1, round(len(g) * frac)), random_state=seed)
        for _, g in base.groupby("label", sort=True)
    ]
    return pd.concat(parts).sort_values("unit_id").reset_index(drop=True)


def base_set_for(params: Any, labels: list[str]) -> pd.DataFrame | None:
    """The base set as ``params['train']`` asks: off, the shipped one, a file, or a sample."""
    from research.settings import settings_of

    st = settings_of(params)
    if not st.train.base_set:
        return None
    base = load_base_set(st.train.base_set_path, labels)
    return sample_base_set(base, st.train.base_set_sample, st.seed)


def combine(
    gold: pd.DataFrame | None, base: pd.DataFrame | None, gold_weight: float
) -> pd.DataFrame:
    """Stack the user's gold table and the base set with a ``weight`` per row.

    Gold rows weigh ``gold_weight`` (a real unit of the user's corpus counts more than a
    written one), base rows 1. Columns: unit_id, text, heading, label, group, province,
    source, weight.
    """
    keep = ["unit_id", "text", "heading", "label", "group", "province"]
    parts: list[pd.DataFrame] = []
    if gold is not None and len(gold):
        g = gold.copy()
        for c in keep:
            if c not in g.columns:
                g[c] = ""
        parts.append(g[keep].assign(source=SOURCE_GOLD, weight=float(gold_weight)))
    if base is not None and len(base):
        parts.append(base[keep].assign(source=SOURCE_BASE, weight=1.0))
    if not parts:
        raise InputError(
            "training data", "no training rows: no gold labels and the base set is off"
        )
    out = pd.concat(parts, ignore_index=True)
    for c in keep:
        out[c] = out[c].astype(str)
    return out


def describe(table: pd.DataFrame) -> dict[str, Any]:
    """Counts by source and label, for model cards and logs."""
    counts = table.groupby(["source", "label"]).size()
    return {
        src: {str(lab): int(n) for lab, n in counts[src].items()}
        for src in sorted(table["source"].unique())
    }
