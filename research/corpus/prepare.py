"""The ``prepare`` stage: corpus folder + manifest → documents, units, items, removals.

Two entry points share one per-document pipeline (read → normalise → segment → rows):

* :func:`prepare_corpus` returns the four tables in memory (tests, notebooks);
* :func:`prepare_to_dir` streams: it reads, processes and tokenises the corpus a chunk of
  documents at a time and appends each chunk to the Parquet files as row groups, so peak
  memory depends on the chunk size, not on the corpus size. Tables are written to temp
  files in the output folder and renamed only when every document has been processed, so
  a bad input leaves no half-done output. This is what ``research prepare`` runs.

Both give the same tables. Every non-space character of a normalised document lies in
exactly one unit (checked by :func:`check_provenance`, in linear time). With
``tokenize.n_jobs`` > 1 (or ``prepare.n_jobs``) documents are normalised and segmented,
and units tokenised, in joblib worker processes; the result does not depend on it.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from research.corpus.ingest import (
    MANIFEST_COLUMNS,
    RawDocument,
    iter_jsonl_documents,
    list_corpus_files,
    read_document,
    read_jsonl_manifest,
    read_manifest,
)
from research.corpus.normalize import (
    cjk_count,
    normalize_params,
    normalize_with_log,
    traditional_ratio,
)
from research.corpus.segment import SegmentSettings, segment
from research.corpus.tokenize import TokenizerSettings, balanced_chunks, tokenize_joined
from research.errors import InputError
from research.io import commit_tmp, new_tmp_file
from research.settings import Params, PrepareSettings, Settings, as_section, settings_of
from research.workers import in_worker

UNIT_KINDS = ("body", "heading", "caption", "byline", "meta", "duplicate")
TABLES = ("documents", "paragraphs", "items", "removed")
DOC_COLUMNS = [
    *MANIFEST_COLUMNS,
    "text",
    "text_original",
    "encoding",
    "format",
    "traditional_ratio",
    "n_chars_raw",
    "n_chars",
    "n_chars_removed",
    "n_units",
    "n_body",
    "duplicate_of",
    "sha1",
]
UNIT_COLUMNS = [
    "unit_id",
    "doc_id",
    "para_id",
    "kind",
    "text",
    "heading",
    "char_start",
    "char_end",
    "n_chars",
    "duplicate_of",
    "src_lines",
    "tokens",
]
ITEM_COLUMNS = [
    "item_id",
    "unit_id",
    "doc_id",
    "item_no",
    "marker",
    "text",
    "char_start",
    "char_end",
]
REMOVED_COLUMNS = ["doc_id", "kind", "text", "position", "unit_id"]
COLUMNS = {
    "documents": DOC_COLUMNS,
    "paragraphs": UNIT_COLUMNS,
    "items": ITEM_COLUMNS,
    "removed": REMOVED_COLUMNS,
}
_INT_COLUMNS = {
    "documents": ("n_chars_raw", "n_chars", "n_chars_removed", "n_units", "n_body"),
    "paragraphs": ("para_id", "char_start", "char_end", "n_chars"),
    "items": ("item_no", "char_start", "char_end"),
    "removed": ("position",),
}
_YEAR_COLUMNS = ("year", "period_start", "period_end")


# ---------------------------------------------------------------- tables and summary
@dataclass
class PreparedCorpus:
    """The four tables of a prepared corpus."""

    documents: pd.DataFrame
    paragraphs: pd.DataFrame
    items: pd.DataFrame
    removed: pd.DataFrame

    def summary(self) -> str:
        """A short human-readable summary (documents, units by kind, characters)."""
        stats = PrepareStats()
        stats.add(self.arrow())
        return stats.summary()

    def arrow(self) -> dict[str, Any]:
        """The four tables as Arrow tables (name → table), as they are written."""
        import pyarrow as pa

        return {
            name: pa.Table.from_pandas(getattr(self, name), preserve_index=False) for name in TABLES
        }


@dataclass
class PrepareStats:
    """Running totals of a prepare run (what the CLI prints), built chunk by chunk."""

    documents: int = 0
    kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(UNIT_KINDS, 0))
    items: int = 0
    removals: int = 0
    chars_raw: int = 0
    chars_kept: int = 0
    chars_removed: int = 0
    chars_duplicate: int = 0

    def add(self, tables: dict[str, Any]) -> None:
        """Count one chunk's Arrow tables (name → table) in."""
        import pyarrow.compute as pc

        d, p = tables["documents"], tables["paragraphs"]
        self.documents += d.num_rows
        for kind, n in zip(*pc.value_counts(p["kind"]).flatten()):
            self.kinds[kind.as_py()] = self.kinds.get(kind.as_py(), 0) + n.as_py()
        self.items += tables["items"].num_rows
        self.removals += tables["removed"].num_rows
        self.chars_raw += pc.sum(d["n_chars_raw"]).as_py() or 0
        self.chars_kept += pc.sum(d["n_chars"]).as_py() or 0
        self.chars_removed += pc.sum(d["n_chars_removed"]).as_py() or 0
        dup = pc.filter(p["n_chars"], pc.equal(p["kind"], "duplicate"))
        self.chars_duplicate += pc.sum(dup).as_py() or 0

    def summary(self) -> str:
        return "\n".join(
            [
                f"documents: {self.documents}",
                "units: " + ", ".join(f"{k} {self.kinds.get(k, 0)}" for k in UNIT_KINDS),
                f"items: {self.items}",
                f"characters (non-space): raw {self.chars_raw}, kept {self.chars_kept}, removed by "
                f"cleaning {self.chars_removed} ({self.removals} removals listed in removed.parquet), "
                f"in duplicate units {self.chars_duplicate}",
            ]
        )


def _nonspace(text: str) -> int:
    """Number of non-whitespace characters (``str.isspace`` sense, as regex ``\\s``)."""
    return sum(map(len, text.split()))


# ---------------------------------------------------------------- sources
@dataclass
class Source:
    """One document to prepare: its manifest row and where its text comes from."""

    meta: dict
    where: Path  # the file (or the .jsonl) named in error messages


def open_corpus(
    corpus: str | Path, extra_levels: Iterable[str] = ()
) -> tuple[pd.DataFrame, Iterator[tuple[Source, RawDocument]]]:
    """Validate a corpus (folder + manifest, or .jsonl) and stream its documents.

    Everything that can be checked without reading documents (manifest, missing and
    unlisted files) is checked before the first document is read; the documents are then
    read one at a time, in manifest order.
    """
    corpus = Path(corpus)
    if corpus.is_file() and corpus.suffix.lower() == ".jsonl":
        manifest = read_jsonl_manifest(corpus)
        metas = manifest.to_dict("records")

        def jsonl_docs() -> Iterator[tuple[Source, RawDocument]]:
            for meta, raw in zip(metas, iter_jsonl_documents(corpus)):
                yield Source(meta, corpus), raw

        return manifest, jsonl_docs()
    if not corpus.exists():
        raise InputError(corpus, "corpus folder not found")
    if not corpus.is_dir():
        raise InputError(corpus, "corpus must be a folder with manifest.csv or a .jsonl file")
    manifest = read_manifest(corpus, extra_levels)
    files = set(list_corpus_files(corpus))
    listed = set(manifest["file"])
    unlisted = sorted(files - listed)
    if unlisted:
        raise InputError(
            corpus / unlisted[0],
            "document has no row in manifest.csv"
            + (f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else ""),
        )
    metas = manifest.to_dict("records")
    for meta in metas:
        path = corpus / meta["file"]
        if not path.exists() and not path.is_symlink():
            raise InputError(path, f"listed in manifest.csv (doc_id {meta['doc_id']}) but missing")

    def folder_docs() -> Iterator[tuple[Source, RawDocument]]:
        for meta in metas:
            path = corpus / meta["file"]
            yield Source(meta, path), read_document(path)

    return manifest, folder_docs()


# ---------------------------------------------------------------- one document
@dataclass
class DocResult:
    """Rows produced by one document (before cross-document duplicate marking)."""

    doc: dict
    units: list[dict]
    items: list[dict]
    removed: list[dict]


def process_document(
    source: Source, raw: RawDocument, prep: PrepareSettings | dict | None = None
) -> DocResult:
    """Normalise and segment one document into its rows. Pure: no cross-document state."""
    prep = as_section(PrepareSettings, prep)
    meta, where = source.meta, source.where
    doc_id = meta["doc_id"]
    text = raw.text
    if not text.strip():
        raise InputError(where, "document has no text")
    norm = normalize_with_log(text, **normalize_params(prep))
    n_cjk = cjk_count(norm.text)
    n_nonspace = _nonspace(norm.text)
    if n_cjk == 0 or n_cjk < prep.min_cjk_ratio * n_nonspace:
        raise InputError(where, f"no Chinese text ({n_cjk} CJK characters of {n_nonspace})")
    seg = segment(norm.text, SegmentSettings.from_params(prep))
    digest = hashlib.sha1(seg.text.encode("utf-8")).hexdigest()
    uid = [f"{doc_id}:p{i:03d}" for i in range(len(seg.units))]
    units = [
        {
            "unit_id": uid[i],
            "doc_id": doc_id,
            "para_id": i,
            "kind": u.kind,
            "text": u.text,
            "heading": u.heading,
            "char_start": u.char_start,
            "char_end": u.char_end,
            "n_chars": _nonspace(u.text),
            "duplicate_of": uid[u.duplicate_of] if u.duplicate_of is not None else "",
            "src_lines": ",".join(map(str, u.lines)),
        }
        for i, u in enumerate(seg.units)
    ]
    items = []
    counters: dict[int, int] = {}
    for it in seg.items:
        u = seg.units[it.unit_index]
        counters[it.unit_index] = counters.get(it.unit_index, 0) + 1
        items.append(
            {
                "item_id": f"{uid[it.unit_index]}:i{counters[it.unit_index]:02d}",
                "unit_id": uid[it.unit_index],
                "doc_id": doc_id,
                "item_no": it.item_no,
                "marker": it.marker,
                "text": u.text[it.start : it.end],
                "char_start": u.char_start + it.start,
                "char_end": u.char_start + it.end,
            }
        )
    removed = []
    if raw.dropped:
        removed.append(
            {
                "doc_id": doc_id,
                "kind": "truncated",
                "text": raw.dropped,
                "position": len(text),
                "unit_id": "",
            }
        )
    for r in norm.removed:
        removed.append(
            {
                "doc_id": doc_id,
                "kind": r.kind,
                "text": r.text,
                "position": r.position,
                "unit_id": "",
            }
        )
    for rep in seg.repairs:
        removed.append(
            {
                "doc_id": doc_id,
                "kind": f"repair:{rep.kind}",
                "text": rep.detail,
                "position": -1,
                "unit_id": uid[rep.unit_index],
            }
        )
    n_raw = _nonspace(text)
    n_kept = _nonspace(seg.text)
    doc = {
        **{c: meta.get(c) for c in MANIFEST_COLUMNS},
        "text": seg.text,
        "text_original": text,
        "encoding": raw.encoding,
        "format": raw.fmt,
        "traditional_ratio": round(traditional_ratio(text), 4),
        "n_chars_raw": n_raw,
        "n_chars": n_kept,
        "n_chars_removed": max(n_raw - n_kept, 0),
        "n_units": len(units),
        "n_body": 0,
        "duplicate_of": "",
        "sha1": digest,
    }
    return DocResult(doc, units, items, removed)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cycle collector off for a block that allocates millions of short-lived
    objects but makes no cycles to speak of: its full passes over every object (pandas'
    and pyarrow's included) cost a sixth of a cold ``prepare``. The state is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _process_batch(
    batch: list[tuple[Source, RawDocument]],
    prep: PrepareSettings,
    tok: dict | None = None,
) -> dict[str, Any] | tuple[str, str]:
    """The unit of work of a process: :func:`_batch_tables` with the cycle collector off."""
    with _gc_paused():
        return _batch_tables(batch, prep, tok)


def _batch_tables(
    batch: list[tuple[Source, RawDocument]],
    prep: PrepareSettings,
    tok: dict | None = None,
) -> dict[str, Any] | tuple[str, str]:
    """Process (and, given ``tok``, tokenise) documents into checked Arrow tables.

    The unit of work of a process: everything per document happens here (normalise,
    segment, tokenise, the provenance check, the tables), so what travels back is four
    Arrow tables (pickled as their buffers) rather than one dict per row. ``tok`` =
    {"settings": TokenizerSettings, "cache_dir": path or None}: each unit row gets
    ``tokens`` (space-joined), through the shared SQLite token cache. An InputError comes
    back as (path, problem), to be re-raised by the caller with the file name.
    """
    try:
        results = [process_document(s, r, prep) for s, r in batch]
    except InputError as exc:
        return (exc.path, exc.problem)
    if tok is not None:
        units = [u for res in results for u in res.units]
        tokens = tokenize_joined([u["text"] for u in units], tok["settings"], tok["cache_dir"])
        for u, t in zip(units, tokens):
            u["tokens"] = t
    for res in results:
        doc_id, units = res.doc["doc_id"], res.units
        spans = [(u["char_start"], u["char_end"], u["text"], u["unit_id"]) for u in units]
        _check_units(doc_id, res.doc["text"], spans)
        res.doc["n_body"] = sum(1 for u in units if u["kind"] == "body")
    return _tables(results)


def _mark_duplicate_documents(tables: dict[str, Any], seen_hash: dict[str, str]) -> dict[str, Any]:
    """A document whose repaired text repeats an earlier one: its body units → duplicate
    (and it has no body units left). ``seen_hash`` (sha1 → first doc_id) spans chunks."""
    docs = tables["documents"]
    doc_ids = docs.column("doc_id").to_pylist()
    firsts: dict[str, str] = {}
    for doc_id, digest in zip(doc_ids, docs.column("sha1").to_pylist()):
        first = seen_hash.setdefault(digest, doc_id)
        if first != doc_id:
            firsts[doc_id] = first
    if not firsts:
        return tables
    dup_of = [
        firsts.get(d, old) for d, old in zip(doc_ids, docs.column("duplicate_of").to_pylist())
    ]
    n_body = [0 if d in firsts else n for d, n in zip(doc_ids, docs.column("n_body").to_pylist())]
    units = tables["paragraphs"]
    kinds = units.column("kind").to_pylist()
    unit_dup = units.column("duplicate_of").to_pylist()
    para_ids = units.column("para_id").to_pylist()
    for k, doc_id in enumerate(units.column("doc_id").to_pylist()):
        original = firsts.get(doc_id)
        if original is not None and kinds[k] == "body":
            kinds[k], unit_dup[k] = "duplicate", f"{original}:p{para_ids[k]:03d}"
    return {
        **tables,
        "documents": _with_columns(docs, duplicate_of=dup_of, n_body=n_body),
        "paragraphs": _with_columns(units, kind=kinds, duplicate_of=unit_dup),
    }


def _with_columns(table: Any, **columns: list) -> Any:
    """``table`` with the named columns replaced by these values (same types)."""
    import pyarrow as pa

    for name, values in columns.items():
        i = table.schema.get_field_index(name)
        field = table.schema.field(i)
        table = table.set_column(i, field, pa.array(values, type=field.type))
    return table


def _jobs(s: Settings) -> int:
    return s.prepare.n_jobs if s.prepare.n_jobs is not None else s.tokenize.n_jobs


_BATCHES_PER_WORKER = 2  # batches each chunk is cut into, per worker process


def _batch_tasks(
    chunk: list[tuple[Source, RawDocument]], prep: PrepareSettings, tok: dict, workers: int
) -> list:
    """One joblib task per batch of whole documents of ``chunk``, balanced by characters."""
    from joblib import delayed

    runs = balanced_chunks(
        [raw.text for _, raw in chunk], min(len(chunk), _BATCHES_PER_WORKER * workers)
    )
    return [delayed(in_worker(_process_batch))([chunk[i] for i in run], prep, tok) for run in runs]


def _parts_by_chunk(
    chunks: Iterator[list[tuple[Source, RawDocument]]], s: Settings
) -> Iterator[list[dict[str, Any] | tuple[str, str]]]:
    """The processed batches of each chunk, chunk by chunk, in manifest order.

    With several jobs each worker process normalises, segments, tokenises and tabulates a
    batch of whole documents; joblib's default backend is loky processes, and
    ``joblib.parallel_backend("dask")`` sends the batches to a Dask cluster instead. Where
    the backend can stream results (loky) the batches of all chunks go through one pool,
    so the workers go on with the next chunk while this process writes the last one. A
    corpus of one chunk is prepared in this process when the pool would be loky's own:
    starting its worker processes costs more than they save on one chunk.
    """
    prep = s.prepare
    tok = {
        "settings": TokenizerSettings.from_params(s.tokenize),
        "cache_dir": Path(s.paths.data) / "cache" if s.tokenize.cache else None,
    }
    n_jobs = _jobs(s)
    workers = 1
    if n_jobs != 1:
        from joblib import effective_n_jobs
        from joblib.parallel import get_active_backend

        workers = max(1, effective_n_jobs(n_jobs))
        if type(get_active_backend()[0]).__name__ == "LokyBackend":
            chunks, several = _several(chunks)
            workers = workers if several else 1
    if workers == 1:
        for chunk in chunks:
            yield [_process_batch(chunk, prep, tok)]
        return
    from joblib import Parallel

    try:
        streaming = Parallel(n_jobs=n_jobs, return_as="generator")
    except ValueError:  # a backend that cannot stream results: one pool call per chunk
        for chunk in chunks:
            yield Parallel(n_jobs=n_jobs)(_batch_tasks(chunk, prep, tok, workers))
        return
    counts: list[int] = []  # tasks per chunk, known before any of its results arrive

    def tasks() -> Iterator:
        for chunk in chunks:
            batch = _batch_tasks(chunk, prep, tok, workers)
            counts.append(len(batch))
            yield from batch

    results = streaming(tasks())
    try:
        for k, first in enumerate(results):
            yield [first] + [next(results) for _ in range(counts[k] - 1)]
    finally:  # stopped early (a bad document): the batches in flight are dropped, quietly
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\d+ tasks", category=UserWarning)
            results.close()


def _several(chunks: Iterator[list]) -> tuple[Iterator[list], bool]:
    """The same chunks, and whether there are at least two (reads up to the second)."""
    head = list(itertools.islice(chunks, 2))
    return itertools.chain(head, chunks), len(head) > 1


def _tables(results: list[DocResult]) -> dict[str, Any]:
    """Arrow tables with fixed columns and types (same for every chunk, even empty ones);
    the documents table as its DataFrame converts (pandas metadata included)."""
    import pyarrow as pa

    docs = pd.DataFrame([r.doc for r in results], columns=DOC_COLUMNS)
    for col in _YEAR_COLUMNS:
        docs[col] = pd.array(docs[col].tolist(), dtype="Int64")
    docs["traditional_ratio"] = docs["traditional_ratio"].astype("float64")
    for col in docs.columns:
        if col in _INT_COLUMNS["documents"]:
            docs[col] = docs[col].astype("int64")
        elif col not in _YEAR_COLUMNS and col != "traditional_ratio":
            docs[col] = docs[col].astype("str")
    return {
        "documents": pa.Table.from_pandas(docs, preserve_index=False),
        "paragraphs": _arrow_table([u for r in results for u in r.units], "paragraphs"),
        "items": _arrow_table([i for r in results for i in r.items], "items"),
        "removed": _arrow_table([x for r in results for x in r.removed], "removed"),
    }


def _arrow_table(rows: list[dict], name: str) -> Any:
    """The rows of a table whose values are all ``str`` or ``int`` as an Arrow table.

    Each column becomes one Arrow array (int64 or large_string): the same types as
    building a DataFrame from the records and casting each column, without pandas
    converting every string twice.
    """
    import pyarrow as pa

    names, ints = COLUMNS[name], _INT_COLUMNS[name]
    try:  # transpose rows to columns in C
        columns = list(zip(*map(itemgetter(*names), rows))) or [()] * len(names)
    except KeyError:  # a row without some column (e.g. no tokens): missing values
        columns = [tuple(r.get(col) for r in rows) for col in names]
    arrays = [
        pa.array(values, type=pa.int64() if col in ints else pa.large_string())
        for col, values in zip(names, columns)
    ]
    return pa.table(arrays, names=names)


def _join_parts(parts: list[dict[str, Any] | tuple[str, str]]) -> dict[str, Any]:
    """The batches of one chunk as one table each (contiguous, as one batch makes them)."""
    import pyarrow as pa

    for part in parts:
        if isinstance(part, tuple):
            raise InputError(*part)
    tables = [p for p in parts if isinstance(p, dict)]
    if len(tables) == 1:
        return tables[0]
    joined = {}
    for name in TABLES:
        pieces = [t[name] for t in tables]
        meta = pieces[0].schema.metadata
        pieces = [p.replace_schema_metadata(meta) for p in pieces]
        joined[name] = pa.concat_tables(pieces).combine_chunks()
    return joined


def _chunks(
    docs: Iterator[tuple[Source, RawDocument]], max_docs: int, max_chars: int
) -> Iterator[list[tuple[Source, RawDocument]]]:
    chunk: list[tuple[Source, RawDocument]] = []
    chars = 0
    for pair in docs:
        chunk.append(pair)
        chars += len(pair[1].text)
        if len(chunk) >= max_docs or chars >= max_chars:
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk


def iter_prepared_tables(
    corpus: str | Path,
    params: Params | None = None,
    progress: bool = True,
    chunk_docs: int | None = None,
    chunk_chars: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Prepare a corpus chunk by chunk (streaming) as Arrow tables, name → table; each
    chunk's documents are checked for provenance."""
    s = settings_of(params)
    chunk_docs = int(chunk_docs or s.prepare.chunk_docs)
    chunk_chars = int(chunk_chars or s.prepare.chunk_chars)
    manifest, docs = open_corpus(corpus, s.prepare.extra_levels)
    seen_hash: dict[str, str] = {}
    with tqdm(total=len(manifest), desc="prepare", disable=not progress, unit="doc") as bar:
        for parts in _parts_by_chunk(_chunks(docs, chunk_docs, chunk_chars), s):
            tables = _mark_duplicate_documents(_join_parts(parts), seen_hash)
            bar.update(tables["documents"].num_rows)
            yield tables


def iter_prepared_chunks(
    corpus: str | Path,
    params: Params | None = None,
    progress: bool = True,
    chunk_docs: int | None = None,
    chunk_chars: int | None = None,
) -> Iterator[PreparedCorpus]:
    """Prepare a corpus chunk by chunk (streaming); each chunk is checked for provenance."""
    for tables in iter_prepared_tables(corpus, params, progress, chunk_docs, chunk_chars):
        yield PreparedCorpus(*(tables[name].to_pandas() for name in TABLES))


def prepare_corpus(
    corpus: str | Path, params: Params | None = None, progress: bool = True
) -> PreparedCorpus:
    """Read, normalise and segment a corpus; return the tables (nothing written)."""
    parts = list(iter_prepared_chunks(corpus, params, progress))
    return PreparedCorpus(
        *(pd.concat([getattr(p, name) for p in parts], ignore_index=True) for name in TABLES)
    )


# ---------------------------------------------------------------- provenance
def check_provenance(prepared: PreparedCorpus) -> None:
    """Assert every non-space character of each document lies in exactly one unit.

    Linear in the text length: per document the units are sorted by offset, each must
    equal its slice of the text, and only whitespace may lie outside every unit or inside
    two of them.
    """
    docs = prepared.documents
    units = prepared.paragraphs
    groups = units.groupby("doc_id", sort=False).indices if len(units) else {}
    spans = list(
        zip(
            units["char_start"].tolist(),
            units["char_end"].tolist(),
            units["text"].tolist(),
            units["unit_id"].tolist(),
        )
    )
    known = set(docs["doc_id"])
    stray = [d for d in groups if d not in known]
    if stray:
        raise AssertionError(f"{stray[0]}: units of a document that is not in the documents table")
    for doc_id, text in zip(docs["doc_id"].tolist(), docs["text"].tolist()):
        _check_units(doc_id, text, [spans[k] for k in groups.get(doc_id, [])])


def _check_units(doc_id: str, text: str, spans: list[tuple[int, int, str, str]]) -> None:
    """The provenance check of one document: its units as (start, end, text, unit_id)."""
    covered_to = 0
    for a, b, unit_text, unit_id in sorted(spans, key=itemgetter(0, 1)):
        if not 0 <= a <= b <= len(text) or text[a:b] != unit_text:
            raise AssertionError(f"{doc_id}: unit {unit_id} text does not match offsets")
        if a > covered_to:
            _only_space(doc_id, text, covered_to, a, 0)
        elif a < covered_to:
            _only_space(doc_id, text, a, min(b, covered_to), 2)
        covered_to = max(covered_to, b)
    _only_space(doc_id, text, covered_to, len(text), 0)


def _only_space(doc_id: str, text: str, a: int, b: int, times: int) -> None:
    seg = text[a:b]
    if seg and not seg.isspace():
        k = a + next(i for i, c in enumerate(seg) if not c.isspace())
        raise AssertionError(f"{doc_id}: character {k} ({text[k]!r}) lies in {times} units")


# ---------------------------------------------------------------- writing
class _ParquetSink:
    """Row groups appended to a temp Parquet file, renamed onto the target by ``commit``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = new_tmp_file(path)
        self.writer: Any = None  # pyarrow.parquet.ParquetWriter (untyped)
        self.committed = False

    def write(self, table: Any) -> None:
        """Append an Arrow table as one row group. The file's schema is that of the first
        table as a DataFrame converts it (pandas metadata included), so reading it back
        gives the DataFrame dtypes."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            table = pa.Table.from_pandas(table.to_pandas(), preserve_index=False)
            self.writer = pq.ParquetWriter(self.tmp, table.schema)
        elif not table.schema.equals(self.writer.schema, check_metadata=False):
            table = table.cast(self.writer.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def commit(self) -> Path:
        self.close()
        commit_tmp(self.tmp, self.path)
        self.committed = True
        return self.path

    def discard(self) -> None:
        self.close()
        if not self.committed:
            self.tmp.unlink(missing_ok=True)


def write_chunks(
    chunks: Iterable[dict[str, Any]], out_dir: str | Path
) -> tuple[list[Path], PrepareStats]:
    """Append prepared chunks (Arrow tables, name → table) to the four Parquet tables in
    ``out_dir``, atomically.

    Nothing appears under the final names unless every chunk was written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sinks = {name: _ParquetSink(out_dir / f"{name}.parquet") for name in TABLES}
    stats = PrepareStats()
    try:
        empty = True
        for part in chunks:
            empty = False
            stats.add(part)
            for name in TABLES:
                sinks[name].write(part[name])
        if empty:
            raise InputError(out_dir, "nothing to write: the corpus has no documents")
        return [sinks[name].commit() for name in TABLES], stats
    finally:
        for sink in sinks.values():
            sink.discard()


def prepare_to_dir(
    corpus: str | Path,
    out_dir: str | Path,
    params: Params | None = None,
    progress: bool = True,
    chunk_docs: int | None = None,
    chunk_chars: int | None = None,
) -> tuple[list[Path], PrepareStats]:
    """Streaming prepare: corpus → the four Parquet tables in ``out_dir`` (bounded memory).

    On any error the output folder is left as it was (no table is replaced or half
    written); a folder created for the output is removed again if it stayed empty.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    try:
        return write_chunks(
            iter_prepared_tables(corpus, params, progress, chunk_docs, chunk_chars), out_dir
        )
    except BaseException:
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise


def write_prepared(prepared: PreparedCorpus, out_dir: str | Path) -> list[Path]:
    """Write the four tables atomically to ``out_dir``."""
    paths, _ = write_chunks([prepared.arrow()], out_dir)
    return paths


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
