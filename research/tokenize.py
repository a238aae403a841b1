"""Deterministic jieba tokenisation with the federation user dictionary and stopwords.

Every later stage (weak labels, classifiers, topic models, distinctive terms) uses this
one tokeniser, so that a token means the same thing everywhere. Token lists can be cached
on disk keyed by the text's hash and the tokeniser settings, so re-runs after a parameter
change elsewhere do not re-tokenise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import jieba

from research.config import repo_root

jieba.setLogLevel(logging.WARNING)

RESOURCES = Path(__file__).resolve().parent / "resources"
_KEEP = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9]")
_NUMERIC = re.compile(r"^[0-9０-９.%％]+$")
# Numbers that are names in this domain (hotline, 12338) survive keep_numbers=False.
_NUMERIC_NAMES = frozenset({"12338", "12345", "110"})


def _resolve(path: str | Path | None, default: str) -> Path:
    if path is None:
        return RESOURCES / default
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    candidate = repo_root() / p
    return candidate if candidate.exists() else p


@dataclass(frozen=True)
class TokenizerSettings:
    """Everything that changes the tokens; its hash keys the cache."""

    user_dict: str = str(RESOURCES / "userdict.txt")
    stopwords: str = str(RESOURCES / "stopwords.txt")
    hmm: bool = True
    min_token_chars: int = 1
    keep_numbers: bool = False
    extra_words: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_params(cls, tok: dict | None, extra_words: Iterable[str] = ()) -> "TokenizerSettings":
        """Build from the ``tokenize`` section of params.yaml."""
        tok = tok or {}
        return cls(
            user_dict=str(_resolve(tok.get("user_dict"), "userdict.txt")),
            stopwords=str(_resolve(tok.get("stopwords"), "stopwords.txt")),
            hmm=bool(tok.get("hmm", True)),
            min_token_chars=int(tok.get("min_token_chars", 1)),
            keep_numbers=bool(tok.get("keep_numbers", False)),
            extra_words=tuple(sorted(set(extra_words))),
        )

    def fingerprint(self) -> str:
        """Hash of the settings and of the dictionary/stopword file contents."""
        h = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode())
        for p in (self.user_dict, self.stopwords):
            path = Path(p)
            h.update(path.read_bytes() if path.exists() else b"")
        h.update(jieba.__version__.encode())
        return h.hexdigest()[:16]


class Tokenizer:
    """jieba tokeniser bound to one user dictionary and stopword list.

    ``tokens(text)`` returns content tokens (punctuation, whitespace, stopwords and bare
    numbers removed); ``raw_tokens(text)`` returns jieba's segmentation unfiltered.
    """

    def __init__(self, settings: TokenizerSettings | None = None) -> None:
        self.settings = settings or TokenizerSettings()
        self._jieba: jieba.Tokenizer | None = None
        self._stop: frozenset[str] | None = None

    @property
    def jieba(self) -> jieba.Tokenizer:
        if self._jieba is None:
            t = jieba.Tokenizer()
            t.initialize()
            udict = Path(self.settings.user_dict)
            if udict.exists():
                t.load_userdict(str(udict))
            for w in self.settings.extra_words:
                t.add_word(w, freq=500)
            self._jieba = t
        return self._jieba

    @property
    def stopwords(self) -> frozenset[str]:
        if self._stop is None:
            path = Path(self.settings.stopwords)
            words: set[str] = set()
            if path.exists():
                for line in path.read_text(encoding="utf-8").splitlines():
                    line = line.strip()
                    if line and not line.startswith("#"):
                        words.add(line)
            self._stop = frozenset(words)
        return self._stop

    def raw_tokens(self, text: str) -> list[str]:
        """jieba's segmentation of ``text``, unfiltered."""
        return self.jieba.lcut(text, HMM=self.settings.hmm)

    def tokens(self, text: str) -> list[str]:
        """Content tokens of ``text``: no punctuation, whitespace, stopwords or bare numbers."""
        out = []
        stop = self.stopwords
        for tok in self.jieba.lcut(text, HMM=self.settings.hmm):
            tok = tok.strip()
            if len(tok) < self.settings.min_token_chars or not _KEEP.search(tok):
                continue
            if tok in stop:
                continue
            if not self.settings.keep_numbers and _NUMERIC.match(tok) and tok not in _NUMERIC_NAMES:
                continue
            out.append(tok)
        return out

    def __call__(self, text: str) -> list[str]:
        return self.tokens(text)

    def __getstate__(self) -> dict:
        # jieba's tokeniser is rebuilt in each worker process rather than pickled.
        return {"settings": self.settings, "_jieba": None, "_stop": None}


@lru_cache(maxsize=8)
def get_tokenizer(settings: TokenizerSettings | None = None) -> Tokenizer:
    """A shared tokenizer per settings (jieba's dictionary takes ~1 s to load)."""
    return Tokenizer(settings)


def _tokenize_chunk(settings: TokenizerSettings, texts: Sequence[str]) -> list[list[str]]:
    tok = get_tokenizer(settings)
    return [tok.tokens(t) for t in texts]


def tokenize_many(
    texts: Sequence[str],
    settings: TokenizerSettings | None = None,
    n_jobs: int = 1,
    cache_dir: str | Path | None = None,
    chunk_size: int = 2000,
) -> list[list[str]]:
    """Tokenise many texts, optionally in parallel processes and through a disk cache.

    The cache is one pickle per tokeniser fingerprint mapping sha1(text) → tokens; a change
    to the dictionary, stopwords or settings starts a new cache file.
    """
    settings = settings or TokenizerSettings()
    cache: dict[str, list[str]] = {}
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"tokens-{settings.fingerprint()}.pkl"
        if cache_file.exists():
            try:
                cache = pickle.loads(cache_file.read_bytes())
            except Exception:  # noqa: BLE001 - a corrupt cache is rebuilt
                cache = {}
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    todo_idx = [i for i, k in enumerate(keys) if k not in cache]
    todo = [texts[i] for i in todo_idx]
    if todo:
        chunks = [todo[i : i + chunk_size] for i in range(0, len(todo), chunk_size)]
        if n_jobs != 1 and len(chunks) > 1:
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=n_jobs, backend="loky")(
                delayed(_tokenize_chunk)(settings, c) for c in chunks
            )
        else:
            parts = [_tokenize_chunk(settings, c) for c in chunks]
        flat = [toks for part in parts for toks in part]
        for i, toks in zip(todo_idx, flat):
            cache[keys[i]] = toks
        if cache_file is not None:
            from research.io import atomic_path

            with atomic_path(cache_file) as tmp:
                tmp.write_bytes(pickle.dumps(cache, protocol=pickle.HIGHEST_PROTOCOL))
    return [list(cache[k]) for k in keys]
