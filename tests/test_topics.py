"""Topic models: determinism, the seeded prior, the K sweep, tables, offline HTML, CLI.

Everything runs on small synthetic corpora whose structure is known: five themes, each a
bag of federation words, so the right answer (which words belong together) is known.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gensim.corpora import Dictionary

from research.topics.lda import LdaSettings, fit_lda
from research.topics.seeded import build_eta, label_units, seeded_topic_ids
from research.topics.selection import SWEEP_COLUMNS, heldout_split, topic_similarity
from research.topics.tables import doc_topics, term_scores, topic_terms, unit_topics

THEMES = {
    "ideology": [
        "宣讲",
        "巾帼心向党",
        "三八红旗手",
        "思想引领",
        "党史学习教育",
        "网上引领",
        "巾帼大讲堂",
    ],
    "employment": ["就业", "创业", "巧媳妇", "春风行动", "招聘会", "技能培训", "巾帼电商"],
    "rights": ["维权", "法律援助", "两癌", "普法", "信访", "反家暴", "救助"],
    "family": ["家风", "家庭教育", "最美家庭", "美丽庭院", "好家风", "家教", "亲子"],
    "organization": ["换届", "执委", "妇联改革", "妇女之家", "基层组织", "四组一队", "妇联干部"],
}
FILLER = ["全面", "推进", "活动", "服务", "妇女", "组织", "开展"]


def synthetic_units(n_per_theme: int = 12, n_docs: int = 4, seed: int = 0) -> pd.DataFrame:
    """Paragraph units: each mostly words of one theme, plus a little filler."""
    rng = np.random.default_rng(seed)
    rows = []
    i = 0
    for theme, words in THEMES.items():
        for _ in range(n_per_theme):
            toks = list(rng.choice(words, 14)) + list(rng.choice(FILLER, 3))
            rng.shuffle(toks)
            doc = f"d{i % n_docs}"
            rows.append(
                {
                    "unit_id": f"{doc}:p{i:03d}",
                    "doc_id": doc,
                    "para_id": i,
                    "kind": "body",
                    "text": "，".join(toks) + "。",
                    "theme": theme,
                }
            )
            i += 1
    # headings are not modelled
    rows.append(
        {
            "unit_id": "d0:p999",
            "doc_id": "d0",
            "para_id": 999,
            "kind": "heading",
            "text": "一、工作回顾",
            "theme": "",
        }
    )
    return pd.DataFrame(rows)


def token_lists(units: pd.DataFrame) -> list[list[str]]:
    return [t.rstrip("。").split("，") for t in units["text"]]


FAST = LdaSettings(passes=10, iterations=100)


@pytest.fixture(scope="module")
def synth():
    units = synthetic_units()
    units = units[units["kind"] == "body"].reset_index(drop=True)
    texts = token_lists(units)
    d = Dictionary(texts)
    bows = [d.doc2bow(t) for t in texts]
    return units, texts, d, bows


# ---------------------------------------------------------------- the pipeline


def _params(tmp: Path, root: Path, **topics) -> dict:
    return {
        "seed": 7,
        "paths": {
            "data": str(tmp / "data"),
            "reports": str(tmp / "reports"),
            "models": str(tmp / "models"),
            "annotations": str(tmp / "annotations.csv"),
            "codebook": str(root / "research" / "codebooks" / "womens_federation.yaml"),
        },
        "tokenize": {"cache": False},
        "topics": {
            "unit": "paragraph",
            "no_below": 2,
            "no_above": 0.9,
            "k_grid": [3, 5],
            "k": 5,
            "passes": 8,
            "iterations": 80,
            "stability_seeds": 2,
            "heldout_fraction": 0.2,
            "top_n": 8,
            "coherence_topn": 5,
            "seeded_free_topics": 1,
            "seeded_weight": 3.0,
            "covariate_replicates": 3,
            "covariate_iterations": 100,
            "dynamic_iterations": 100,
            "correlated_iterations": 100,
            **topics,
        },
    }


def _write_prepared(tmp: Path) -> pd.DataFrame:
    units = synthetic_units()
    prep = tmp / "data" / "prepared"
    prep.mkdir(parents=True, exist_ok=True)
    units.drop(columns="theme").to_parquet(prep / "paragraphs.parquet", index=False)
    pd.DataFrame(
        {
            "doc_id": [f"d{i}" for i in range(4)],
            "province": ["甲", "乙", "甲", "乙"],
            "place": ["甲城", "乙城", "甲城", "乙城"],
            "organisation": ["甲城市妇联", "乙城市妇联", "甲城市妇联", "乙城市妇联"],
            "level": "city",
            "year": [2018, 2019, 2020, 2021],
        }
    ).to_parquet(prep / "documents.parquet", index=False)
    return units


@pytest.fixture(scope="module")
def pipeline_runs(tmp_path_factory, root):
    """The whole stage run twice in separate folders (same params), gold labels present."""
    from research.topics.pipeline import run_topics

    out = []
    for name in ("a", "b"):
        tmp = tmp_path_factory.mktemp(f"topics_{name}")
        units = _write_prepared(tmp)
        body = units[units["kind"] == "body"]
        body[["unit_id", "doc_id"]].assign(gold=body["theme"]).to_csv(
            tmp / "annotations.csv", index=False
        )
        res = run_topics(_params(tmp, root))
        out.append((tmp, res))
    return out


TABLES = [
    "reports/tables/k_sweep.csv",
    "reports/tables/topic_terms.csv",
    "reports/tables/doc_topics.csv",
    "reports/tables/seeded_topic_terms.csv",
    "reports/tables/seeded_eval.csv",
    "data/topics/seeded_eval.parquet",
    "reports/topics/lda.html",
    "data/topics/unit_topics.parquet",
    "data/topics/seeded_units.parquet",
    "reports/tables/topic_stoplist.csv",
    "reports/tables/seeded_backends.csv",
    "reports/tables/topic_prevalence.csv",
    "reports/tables/topic_prevalence_contrasts.csv",
    "reports/tables/covariate_topic_terms.csv",
    "reports/tables/dynamic_topic_terms.csv",
    "reports/tables/dynamic_topic_prevalence.csv",
    "reports/tables/topic_correlations.csv",
    "reports/topics/prevalence.html",
]


def test_same_params_give_byte_identical_outputs(pipeline_runs):
    (a, _), (b, _) = pipeline_runs
    for rel in TABLES:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_two_fits_give_identical_topic_terms(synth):
    units, texts, d, bows = synth
    t1 = topic_terms(
        fit_lda(bows, d, 5, FAST, seed=3).topic_word, [d[i] for i in range(len(d))], np.ones(len(d))
    )
    t2 = topic_terms(
        fit_lda(bows, d, 5, FAST, seed=3).topic_word, [d[i] for i in range(len(d))], np.ones(len(d))
    )
    pd.testing.assert_frame_equal(t1, t2)
    t3 = topic_terms(
        fit_lda(bows, d, 5, FAST, seed=4).topic_word, [d[i] for i in range(len(d))], np.ones(len(d))
    )
    assert not t1[["prob"]].equals(t3[["prob"]])  # the seed matters


def test_k_sweep_table(pipeline_runs):
    tmp, _ = pipeline_runs[0]
    sweep = pd.read_csv(tmp / "reports/tables/k_sweep.csv")
    assert list(sweep.columns) == [*SWEEP_COLUMNS, "why"]
    assert sweep.loc[sweep["chosen"], "why"].tolist() == ["chosen: set by params topics.k"]
    assert sweep["k"].tolist() == [3, 5]
    assert sweep["chosen"].tolist() == [False, True]
    assert sweep["c_v"].between(0, 1).all()
    assert sweep["c_npmi"].between(-1, 1).all()
    assert (sweep["u_mass"] <= 0).all()
    # 35 distinct theme words + filler: perplexity must lie between 1 and the vocabulary size
    assert sweep["perplexity"].between(1, 60).all()
    assert sweep["stability_cosine"].between(0, 1.0001).all()
    assert sweep["stability_jaccard"].between(0, 1.0001).all()
    assert (sweep["n_runs"] == 2).all()
    assert (sweep["n_heldout"] == 12).all() and (sweep["n_train"] == 48).all()
    # five planted themes: K=5 recovers them more coherently and stably than K=3
    k5 = sweep.set_index("k").loc[5]
    k3 = sweep.set_index("k").loc[3]
    assert k5["c_npmi"] > k3["c_npmi"]
    assert k5["perplexity"] < k3["perplexity"]


def test_proportions_sum_to_one(pipeline_runs):
    tmp, _ = pipeline_runs[0]
    ut = pd.read_parquet(tmp / "data/topics/unit_topics.parquet")
    assert np.allclose(ut.groupby("unit_id")["prop"].sum(), 1.0, atol=1e-5)
    assert ut["unit_id"].nunique() == 60  # body units only, heading left out
    dt = pd.read_csv(tmp / "reports/tables/doc_topics.csv")
    assert np.allclose(dt.groupby("doc_id")["prop"].sum(), 1.0, atol=1e-5)
    su = pd.read_parquet(tmp / "data/topics/seeded_units.parquet")
    pcols = [c for c in su.columns if c.startswith("p_")]
    assert pcols == [
        "p_ideology",
        "p_employment",
        "p_rights",
        "p_family",
        "p_organization",
        "p_other",
    ]
    assert np.allclose(su[pcols].sum(axis=1), 1.0, atol=1e-5)
    assert list(su.columns[:3]) == ["unit_id", "doc_id", "seeded_domain"]


def test_seeded_pipeline_recovers_planted_domains(pipeline_runs):
    tmp, res = pipeline_runs[0]
    ev = pd.read_csv(tmp / "reports/tables/seeded_eval.csv")
    for col in ("method", "cv", "macro_f1", "accuracy", "doc_share_mae", "brier", "ece"):
        assert col in ev.columns
    assert ev.loc[0, "method"] == "seeded_lda"
    assert ev.loc[0, "macro_f1"] > 0.8
    terms = pd.read_csv(tmp / "reports/tables/seeded_topic_terms.csv")
    assert set(terms["topic"]) == {
        "ideology",
        "employment",
        "rights",
        "family",
        "organization",
        "free_1",
    }
    top = terms[terms["rank_prob"] <= 5]
    # the top terms of each seeded topic are mostly words of its own planted theme
    for dom, words in THEMES.items():
        assert top[top["topic"] == dom]["term"].isin(words).mean() >= 0.8, dom


def test_offline_html_has_no_remote_scripts(pipeline_runs):
    tmp, _ = pipeline_runs[0]
    html = (tmp / "reports/topics/lda.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\s*=", html, re.I)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?https?:", html, re.I)
    assert not re.search(r"src\s*=\s*[\"']https?://", html, re.I)
    assert "var LDAvis" in html and "d3" in html and "new LDAvis(" in html
    assert html.count("<script") == html.count("</script>") == 3


# ---------------------------------------------------------------- seeded prior


def test_seed_terms_rank_high_in_their_seeded_topic(synth):
    units, texts, d, bows = synth
    domains = list(THEMES)
    # seed only two words per theme; the other five must follow them into the topic
    seeds = {dom: {w: 3.0 for w in words[:2]} for dom, words in THEMES.items()}
    eta, report = build_eta(d, seeds, domains, n_free=1, base=1 / 6, seeded_weight=3.0)
    assert eta.shape == (6, len(d)) and report["in_vocab"].all()
    assert eta[0, d.token2id["宣讲"]] == pytest.approx(1 / 6 + 3.0)
    assert eta[1, d.token2id["宣讲"]] == pytest.approx(1 / 6)
    fitted = fit_lda(bows, d, 6, FAST, seed=11, eta=eta)
    top = fitted.top_terms(7)
    for i, dom in enumerate(domains):
        for w in seeds[dom]:
            assert w in top[i], (dom, w, top[i])
        assert len(set(top[i]) & set(THEMES[dom])) >= 5, (dom, top[i])
    theta = fitted.doc_topics(bows)
    labels, probs = label_units(theta, domains, domains + ["other"], "other")
    assert (labels == units["theme"].to_numpy()).mean() >= 0.9
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_labelling_rule_sends_free_topic_and_weak_units_to_other():
    theta = np.array(
        [
            [0.50, 0.10, 0.40],  # seeded topic 0 wins
            [0.30, 0.20, 0.50],  # free topic beats the best seeded topic → other
            [0.15, 0.15, 0.10],  # (unnormalised) best seeded share below min_share → other
        ]
    )
    labels, probs = label_units(theta, ["a", "b"], ["a", "b", "other"], "other", min_share=0.2)
    assert labels.tolist() == ["a", "other", "other"]
    assert probs.columns.tolist() == ["p_a", "p_b", "p_other"]
    assert probs["p_other"].tolist() == [0.4, 0.5, 0.1]
    assert seeded_topic_ids(["a", "b"], 2) == ["a", "b", "free_1", "free_2"]


# ---------------------------------------------------------------- tables and selection


def test_relevance_and_frex_known_values():
    phi = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    tf = np.array([40.0, 40.0, 20.0])
    s = term_scores(phi, tf, lam=0.6, frex_weight=0.5)
    # relevance = λ log φ + (1-λ) log(φ / p_w), p = (0.4, 0.4, 0.2)
    assert s["relevance"][0, 0] == pytest.approx(0.6 * np.log(0.7) + 0.4 * np.log(0.7 / 0.4))
    assert s["lift"][1, 2] == pytest.approx(3.5)
    # term 0 in topic 0: most exclusive (ecdf 1) and most frequent (ecdf 1) → FREX 1
    assert s["frex"][0, 0] == pytest.approx(1.0)
    # term 1 is equally shared: exclusivity ecdf 2/3 (ties broken by term id), frequency 2/3
    assert s["frex"][0, 1] == pytest.approx(2 / 3)
    t = topic_terms(phi, ["a", "b", "c"], tf, lam=0.6, top_n=1)
    assert set(t.columns) >= {"topic", "term", "prob", "relevance", "lambda", "frex", "rank_prob"}
    assert t.groupby("topic")["term"].first().to_dict() == {1: "a", 2: "c"}
    assert (t["lambda"] == 0.6).all()


def test_unit_and_doc_topic_tables():
    units = pd.DataFrame(
        {"unit_id": ["x:1", "x:2", "y:1"], "doc_id": ["x", "x", "y"], "n_tokens": [10, 30, 0]}
    )
    theta = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    ut = unit_topics(theta, units, [1, 2])
    assert len(ut) == 6 and ut.columns.tolist() == ["unit_id", "doc_id", "topic", "prop"]
    dt = doc_topics(theta, units, [1, 2]).set_index(["doc_id", "topic"])["prop"]
    assert dt[("x", 1)] == pytest.approx(0.25) and dt[("x", 2)] == pytest.approx(0.75)
    assert dt[("y", 1)] == pytest.approx(0.5)


def test_heldout_split_is_seeded_and_can_hold_out_whole_documents():
    units = synthetic_units()
    a = heldout_split(units, 0.25, seed=1)
    b = heldout_split(units, 0.25, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert len(a[1]) == round(0.25 * len(units))
    train, test = heldout_split(units, 0.25, seed=1, by="doc")
    assert not set(units["doc_id"].iloc[train]) & set(units["doc_id"].iloc[test])


def test_stability_of_a_model_with_itself_is_one(synth):
    _, _, d, bows = synth
    m = fit_lda(bows, d, 4, FAST, seed=1)
    cos, jac = topic_similarity(m, m, top_n=5)
    assert cos == pytest.approx(1.0) and jac == pytest.approx(1.0)


def test_item_units_replace_their_paragraph(tmp_path):
    from research.topics.corpus import load_units

    paras = pd.DataFrame(
        {
            "unit_id": ["d:p000", "d:p001", "d:p002"],
            "doc_id": "d",
            "para_id": [0, 1, 2],
            "kind": ["body", "heading", "body"],
            "text": ["甲。", "标题", "一是乙。二是丙。"],
        }
    )
    items = pd.DataFrame(
        {
            "item_id": ["d:p002:i01", "d:p002:i02"],
            "unit_id": "d:p002",
            "doc_id": "d",
            "item_no": [1, 2],
            "text": ["一是乙。", "二是丙。"],
        }
    )
    paras.to_parquet(tmp_path / "paragraphs.parquet")
    items.to_parquet(tmp_path / "items.parquet")
    u = load_units(tmp_path, "item")
    assert u["unit_id"].tolist() == ["d:p000", "d:p002:i01", "d:p002:i02"]
    assert u["para_unit_id"].tolist() == ["d:p000", "d:p002", "d:p002"]
    doc = load_units(tmp_path, "document")
    assert doc["text"].tolist() == ["甲。\n一是乙。二是丙。"]


# ---------------------------------------------------------------- CLI


def test_cli_runs_without_sweep_and_without_gold(tmp_path, root, capsys):
    import yaml

    from research.cli import main

    _write_prepared(tmp_path)
    params = _params(tmp_path, root, html=False)
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump(params, allow_unicode=True), encoding="utf-8"
    )
    assert (
        main(["--params", str(tmp_path / "params.yaml"), "topics", "--no-sweep", "--k", "4"]) == 0
    )
    out = capsys.readouterr().out
    assert "LDA K=4" in out and "no gold labels" in out and "wrote:" in out
    assert not (tmp_path / "reports/tables/k_sweep.csv").exists()
    assert (tmp_path / "reports/tables/topic_terms.csv").exists()
    # without gold the declared output exists (for dvc repro) and is empty
    assert pd.read_csv(tmp_path / "reports/tables/seeded_eval.csv").empty


# ---------------------------------------------------------------- tomotopy backend


def test_tomotopy_backend_is_deterministic_and_takes_the_seeded_prior(synth):
    units, texts, d, bows = synth
    settings = LdaSettings(backend="tomotopy", tomotopy_iterations=200)
    a = fit_lda(bows, d, 5, settings, seed=3)
    b = fit_lda(bows, d, 5, settings, seed=3)
    assert np.array_equal(a.topic_word, b.topic_word)
    assert np.array_equal(a.doc_topics(bows), b.doc_topics(bows))
    assert np.allclose(a.doc_topics(bows).sum(axis=1), 1.0)
    domains = list(THEMES)
    seeds = {dom: {w: 3.0 for w in words[:2]} for dom, words in THEMES.items()}
    eta, _ = build_eta(d, seeds, domains, n_free=1, base=1 / 6, seeded_weight=3.0)
    fitted = fit_lda(bows, d, 6, settings, seed=11, eta=eta)
    top = fitted.top_terms(7)
    for i, dom in enumerate(domains):
        assert set(seeds[dom]) <= set(top[i]), (dom, top[i])
    labels, _ = label_units(fitted.doc_topics(bows), domains, domains + ["other"], "other")
    assert (labels == units["theme"].to_numpy()).mean() >= 0.9


# ---------------------------------------------------------------- figures


def test_topic_figures_draw_from_the_tables(pipeline_runs, tmp_path):
    from research.viz.registry import discover, run_figures

    reports = pipeline_runs[0][0] / "reports"
    names = [
        "topic_model_selection",
        "topic_terms",
        "seeded_topic_terms",
        "topic_prevalence_year",
        "topic_prevalence_contrasts",
        "dynamic_topics",
        "topic_correlations",
    ]
    assert set(names) <= set(discover())
    results = run_figures(
        reports, tmp_path, {"figures": {"formats": ["png"], "dpi": 80}}, names=names, echo=None
    )
    for r in results:
        assert not r.error and not r.skipped, (r.name, r.error, r.skipped)
        assert {p.suffix for p in r.paths} == {".png", ".csv"}
    sel = pd.read_csv(tmp_path / "topic_model_selection.csv")
    assert sel["k"].tolist() == [3, 5]
    seeded = pd.read_csv(tmp_path / "seeded_topic_terms.csv")
    assert seeded.groupby("topic").size().max() <= 8
    year = pd.read_csv(tmp_path / "topic_prevalence_year.csv")
    assert set(year["year"]) >= {2018, 2021} and year["topic"].nunique() == 5


def test_where_and_when_models_run_in_the_stage(pipeline_runs):
    """Covariate (province + year), dynamic and correlated models on the synthetic corpus;
    small-corpus caveat stated; seeded backends compared; place names stoplisted."""
    tmp, res = pipeline_runs[0]
    cov = res.metrics["covariate_model"]
    assert cov["categorical"] == ["province"] and cov["n_docs"] == 4
    assert "descriptive" in cov["caveat"]
    assert any("'level' has 1 level" in n for n in res.notes)
    prev = pd.read_csv(tmp / "reports/tables/topic_prevalence.csv")
    assert set(prev["covariate"]) == {"province", "year"}
    assert np.allclose(prev.groupby(["covariate", "value"])["estimate"].sum(), 1, atol=1e-4)
    contr = pd.read_csv(tmp / "reports/tables/topic_prevalence_contrasts.csv")
    assert set(contr["reference"]) == {"乙"} and len(contr) == 5
    assert res.metrics["dynamic_model"]["periods"] == ["2018", "2019", "2020", "2021"]
    corr = pd.read_csv(tmp / "reports/tables/topic_correlations.csv")
    assert len(corr) == 25
    comp = pd.read_csv(tmp / "reports/tables/seeded_backends.csv")
    assert comp["backend"].tolist() == ["gensim", "tomotopy"] and comp["chosen"].sum() == 1
    assert comp["macro_f1"].notna().all()
    stop = pd.read_csv(tmp / "reports/tables/topic_stoplist.csv")
    assert {"甲城", "甲城市", "甲城市妇联", "市妇联", "甲省"} <= set(stop["term"])
    page = (tmp / "reports/topics/prevalence.html").read_text(encoding="utf-8")
    assert "<script src" not in page and '"province"' in page


def test_pipeline_with_tomotopy_backend_is_byte_identical(tmp_path, root):
    from research.topics.pipeline import run_topics

    outs = []
    for name in ("a", "b"):
        tmp = tmp_path / name
        _write_prepared(tmp)
        res = run_topics(
            _params(
                tmp,
                root,
                backend="tomotopy",
                seeded_backend="tomotopy",
                sweep=False,
                html=False,
                tomotopy_iterations=150,
            )
        )
        assert (
            res.metrics["backend"] == "tomotopy" and res.metrics["seeded"]["backend"] == "tomotopy"
        )
        outs.append(tmp)
    for rel in (
        "reports/tables/topic_terms.csv",
        "data/topics/unit_topics.parquet",
        "data/topics/seeded_units.parquet",
        "reports/tables/seeded_topic_terms.csv",
    ):
        assert (outs[0] / rel).read_bytes() == (outs[1] / rel).read_bytes(), rel
    terms = pd.read_csv(outs[0] / "reports/tables/topic_terms.csv")
    # five planted themes, K=5: every topic's top-5 terms come from a single theme
    for _, g in terms[terms["rank_prob"] <= 5].groupby("topic"):
        assert max(g["term"].isin(w).sum() for w in THEMES.values()) >= 4


def test_missing_tomotopy_falls_back_to_gensim(monkeypatch):
    import research.topics.lda as lda

    def boom():
        raise ImportError("no module named tomotopy")

    monkeypatch.setattr(lda, "import_tomotopy", boom)
    name, note = lda.available_backend("tomotopy")
    assert name == "gensim" and "tomotopy" in note
    assert lda.available_backend("gensim") == ("gensim", "")


def test_topic_map_handles_identical_topics():
    from research.topics.ldavis import js_pcoa

    dists = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.1, 0.9]])
    xy = js_pcoa(dists)
    assert xy.shape == (4, 2) and np.isrealobj(xy) and np.isfinite(xy).all()
    assert np.allclose(xy[0], xy[1]) and not np.allclose(xy[0], xy[3])
    assert np.array_equal(xy, js_pcoa(dists))


def test_coherence_of_many_models_equals_each_scored_alone(tmp_path):
    """The K sweep scores every fitted model with one co-occurrence pass per measure; each
    model must get exactly the scores it gets when scored on its own."""
    from research.corpus.tokenize import TokenizerSettings
    from research.topics.corpus import build_corpus
    from research.topics.selection import coherence_many, coherence_scores

    units = synthetic_units()
    units = units.assign(para_unit_id=units["unit_id"])
    tc = build_corpus(units, tmp_path, TokenizerSettings.from_params({"cache": False}))
    vocab = tc.vocab
    assert len(vocab) >= 12
    models = [
        [vocab[0:5], vocab[5:10]],
        [vocab[2:7], vocab[7:12], vocab[0:3] + vocab[10:12]],
    ]
    together = coherence_many(models, tc, 5)
    alone = [coherence_scores(m, tc, 5) for m in models]
    assert together == alone
    assert together[0] != together[1]  # different topics, different scores


@pytest.mark.parametrize("backend", ["tomotopy", "gensim"])
def test_k_sweep_in_threads_equals_one_at_a_time(tmp_path, backend):
    """The K-sweep fits run in topics.n_jobs threads; each is seeded and single-threaded,
    so the sweep table must not depend on the number of threads."""
    from research.corpus.tokenize import TokenizerSettings
    from research.topics.corpus import build_corpus
    from research.topics.selection import k_sweep

    units = synthetic_units()
    units = units.assign(para_unit_id=units["unit_id"])
    tc = build_corpus(units, tmp_path, TokenizerSettings.from_params({"cache": False}))
    settings = LdaSettings(backend=backend, passes=5, iterations=50, tomotopy_iterations=100)
    one, two = (
        k_sweep(tc, [2, 3], settings, 7, n_runs=2, coherence_topn=5, n_jobs=n) for n in (1, 2)
    )
    pd.testing.assert_frame_equal(one, two)
    assert len(one) == 2 and one["stability_jaccard"].notna().all()
