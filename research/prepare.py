"""The ``prepare`` stage: corpus folder + manifest → documents, units, items, removals.

Nothing is written until every document has been read and segmented, and each table is
written atomically, so a bad input leaves no half-done output. Every non-space character
of a normalised document lies in exactly one unit (checked by :func:`check_provenance`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from research.errors import InputError
from research.ingest import (
    MANIFEST_COLUMNS,
    list_corpus_files,
    read_document,
    read_jsonl_corpus,
    read_manifest,
)
from research.io import write_table
from research.normalize import cjk_count, normalize_params, normalize_with_log, traditional_ratio
from research.segment import SegmentSettings, segment
from research.tokenize import TokenizerSettings, tokenize_many

UNIT_KINDS = ("body", "heading", "caption", "byline", "meta", "duplicate")
TABLES = ("documents", "paragraphs", "items", "removed")


@dataclass
class PreparedCorpus:
    """The four tables of a prepared corpus."""

    documents: pd.DataFrame
    paragraphs: pd.DataFrame
    items: pd.DataFrame
    removed: pd.DataFrame

    def summary(self) -> str:
        """A short human-readable summary (documents, units by kind, characters)."""
        d, p = self.documents, self.paragraphs
        kinds = p["kind"].value_counts().reindex(UNIT_KINDS, fill_value=0)
        lines = [
            f"documents: {len(d)}",
            "units: " + ", ".join(f"{k} {int(v)}" for k, v in kinds.items()),
            f"items: {len(self.items)}",
            f"characters (non-space): raw {int(d['n_chars_raw'].sum())}, "
            f"kept {int(d['n_chars'].sum())}, removed by cleaning {int(d['n_chars_removed'].sum())} "
            f"({len(self.removed)} removals listed in removed.parquet), "
            f"in duplicate units {int(p.loc[p['kind'] == 'duplicate', 'n_chars'].sum())}",
        ]
        return "\n".join(lines)


def _nonspace(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def _load_sources(corpus: Path) -> tuple[pd.DataFrame, dict[str, tuple[str, str, str]]]:
    """Manifest and {doc_id: (raw text, encoding, format)} for a folder or a .jsonl file."""
    if corpus.is_file() and corpus.suffix.lower() == ".jsonl":
        manifest, texts = read_jsonl_corpus(corpus)
        return manifest, {k: (v, "utf-8", "jsonl") for k, v in texts.items()}
    if not corpus.exists():
        raise InputError(corpus, "corpus folder not found")
    if not corpus.is_dir():
        raise InputError(corpus, "corpus must be a folder with manifest.csv or a .jsonl file")
    manifest = read_manifest(corpus)
    files = set(list_corpus_files(corpus))
    listed = set(manifest["file"])
    unlisted = sorted(files - listed)
    if unlisted:
        raise InputError(corpus / unlisted[0], "document has no row in manifest.csv"
                         + (f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else ""))
    sources = {}
    for row in manifest.itertuples():
        path = corpus / row.file
        if not path.exists() and not path.is_symlink():
            raise InputError(path, f"listed in manifest.csv (doc_id {row.doc_id}) but missing")
        raw = read_document(path)
        sources[row.doc_id] = (raw.text, raw.encoding, raw.fmt)
    return manifest, sources


def prepare_corpus(
    corpus: str | Path, params: dict | None = None, progress: bool = True
) -> PreparedCorpus:
    """Read, normalise and segment a corpus; return the tables (nothing written)."""
    params = params or {}
    prep = params.get("prepare") or {}
    corpus = Path(corpus)
    manifest, sources = _load_sources(corpus)
    seg_settings = SegmentSettings.from_params(prep)
    norm_kw = normalize_params(prep)
    min_cjk_ratio = float(prep.get("min_cjk_ratio", 0.05))

    doc_rows, unit_rows, item_rows, removed_rows = [], [], [], []
    seen_hash: dict[str, str] = {}
    rows = list(manifest.itertuples(index=False))
    for row in tqdm(rows, desc="prepare", disable=not progress, unit="doc"):
        meta = row._asdict()
        doc_id = meta["doc_id"]
        raw, encoding, fmt = sources[doc_id]
        where = corpus / meta["file"] if fmt != "jsonl" else corpus
        if not raw.strip():
            raise InputError(where, "document has no text")
        norm = normalize_with_log(raw, **norm_kw)
        n_cjk = cjk_count(norm.text)
        n_nonspace = _nonspace(norm.text)
        if n_cjk == 0 or n_cjk < min_cjk_ratio * n_nonspace:
            raise InputError(where, f"no Chinese text ({n_cjk} CJK characters of {n_nonspace})")
        seg = segment(norm.text, seg_settings)
        digest = hashlib.sha1(seg.text.encode("utf-8")).hexdigest()
        duplicate_doc = seen_hash.get(digest, "")
        seen_hash.setdefault(digest, doc_id)
        uid = [f"{doc_id}:p{i:03d}" for i in range(len(seg.units))]
        for i, u in enumerate(seg.units):
            kind, dup_of = u.kind, uid[u.duplicate_of] if u.duplicate_of is not None else ""
            if duplicate_doc and kind == "body":
                kind, dup_of = "duplicate", f"{duplicate_doc}:p{i:03d}"
            unit_rows.append(
                {
                    "unit_id": uid[i], "doc_id": doc_id, "para_id": i, "kind": kind,
                    "text": u.text, "heading": u.heading, "char_start": u.char_start,
                    "char_end": u.char_end, "n_chars": _nonspace(u.text),
                    "duplicate_of": dup_of, "src_lines": ",".join(map(str, u.lines)),
                }
            )
        counters: dict[int, int] = {}
        for it in seg.items:
            u = seg.units[it.unit_index]
            counters[it.unit_index] = counters.get(it.unit_index, 0) + 1
            item_rows.append(
                {
                    "item_id": f"{uid[it.unit_index]}:i{counters[it.unit_index]:02d}",
                    "unit_id": uid[it.unit_index], "doc_id": doc_id, "item_no": it.item_no,
                    "marker": it.marker, "text": u.text[it.start : it.end],
                    "char_start": u.char_start + it.start, "char_end": u.char_start + it.end,
                }
            )
        for r in norm.removed:
            removed_rows.append({"doc_id": doc_id, "kind": r.kind, "text": r.text,
                                 "position": r.position, "unit_id": ""})
        for rep in seg.repairs:
            removed_rows.append({"doc_id": doc_id, "kind": f"repair:{rep.kind}", "text": rep.detail,
                                 "position": -1, "unit_id": uid[rep.unit_index]})
        n_raw = _nonspace(raw)
        n_kept = _nonspace(seg.text)
        doc_rows.append(
            {
                **{c: meta.get(c) for c in MANIFEST_COLUMNS},
                "text": seg.text, "text_original": raw, "encoding": encoding, "format": fmt,
                "traditional_ratio": round(traditional_ratio(raw), 4),
                "n_chars_raw": n_raw, "n_chars": n_kept,
                "n_chars_removed": max(n_raw - n_kept, 0),
                "n_units": len(seg.units),
                "n_body": sum(1 for r in unit_rows[-len(seg.units):] if r["kind"] == "body"),
                "duplicate_of": duplicate_doc,
                "sha1": digest,
            }
        )

    documents = pd.DataFrame(doc_rows)
    for col in ("year", "period_start", "period_end"):
        documents[col] = documents[col].astype("Int64")
    paragraphs = pd.DataFrame(unit_rows)
    items = pd.DataFrame(item_rows, columns=["item_id", "unit_id", "doc_id", "item_no", "marker",
                                             "text", "char_start", "char_end"])
    removed = pd.DataFrame(removed_rows, columns=["doc_id", "kind", "text", "position", "unit_id"])

    tok_params = params.get("tokenize") or {}
    settings = TokenizerSettings.from_params(tok_params)
    data_dir = Path((params.get("paths") or {}).get("data", "data"))
    cache_dir = data_dir / "cache" if tok_params.get("cache", False) else None
    tokens = tokenize_many(
        paragraphs["text"].tolist(), settings, n_jobs=int(tok_params.get("n_jobs", 1)),
        cache_dir=cache_dir,
    )
    paragraphs["tokens"] = [" ".join(t) for t in tokens]
    prepared = PreparedCorpus(documents, paragraphs, items, removed)
    check_provenance(prepared)
    return prepared


def check_provenance(prepared: PreparedCorpus) -> None:
    """Assert every non-space character of each document lies in exactly one unit."""
    units = prepared.paragraphs
    for doc in prepared.documents.itertuples():
        text = doc.text
        covered = [0] * len(text)
        for u in units[units["doc_id"] == doc.doc_id].itertuples():
            if text[u.char_start : u.char_end] != u.text:
                raise AssertionError(f"{doc.doc_id}: unit {u.unit_id} text does not match offsets")
            for k in range(u.char_start, u.char_end):
                covered[k] += 1
        for k, c in enumerate(text):
            if not c.isspace() and covered[k] != 1:
                raise AssertionError(
                    f"{doc.doc_id}: character {k} ({c!r}) lies in {covered[k]} units"
                )


def write_prepared(prepared: PreparedCorpus, out_dir: str | Path) -> list[Path]:
    """Write the four tables atomically to ``out_dir``."""
    out_dir = Path(out_dir)
    return [write_table(getattr(prepared, name), out_dir / f"{name}.parquet") for name in TABLES]


def load_prepared(out_dir: str | Path) -> PreparedCorpus:
    """Read a prepared corpus back from ``out_dir``."""
    out_dir = Path(out_dir)
    tables = {}
    for name in TABLES:
        path = out_dir / f"{name}.parquet"
        if not path.exists():
            raise InputError(path, "not found; run `research prepare` first")
        tables[name] = pd.read_parquet(path)
    return PreparedCorpus(**tables)
