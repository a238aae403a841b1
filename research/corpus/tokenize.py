"""Deterministic word segmentation with the federation user dictionary and stopwords.

The segmenter is rjieba (jieba-rs, the same dictionary and algorithm as jieba, ~20x
faster) when it is installed, else jieba; ``TokenizerSettings.segmenter`` chooses, and
the segmenter's name and version are part of the cache fingerprint. rjieba keeps ASCII
runs with ``-``/``.``/``/`` together (dates, URLs) where jieba splits them; those runs are
split here as jieba does, so both give the same tokens on ordinary text.

Every later stage (weak labels, classifiers, topic models, distinctive terms) uses this
one tokeniser, so that a token means the same thing everywhere. Token lists can be cached
on disk keyed by the text's hash and the tokeniser settings, so re-runs after a parameter
change elsewhere do not re-tokenise.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from research.config import repo_root
from research.errors import InputError
from research.settings import TokenizeSettings, as_section
from research.workers import in_worker

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
_KEEP = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9]")
_NUMERIC = re.compile(r"^[0-9０-９.%％]+$")
# Numbers that are names in this domain (hotline, 12338) survive keep_numbers=False.
_NUMERIC_NAMES = frozenset({"12338", "12345", "110"})
# ASCII tokens jieba keeps whole (words, numbers, decimals, percentages); other ASCII runs
# that rjieba joins (2024-01-21, www.a.com) are split into these pieces and single marks.
_ASCII_WHOLE = re.compile(r"[A-Za-z0-9]+(?:\.[0-9]+)?%?")
_ASCII_PIECES = re.compile(r"[A-Za-z0-9]+(?:\.[0-9]+)?%?|[^A-Za-z0-9]")
# An ASCII mark next to an ASCII letter or digit (the pattern starts with the mark, so the
# regex engine scans for it rather than trying both branches at every position).
_ASCII_MARK = re.compile(r"[!-/:-@\[-`{-~](?:(?<=[A-Za-z0-9][!-/:-@\[-`{-~])|(?=[A-Za-z0-9]))")
SEGMENTERS = ("rjieba", "jieba")


def default_segmenter() -> str:
    """ "rjieba" when it is installed, else "jieba" (looked up without importing it)."""
    return "rjieba" if importlib.util.find_spec("rjieba") is not None else "jieba"


def _rjieba_class() -> Any:
    """rjieba's ``Jieba`` class.

    Importing the ``rjieba`` package builds a default segmenter (its dictionary load, about
    0.1 s) that the project never uses, since it needs its own with the user dictionary.
    Unless the package is already imported, its compiled module is loaded on its own.
    """
    if "rjieba" in sys.modules:
        return sys.modules["rjieba"].Jieba
    ext = sys.modules.get("rjieba.rjieba")
    if ext is None:
        spec = importlib.util.find_spec("rjieba")
        locations = list(spec.submodule_search_locations or []) if spec else []
        found = [
            p for loc in locations for p in Path(loc).glob("rjieba*") if p.suffix in (".so", ".pyd")
        ]
        ext_spec = (
            importlib.util.spec_from_file_location("rjieba.rjieba", found[0]) if found else None
        )
        if ext_spec is None or ext_spec.loader is None:
            import rjieba

            return rjieba.Jieba
        ext = importlib.util.module_from_spec(ext_spec)
        ext_spec.loader.exec_module(ext)
        sys.modules["rjieba.rjieba"] = ext
    return ext.Jieba


def segmenter_version(name: str) -> str:
    """``name==version`` of a segmenter package (for fingerprints and model cards)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:
        mod = __import__(name)
        return f"{name}=={getattr(mod, '__version__', '?')}"


def _read_userdict(path: Path) -> list[tuple[str, int | None, str | None]]:
    """(word, freq or None, tag or None) per line of a jieba user dictionary."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split()
        if not parts:
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
        entries.append((parts[0], freq, tag))
    return entries


class _RJieba:
    """rjieba behind jieba's ``lcut`` signature, with ASCII runs split as jieba does."""

    def __init__(self, user_dict: Path, extra_words: Iterable[str]) -> None:
        self._r = _rjieba_class()()
        if user_dict.exists():
            for word, freq, tag in _read_userdict(user_dict):
                self._r.add_word(word, freq, tag)
        for w in extra_words:
            self._r.add_word(w, 500, None)
        self._cut = self._r.cut

    def lcut(self, text: str, HMM: bool = True) -> list[str]:
        toks = self._cut(text, HMM)
        if not _ASCII_MARK.search(text):
            return toks
        out: list[str] = []
        for t in toks:
            if len(t) > 1 and t.isascii() and not _ASCII_WHOLE.fullmatch(t):
                out.extend(_ASCII_PIECES.findall(t))
            else:
                out.append(t)
        return out


class _FilterMemo(dict):
    """raw token → content token ("" = dropped); filters each distinct token once."""

    def __init__(self, fn) -> None:
        super().__init__()
        self._fn = fn

    def __missing__(self, tok: str) -> str:
        kept = self[tok] = self._fn(tok)
        return kept


def _resolve(path: str | Path | None, default: str, key: str) -> Path:
    """The file a ``tokenize`` setting names; a missing file is an error (it would silently
    change the tokens). Relative paths are tried from the working directory, then the repo."""
    if path is None:
        return RESOURCES / default
    p = Path(path)
    for candidate in (p,) if p.is_absolute() else (p, repo_root() / p):
        if candidate.is_file():
            return candidate.resolve()
    raise InputError(
        p,
        f"tokenize.{key}: file not found (fix the path in params.yaml, or "
        "remove the key to use the bundled file)",
    )


def _existing(path: str, key: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise InputError(p, f"tokenize.{key}: file not found")
    return p


@dataclass(frozen=True)
class TokenizerSettings:
    """Everything that changes the tokens; its hash keys the cache."""

    user_dict: str = str(RESOURCES / "userdict.txt")
    stopwords: str = str(RESOURCES / "stopwords.txt")
    hmm: bool = True
    min_token_chars: int = 1
    keep_numbers: bool = False
    extra_words: tuple[str, ...] = field(default_factory=tuple)
    segmenter: str = field(default_factory=default_segmenter)

    def __post_init__(self) -> None:
        if self.segmenter not in SEGMENTERS:
            raise ValueError(
                f"tokenize.segmenter must be one of {SEGMENTERS}, not {self.segmenter!r}"
            )
        if self.segmenter == "rjieba" and default_segmenter() != "rjieba":
            object.__setattr__(self, "segmenter", "jieba")  # fallback: rjieba not installed

    @classmethod
    def from_params(
        cls, tok: TokenizeSettings | dict | None, extra_words: Iterable[str] = ()
    ) -> TokenizerSettings:
        """Build from the ``tokenize`` section of params.yaml."""
        t = as_section(TokenizeSettings, tok)
        return cls(
            user_dict=str(_resolve(t.user_dict, "userdict.txt", "user_dict")),
            stopwords=str(_resolve(t.stopwords, "stopwords.txt", "stopwords")),
            hmm=t.hmm,
            min_token_chars=t.min_token_chars,
            keep_numbers=t.keep_numbers,
            extra_words=tuple(sorted(set(extra_words))),
            segmenter=t.segmenter or default_segmenter(),
        )

    def fingerprint(self) -> str:
        """Hash of the settings and of the dictionary/stopword file *contents*.

        File paths are left out (their contents count), so moving the project or naming the
        same file by another path keeps the cache valid.
        """
        fields = {k: v for k, v in asdict(self).items() if k not in ("user_dict", "stopwords")}
        h = hashlib.sha256(json.dumps(fields, sort_keys=True).encode())
        for p in (self.user_dict, self.stopwords):
            path = Path(p)
            h.update(path.read_bytes() if path.exists() else b"")
        h.update(segmenter_version(self.segmenter).encode())
        return h.hexdigest()[:16]


class Tokenizer:
    """Word segmenter (rjieba or jieba) bound to one user dictionary and stopword list.

    ``tokens(text)`` returns content tokens (punctuation, whitespace, stopwords and bare
    numbers removed); ``raw_tokens(text)`` returns the segmentation unfiltered;
    ``cut(text, hmm)`` segments with HMM on or off.
    """

    def __init__(self, settings: TokenizerSettings | None = None) -> None:
        self.settings = settings or TokenizerSettings()
        self._jieba: Any = None
        self._stop: frozenset[str] | None = None

    @property
    def jieba(self) -> Any:
        """The loaded segmenter (an object with jieba's ``lcut(text, HMM=...)``)."""
        if self._jieba is None:
            if self.settings.segmenter == "rjieba":
                self._jieba = _RJieba(Path(self.settings.user_dict), self.settings.extra_words)
                return self._jieba
            import jieba

            jieba.setLogLevel(logging.WARNING)
            t = jieba.Tokenizer()
            t.initialize()
            t.load_userdict(str(_existing(self.settings.user_dict, "user_dict")))
            for w in self.settings.extra_words:
                t.add_word(w, freq=500)
            self._jieba = t
        return self._jieba

    @property
    def stopwords(self) -> frozenset[str]:
        if self._stop is None:
            path = _existing(self.settings.stopwords, "stopwords")
            words: set[str] = set()
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    words.add(line)
            self._stop = frozenset(words)
        return self._stop

    def raw_tokens(self, text: str) -> list[str]:
        """The segmentation of ``text``, unfiltered."""
        return self.jieba.lcut(text, HMM=self.settings.hmm)

    def cut(self, text: str, hmm: bool) -> list[str]:
        """The segmentation of ``text`` with the HMM for unknown words on or off."""
        return self.jieba.lcut(text, HMM=hmm)

    def tokens(self, text: str) -> list[str]:
        """Content tokens of ``text``: no punctuation, whitespace, stopwords or bare numbers."""
        return self.content(self.jieba.lcut(text, HMM=self.settings.hmm))

    def joined_tokens(self, texts: Iterable[str]) -> list[str]:
        """``" ".join(self.tokens(text))`` for each text (one loop, lookups hoisted)."""
        lcut, hmm, keep = self.jieba.lcut, self.settings.hmm, self._keep.__getitem__
        return [" ".join(filter(None, map(keep, lcut(text, HMM=hmm)))) for text in texts]

    def content(self, raw: Iterable[str]) -> list[str]:
        """The content tokens among raw tokens (the one token filter of the project)."""
        return list(filter(None, map(self._keep.__getitem__, raw)))

    def _filter(self, tok: str) -> str:
        """The content form of one raw token, or "" when it is dropped."""
        tok = tok.strip()
        if len(tok) < self.settings.min_token_chars or not _KEEP.search(tok):
            return ""
        if tok in self.stopwords:
            return ""
        if not self.settings.keep_numbers and _NUMERIC.match(tok) and tok not in _NUMERIC_NAMES:
            return ""
        return tok

    @property
    def _keep(self) -> _FilterMemo:
        memo = self.__dict__.get("_keep_memo")
        if memo is None or len(memo) > 1_000_000:
            memo = self.__dict__["_keep_memo"] = _FilterMemo(self._filter)
        return memo

    def __call__(self, text: str) -> list[str]:
        return self.tokens(text)

    def __getstate__(self) -> dict:
        # jieba's tokeniser is rebuilt in each worker process rather than pickled.
        return {"settings": self.settings, "_jieba": None, "_stop": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def get_tokenizer(settings: TokenizerSettings | None = None) -> Tokenizer:
    """A shared tokenizer per settings (a dictionary load takes 0.2 s rjieba, 1 s jieba).

    ``None`` means the default settings, and shares their tokenizer.
    """
    return _shared_tokenizer(settings if settings is not None else TokenizerSettings())


@lru_cache(maxsize=8)
def _shared_tokenizer(settings: TokenizerSettings) -> Tokenizer:
    return Tokenizer(settings)


def _tokenize_chunk(settings: TokenizerSettings, texts: Sequence[str]) -> list[list[str]]:
    tok = get_tokenizer(settings)
    return [tok.tokens(t) for t in texts]


def text_digest(text: str) -> bytes:
    """Cache key of one text: its SHA-1 digest."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()


class TokenCache:
    """Token lists on disk, keyed by text hash, one SQLite file per tokeniser fingerprint.

    SQLite keeps lookups and inserts incremental (a run adds only its new texts instead of
    rewriting one big pickle) and is safe when several processes share the cache. A
    change to the dictionary, stopwords or settings starts a new file; any other parameter
    change leaves the cache valid. A corrupt file is discarded and rebuilt.
    """

    _SEP = "\x1f"
    _BATCH = 500

    def __init__(self, cache_dir: str | Path, settings: TokenizerSettings) -> None:
        self.path = Path(cache_dir) / f"tokens-{settings.fingerprint()}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError:
            self.path.unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=120)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS tokens (key BLOB PRIMARY KEY, tokens TEXT NOT NULL)")
        db.execute("SELECT count(*) FROM tokens LIMIT 1").fetchone()
        return db

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, list[str]]:
        """Cached token lists for those ``keys`` that are in the cache."""
        found: dict[bytes, list[str]] = {}
        uniq = list(dict.fromkeys(keys))
        for i in range(0, len(uniq), self._BATCH):
            batch = uniq[i : i + self._BATCH]
            marks = ",".join("?" * len(batch))
            for key, joined in self._db.execute(
                f"SELECT key, tokens FROM tokens WHERE key IN ({marks})", batch
            ):
                found[key] = joined.split(self._SEP) if joined else []
        return found

    def put_many(self, items: Iterable[tuple[bytes, list[str]]]) -> None:
        """Store token lists (existing keys are left as they are)."""
        rows = [(k, self._SEP.join(toks)) for k, toks in items]
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO tokens (key, tokens) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM tokens").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def balanced_chunks(texts: Sequence[str], n_chunks: int) -> list[list[int]]:
    """Split indices into ``n_chunks`` contiguous runs of about equal character counts (the
    one rule for spreading text over workers: tokenising here, preparing documents)."""
    total = sum(len(t) for t in texts) or 1
    chunks: list[list[int]] = [[]]
    acc = 0
    for i, t in enumerate(texts):
        chunks[-1].append(i)
        acc += len(t)
        if acc >= total * len(chunks) / n_chunks and len(chunks) < n_chunks:
            chunks.append([])
    return [c for c in chunks if c]


def tokenize_many(
    texts: Sequence[str],
    settings: TokenizerSettings | None = None,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    chunk_size: int = 2000,
) -> list[list[str]]:
    """Tokenise many texts, optionally in parallel processes and through a disk cache.

    Only texts not already cached (by SHA-1 of the text, under the tokeniser fingerprint)
    are tokenised; repeated texts are tokenised once. With ``n_jobs`` != 1 the work is
    split into chunks of about equal size and run in joblib's process pool (loky), whose
    workers stay alive between calls, so jieba's dictionary loads once per worker. The
    result does not depend on ``n_jobs``. Under ``joblib.parallel_backend("dask")`` the
    chunks run on a Dask cluster instead.
    """
    settings = settings or TokenizerSettings()
    cache = TokenCache(cache_dir, settings) if cache_dir is not None else None
    try:
        keys = [text_digest(t) for t in texts]
        known = cache.get_many(keys) if cache is not None else {}
        todo_keys: list[bytes] = []
        todo: list[str] = []
        pending: set[bytes] = set()
        for k, t in zip(keys, texts):
            if k not in known and k not in pending:
                pending.add(k)
                todo_keys.append(k)
                todo.append(t)
        if todo:
            workers = _effective_jobs(n_jobs)
            n_chunks = max(1, -(-len(todo) // chunk_size))
            if workers > 1:
                n_chunks = max(n_chunks, 4 * workers)
            chunks = balanced_chunks(todo, min(n_chunks, len(todo)))
            if workers > 1 and len(chunks) > 1:
                from joblib import Parallel, delayed

                parts = Parallel(n_jobs=n_jobs)(
                    delayed(in_worker(_tokenize_chunk))(settings, [todo[i] for i in c])
                    for c in chunks
                )
            else:
                parts = [_tokenize_chunk(settings, [todo[i] for i in c]) for c in chunks]
            new = dict(zip(todo_keys, (toks for part in parts for toks in part)))
            if cache is not None:
                cache.put_many(new.items())
            known.update(new)
        return [list(known[k]) for k in keys]
    finally:
        if cache is not None:
            cache.close()


def tokenize_joined(
    texts: Sequence[str],
    settings: TokenizerSettings | None = None,
    cache_dir: str | Path | None = None,
) -> list[str]:
    """Each text's content tokens joined by spaces (the ``tokens`` column of ``prepare``).

    The same as joining :func:`tokenize_many`'s lists. Without a disk cache no text is
    hashed: a repeated text is found by the text itself and tokenised once.
    """
    if cache_dir is not None:
        return [" ".join(t) for t in tokenize_many(texts, settings, cache_dir=cache_dir)]
    distinct = list(dict.fromkeys(texts))
    tok = get_tokenizer(settings or TokenizerSettings())
    joined = dict(zip(distinct, tok.joined_tokens(distinct)))
    return [joined[text] for text in texts]


def _effective_jobs(n_jobs: int) -> int:
    """How many workers ``n_jobs`` means (joblib semantics: -1 = all cores)."""
    if n_jobs == 1:
        return 1
    try:
        from joblib import effective_n_jobs

        return effective_n_jobs(n_jobs)
    except Exception:
        return 1


def tokenize_row_group(
    path: str | Path,
    row_group: int,
    settings: TokenizerSettings | None = None,
    text_column: str = "text",
    id_column: str = "unit_id",
) -> pd.DataFrame:
    """Tokens of one Parquet row group: a unit of work for a distributed engine.

    ``research prepare`` writes one row group per chunk of documents, so a Dask bag (or any
    engine) can map this over ``range(num_row_groups)`` without a scheduler of our own;
    returns ``id_column`` and ``tokens`` (space-joined), in file order.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read_row_group(row_group, columns=[id_column, text_column])
    ids = table.column(id_column).to_pylist()
    texts = table.column(text_column).to_pylist()
    tokens = tokenize_many(texts, settings)
    return pd.DataFrame({id_column: ids, "tokens": [" ".join(t) for t in tokens]})
