"""The base training set and the evaluation on real gold (research.classify.instrument)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from research.classify import instrument
from research.classify.base_set import BASE_SET, combine, load_base_set
from research.errors import InputError
from research.labels.evaluation import evaluate_labels

LABELS = ["ideology", "employment", "rights", "family", "organization", "other"]


class KeywordModel(BaseEstimator, ClassifierMixin):
    """Predicts the label whose training texts share most characters; records what it saw."""

    seen: ClassVar[list[set[str]]] = []

    def __init__(self, noise: float = 0.0) -> None:
        self.noise = noise

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.array(sorted(set(y)), dtype=object)
        self.chars_ = {c: set("".join(X["text"][np.asarray(y) == c])) for c in self.classes_}
        KeywordModel.seen.append(set(X["text"]))
        return self

    def predict_proba(self, X):
        rng = np.random.default_rng(0)
        out = np.array(
            [[len(set(t) & self.chars_[c]) + 1e-3 for c in self.classes_] for t in X["text"]], float
        )
        out += self.noise * rng.random(out.shape) * out.max()
        return out / out.sum(1, keepdims=True)


def _gold(n_docs: int = 4, per_doc: int = 6) -> pd.DataFrame:
    words = {
        "ideology": "宣讲理论",
        "employment": "就业创业",
        "rights": "维权法律",
        "family": "家风家教",
        "organization": "组织改革",
        "other": "致辞感谢",
    }
    rows = []
    for d in range(n_docs):
        for i in range(per_doc):
            lab = LABELS[(i + d) % len(LABELS)]
            rows.append(
                {
                    "unit_id": f"d{d}:p{i}",
                    "text": f"{words[lab]}第{d}{i}",
                    "heading": "",
                    "label": lab,
                    "group": f"d{d}",
                    "province": "甲" if d < n_docs // 2 else "乙",
                }
            )
    return pd.DataFrame(rows)


def _base(n: int = 4) -> pd.DataFrame:
    g = _gold(n_docs=n, per_doc=6)
    return g.assign(
        unit_id="b" + g["unit_id"],
        text="基础" + g["text"],
        group="base:w" + (g.index % 2).astype(str),
        province="",
    )


def test_shipped_base_set_loads_with_codebook_labels() -> None:
    base = load_base_set(labels=LABELS)
    assert len(base) >= 3000
    assert set(base["label"]) == set(LABELS)
    assert base["group"].str.startswith("base:").all() and (base["heading"] == "").all()
    assert base["unit_id"].is_unique and base["text"].str.len().min() > 0
    assert BASE_SET.parent.joinpath("DATA_CARD.md").exists()


def test_base_set_with_unknown_label_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    pd.DataFrame(
        [
            {
                c: "x"
                for c in (
                    "unit_id",
                    "text",
                    "secondary",
                    "writer",
                    "province",
                    "level",
                    "year",
                    "genre",
                )
            }
            | {"label": "sports"}
        ]
    ).to_csv(p, index=False)
    with pytest.raises(InputError, match=r"b\.csv.*sports"):
        load_base_set(p, LABELS)


def test_combine_weights_gold_over_base() -> None:
    t = combine(_gold(2, 3), _base(2), gold_weight=3.0)
    assert set(t.loc[t["source"] == "gold", "weight"]) == {3.0}
    assert set(t.loc[t["source"] == "base_set", "weight"]) == {1.0}
    with pytest.raises(InputError):
        combine(None, None, 1.0)


def test_bootstrap_macro_f1_matches_evaluate_labels() -> None:
    rng = np.random.default_rng(1)
    gold = rng.choice(LABELS, 200)
    pred = np.where(rng.random(200) < 0.7, gold, rng.choice(LABELS, 200))
    cm = pd.crosstab(
        pd.Categorical(gold, LABELS), pd.Categorical(pred, LABELS), dropna=False
    ).to_numpy()
    assert instrument._macro_f1(cm) == pytest.approx(
        evaluate_labels(gold, pred, LABELS)["macro_f1"]
    )


def test_bootstrap_macro_f1_of_a_resample_is_sklearns() -> None:
    """The vectorised macro-F1 of a weighted confusion matrix (one per bootstrap draw) equals
    sklearn's f1_score on the resampled units written out, a class absent from the draw
    included (skipped by both)."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(2)
    n = 60
    gold = rng.choice(LABELS, n)
    pred = np.where(rng.random(n) < 0.6, gold, rng.choice(LABELS, n))
    weights = rng.integers(0, 3, n)
    weights[(gold == "other") | (pred == "other")] = 0  # "other" absent from this draw
    cm = (
        pd.crosstab(
            pd.Categorical(gold, LABELS),
            pd.Categorical(pred, LABELS),
            weights,
            aggfunc="sum",
            dropna=False,
        )
        .fillna(0)
        .to_numpy()
    )
    expected = f1_score(np.repeat(gold, weights), np.repeat(pred, weights), average="macro")
    assert instrument._macro_f1(cm) == pytest.approx(expected)


def test_paired_bootstrap_of_identical_methods_is_zero_and_deterministic() -> None:
    g = _gold()
    df = pd.concat(
        [
            g.assign(
                method=m, cv="by_document", gold=g["label"], pred=g["label"].iloc[::-1].to_numpy()
            )
            for m in ("a", "b")
        ]
    )
    b1 = instrument.cluster_bootstrap(df, LABELS, 50, seed=3)
    b2 = instrument.cluster_bootstrap(df, LABELS, 50, seed=3)
    np.testing.assert_array_equal(b1[("a", "by_document")], b2[("a", "by_document")])
    np.testing.assert_array_equal(b1[("a", "by_document")], b1[("b", "by_document")])
    assert b1[("a", "by_document")].std() > 0  # resampling documents changes the score


def test_every_gold_unit_is_predicted_once_per_scheme_by_a_model_that_never_saw_it() -> None:
    gold, base = _gold(), _base()
    KeywordModel.seen = []
    fits = instrument.HeldOutFits(gold, base, {"kw": KeywordModel()}, LABELS, gold_weight=2.0)
    preds = instrument.predict_schemes(fits, ["kw"])
    for scheme in instrument.SCHEMES:
        s = preds[preds["cv"] == scheme]
        assert sorted(s["unit_id"]) == sorted(gold["unit_id"]), scheme
    # a fit's training texts never include a held-out document's texts
    for (_name, held), _ in fits._cache.items():
        texts = set(fits._train(held)["text"])
        assert not texts & set(gold.loc[gold["group"].isin(held), "text"])
    assert set(base["text"]) <= set(fits._train(frozenset(gold["group"]))["text"])


def test_nested_choice_uses_only_training_documents() -> None:
    gold, base = _gold(), _base()
    fits = instrument.HeldOutFits(
        gold,
        base,
        {"good": KeywordModel(), "bad": KeywordModel(noise=50.0)},
        LABELS,
        gold_weight=1.0,
    )
    assert (
        instrument.nested_choice(fits, ["bad", "good"], frozenset({"d0"}), "bad", tol=0.0) == "good"
    )
    # with fewer than two training documents the base-set choice is used
    held = frozenset({"d0", "d1", "d2"})
    assert instrument.nested_choice(fits, ["bad", "good"], held, "bad", tol=0.0) == "bad"
    assert all(k[1] != frozenset({"d1", "d2", "d3"}) for k in fits._cache)


def test_one_candidate_needs_no_inner_fits_and_two_need_them() -> None:
    gold, base = _gold(), _base()
    est = {"good": KeywordModel(), "bad": KeywordModel(noise=50.0), "ref": KeywordModel()}
    fits = instrument.HeldOutFits(gold, base, est, LABELS, gold_weight=1.0)
    methods = list(est)
    one = instrument.needed_fits(fits, methods, ["good"], instrument.SCHEMES)
    two = instrument.needed_fits(fits, methods, ["good", "bad"], instrument.SCHEMES)
    outer = {h for s in instrument.SCHEMES for _, h in instrument.scheme_folds(s, gold)}
    assert {held for _, held in one} == outer  # only the outer folds' fits
    assert {held for _, held in two} > outer  # ... plus the inner folds of the selection
    assert len(set(two)) > len(set(one))
    # a single candidate is the choice: nothing is fitted for it
    assert instrument.nested_choice(fits, ["good"], frozenset({"d0"}), "good", 0.0) == "good"
    assert fits.n_fits == 0


def test_score_tables_and_targets_report_numbers_not_verdicts_only() -> None:
    gold, base = _gold(), _base()
    fits = instrument.HeldOutFits(
        gold,
        base,
        {
            "kw": KeywordModel(),
            "dictionary": KeywordModel(noise=5.0),
            "lr_plain": KeywordModel(noise=1.0),
        },
        LABELS,
        2.0,
    )
    preds = instrument.predict_schemes(fits, ["kw", "dictionary", "lr_plain"])
    preds = pd.concat([preds, preds[preds["method"] == "kw"].assign(method="selected")])
    scores, per_class, paired, calib, other = instrument.score_tables(
        preds, LABELS, 100, 0.95, 0, "other"
    )
    assert {"macro_f1", "ci_low", "ci_high", "min_recall"} <= set(scores.columns)
    assert (scores["ci_low"] <= scores["macro_f1"] + 1e-9).all() and (
        scores["macro_f1"] <= scores["ci_high"] + 1e-9
    ).all()
    assert set(paired["versus"]) == {"dictionary", "lr_plain"}
    assert calib.groupby(["method", "cv"])["n"].sum().eq(len(gold)).all()
    assert set(other["domain"]) == set(LABELS) - {"other"}
    t = instrument.targets(scores, paired)
    assert set(t) >= {"base_only_macro_f1", "by_document_macro_f1", "min_recall_all_schemes"}
    assert all(isinstance(v["value"], float) for v in t.values())


def test_suggest_strategies_pick_what_they_say() -> None:
    from research.classify.active_learning import pick

    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(6), size=60)
    docs = np.repeat(["a", "b", "c"], [40, 15, 5])
    unc = pick(proba, docs, 10, "uncertainty")
    top2 = np.sort(proba, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    assert set(unc) == set(np.argsort(margin)[:10])  # the smallest margins
    strat = pick(proba, docs, 12, "stratified", seed=1)
    assert pd.Series(docs[strat]).value_counts().to_dict() == {"a": 4, "b": 4, "c": 4}
    rnd = pick(proba, docs, 20, "random", seed=1)
    assert len(set(rnd)) == 20 and not np.array_equal(np.sort(rnd), np.sort(unc))
    np.testing.assert_array_equal(rnd, pick(proba, docs, 20, "random", seed=1))  # seeded
    with pytest.raises(InputError, match="unknown sampling strategy"):
        pick(proba, docs, 5, "greedy")


def test_learning_curve_rows_cover_sizes_strategies_and_the_base_set(monkeypatch) -> None:
    from research.labels.codebook import load_codebook

    gold, base = _gold(n_docs=3, per_doc=12), _base(n=3)
    monkeypatch.setattr(instrument, "make_candidate", lambda *a, **k: KeywordModel())
    params = {
        "seed": 1,
        "train": {
            "learning_curve": {
                "sizes": [0, 4, 8],
                "repeats": 2,
                "strategies": ["random", "uncertainty"],
            }
        },
    }
    lc = instrument.learning_curve(gold, base, load_codebook(None), params, "lr_plain")
    assert set(lc["n_labels"]) == {0, 4, 8}
    assert set(lc["strategy"]) == {"random", "uncertainty"}
    assert set(lc["with_base"]) == {True, False}
    assert (lc["n_test"] == len(gold)).all()  # every held-out unit scored once per row
    assert (
        lc[(lc["strategy"] == "random") & (lc["n_labels"] == 4) & lc["with_base"]][
            "repeat"
        ].nunique()
        == 2
    )


def test_learning_curve_folds_hold_out_groups_of_reports_never_seen_in_training(
    monkeypatch,
) -> None:
    """With ``folds`` the reports are split into that many held-out groups (each report in
    exactly one), the fits stay folds x grid, and no fit sees a unit of its held-out reports."""
    from research.labels.codebook import load_codebook

    docs = np.array([f"d{i}" for i in range(7) for _ in range(3)])
    folds = instrument.report_folds(docs, 3)
    assert len(folds) == 3
    assert sorted(d for f in folds for d in f) == sorted(set(docs))
    assert instrument.report_folds(docs, None) == [[d] for d in sorted(set(docs))]
    assert instrument.report_folds(docs, 99) == [[d] for d in sorted(set(docs))]

    gold = _gold(n_docs=6, per_doc=8)
    KeywordModel.seen = []
    monkeypatch.setattr(instrument, "make_candidate", lambda *a, **k: KeywordModel())
    params = {
        "seed": 1,
        "train": {
            "n_jobs": 2,
            "learning_curve": {"sizes": [0, 4], "repeats": 1, "strategies": ["random"], "folds": 2},
        },
    }
    lc = instrument.learning_curve(gold, None, load_codebook(None), params, "lr_plain")
    assert (lc["n_test"] == len(gold)).all()
    # without a base set: size 4 only (size 0 has nothing to train on), once per fold
    assert len(KeywordModel.seen) == 2
    held = instrument.report_folds(gold["group"].to_numpy(), 2)
    for seen in KeywordModel.seen:
        seen_docs = set(gold.loc[gold["text"].isin(seen), "group"])
        assert any(seen_docs.isdisjoint(h) for h in held)


def test_learning_curve_skips_sizes_some_fold_cannot_draw_without_fitting_them(
    monkeypatch,
) -> None:
    """A size above the smallest fold's pool would be capped differently per fold and could
    not be pooled: it is skipped with a log line, and nothing is fitted for it."""
    from research.labels.codebook import load_codebook

    gold = _gold(n_docs=4, per_doc=6)  # 2 folds of 2 reports: each fold draws from 12 units
    KeywordModel.seen = []
    monkeypatch.setattr(instrument, "make_candidate", lambda *a, **k: KeywordModel())
    params = {
        "seed": 1,
        "train": {
            "learning_curve": {
                "sizes": [0, 4, 12, 13, 50],
                "repeats": 1,
                "strategies": ["random"],
                "folds": 2,
            }
        },
    }
    logged: list[str] = []
    lc = instrument.learning_curve(
        gold, None, load_codebook(None), params, "lr_plain", log=logged.append
    )
    assert sorted(set(lc["n_labels"])) == [4, 12]
    assert len(KeywordModel.seen) == 2 * 2  # sizes 4 and 12, once per fold
    assert any("[13, 50] skipped" in m and "12 gold units" in m for m in logged)


def test_blas_limit_is_shared_by_threads_and_lifted_by_the_last() -> None:
    """Fits in parallel threads share one BLAS limit (process-wide), held by the caller for
    all of them (``fit_all``): it holds while they run and after each leaves, and the
    process gets its own settings back when the caller leaves. OpenMP's limit is per
    thread: each fit sets and lifts its own."""
    import threading

    from threadpoolctl import threadpool_info

    from research.classify.models import one_blas_thread

    def blas() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    def threads_now() -> list[int]:
        return [p["num_threads"] for p in threadpool_info()]

    before = threads_now()
    entered = threading.Barrier(3, timeout=60)
    release = [threading.Event(), threading.Event()]
    inside: list[list[int]] = []

    def fit(i: int) -> None:
        with one_blas_thread():
            entered.wait()
            release[i].wait(timeout=60)
            inside.append(threads_now())  # this thread: BLAS and its own OpenMP

    threads = [threading.Thread(target=fit, args=(i,), daemon=True) for i in range(2)]
    try:
        with one_blas_thread():  # as instrument.fit_all holds it around its threads
            for t in threads:
                t.start()
            entered.wait()
            assert blas() and all(n == 1 for n in blas())
            for i in [0, 1]:
                release[i].set()
                threads[i].join(timeout=60)
            assert all(n == 1 for n in blas())  # still held: the caller has not left
    finally:
        for i in [0, 1]:
            release[i].set()
    assert all(n == 1 for row in inside for n in row)
    assert threads_now() == before


@pytest.mark.parametrize("content", ["{not json", '{"temperature": 1.0}', '["svm_seeded"]'])
def test_learning_curve_choice_that_names_no_candidate_is_an_error_naming_the_file(
    tmp_path, content: str
) -> None:
    from research.commands.learning_curve import _chosen

    path = tmp_path / "choice.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match="choice.json"):
        _chosen(path)
    path.write_text('{"chosen": "lr_seeded"}', encoding="utf-8")
    assert _chosen(path) == "lr_seeded"
