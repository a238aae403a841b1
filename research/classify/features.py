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
        if hasattr(X, "__array__") and not isinstance(X, (list, tuple)):
            X = np.asarray(X)
        text = pd.Series(list(X), dtype=object)
        heading = pd.Series([""] * len(text))

    def clean(s: Iterable[Any]) -> list[str]:
        return [
            "" if (v is None or (isinstance(v, float) and math.isnan(v))) else str(v) for v in s
        ]

    return pd.DataFrame({"text": clean(text), "heading": clean(heading)})


class TextInputMixin:
    """scikit-learn tags of estimators over texts: input is a unit table or a list of
    strings (not a 2-D numeric array), so the numeric-array checks do not apply."""

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()  # type: ignore[misc]
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
        return get_tokenizer(self.settings).content(self.raw(text))  # the one token filter

    def boundaries(self, text: str) -> set[int]:
        """Character offsets where jieba tokens start or end."""
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
        return self

    def raw_scores(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_domains) summed seed-term weights per text."""
        check_is_fitted(self, "matcher_")
        return self.matcher_.score_matrix(list(texts))

    def transform(self, X: Any) -> sp.csr_matrix:
        check_is_fitted(self, "matcher_")
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
