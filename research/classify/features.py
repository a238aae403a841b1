"""Feature transformers for the domain classifiers.

Inputs are unit tables (a DataFrame with ``text`` and optionally ``heading``) or plain
lists of strings. Everything here is a scikit-learn transformer (no work in ``__init__``,
picklable), so that pipelines can be cloned inside grouped cross-validation.

Tokenisation is the slow step (jieba, ~200k chars/s). :class:`JiebaAnalyzer` memoises the
token list of every text it has seen in a process-wide cache keyed by the tokeniser
fingerprint, so each unit is tokenised once per process however many folds and
candidate models fit on it.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from research.corpus.tokenize import TokenizerSettings, get_tokenizer
from research.labels.matcher import TermMatcher, token_boundaries

CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_NON_CJK_RUN = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9]+")
_DIGITS = re.compile(r"[0-9]+")

# Process-wide memo of token lists: {(tokeniser fingerprint, text): tuple(tokens)}.
_TOKEN_CACHE: dict[tuple[str, str], tuple[str, ...]] = {}
_CONTENT_CACHE: dict[tuple[str, str], tuple[str, ...]] = {}
_TOKEN_CACHE_MAX = 50_000  # bounds memory when predicting large corpora in batches
# Process-wide memo of seed-term score rows: {(matcher key, text): scores per domain}.
_SCORE_CACHE: dict[tuple[str, str], np.ndarray] = {}


def clear_memos() -> None:
    """Empty the per-process token, seed-term score and n-gram count memos."""
    _TOKEN_CACHE.clear()
    _CONTENT_CACHE.clear()
    _SCORE_CACHE.clear()
    _NGRAMS.clear()
    _TOKENS.clear()


def as_units(X: Any) -> pd.DataFrame:
    """Coerce classifier input to a DataFrame with string columns ``text`` and ``heading``."""
    if (
        isinstance(X, pd.DataFrame)
        and X.attrs.get("units")
        and list(X.columns) == ["text", "heading"]
        and all(dt == np.dtype(object) for dt in X.dtypes)
    ):
        return X  # already coerced (each feature block would otherwise redo it)
    if isinstance(X, pd.DataFrame):
        if "text" not in X.columns:
            raise ValueError("input table needs a 'text' column")
        text = X["text"]
        heading = X["heading"] if "heading" in X.columns else pd.Series([""] * len(X))
    elif isinstance(X, pd.Series):
        text = X
        heading = pd.Series([""] * len(X))
    else:
        if hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
            X = np.asarray(X)
        text = pd.Series(list(X), dtype=object)
        heading = pd.Series([""] * len(text))

    def clean(s: Iterable[Any]) -> list[str]:
        return [
            "" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v) for v in s
        ]

    out = pd.DataFrame({"text": clean(text), "heading": clean(heading)}, dtype=object)
    out.attrs["units"] = True
    return out


class TextInputMixin:
    """scikit-learn tags of estimators over texts: input is a unit table or a list of
    strings (not a 2-D numeric array), so the numeric-array checks do not apply."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def char_preprocess(text: str) -> str:
    """Text for character n-grams: digit runs → '0', punctuation/space runs → one space."""
    return _NON_CJK_RUN.sub(" ", _DIGITS.sub("0", text)).strip()


class JiebaAnalyzer:
    """Callable analyzer for ``TfidfVectorizer``: project tokens, optionally plus bigrams.

    ``tokenize`` is the params.yaml ``tokenize`` section (paths resolved the same way as
    everywhere else); ``extra_words`` are added to jieba's dictionary (the codebook's seed
    terms, so that multi-character campaign names stay one token).
    """

    def __init__(
        self,
        tokenize: dict | None = None,
        extra_words: Sequence[str] = (),
        ngrams: int = 1,
    ) -> None:
        self.tokenize = dict(tokenize or {})
        self.extra_words = tuple(sorted(set(extra_words)))
        self.ngrams = int(ngrams)
        self._settings: TokenizerSettings | None = None
        self._fp: str | None = None

    def __getstate__(self) -> dict:
        return {"tokenize": self.tokenize, "extra_words": self.extra_words, "ngrams": self.ngrams}

    def __setstate__(self, state: dict) -> None:
        type(self).__init__(self, **state)

    @property
    def settings(self) -> TokenizerSettings:
        if self._settings is None:
            self._settings = TokenizerSettings.from_params(
                self.tokenize, extra_words=self.extra_words
            )
            self._fp = self._settings.fingerprint()
        return self._settings

    def _fingerprint(self) -> str:
        return self.settings.fingerprint() if self._fp is None else self._fp

    def raw(self, text: str) -> tuple[str, ...]:
        """jieba's unfiltered segmentation of ``text`` (memoised; one jieba pass per text)."""
        key = (self._fp if self._fp is not None else self._fingerprint(), text)
        toks = _TOKEN_CACHE.get(key)
        if toks is None:
            toks = tuple(self._tokenizer().raw_tokens(text))
            if len(_TOKEN_CACHE) >= _TOKEN_CACHE_MAX:
                _TOKEN_CACHE.clear()
            _TOKEN_CACHE[key] = toks
        return toks

    def tokens(self, text: str) -> list[str]:
        """Content tokens of ``text``: the same filter as ``Tokenizer.tokens`` over :meth:`raw`."""
        key = (self._fp or "", text)
        hit = _CONTENT_CACHE.get(key)
        if hit is None:
            hit = tuple(self._content(text))
            if len(_CONTENT_CACHE) >= _TOKEN_CACHE_MAX:
                _CONTENT_CACHE.clear()
            _CONTENT_CACHE[(self._fp or "", text)] = hit
        return list(hit)

    def _content(self, text: str) -> list[str]:
        return self._tokenizer().content(self.raw(text))  # the one token filter

    def _tokenizer(self) -> Any:
        tok = self.__dict__.get("_tok")
        if tok is None:
            tok = self.__dict__["_tok"] = get_tokenizer(self.settings)
        return tok

    def boundaries(self, text: str) -> set[int]:
        """Character offsets where segmenter tokens start or end."""
        return token_boundaries(self.raw(text))

    def warm(self, texts: Iterable[str]) -> None:
        """Tokenise ``texts`` into the cache ahead of time (e.g. once before CV)."""
        for t in texts:
            self.raw(t)

    def __call__(self, text: str) -> list[str]:
        toks = self.tokens(text)
        if self.ngrams >= 2:
            toks = toks + [a + "_" + b for a, b in zip(toks, toks[1:])]
        return toks


class SeedTermScores(TextInputMixin, TransformerMixin, BaseEstimator):
    """Per-domain weighted counts of the codebook's seed terms in a text column.

    Counted by :class:`research.labels.matcher.TermMatcher`, the same matcher as the weak
    labels and the dictionary baseline (short terms must align with the ``analyzer``'s
    jieba tokens: 家政 is not found inside 国家|政策; longer terms count anywhere). Output columns, one block per domain: ``log1p(score)``
    and the domain's share of all matched weight; multiplied by ``scale`` so a regularised
    linear model can afford to use them. ``extra_terms`` (e.g. heading cues) are added.
    """

    def __init__(
        self,
        seed_terms: dict[str, dict[str, float]] | None = None,
        column: str = "text",
        scale: float = 1.0,
        shares: bool = True,
        analyzer: Any = None,
        substring_min_chars: int = 3,
        summary: bool = False,
    ) -> None:
        self.seed_terms = seed_terms
        self.column = column
        self.scale = scale
        self.shares = shares
        self.summary = summary
        self.analyzer = analyzer
        self.substring_min_chars = substring_min_chars

    def fit(self, X: Any = None, y: Any = None) -> SeedTermScores:
        bounds = self.analyzer.boundaries if self.analyzer is not None else None
        self.matcher_ = TermMatcher(self.seed_terms or {}, bounds, self.substring_min_chars)
        self.domains_ = list(self.matcher_.domains)
        self._memo = self._memo_key()
        return self

    def raw_scores(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_domains) summed seed-term weights per text.

        A text's scores depend only on the text, the terms and the tokeniser, never on the
        training fold, so they are memoised per process (like the token lists): the base
        set's paragraphs are matched once, not once per cross-validation fit.
        """
        check_is_fitted(self, "matcher_")
        key = self._memo_key()
        out = np.zeros((len(texts), len(self.domains_)))
        todo: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            hit = _SCORE_CACHE.get((key, t))
            if hit is None:
                todo.setdefault(t, []).append(i)
            else:
                out[i] = hit
        if todo:
            fresh = self.matcher_.score_matrix(list(todo))
            if len(_SCORE_CACHE) + len(todo) > _TOKEN_CACHE_MAX:
                _SCORE_CACHE.clear()
            for (t, rows), row in zip(todo.items(), fresh):
                row.flags.writeable = False
                _SCORE_CACHE[(key, t)] = row
                out[rows] = row
        return out

    def _memo_key(self) -> str:
        """What a text's scores depend on: terms, domains, the matching rule, the tokeniser."""
        key = self.__dict__.get("_memo")  # set by fit (transform never changes the estimator)
        if key is None:
            import hashlib

            fp = self.analyzer._fingerprint() if self.analyzer is not None else "-"
            spec = repr(
                (sorted((t, w.tolist()) for t, w in self.matcher_.weights.items()), self.domains_)
            )
            spec += repr((self.matcher_.substring_min_chars, fp))
            key = hashlib.sha1(spec.encode("utf-8")).hexdigest()
        return key

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_memo", None)
        return state

    def transform(self, X: Any) -> sp.csr_matrix:
        check_is_fitted(self, "matcher_")
        texts = as_units(X)[self.column].tolist()
        raw = on_distinct(self.raw_scores, texts)
        blocks = [np.log1p(raw)]
        tot = raw.sum(axis=1, keepdims=True)
        if self.shares:
            blocks.append(np.divide(raw, tot, out=np.zeros_like(raw), where=tot > 0))
        if self.summary and raw.shape[1] > 0:
            # How sure the dictionary is: total and best score, the best domain's share, and
            # whether the dictionary labeller's default rule would abstain (best < 1 or a
            # margin < 0.5) — abstention is the strongest single cue for the residual class.
            srt = np.sort(raw, axis=1)[:, ::-1]
            best = srt[:, :1]
            margin = best - (srt[:, 1:2] if raw.shape[1] > 1 else 0.0)
            share = np.divide(best, tot, out=np.zeros_like(best), where=tot > 0)
            abstain = ((best < 1.0) | (margin < 0.5)).astype(float)
            blocks += [np.log1p(tot), np.log1p(best), share, abstain]
        return sp.csr_matrix(np.hstack(blocks) * float(self.scale))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = [f"seed_log_{d}" for d in self.domains_]
        if self.shares:
            names += [f"seed_share_{d}" for d in self.domains_]
        if self.summary and self.domains_:
            names += ["seed_total", "seed_best", "seed_best_share", "seed_abstain"]
        return np.array([f"{self.column}_{n}" for n in names], dtype=object)


def on_distinct(fn: Any, texts: list[str]) -> Any:
    """``fn(texts)`` computed once per distinct text (headings repeat across a section's units).

    ``fn`` maps a list of texts to rows (ndarray or sparse matrix), one per text.
    """
    index: dict[str, int] = {}
    inv = np.fromiter((index.setdefault(t, len(index)) for t in texts), np.int64, len(texts))
    if len(index) * 2 > len(texts):
        return fn(texts)
    return fn(list(index))[inv]


def has_chinese(text: str) -> bool:
    """True if ``text`` contains at least one CJK ideograph."""
    return bool(CJK_RE.search(text or ""))


# -- fast character n-gram TF-IDF ----------------------------------------------------------
# A character n-gram (n ≤ 3) is one int64: its code points + 1 in 21-bit fields, left
# aligned, so that sorting the keys sorts the n-grams as strings (sklearn's column order).
_BITS = 21


def _ngram_keys(texts: Sequence[str], n_min: int, n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, key) of every character n-gram occurrence of the preprocessed ``texts``."""
    if not texts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    joined = "\x00".join(char_preprocess(t) for t in texts)  # preprocessing drops \x00
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64) + 1
    sep = cp == 1
    cp[sep] = 0
    row = np.cumsum(sep)
    rows, keys = [], []
    for n in range(n_min, n_max + 1):
        m = len(cp) - n + 1
        if m <= 0:
            break
        key = cp[:m] << (2 * _BITS)
        ok = cp[:m] != 0
        for j in range(1, n):
            c = cp[j : j + m]
            key |= c << ((2 - j) * _BITS)
            ok &= c != 0
        rows.append(row[:m][ok])
        keys.append(key[ok])
    if not rows:  # every text shorter than the smallest n
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(keys)


def count_matrix(rows: np.ndarray, cols: np.ndarray, n: int, v: int) -> sp.csr_matrix:
    """(n, v) counts of (row, col) occurrences, in canonical CSR form (sorted, summed).

    scipy's COO -> CSR groups by row in linear time and then sorts each (short) row: ~3x
    faster than one global sort of row * v + col keys, which this used to do; same matrix.
    """
    X = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, v))
    X.sum_duplicates()  # sorts each row's columns and sums repeats: canonical form
    return X


def tfidf_weight(X: sp.csr_matrix, idf: np.ndarray, sublinear_tf: bool) -> sp.csr_matrix:
    """sklearn's TfidfTransformer.transform (l2 norm) on a count matrix, in place."""
    from sklearn.preprocessing import normalize

    if sublinear_tf:
        np.log(X.data, X.data)
        X.data += 1.0
    X.data *= idf[X.indices]
    return normalize(X, norm="l2", copy=False)


class VocabTfidf:
    """Transform-only stand-in for a fitted sklearn ``TfidfVectorizer`` with a callable
    analyzer: tokens looked up in a hash index at once instead of a Python loop per token.
    Same matrix as sklearn's ``transform`` to the last bit."""

    def __init__(self, vec: Any) -> None:
        self.vec = vec

    @staticmethod
    def applies(vec: Any) -> bool:
        return (
            callable(vec.analyzer)
            and vec.input == "content"
            and vec.norm == "l2"
            and vec.use_idf
            and not vec.binary
        )

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        vec = self.vec
        index = self.__dict__.get("_index")
        if index is None:
            terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
            index = self.__dict__["_index"] = pd.Index(terms, dtype=object)
        toks = [vec.analyzer(t) for t in texts]
        lens = np.fromiter(map(len, toks), np.int64, len(toks))
        col = index.get_indexer(list(chain.from_iterable(toks)))
        rows = np.repeat(np.arange(len(toks)), lens)
        hit = col >= 0
        X = count_matrix(rows[hit], col[hit], len(toks), len(index))
        return tfidf_weight(X, vec.idf_, vec.sublinear_tf)


def ngram_key(gram: str) -> int:
    """The int64 key of one character n-gram (1–3 characters)."""
    key = 0
    for j, ch in enumerate(gram):
        key |= (ord(ch) + 1) << ((2 - j) * _BITS)
    return key


class IdMemo:
    """A per-process memo of one row per text, holding ids into one growing table of keys
    (character n-grams, tokens), so that a fit on many overlapping training sets works on
    integer arrays instead of recounting its texts.

    Rows are added in batches: a batch brings its own distinct keys and each row's codes
    into them, and the memo renames those to its ids under a lock. Bounded like the token
    memo: a batch that would overfill it starts it afresh (``generation`` counts these), and
    a reader that finds a row gone re-adds it, reading rows and the key table together, so
    a result never mixes ids of two tables. Thread-safe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self.rows: dict[Any, tuple[np.ndarray, ...]] = {}
        self.ids: dict[Any, int] = {}
        self.keys: list[Any] = []
        self.generation += 1

    def _store(self, batch_keys: list[Any], rows: dict[Any, tuple[np.ndarray, ...]]) -> None:
        """Store ``rows`` ({row key: (codes into batch_keys, *other arrays)}) as ids."""
        with self._lock:
            if len(self.rows) + len(rows) > _TOKEN_CACHE_MAX:
                self._clear()
            ids, keys = self.ids, self.keys
            gid = np.empty(len(batch_keys), np.int64)
            for j, k in enumerate(batch_keys):
                g = ids.get(k)
                if g is None:
                    g = ids[k] = len(keys)
                    keys.append(k)
                gid[j] = g
            for rk, (codes, *rest) in rows.items():
                self.rows[rk] = (gid[codes], *rest)

    def _gather(
        self, row_keys: list[Any], compute: Callable[[list[Any]], Any]
    ) -> tuple[list[tuple[np.ndarray, ...]], list[Any]]:
        """The rows of ``row_keys`` (``compute`` makes the missing ones) and the key table."""
        todo = [k for k in dict.fromkeys(row_keys) if k not in self.rows]
        if todo:
            self._store(*compute(todo))
        with self._lock:
            got = [self.rows.get(k) for k in row_keys]
            if all(g is not None for g in got):
                return [g for g in got if g is not None], list(self.keys)
        self._store(*compute(list(dict.fromkeys(row_keys))))  # evicted meanwhile: again
        return self._gather(row_keys, compute)


class NgramMemo(IdMemo):
    """Each text's distinct character n-grams (ids in key order) and their counts.

    Counting the n-grams was most of each cross-validation fit; a fit now only stacks its
    texts' rows, finds the n-grams present (their sorted keys are the vocabulary) and
    renumbers them, which gives the very matrix counted from scratch.
    """

    def stacked(
        self, texts: Sequence[str], n_min: int, n_max: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(n-gram ids, counts, indptr, the id -> key table) of ``texts``, row by row."""

        def count(todo: list[tuple[int, int, str]]) -> tuple[list[int], dict]:
            rows, keys = _ngram_keys([t for *_, t in todo], n_min, n_max)
            codes, uniq = pd.factorize(keys, sort=True)
            X = count_matrix(rows, codes, len(todo), len(uniq))  # per row: sorted by key
            ip = X.indptr
            out = {
                rk: (X.indices[ip[i] : ip[i + 1]], X.data[ip[i] : ip[i + 1]])
                for i, rk in enumerate(todo)
            }
            return uniq.tolist(), out

        got, keys = self._gather([(n_min, n_max, t) for t in texts], count)
        lens = np.fromiter((len(c) for c, _ in got), np.int64, len(got))
        indptr = np.concatenate([[0], np.cumsum(lens)])
        table = np.asarray(keys, np.int64)
        if not got:
            return np.zeros(0, np.int64), np.zeros(0), indptr, table
        return (
            np.concatenate([c for c, _ in got]),
            np.concatenate([d for _, d in got]),
            indptr,
            table,
        )


class TokenMemo(IdMemo):
    """Each text's analyzer tokens, in order, as ids (per analyzer): a word TF-IDF fit is a
    few array operations instead of sklearn's Python loop over every token."""

    def stacked(
        self, key: str, analyzer: Any, texts: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(token ids of all texts in order, tokens per text, the id -> token table)."""

        def tokenise(todo: list[tuple[str, str]]) -> tuple[list[str], dict]:
            local: dict[str, int] = {}
            out = {}
            for rk in todo:
                toks = analyzer(rk[1])
                out[rk] = (
                    np.fromiter(
                        (local.setdefault(t, len(local)) for t in toks), np.int64, len(toks)
                    ),
                )
            return list(local), out

        got, keys = self._gather([(key, t) for t in texts], tokenise)
        lens = np.fromiter((len(r[0]) for r in got), np.int64, len(got))
        flat = np.concatenate([r[0] for r in got]) if got else np.zeros(0, np.int64)
        return flat, lens, np.array(keys, dtype=object)


_NGRAMS = NgramMemo()
_TOKENS = TokenMemo()


def word_tfidf_fit(vec: Any, texts: Sequence[str]) -> sp.csr_matrix | None:
    """``vec.fit(texts).transform(texts)`` for a ``TfidfVectorizer`` over a
    :class:`JiebaAnalyzer`, from the token memo: the same fitted state (vocabulary, in
    sklearn's insertion order, and idf) and the same matrix, to the bit. None when ``vec`` uses options this does not
    reproduce (then fit it with sklearn)."""
    from sklearn.feature_extraction.text import TfidfTransformer

    an = vec.analyzer
    if not (
        isinstance(an, JiebaAnalyzer)
        and vec.input == "content"
        and vec.min_df == 1
        and vec.max_df == 1.0
        and vec.max_features is None
        and vec.vocabulary is None
        and not vec.binary
        and vec.norm == "l2"
        and vec.use_idf
        and vec.dtype == np.float64
    ):
        return None
    flat, lens, table = _TOKENS.stacked(f"{an._fingerprint()}:{an.ngrams}", an, texts)
    if not len(flat):
        raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
    uniq, first = np.unique(flat, return_index=True)
    terms = table[uniq]
    col = np.empty(len(uniq), np.int64)
    col[np.argsort(terms)] = np.arange(len(uniq))  # sklearn: columns in term order
    dense = np.empty(len(table), np.int64)
    dense[uniq] = col
    rows = np.repeat(np.arange(len(texts)), lens)
    # canonical (sorted columns), as ``transform`` gives: the matrix the fitted vectorizer
    # gives these texts (sklearn's own fit_transform leaves rows in first-seen order)
    X = count_matrix(rows, dense[flat], len(texts), len(uniq))
    by_first = np.argsort(first, kind="stable")  # sklearn's dict: first-seen order
    vec._tfidf = TfidfTransformer(
        norm=vec.norm, use_idf=vec.use_idf, smooth_idf=vec.smooth_idf, sublinear_tf=vec.sublinear_tf
    )
    vec.fixed_vocabulary_ = False
    vec.vocabulary_ = dict(zip(terms[by_first].tolist(), col[by_first].tolist()))
    vec._tfidf.fit(X)
    return tfidf_weight(X, vec._tfidf.idf_, vec.sublinear_tf)


class CharNgramTfidf:
    """Exact, vectorised ``TfidfVectorizer(analyzer="char", preprocessor=char_preprocess)``.

    Same vocabulary (in the same sorted column order), smoothed idf, sublinear tf and l2
    norm as scikit-learn, so the matrices agree to the last bit; n-grams are counted with
    numpy on code-point arrays instead of a Python loop over substrings (~6x faster).
    ``ngram_range`` max ≤ 3; ``min_df`` an int.
    """

    def __init__(
        self, ngram_range: Sequence[int] = (1, 3), min_df: int = 1, sublinear_tf: bool = True
    ) -> None:
        if not 1 <= ngram_range[0] <= ngram_range[1] <= 3:
            raise ValueError("CharNgramTfidf: ngram_range must lie within (1, 3)")
        self.ngram_range = tuple(ngram_range)
        self.min_df = int(min_df)
        self.sublinear_tf = sublinear_tf

    def _counts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return _ngram_keys(texts, *self.ngram_range)

    def fit(self, texts: Sequence[str]) -> CharNgramTfidf:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        ids, counts, indptr, table = _NGRAMS.stacked(texts, *self.ngram_range)
        df = np.bincount(ids, minlength=len(table))  # each id at most once per text
        present = np.flatnonzero(df >= self.min_df)
        if not len(present):
            raise ValueError("empty vocabulary")
        present = present[np.argsort(table[present], kind="stable")]  # vocabulary: key order
        col = np.full(len(table), -1, np.int64)
        col[present] = np.arange(len(present))
        self.vocab_ = table[present]
        self.idf_ = np.log((len(texts) + 1) / (df[present].astype(np.float64) + 1)) + 1
        self._index: pd.Index | None = None
        cols = col[ids]  # increasing within each row: ids are stored in key order
        if len(present) < np.count_nonzero(df):  # min_df dropped some n-grams
            hit = cols >= 0
            rows = np.repeat(np.arange(len(texts)), np.diff(indptr))[hit]
            cols, counts = cols[hit], counts[hit]
            indptr = np.searchsorted(rows, np.arange(len(texts) + 1))
        X = sp.csr_matrix((counts.copy(), cols, indptr), shape=(len(texts), len(present)))
        X.has_canonical_format = True
        return self._weight(X)

    def _matrix(self, rows: np.ndarray, cols: np.ndarray, n: int, v: int) -> sp.csr_matrix:
        return count_matrix(rows, cols, n, v)

    def _weight(self, X: sp.csr_matrix) -> sp.csr_matrix:
        return tfidf_weight(X, self.idf_, self.sublinear_tf)

    @classmethod
    def from_sklearn(cls, vec: Any) -> CharNgramTfidf | None:
        """The fitted equivalent of a fitted sklearn char vectorizer (None if it has none)."""
        if (
            vec.analyzer != "char"
            or vec.preprocessor is not char_preprocess
            or vec.norm != "l2"
            or not vec.use_idf
            or max(vec.ngram_range) > 3
        ):
            return None
        out = cls(tuple(vec.ngram_range), 1, vec.sublinear_tf)
        terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
        keys = np.array([ngram_key(t) for t in terms], dtype=np.int64)
        if len(keys) and not (np.diff(keys) > 0).all():
            return None
        out.vocab_, out.idf_ = keys, np.asarray(vec.idf_, dtype=np.float64)
        return out

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        rows, keys = self._counts(texts)
        if getattr(self, "_index", None) is None:
            self._index = pd.Index(self.vocab_)
        assert self._index is not None
        col = self._index.get_indexer(keys)
        hit = col >= 0
        return self._weight(self._matrix(rows[hit], col[hit], len(texts), len(self.vocab_)))

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_index"}
