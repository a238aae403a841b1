"""Topic-model stoplist from the corpus manifest and the codebook's framing text.

Place and organisation names (郑州, 郑州市, 市妇联, 山东省 …) are frequent in exactly one or
two reports, so an unfiltered LDA spends topics on *who* wrote a report instead of *what
work* it describes. The stoplist is built, not typed:

1. from the manifest columns ``province``, ``place`` and ``organisation`` of the prepared
   ``documents.parquet``: every value, and its short forms — the organisation without the
   federation suffix (郑州市妇联 → 郑州市), the place without its administrative suffix
   (郑州市 → 郑州, 济阳区 → 济阳), the province with one (河南 → 河南省), and the
   level-plus-federation forms (市妇联, 区妇联, 省妇联);
2. from the codebook's residual (framing) category: its seed terms, if any, and the
   examples quoted in parentheses in its ``includes`` (东风浩荡 …);
3. ``topics.extra_stopwords`` from params.

A vocabulary term is dropped when it equals a stop form, or when it *starts with* a place
or province name of two or more characters (郑州人, 山东省委): a token that begins with a
place name is about that place. The table of dropped forms and where each came from is
written beside the topic tables (``topic_stoplist.csv``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from research.io import read_table

FEDERATION_SUFFIXES = ("妇女联合会", "妇联")
ADMIN_SUFFIXES = ("自治区", "自治州", "地区", "省", "市", "区", "县", "州", "盟", "旗", "镇", "乡")
SUFFIX_OF = {"province": "省", "place": "市", "organisation": ""}
LEVEL_FORMS = ("省妇联", "市妇联", "区妇联", "县妇联", "州妇联", "镇妇联", "乡妇联")
_PAREN = re.compile(r"[（(]([^()（）]+)[)）]")
_CJK = re.compile(r"^[\u4e00-\u9fff]{2,}$")


def _strip(name: str, suffixes: Iterable[str]) -> str:
    for s in suffixes:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def place_forms(name: str, written_suffix: str = "市") -> set[str]:
    """A place or organisation name and its short forms (see the module docstring);
    ``written_suffix`` is added to a bare name (河南 → 河南省 with "省", 郑州 → 郑州市)."""
    name = str(name).strip()
    if not name or name.lower() in {"nan", "none"}:
        return set()
    out = {name}
    org = _strip(name, FEDERATION_SUFFIXES)
    out.add(org)
    bare = _strip(org, ADMIN_SUFFIXES)
    out.add(bare)
    if bare == org and written_suffix:  # no suffix written (河南, 郑州): the usual written form
        out.add(bare + written_suffix)
    if org != name:  # an organisation: its level-plus-federation form (市妇联)
        for s in ADMIN_SUFFIXES:
            if org.endswith(s):
                out.add(s + "妇联")
                break
    return {f for f in out if len(f) >= 2}


def manifest_stopwords(documents: pd.DataFrame) -> dict[str, str]:
    """Stop form → source column, from the province/place/organisation columns."""
    out: dict[str, str] = {}
    for col in ("province", "place", "organisation"):
        if col not in documents.columns:
            continue
        for value in sorted(set(documents[col].dropna().astype(str))):
            for form in sorted(place_forms(value, SUFFIX_OF.get(col, ""))):
                out.setdefault(form, f"manifest:{col}")
    if "organisation" in documents.columns and documents["organisation"].notna().any():
        for form in LEVEL_FORMS:
            out.setdefault(form, "manifest:level")
    return out


def framing_stopwords(codebook) -> dict[str, str]:
    """Stop form → source, from the codebook's residual category (seed terms, quoted examples)."""
    if codebook is None:
        return {}
    other = codebook[codebook.other_id]
    out = {t: "codebook:other.seed_terms" for t in getattr(other, "seed_terms", {}) or {}}
    for line in getattr(other, "includes", ()) or ():
        for m in _PAREN.findall(str(line)):
            for part in re.split(r"[，,、;；…]+", m):
                part = part.strip().strip("…")
                if _CJK.match(part):
                    out.setdefault(part, "codebook:other.includes")
    return out


def build_stoplist(
    prepared_dir: str | Path | None,
    codebook=None,
    extra: Iterable[str] = (),
    *,
    from_manifest: bool = True,
    from_codebook: bool = True,
) -> pd.DataFrame:
    """The stoplist table (``term``, ``source``, ``prefix``), sorted by term.

    ``prefix`` marks place names whose *prefix* also drops a token (see module docstring).
    """
    rows: dict[str, str] = {}
    prefixes: set[str] = set()
    if from_manifest and prepared_dir is not None:
        path = Path(prepared_dir) / "documents.parquet"
        if path.exists():
            docs = read_table(path)
            rows.update(manifest_stopwords(docs))
            for col in ("province", "place"):
                if col in docs.columns:
                    for v in docs[col].dropna().astype(str):
                        prefixes.update(
                            f for f in place_forms(v, SUFFIX_OF[col]) if not f.endswith("妇联")
                        )
    if from_codebook:
        for t, s in framing_stopwords(codebook).items():
            rows.setdefault(t, s)
    for t in extra:
        rows.setdefault(str(t), "params:topics.extra_stopwords")
    table = pd.DataFrame(
        [(t, s, t in prefixes) for t, s in rows.items()], columns=["term", "source", "prefix"]
    )
    return table.sort_values("term", kind="stable").reset_index(drop=True)


def stopped_terms(
    vocab: Iterable[str],
    exact: Iterable[str],
    prefixes: Iterable[str] = (),
    keep: Iterable[str] = (),
) -> list[str]:
    """The vocabulary terms a stoplist removes: equal to an ``exact`` form or starting with
    one of ``prefixes`` — except ``keep`` (codebook seed terms, which the seeded models need)."""
    exact, keep = set(exact), set(keep)
    pre = tuple(sorted({p for p in prefixes if p}, key=len, reverse=True))
    return sorted(t for t in vocab if t not in keep and (t in exact or (pre and t.startswith(pre))))
