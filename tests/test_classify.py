"""Domain classifiers: features, estimators, baselines, grouped CV, persistence."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from research.classify.baselines import DictionaryBaseline, MajorityClassifier
from research.classify.data import load_training_table
from research.classify.features import JiebaAnalyzer, SeedTermScores
from research.classify.models import DomainClassifier
from research.classify.persist import load_model, save_model
from research.errors import InputError, ResearchError
from research.labels.codebook import load_codebook
from tests.test_classify_synth import synthetic_units

CB = load_codebook()
LABELS = CB.ids


def _clf(**kw) -> DomainClassifier:
    return DomainClassifier(
        labels=LABELS, seed_terms=CB.seed_terms, heading_cues=CB.heading_cues, **kw
    )


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return synthetic_units(n_docs=4, per_class=2, seed=1)


# -- features ---------------------------------------------------------------------------
def test_seed_term_scores_known_counts() -> None:
    terms = {"family": {"美丽庭院": 3.0, "家庭": 1.0}, "employment": {"家政": 2.0}}
    st = SeedTermScores(terms, shares=False, analyzer=JiebaAnalyzer()).fit(None)
    raw = st.raw_scores(["美丽庭院示范户和美丽庭院", "国家政策", "开展家政培训", ""])
    # columns in dict order: family, employment
    assert raw[0].tolist() == [6.0, 0.0]  # two long matches, substring allowed
    assert raw[1].tolist() == [0.0, 0.0]  # 家政 inside 国家|政策 is not a token: no match
    assert raw[2].tolist() == [0.0, 2.0]
    assert raw[3].tolist() == [0.0, 0.0]
    with_shares = (
        SeedTermScores(terms, scale=2.0, summary=False)
        .fit(None)
        .transform(["美丽庭院 家政"])
        .toarray()[0]
    )
    assert with_shares[:2] == pytest.approx(2 * np.log1p([3.0, 2.0]))
    assert with_shares[2:] == pytest.approx(2 * np.array([0.6, 0.4]))
    summ = (
        SeedTermScores(terms, summary=True).fit(None).transform(["美丽庭院 家政", "无关"]).toarray()
    )
    # total 5, best 3, best share 0.6, abstain 0 (best ≥ 1 and margin 1 ≥ 0.5); empty → abstain
    assert summ[0, -4:] == pytest.approx([np.log1p(5), np.log1p(3), 0.6, 0.0])
    assert summ[1, -4:] == pytest.approx([0.0, 0.0, 0.0, 1.0])


def test_seed_term_scores_are_memoised_per_text_and_matcher() -> None:
    """Scores are per text (fold-independent): a memo hit equals a fresh match, and
    scorers with other terms or another tokeniser never share rows."""
    from research.classify import features

    texts = ["美丽庭院示范户", "国家政策", "开展家政培训", "国家政策"]
    terms = {"family": {"美丽庭院": 3.0}, "employment": {"家政": 2.0}}
    features._SCORE_CACHE.clear()
    first = SeedTermScores(terms, analyzer=JiebaAnalyzer()).fit(None).raw_scores(texts)
    assert len(features._SCORE_CACHE) == 3  # distinct texts
    again = SeedTermScores(terms, analyzer=JiebaAnalyzer()).fit(None).raw_scores(texts)
    np.testing.assert_array_equal(first, again)
    other = {"family": {"美丽庭院": 1.0}, "employment": {"家政": 2.0}}
    assert SeedTermScores(other, analyzer=JiebaAnalyzer()).fit(None).raw_scores(texts)[0, 0] == 1
    no_align = SeedTermScores(terms, substring_min_chars=1).fit(None).raw_scores(texts)
    assert no_align[1].tolist() == [0.0, 2.0]  # substring 家政 counts without a tokeniser
    assert first[1].tolist() == [0.0, 0.0]


def test_analyzer_matches_project_tokenizer() -> None:
    from research.corpus.tokenize import get_tokenizer

    text = "开展“巾帼心向党”宣讲2500余场，推进美丽庭院建设。"
    an = JiebaAnalyzer()
    assert an.tokens(text) == get_tokenizer(an.settings).tokens(text)
    assert pickle.loads(pickle.dumps(an))(text) == an(text)
    bi = JiebaAnalyzer(ngrams=2)(text)
    assert any("_" in t for t in bi)


# -- estimators -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["lr", "svm", "cnb"])
def test_estimators_learn_synthetic_domains(data: pd.DataFrame, kind: str) -> None:
    train, test = data[data.doc_id != "doc3"], data[data.doc_id == "doc3"]
    m = _clf(model=kind).fit(train, train["gold"])
    p = m.predict_proba(test)
    assert p.shape == (len(test), len(LABELS))
    assert np.allclose(p.sum(axis=1), 1.0)
    assert list(m.classes_) == LABELS
    acc = (m.predict(test) == test["gold"].to_numpy()).mean()
    assert acc >= 0.8, acc


def test_absent_category_keeps_zero_column(data: pd.DataFrame) -> None:
    sub = data[data.gold != "family"]
    for kind in ("lr", "svm", "cnb"):
        m = _clf(model=kind).fit(sub, sub["gold"])
        p = m.predict_proba(data)
        assert p[:, LABELS.index("family")].max() == 0.0
        assert np.allclose(p.sum(axis=1), 1.0)


def test_svm_calibration_survives_a_singleton_class(data: pd.DataFrame) -> None:
    sub = pd.concat([data[data.gold != "rights"], data[data.gold == "rights"].head(1)])
    m = _clf(model="svm").fit(sub, sub["gold"])
    assert np.allclose(m.predict_proba(data).sum(axis=1), 1.0)


def test_sklearn_api_clone_params_pickle(data: pd.DataFrame) -> None:
    m = _clf(C=3.0, dict_prior=0.5)
    assert m.get_params()["C"] == 3.0
    assert not hasattr(m, "classes_")  # no work in __init__
    c = clone(m).set_params(C=7.0)
    assert c.C == 7.0 and m.C == 3.0
    m.fit(data, data["gold"])
    again = pickle.loads(pickle.dumps(m))
    assert np.allclose(again.predict_proba(data), m.predict_proba(data))
    # plain text input (no heading) works too
    assert m.predict(list(data["text"][:3])).shape == (3,)


def test_fit_is_deterministic(data: pd.DataFrame) -> None:
    a = _clf(model="svm").fit(data, data["gold"]).predict_proba(data)
    b = _clf(model="svm").fit(data, data["gold"]).predict_proba(data)
    assert np.array_equal(a, b)


def test_dictionary_prior_moves_probability_to_seeded_domain() -> None:
    m = _clf(word=False, char=False, seed_scale=0.0, heading_scale=0.5, dict_prior=1.0)
    X = pd.DataFrame({"text": ["开展两癌筛查", "在市委领导下"], "heading": ["维权", "综述"]})
    d = m.fit(X, ["rights", "other"]).dictionary_proba(
        pd.DataFrame({"text": ["两癌筛查和两癌救助"]})
    )
    assert LABELS[int(np.argmax(d[0]))] == "rights"


def test_baselines(data: pd.DataFrame) -> None:
    maj = MajorityClassifier(labels=LABELS).fit(data, ["other"] * 3 + ["family"] * (len(data) - 3))
    assert set(maj.predict(data)) == {"family"}
    assert maj.predict_proba(data)[0, LABELS.index("other")] == pytest.approx(3 / len(data))
    dic = DictionaryBaseline(labels=LABELS).fit()
    pred = dic.predict(["开展两癌筛查救助工作", "东风浩荡，大地回春"])
    assert list(pred) == ["rights", "other"]  # abstention → other
    p = dic.predict_proba(["开展两癌筛查救助工作", "东风浩荡，大地回春"])
    assert np.allclose(p.sum(axis=1), 1.0)
    assert LABELS[int(np.argmax(p[1]))] == "other" and LABELS[int(np.argmax(p[0]))] == "rights"


# -- grouped CV -------------------------------------------------------------------------
def _write(df: pd.DataFrame, tmp_path, name="ann.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def test_training_table_errors(tmp_path, data: pd.DataFrame) -> None:
    ok = load_training_table(_write(data, tmp_path), CB, min_examples=2)
    assert len(ok) == len(data) and set(ok.columns) >= {"text", "heading", "label", "group"}
    bad = data.copy()
    bad.loc[0, "gold"] = "sports"
    with pytest.raises(InputError, match="not in the codebook.*'sports'"):
        load_training_table(_write(bad, tmp_path), CB)
    with pytest.raises(InputError, match="too few examples.*family: 1"):
        load_training_table(
            _write(data[(data.gold != "family") | (data.unit_id == "doc0:p006")], tmp_path), CB
        )
    with pytest.raises(InputError, match="missing column.*'label'"):
        load_training_table(_write(data, tmp_path), CB, label_column="label")
    with pytest.raises(InputError, match="empty"):
        load_training_table(_write(data.head(0), tmp_path), CB)
    # a category with no example passes only with allow_missing_classes
    nofam = data[data.gold != "family"]
    with pytest.raises(InputError, match="family: 0"):
        load_training_table(_write(nofam, tmp_path), CB, min_examples=2)
    assert len(
        load_training_table(_write(nofam, tmp_path), CB, min_examples=2, allow_missing_classes=True)
    )


# -- persistence ------------------------------------------------------------------------
def test_model_card_round_trip_and_mismatches(tmp_path, data: pd.DataFrame) -> None:
    m = _clf().fit(data, data["gold"])
    card = {
        "labels": LABELS,
        "codebook_fingerprint": CB.fingerprint(),
        "codebook_path": str(CB.path),
    }
    save_model(m, tmp_path / "m", card)
    model, card2 = load_model(tmp_path / "m", CB)
    assert np.allclose(model.predict_proba(data), m.predict_proba(data))
    from research.provenance import library_versions

    assert card2["library_versions"] == library_versions()  # one definition for cards and metrics
    assert card2["library_versions"]["segmenter"] in ("rjieba", "jieba")

    def edit(**kw):
        path = tmp_path / "m" / "model_card.json"
        c = json.loads(path.read_text())
        for k, v in kw.items():
            if k in c["library_versions"]:
                c["library_versions"][k] = v
            else:
                c[k] = v
        path.write_text(json.dumps(c))

    edit(codebook_fingerprint="0" * 64)
    with pytest.raises(ResearchError, match="codebook differs"):
        load_model(tmp_path / "m", CB)
    with pytest.warns(UserWarning, match="codebook differs"):
        load_model(tmp_path / "m", CB, allow_mismatch=True)
    edit(codebook_fingerprint=CB.fingerprint(), **{"scikit-learn": "0.1.0"})
    with pytest.raises(ResearchError, match="scikit-learn version differs.*0.1.0"):
        load_model(tmp_path / "m", CB)
    import sklearn

    edit(**{"scikit-learn": sklearn.__version__, "numpy": "0.0.1"})
    with pytest.warns(UserWarning, match="numpy version differs"):
        load_model(tmp_path / "m", CB)
    with pytest.raises(ResearchError, match="no trained model"):
        load_model(tmp_path / "nothing", CB)


# -- active learning --------------------------------------------------------------------
def test_uncertainty_ranking() -> None:
    from research.classify.active_learning import rank_uncertain, uncertainty_scores

    p = np.array([[0.9, 0.05, 0.05], [0.4, 0.4, 0.2], [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]])
    margin, ent = uncertainty_scores(p)
    assert margin == pytest.approx([0.15, 1.0, 0.8, 1.0])
    assert ent[0] < ent[2] < ent[1]
    order = rank_uncertain(p, 4, seed=0)
    assert set(order[:2]) == {1, 3} and list(order[2:]) == [2, 0]
    assert list(rank_uncertain(p, 4, seed=0)) == list(order)  # deterministic
    ties = {tuple(rank_uncertain(p, 2, seed=s)) for s in range(20)}
    assert ties == {(1, 3), (3, 1)}  # the seed breaks exact ties


# -- figure -----------------------------------------------------------------------------
def test_confusion_matrix_figure(tmp_path, params: dict) -> None:
    from research.viz.classifier import confusion_matrix

    rows = [
        {"method": "selected", "true": t, "pred": p, "count": int(t == p) * 3 + int(p == "other")}
        for t in LABELS
        for p in LABELS
    ]
    (tmp_path / "tables").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "tables" / "confusion_matrix.csv", index=False)
    out = confusion_matrix(
        tmp_path, tmp_path / "fig", {**params, "figures": {"formats": ["png"], "dpi": 50}}, "en"
    )
    names = sorted(p.name for p in out)
    assert names == ["confusion_matrix.csv", "confusion_matrix.png"]
    data = pd.read_csv(tmp_path / "fig" / "confusion_matrix.csv")
    # row-normalised: gold 'ideology' has 3 right + 1 as other → 0.75 / 0.25
    row = data[data["true"] == "ideology"].set_index("pred")["share_of_gold"]
    assert row["ideology"] == pytest.approx(0.75) and row["other"] == pytest.approx(0.25)


# -- calibration ------------------------------------------------------------------------
def test_temperature_recovers_known_softening() -> None:
    from research.classify.calibration import fit_temperature, temper

    rng = np.random.default_rng(0)
    labels = ["a", "b", "c"]
    logits = rng.normal(0, 2.0, size=(4000, 3))
    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # calibrated by construction
    y = [labels[rng.choice(3, p=row)] for row in q]
    soft = temper(q, 2.0)  # an under-confident model
    assert fit_temperature(soft, y, labels) == pytest.approx(0.5, rel=0.15)
    assert fit_temperature(q, y, labels) == pytest.approx(1.0, rel=0.15)
    assert np.allclose(temper(soft, 0.5), q)


def test_tempered_classifier_keeps_labels(data: pd.DataFrame) -> None:
    from research.classify.models import TemperedClassifier

    base = _clf().fit(data, data["gold"])
    t = TemperedClassifier(_clf(), 0.5).fit(data, data["gold"])
    p0, p1 = base.predict_proba(data), t.predict_proba(data)
    assert np.allclose(p1.sum(axis=1), 1.0)
    assert (p0.argmax(axis=1) == p1.argmax(axis=1)).all()
    assert (p1.max(axis=1) >= p0.max(axis=1) - 1e-12).all()  # T < 1 sharpens


def test_char_ngram_tfidf_from_the_memo_is_the_matrix_counted_afresh() -> None:
    """CharNgramTfidf counts each text's n-grams once per process and builds later fits from
    the memo; every fit (overlapping sets, repeated texts, min_df > 1) must give the matrix,
    vocabulary and idf of counting from scratch — to the bit."""
    import pandas as pd

    from research.classify.features import (
        CharNgramTfidf,
        _ngram_keys,
        clear_memos,
        count_matrix,
        tfidf_weight,
    )

    rng = np.random.default_rng(3)
    alphabet = list("妇联维权就业家风组织思想引领创业巾帼建功，。0123abc")
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 40))) for _ in range(300)]

    def afresh(sub, ngrams, min_df):
        rows, keys = _ngram_keys(sub, *ngrams)
        codes, uniq = pd.factorize(keys, sort=True)
        X = count_matrix(rows, codes, len(sub), len(uniq))
        df = np.bincount(X.indices, minlength=len(uniq))
        keep = df >= min_df
        idf = np.log((len(sub) + 1) / (df[keep] + 1.0)) + 1
        X = X[:, np.flatnonzero(keep)]
        return tfidf_weight(X, idf, True), np.asarray(uniq)[keep], idf

    clear_memos()
    for trial in range(4):
        sub = [texts[i] for i in rng.choice(len(texts), 200)]  # with repeats
        for ngrams, min_df in [((1, 3), 1), ((1, 2), 2), ((2, 3), 3)]:
            est = CharNgramTfidf(ngrams, min_df, True)
            got = est.fit_transform(sub)
            want, vocab, idf = afresh(sub, ngrams, min_df)
            assert (got != want).nnz == 0 and (got.indices == want.indices).all(), trial
            assert (est.vocab_ == vocab).all() and (est.idf_ == idf).all()
            assert (est.transform(sub[:20]) != want[:20]).nnz == 0


def test_word_tfidf_from_the_token_memo_is_sklearns_fit_to_the_bit() -> None:
    """The word TF-IDF is fitted from the token memo: the fitted vectorizer must pickle to
    the same bytes as sklearn's own fit (vocabulary in sklearn's insertion order, idf) and
    the matrix must be the fitted vectorizer's transform of the texts, entry for entry in
    the same order (solvers sum in that order)."""
    import pickle

    from research.classify.features import JiebaAnalyzer, clear_memos, word_tfidf_fit
    from research.classify.models import TextTfidf

    units = synthetic_units(n_docs=6, per_class=3, seed=2)["text"].tolist()
    texts = units + ["", "，。", units[0]]
    clear_memos()
    for ngrams in (1, 2):
        block = TextTfidf("text", analyzer=JiebaAnalyzer({"cache": False}, ngrams=ngrams))
        for sub in (texts, texts[::-1], texts[5:40]):
            ref, mine = block._vectorizer(), block._vectorizer()
            want = block.__class__("text", analyzer=block.analyzer)._fit(sub).transform(sub)
            ref.fit(sub)
            got = word_tfidf_fit(mine, sub)
            assert got is not None
            assert (got.indptr == want.indptr).all() and (got.indices == want.indices).all()
            assert (got.data == want.data).all()
            assert pickle.dumps(mine) == pickle.dumps(ref)


def test_token_memo_keeps_one_id_space_when_it_starts_afresh(monkeypatch) -> None:
    """The token memo is bounded: when it fills it starts afresh (ids too), and a fit that
    was collecting rows meanwhile must not mix ids of the two tables; a fit larger than the
    memo bypasses it. Both give the sklearn vocabulary."""
    from research.classify import features
    from research.classify.features import JiebaAnalyzer, clear_memos, word_tfidf_fit
    from research.classify.models import TextTfidf

    texts = synthetic_units(n_docs=6, per_class=3, seed=4)["text"].tolist()
    block = TextTfidf("text", analyzer=JiebaAnalyzer({"cache": False}))
    n = len(texts)
    for cap, filled in ((2 * n + 2, n + 5), (4 * n, 0), (n, 0)):  # reset mid-fit; none; bypass
        clear_memos()
        monkeypatch.setattr(features, "_TOKEN_CACHE_MAX", cap)
        gen = features._TOKENS.generation
        if filled:  # other texts already in the memo: this fit fills it up
            other = [f"{t}，其{i}" for i, t in enumerate(texts + texts)][:filled]
            for part in (other[: filled // 2], other[filled // 2 :]):  # each within the cap
                word_tfidf_fit(block._vectorizer(), part)
        ref, mine = block._vectorizer(), block._vectorizer()
        ref.fit(texts)
        got = word_tfidf_fit(mine, texts)
        assert got is not None and mine.vocabulary_ == ref.vocabulary_, cap
        assert (mine.idf_ == ref.idf_).all()
        assert (features._TOKENS.generation > gen) == bool(filled)  # the reset did happen


def test_solver_settings_are_parameters_and_old_models_keep_theirs() -> None:
    """svm_tol / lr_dtype are estimator parameters (in the model card via get_params); a
    model saved before they existed unpickles with the values it was fitted with."""
    import pickle

    from research.classify.models import DomainClassifier

    m = DomainClassifier(model="svm")
    assert m.get_params()["svm_tol"] == 1e-3 and m.get_params()["lr_dtype"] == "float32"
    assert pickle.loads(pickle.dumps(m)).get_params() == m.get_params()
    old = DomainClassifier.__new__(DomainClassifier)
    state = {k: v for k, v in m.__dict__.items() if k not in ("svm_tol", "lr_dtype")}
    old.__setstate__(state)
    assert old.get_params()["svm_tol"] == 1e-4 and old.get_params()["lr_dtype"] == "float64"


def test_every_classifier_parameter_is_in_a_cache_key_or_used_only_to_predict() -> None:
    """A parameter missing from the fit caches' keys would let two estimators that differ
    in it share a fitted learner (a wrong result, silently)."""
    from research.classify import models

    params = set(models.DomainClassifier().get_params())
    covered = {*models._FEATURE_PARAMS, *models._LEARNER_PARAMS, *models._PREDICT_PARAMS}
    assert params == covered
