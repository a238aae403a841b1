"""Topic-model corpus: units → tokens on disk → gensim Dictionary → streamed MmCorpus.

The unit of an LDA "document" is configurable (params ``topics.unit``):

- ``paragraph`` (default): the ``body`` units of ``paragraphs.parquet``.
- ``item``: enumerated items (``items.parquet``) replace the body paragraph they come
  from; body paragraphs without items stay whole, so no body text is lost. Each unit keeps
  ``para_unit_id`` so item-level results can be aggregated back to paragraphs.
- ``document``: all body paragraphs of a report joined (headings, captions, bylines and
  meta lines are left out, as for the other units).

Nothing downstream holds the token lists in memory: tokens are written one unit per line
to ``tokens.txt`` (tokens separated by single spaces), the Dictionary is built by
streaming that file, and the bag-of-words corpus is serialised to Matrix Market
(``corpus.mm`` + index) and read back lazily with gensim's ``MmCorpus``. Tokenisation runs
in chunks through the project tokeniser (and its disk cache), so peak memory is bounded by
the chunk size, not the corpus size.

Dictionary filtering (documented because it changes every topic):

1. the project tokeniser already drops punctuation, bare numbers and the project
   stopword list (``research/resources/stopwords.txt``);
2. ``topics.extra_stopwords``: topic-model-only boilerplate dropped from the vocabulary;
3. ``filter_extremes(no_below, no_above, keep_n)``: drop terms in fewer than ``no_below``
   units or in more than ``no_above`` (fraction) of units — except the codebook's seed
   terms, which are always kept so the seeded model can put prior mass on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from gensim.corpora import Dictionary, MmCorpus

from research.corpus.tokenize import TokenizerSettings, tokenize_many
from research.errors import InputError
from research.io import atomic_path, read_table
from research.topics.stoplist import stopped_terms

UNITS = ("paragraph", "item", "document")
_WS = re.compile(r"\s+")


class TokenFile:
    """Re-iterable stream of token lists from a text file (one unit per line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __iter__(self) -> Iterator[list[str]]:
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.rstrip("\n")
                yield line.split(" ") if line else []

    def __len__(self) -> int:
        with self.path.open(encoding="utf-8") as fh:
            return sum(1 for _ in fh)


class BowStream:
    """Re-iterable bag-of-words stream over a TokenFile (used only to serialise)."""

    def __init__(self, tokens: Iterable[list[str]], dictionary: Dictionary) -> None:
        self.tokens = tokens
        self.dictionary = dictionary

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for toks in self.tokens:
            yield self.dictionary.doc2bow(toks)


def load_units(prepared_dir: str | Path, unit: str = "paragraph") -> pd.DataFrame:
    """Units for the topic model: ``unit_id, doc_id, para_unit_id, text``, in corpus order."""
    if unit not in UNITS:
        raise InputError(
            "params.yaml", f"topics.unit must be one of {', '.join(UNITS)}, not {unit!r}"
        )
    prepared_dir = Path(prepared_dir)
    para_path = prepared_dir / "paragraphs.parquet"
    paras = read_table(para_path)
    missing = {"unit_id", "doc_id", "text", "kind"} - set(paras.columns)
    if missing:
        raise InputError(para_path, f"missing columns: {', '.join(sorted(missing))}")
    order = ["doc_id", "para_id"] if "para_id" in paras.columns else ["doc_id", "unit_id"]
    body = paras[paras["kind"] == "body"].sort_values(order, kind="stable")
    body = body[["unit_id", "doc_id", "text"]].astype({"unit_id": str, "doc_id": str, "text": str})
    if body.empty:
        raise InputError(para_path, "no body units to model")
    if unit == "paragraph":
        out = body.assign(para_unit_id=body["unit_id"])
    elif unit == "document":
        out = (
            body.groupby("doc_id", sort=True)["text"]
            .agg("\n".join)
            .reset_index()
            .assign(unit_id=lambda d: d["doc_id"], para_unit_id="")
        )
    else:
        item_path = prepared_dir / "items.parquet"
        items = read_table(item_path)
        items = items[items["unit_id"].astype(str).isin(set(body["unit_id"]))]
        sort_cols = ["unit_id", "item_no"] if "item_no" in items.columns else ["item_id"]
        items = items.sort_values(sort_cols, kind="stable")
        pos = {u: i for i, u in enumerate(body["unit_id"])}
        rows = []
        with_items = set(items["unit_id"].astype(str))
        for r in body.itertuples(index=False):
            if r.unit_id not in with_items:
                rows.append((pos[r.unit_id], 0, r.unit_id, r.doc_id, r.unit_id, r.text))
        for j, r in enumerate(items.itertuples(index=False)):
            rows.append(
                (
                    pos[str(r.unit_id)],
                    j + 1,
                    str(r.item_id),
                    str(r.doc_id),
                    str(r.unit_id),
                    str(r.text),
                )
            )
        rows.sort()
        out = pd.DataFrame(
            [r[2:] for r in rows], columns=["unit_id", "doc_id", "para_unit_id", "text"]
        )
    return out[["unit_id", "doc_id", "para_unit_id", "text"]].reset_index(drop=True)


@dataclass
class TopicCorpus:
    """A tokenised, filtered, serialised corpus plus the unit metadata it lines up with."""

    units: pd.DataFrame  # unit_id, doc_id, para_unit_id, n_tokens (row i = corpus doc i)
    dictionary: Dictionary
    corpus_path: Path
    tokens_path: Path

    @property
    def corpus(self) -> MmCorpus:
        """The bag-of-words corpus, streamed from disk."""
        return MmCorpus(str(self.corpus_path))

    @property
    def texts(self) -> TokenFile:
        """Token lists (filtered to the vocabulary), streamed from disk (for coherence)."""
        return TokenFile(self.tokens_path)

    @property
    def vocab(self) -> list[str]:
        return [self.dictionary[i] for i in range(len(self.dictionary))]

    def term_frequency(self) -> np.ndarray:
        """Corpus frequency of each term (dictionary id order)."""
        cfs = self.dictionary.cfs
        return np.array([cfs.get(i, 0) for i in range(len(self.dictionary))], dtype=float)

    def __len__(self) -> int:
        return len(self.units)


def _write_tokens(
    texts: Sequence[str],
    path: Path,
    settings: TokenizerSettings,
    n_jobs: int,
    cache_dir: str | Path | None,
    chunk_size: int,
) -> None:
    """Tokenise in chunks and append each unit's tokens as one line."""
    with atomic_path(path, defer=False) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for start in range(0, len(texts), chunk_size):
            chunk = list(texts[start : start + chunk_size])
            for toks in tokenize_many(chunk, settings, n_jobs=n_jobs, cache_dir=cache_dir):
                fh.write(" ".join(_WS.sub("_", t) for t in toks) + "\n")
        fh.flush()


def build_corpus(
    units: pd.DataFrame,
    out_dir: str | Path,
    settings: TokenizerSettings,
    *,
    no_below: int = 2,
    no_above: float = 0.5,
    keep_n: int | None = 100_000,
    extra_stopwords: Iterable[str] = (),
    stop_prefixes: Iterable[str] = (),
    keep_terms: Iterable[str] = (),
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    chunk_size: int = 20_000,
) -> TopicCorpus:
    """Tokenise ``units`` and write ``tokens_raw.txt``, ``tokens.txt``, ``dictionary.txt``, ``corpus.mm``.

    ``keep_terms`` (the codebook seed terms) survive ``no_below``/``no_above`` and the
    stoplist; ``stop_prefixes`` drop every term starting with one of them (place names).
    Dictionary ids are assigned in order of first appearance and compacted
    deterministically, so the same units and settings give the same ids.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_path = out_dir / "tokens_raw.txt"
    _write_tokens(units["text"].tolist(), raw_path, settings, n_jobs, cache_dir, chunk_size)

    dictionary = Dictionary(TokenFile(raw_path))
    stop = stopped_terms(dictionary.token2id, extra_stopwords, stop_prefixes, keep_terms)
    if stop:
        dictionary.filter_tokens(bad_ids=[dictionary.token2id[t] for t in stop])
    keep = sorted(set(keep_terms) & set(dictionary.token2id))
    n_units = max(dictionary.num_docs, 1)
    dictionary.filter_extremes(
        no_below=int(no_below),
        no_above=float(no_above) if n_units > 1 else 1.0,
        keep_n=keep_n,
        keep_tokens=keep or None,
    )
    if len(dictionary) == 0:
        raise InputError(
            out_dir,
            "the topic-model vocabulary is empty after filtering "
            "(lower topics.no_below or raise topics.no_above)",
        )
    # Recompute document/collection frequencies over the kept vocabulary only.
    vocab = dictionary.token2id
    tokens_path = out_dir / "tokens.txt"
    n_tokens = []
    with (
        atomic_path(tokens_path, defer=False) as tmp,
        tmp.open("w", encoding="utf-8", newline="\n") as fh,
    ):
        for toks in TokenFile(raw_path):
            kept = [t for t in toks if t in vocab]
            n_tokens.append(len(kept))
            fh.write(" ".join(kept) + "\n")
    dictionary = _rebuild(dictionary, TokenFile(tokens_path))

    corpus_path = out_dir / "corpus.mm"
    MmCorpus.serialize(str(corpus_path), BowStream(TokenFile(tokens_path), dictionary))
    dictionary.save_as_text(str(out_dir / "dictionary.txt"))
    meta = units[["unit_id", "doc_id", "para_unit_id"]].copy()
    meta["n_tokens"] = np.asarray(n_tokens, dtype=int)
    return TopicCorpus(meta.reset_index(drop=True), dictionary, corpus_path, tokens_path)


def _rebuild(filtered: Dictionary, texts: Iterable[list[str]]) -> Dictionary:
    """A Dictionary with the same ids as ``filtered`` and counts over the filtered texts."""
    d = Dictionary()
    d.token2id = dict(filtered.token2id)
    d.id2token = {}
    d.cfs, d.dfs = {}, {}
    d.num_docs = d.num_pos = d.num_nnz = 0
    for toks in texts:
        bow = d.doc2bow(toks, allow_update=False)
        d.num_docs += 1
        d.num_pos += len(toks)
        d.num_nnz += len(bow)
        for i, c in bow:
            d.cfs[i] = d.cfs.get(i, 0) + c
            d.dfs[i] = d.dfs.get(i, 0) + 1
    return d
