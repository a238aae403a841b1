"""Campaign and brand names: the quoted names (“…”, 「…」, 『…』) in each report.

Federations brand their programmes (“巧媳妇”, “美丽庭院”, “巾帼心向党”); which names appear
where and when, and in which domain's paragraphs, traces the diffusion of campaigns.
"""

from __future__ import annotations

import re

import pandas as pd

_QUOTED = re.compile(r"“([^“”\n]{1,30})”|「([^「」\n]{1,30})」|『([^『』\n]{1,30})』")
_CJK = re.compile(r"[\u3400-\u9fff]")
_PUNCT_INSIDE = re.compile(r"[，。；：！？,;!?]")


def extract_quoted(text: str, min_chars: int = 2, max_chars: int = 20) -> list[str]:
    """Quoted names in order of appearance (duplicates kept).

    Kept: min_chars..max_chars long, containing a CJK character, and no sentence punctuation
    inside (a quoted sentence is a citation, not a name).
    """
    out = []
    for m in _QUOTED.finditer(text or ""):
        name = next(g for g in m.groups() if g is not None).strip()
        if not (min_chars <= len(name) <= max_chars):
            continue
        if not _CJK.search(name) or _PUNCT_INSIDE.search(name):
            continue
        out.append(name)
    return out


def campaign_names(
    units: pd.DataFrame,
    label_col: str = "domain",
    source_col: str | None = "domain_source",
    min_chars: int = 2,
    max_chars: int = 20,
) -> pd.DataFrame:
    """One row per quoted name occurrence: doc_id, unit_id, para_id, name, domain (+ source).

    ``units`` needs doc_id, unit_id, text and ``label_col``; extra metadata columns
    (province, level, year) are carried along when present.
    """
    meta = [c for c in ("province", "level", "year") if c in units]
    rows = []
    for rec in units.to_dict("records"):
        for pos, name in enumerate(extract_quoted(str(rec.get("text", "")), min_chars, max_chars)):
            row = {
                "doc_id": rec["doc_id"],
                "unit_id": rec.get("unit_id", ""),
                "para_id": rec.get("para_id", pd.NA),
                "position": pos,
                "name": name,
                "domain": rec.get(label_col, "") or "",
                "domain_source": rec.get(source_col, "") if source_col else "",
            }
            row.update({c: rec[c] for c in meta})
            rows.append(row)
    cols = ["doc_id", *meta, "unit_id", "para_id", "position", "name", "domain", "domain_source"]
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["doc_id", "unit_id", "position"], kind="mergesort").reset_index(
        drop=True
    )


def summarise_campaigns(mentions: pd.DataFrame) -> pd.DataFrame:
    """Per name: mentions, documents, provinces, years and the domain it appears in most."""
    cols = ["name", "n_mentions", "n_docs", "provinces", "years", "top_domain", "domains"]
    if mentions.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for name, sub in mentions.groupby("name", sort=True):
        doms = sub["domain"].astype(str).replace("", "unlabelled").value_counts()
        doms = doms.sort_index().sort_values(ascending=False, kind="mergesort")

        def join(c: str, sub: pd.DataFrame = sub) -> str:
            return ";".join(sorted({str(x) for x in sub[c].dropna()})) if c in sub else ""

        rows.append(
            (
                name,
                len(sub),
                sub["doc_id"].nunique(),
                join("province"),
                join("year"),
                doms.index[0],
                ";".join(f"{k}:{v}" for k, v in doms.items()),
            )
        )
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(
        ["n_docs", "n_mentions", "name"], ascending=[False, False, True], kind="mergesort"
    ).reset_index(drop=True)
