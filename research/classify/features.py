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
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from research.corpus.tokenize import (
    _KEEP,
    _NUMERIC,
    _NUMERIC_NAMES,
    TokenizerSettings,
    get_tokenizer,
)

CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_NON_CJK_RUN = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9]+")
_DIGITS = re.compile(r"[0-9]+")

# Process-wide memo of token lists: {(tokeniser fingerprint, text): tuple(tokens)}.
_TOKEN_CACHE: dict[tuple[str, str], tuple[str, ...]] = {}
_CONTENT_CACHE: dict[tuple[str, str], tuple[str, ...]] = {}
_TOKEN_CACHE_MAX = 50_000  # bounds memory when predicting large corpora in batches


def as_units(X: Any) -> pd.DataFrame:
    """Coerce classifier input to a DataFrame with string columns ``text`` and ``heading``."""
    if isinstance(X, pd.DataFrame):
        if "text" not in X.columns:
            raise ValueError("input table needs a 'text' column")
        text = X["text"]
        heading = X["heading"] if "heading" in X.columns else pd.Series([""] * len(X))
    elif isinstance(X, pd.Series):
        text = X
        heading = pd.Series([""] * len(X))
    else:
        text = pd.Series(list(X), dtype=object)
        heading = pd.Series([""] * len(text))
    clean = lambda s: [
        "" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v) for v in s
    ]
    return pd.DataFrame({"text": clean(text), "heading": clean(heading)})


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
        self.__init__(**state)

    @property
    def settings(self) -> TokenizerSettings:
        if self._settings is None:
            self._settings = TokenizerSettings.from_params(
                self.tokenize, extra_words=self.extra_words
            )
            self._fp = self._settings.fingerprint()
        return self._settings

    def raw(self, text: str) -> tuple[str, ...]:
        """jieba's unfiltered segmentation of ``text`` (memoised; one jieba pass per text)."""
        settings = self.settings
        key = (self._fp or "", text)
        toks = _TOKEN_CACHE.get(key)
        if toks is None:
            toks = tuple(get_tokenizer(settings).raw_tokens(text))
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
        tok = get_tokenizer(self.settings)
        s = self.settings
        stop = tok.stopwords
        out = []
        for t in self.raw(text):
            t = t.strip()
            if len(t) < s.min_token_chars or not _KEEP.search(t) or t in stop:
                continue
            if not s.keep_numbers and _NUMERIC.match(t) and t not in _NUMERIC_NAMES:
                continue
            out.append(t)
        return out

    def boundaries(self, text: str) -> set[int]:
        """Character offsets where jieba tokens start or end."""
        pos, out = 0, {0}
        for t in self.raw(text):
            pos += len(t)
            out.add(pos)
        return out

    def warm(self, texts: Iterable[str]) -> None:
        """Tokenise ``texts`` into the cache ahead of time (e.g. once before CV)."""
        for t in texts:
            self.raw(t)

    def __call__(self, text: str) -> list[str]:
        toks = self.tokens(text)
        if self.ngrams >= 2:
            toks = toks + [a + "_" + b for a, b in zip(toks, toks[1:])]
        return toks


class ColumnText(BaseEstimator, TransformerMixin):
    """Select one text column (``text`` or ``heading``) of a unit table as a list of str."""

    def __init__(self, column: str = "text") -> None:
        self.column = column

    def fit(self, X: Any, y: Any = None) -> ColumnText:
        return self

    def transform(self, X: Any) -> list[str]:
        return as_units(X)[self.column].tolist()


def compile_terms(
    seed_terms: dict[str, dict[str, float]],
) -> tuple[re.Pattern | None, dict[str, np.ndarray], list[str]]:
    """One alternation regex over all seed terms (longest first) and each term's weight vector."""
    domains = list(seed_terms)
    weights: dict[str, np.ndarray] = {}
    for j, dom in enumerate(domains):
        for term, w in (seed_terms.get(dom) or {}).items():
            term = str(term).strip()
            if not term:
                continue
            vec = weights.setdefault(term, np.zeros(len(domains)))
            vec[j] += float(w)
    if not weights:
        return None, weights, domains
    terms = sorted(weights, key=lambda t: (-len(t), t))
    return re.compile("|".join(re.escape(t) for t in terms)), weights, domains


class SeedTermScores(BaseEstimator, TransformerMixin):
    """Per-domain weighted counts of the codebook's seed terms in a text column.

    Matching as in the weak labeller: longest-first, non-overlapping occurrences; a term
    shorter than ``substring_min_chars`` counts only where both its ends fall on jieba
    token boundaries (so 家政 is not found inside 国家|政策), longer terms count anywhere
    (美丽庭院 inside 美丽庭院示范户). Output columns, one block per domain: ``log1p(score)``
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

    def fit(self, X: Any, y: Any = None) -> SeedTermScores:
        self.pattern_, self.weights_, self.domains_ = compile_terms(self.seed_terms or {})
        return self

    def raw_scores(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_domains) summed seed-term weights per text."""
        out = np.zeros((len(texts), len(self.domains_)))
        if self.pattern_ is None:
            return out
        short = self.substring_min_chars
        for i, t in enumerate(texts):
            bounds = None
            for m in self.pattern_.finditer(t):
                term = m.group(0)
                if self.analyzer is not None and len(term) < short:
                    if bounds is None:
                        bounds = self.analyzer.boundaries(t)
                    if m.start() not in bounds or m.end() not in bounds:
                        continue
                out[i] += self.weights_[term]
        return out

    def transform(self, X: Any) -> sp.csr_matrix:
        texts = as_units(X)[self.column].tolist()
        raw = self.raw_scores(texts)
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


def has_chinese(text: str) -> bool:
    """True if ``text`` contains at least one CJK ideograph."""
    return bool(CJK_RE.search(text or ""))
