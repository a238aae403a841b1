"""The fast paths give the same results as the slow ones they replace (no timing here)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from research.classify.features import CharNgramTfidf, JiebaAnalyzer, VocabTfidf, char_preprocess
from research.corpus import tokenize as tk
from research.corpus.tokenize import Tokenizer, TokenizerSettings

TEXTS = [
    "全面贯彻党的二十大精神，深化妇联改革。",
    "2024年帮助3.5万名妇女就业创业，开通12338热线",
    "",
    "ＡＢＣ abc 123 www.example.com 2011-2020年",
    "巾帼建功 巾帼建功 巾帼建功",
    "家庭家教家风建设",
    "！？。",
]
OTHER = ["妇女儿童权益保障，反家暴", "全新的词语组合未见过", "家风"]


def _sk(ngram_range, min_df) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char",
        ngram_range=ngram_range,
        preprocessor=char_preprocess,
        min_df=min_df,
        sublinear_tf=True,
        dtype=np.float64,
    )


@pytest.mark.parametrize("ngram_range, min_df", [((1, 3), 1), ((1, 2), 1), ((2, 3), 2)])
def test_char_tfidf_is_sklearns_to_the_bit(ngram_range, min_df) -> None:
    sk = _sk(ngram_range, min_df).fit(TEXTS)
    fast = CharNgramTfidf(ngram_range, min_df)
    both = fast.fit_transform(TEXTS)
    assert both.shape == (len(TEXTS), len(sk.vocabulary_))
    for texts in (TEXTS, OTHER):
        want = sk.transform(texts)
        for got in (fast.transform(texts), CharNgramTfidf.from_sklearn(sk).transform(texts)):
            assert got.shape == want.shape
            assert (got != want).nnz == 0
    assert (both != sk.transform(TEXTS)).nnz == 0
    again = pickle.loads(pickle.dumps(fast))
    assert (again.transform(OTHER) != fast.transform(OTHER)).nnz == 0


def test_char_tfidf_on_texts_shorter_than_every_ngram() -> None:
    fast = CharNgramTfidf((1, 2)).fit(TEXTS)
    for texts in ([""], ["", "！"], ["巾"]):
        want = _sk((1, 2), 1).fit(TEXTS).transform(texts)
        assert (fast.transform(texts) != want).nnz == 0


def test_word_tfidf_lookup_is_sklearns_to_the_bit() -> None:
    vec = TfidfVectorizer(analyzer=JiebaAnalyzer(), sublinear_tf=True).fit(TEXTS)
    assert VocabTfidf.applies(vec)
    for texts in (TEXTS, OTHER):
        assert (VocabTfidf(vec).transform(texts) != vec.transform(texts)).nnz == 0


SENTENCES = [
    "全面贯彻党的二十大精神，2024-01-21召开妇联执委会",
    "登录www.a.com了解3.5%的增长和2011-2020年规划",
    "巾帼建功标兵和妇女之家建设",
]


def test_rjieba_segments_like_jieba_with_the_project_dictionary() -> None:
    r = Tokenizer(TokenizerSettings(segmenter="rjieba"))
    j = Tokenizer(TokenizerSettings(segmenter="jieba"))
    for s in SENTENCES:
        assert r.raw_tokens(s) == j.raw_tokens(s)
        assert r.tokens(s) == j.tokens(s)
        assert r.cut(s, hmm=False) == j.cut(s, hmm=False)
    assert "妇女之家" in r.tokens(SENTENCES[2])  # the user dictionary is loaded


def test_segmenter_is_in_the_fingerprint_and_falls_back(monkeypatch) -> None:
    r, j = TokenizerSettings(segmenter="rjieba"), TokenizerSettings(segmenter="jieba")
    assert r.fingerprint() != j.fingerprint()
    assert TokenizerSettings.from_params({"segmenter": "jieba"}).segmenter == "jieba"
    monkeypatch.setattr(tk, "default_segmenter", lambda: "jieba")  # rjieba not installed
    assert TokenizerSettings(segmenter="rjieba").segmenter == "jieba"
    with pytest.raises(ValueError, match="segmenter"):
        TokenizerSettings(segmenter="nope")
