"""The one seed-term matcher: weak labels, the dictionary baseline and the classifier's
seed-term features all count codebook terms with :class:`TermMatcher`.

Why it is not a plain token lookup: jieba splits many multi-word seed terms (思想引领 →
思想|引领) and a plain substring search finds short terms across word boundaries (家政
inside 国家|政策). So a term matches where it occurs in the text and either (a) it has at
least ``substring_min_chars`` characters (such terms are distinctive enough to trust as
substrings) or (b) it lies inside one token of the tokeniser's segmentation and starts or
ends on a token boundary (家政 in 开展|家政|培训 and in the token 家政服务, never across
国家|政策). Overlapping matches are resolved longest-first (then by term, then position),
so 两癌筛查 counts once and 家庭暴力 does not also count 家庭. Without a tokeniser
(``boundaries=None``) every occurrence is accepted (short headings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Boundaries = Callable[[str], set[int]]


def token_boundaries(tokens: Sequence[str]) -> set[int]:
    """Character offsets where the tokens of a text start or end."""
    pos, out = 0, {0}
    for tok in tokens:
        pos += len(tok)
        out.add(pos)
    return out


def fits_tokens(start: int, end: int, bounds: set[int]) -> bool:
    """A short match is trusted when no token boundary falls inside it and it starts or
    ends on one: 家政 in 开展|家政|培训 or in 家政服务 (one token), not in 国家|政策."""
    if any(i in bounds for i in range(start + 1, end)):
        return False
    return start in bounds or end in bounds


class TermMatcher:
    """Weighted, non-overlapping seed-term matches in a text (see the module docstring).

    ``terms`` maps a domain id to ``{term: weight}``; a term listed under several domains
    adds its weight to each. ``boundaries(text)`` gives token boundaries (e.g.
    ``JiebaAnalyzer.boundaries``); None accepts every occurrence.
    """

    def __init__(
        self,
        terms: dict[str, dict[str, float]],
        boundaries: Boundaries | None = None,
        substring_min_chars: int = 3,
    ) -> None:
        self.domains = list(terms)
        self.boundaries = boundaries
        self.substring_min_chars = int(substring_min_chars)
        weights: dict[str, np.ndarray] = {}
        for j, dom in enumerate(self.domains):
            for term, w in (terms.get(dom) or {}).items():
                t = str(term).strip()
                if t:
                    weights.setdefault(t, np.zeros(len(self.domains)))[j] += float(w)
        self.weights = weights
        by_first: dict[str, list[str]] = {}
        for t in sorted(weights, key=lambda t: (-len(t), t)):
            by_first.setdefault(t[0], []).append(t)
        self._by_first = by_first
        chars = "".join(sorted(by_first))
        self._starts = re.compile(f"[{re.escape(chars)}]") if chars else None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_starts"] = self._starts.pattern if self._starts is not None else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        pat = state.get("_starts")
        self.__dict__.update({**state, "_starts": re.compile(pat) if pat else None})

    def matches(self, text: str, align: bool = True) -> list[tuple[int, int, str]]:
        """Accepted matches as (start, end, term), sorted by start."""
        if not text or self._starts is None:
            return []
        cands = [
            (-len(t), t, m.start())
            for m in self._starts.finditer(text)
            for t in self._by_first[text[m.start()]]
            if text.startswith(t, m.start())
        ]
        if not cands:
            return []
        cands.sort()
        short = self.substring_min_chars
        bounds = None
        check = align and self.boundaries is not None
        taken = bytearray(len(text) + 1)
        out = []
        for neg, term, start in cands:
            end = start - neg
            if check and -neg < short:
                if bounds is None:
                    bounds = self.boundaries(text)  # type: ignore[misc]
                if not fits_tokens(start, end, bounds):
                    continue
            if any(taken[start:end]):
                continue
            taken[start:end] = b"\x01" * (end - start)
            out.append((start, end, term))
        return sorted(out)

    def score_vector(self, text: str, align: bool = True) -> np.ndarray:
        """Summed weights per domain (in ``domains`` order)."""
        out = np.zeros(len(self.domains))
        for _, _, term in self.matches(text, align):
            out += self.weights[term]
        return out

    def score_matrix(self, texts: Sequence[str], align: bool = True) -> np.ndarray:
        """(n, n_domains) summed weights."""
        out = np.zeros((len(texts), len(self.domains)))
        for i, t in enumerate(texts):
            if t:
                out[i] = self.score_vector(t, align)
        return out


def dictionary_proba(
    scores: np.ndarray,
    domains: Sequence[str],
    classes: Sequence[Any] | np.ndarray,
    residual_score: float,
    smoothing: float,
) -> np.ndarray:
    """Dictionary pseudo-probabilities over ``classes`` from per-domain seed-term scores.

    Each domain gets its score, a class that is not a domain (the residual category) gets
    ``residual_score`` (the evidence needed to leave it), every class gets ``smoothing``;
    rows are normalised. A text with no matches therefore leans to the residual category.
    """
    col = {d: j for j, d in enumerate(domains)}
    out = np.full((scores.shape[0], len(classes)), max(float(residual_score), 0.0))
    for k, c in enumerate(classes):
        if c in col:
            out[:, k] = scores[:, col[c]]
    out += float(smoothing)
    return out / out.sum(axis=1, keepdims=True)
