"""Where-and-when topic models: stoplist, K rule, covariate (GDMR), dynamic (DTM),
correlated (CTM), backend comparison, classifier agreement, the offline prevalence page.

Synthetic corpora with planted structure: theme A is common in province 甲 and rare in
乙, theme B grows with the year, so the direction of each estimated effect is known.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from research.topics.covariates import build_design, estimate_effects, match_topics
from research.topics.dynamic import fit_dynamic, periods
from research.topics.keyword import classifier_agreement, rank_backends
from research.topics.selection import choose_k
from research.topics.stoplist import build_stoplist, place_forms, stopped_terms

from .conftest import GOV_REPORTS

A = ["就业", "创业", "巧媳妇", "技能培训", "招聘会", "巾帼电商"]
B = ["家风", "家庭教育", "最美家庭", "美丽庭院", "好家风", "亲子"]
C = ["换届", "执委", "妇联改革", "妇女之家", "基层组织", "四组一队"]


def planted(n_docs: int = 12, units_per_doc: int = 8, seed: int = 0):
    """Units and documents: A ∝ province 甲, B grows with year, C constant."""
    rng = np.random.default_rng(seed)
    docs, units, texts = [], [], []
    for d in range(n_docs):
        prov = "甲" if d % 2 == 0 else "乙"
        year = 2010 + (d * 10) // n_docs
        docs.append({"doc_id": f"d{d:02d}", "province": prov, "level": "city", "year": year})
        t = (year - 2010) / 10
        p = np.array([0.6 if prov == "甲" else 0.1, 0.1 + 0.6 * t, 0.3])
        p = p / p.sum()
        for u in range(units_per_doc):
            theme = [A, B, C][rng.choice(3, p=p)]
            texts.append(list(rng.choice(theme, 12)))
            units.append({"unit_id": f"d{d:02d}:{u}", "doc_id": f"d{d:02d}"})
    units = pd.DataFrame(units)
    units["n_tokens"] = [len(t) for t in texts]
    vocab = sorted(set(A + B + C))
    return units, pd.DataFrame(docs), texts, vocab


def _theme_of(topic_word: np.ndarray, vocab: list[str]) -> list[int]:
    idx = [[vocab.index(w) for w in th] for th in (A, B, C)]
    return [int(np.argmax([tw[i].sum() for i in idx])) for tw in topic_word]


# ---------------------------------------------------------------- stoplist


def test_place_forms_include_short_forms():
    assert place_forms("郑州市妇联") >= {"郑州市妇联", "郑州市", "郑州", "市妇联"}
    assert place_forms("河南", "省") == {"河南", "河南省"}
    assert place_forms("济阳区", "市") == {"济阳区", "济阳"}
    assert place_forms("") == set()


def test_stoplist_drops_place_names_but_keeps_seed_terms(tmp_path):
    docs = pd.DataFrame(
        {"doc_id": ["a"], "province": ["河南"], "place": ["郑州"], "organisation": ["郑州市妇联"]}
    )
    docs.to_parquet(tmp_path / "documents.parquet")
    table = build_stoplist(tmp_path, None, ["万元"])
    assert {"郑州", "郑州市", "市妇联", "河南省", "万元"} <= set(table["term"])
    vocab = ["郑州", "郑州人", "市妇联", "就业", "河南省", "郑州市妇联", "万元", "妇联"]
    prefixes = table.loc[table["prefix"], "term"]
    stopped = stopped_terms(vocab, table["term"], prefixes, keep=["郑州市妇联"])
    assert stopped == sorted(["郑州", "郑州人", "市妇联", "河南省", "万元"])


def test_seed_corpus_vocabulary_has_no_place_names(prepared_dir, params, tmp_path):
    """On the sample corpus the names the issue lists are gone from the topic vocabulary."""
    from research.corpus.tokenize import TokenizerSettings
    from research.labels.codebook import load_codebook
    from research.topics.corpus import build_corpus, load_units

    cb = load_codebook()
    seeds = sorted({t for d in cb.domain_ids for t in cb.seed_terms[d]})
    table = build_stoplist(prepared_dir, cb, [])
    units = load_units(prepared_dir, "paragraph")
    tok = TokenizerSettings.from_params({"cache": False}, extra_words=seeds)
    kw = {"no_below": 2, "no_above": 0.5, "keep_terms": seeds}
    plain = build_corpus(units, tmp_path / "plain", tok, **kw)
    places = {"郑州", "郑州市", "市妇联", "开封市", "开封", "枣庄", "山东省", "济阳区"}
    assert places & set(plain.vocab), "the unfiltered vocabulary should contain place names"
    tc = build_corpus(
        units,
        tmp_path / "stopped",
        tok,
        extra_stopwords=table["term"],
        stop_prefixes=table.loc[table["prefix"], "term"],
        **kw,
    )
    assert not places & set(tc.vocab)
    assert not [
        t for t in tc.vocab if t.startswith(("郑州", "开封", "枣庄", "济阳", "河南", "山东"))
    ]
    assert set(seeds) & set(plain.vocab) <= set(tc.vocab)


# ---------------------------------------------------------------- K rule


def _sweep(cv, sd, stab):
    return pd.DataFrame(
        {
            "k": [4, 6, 8, 10],
            "chosen": False,
            "c_v": cv,
            "c_v_sd": sd,
            "stability_jaccard": stab,
        }
    )


def test_k_rule_picks_smallest_stable_k_within_one_sd():
    k, table = choose_k(_sweep([0.50, 0.57, 0.58, 0.56], [0.01, 0.01, 0.02, 0.01], [0.6] * 4))
    assert k == 6 and table["chosen"].sum() == 1
    assert table.loc[table.k == 6, "why"].iloc[0].startswith("chosen: smallest K")
    assert "below" in table.loc[table.k == 4, "why"].iloc[0]
    # K=6 is not stable enough → the next K in the band
    k, table = choose_k(
        _sweep([0.50, 0.57, 0.58, 0.56], [0.01, 0.01, 0.02, 0.01], [0.6, 0.3, 0.6, 0.6])
    )
    assert k == 8 and "stability_jaccard 0.3000 below" in table.loc[table.k == 6, "why"].iloc[0]
    # nothing stable: the most stable K in the band, and the table says so
    k, table = choose_k(_sweep([0.50, 0.57, 0.58, 0.56], [0.01] * 4, [0.1, 0.2, 0.3, 0.25]))
    assert k == 8 and "no K has" in table.loc[table.k == 8, "why"].iloc[0]


# ---------------------------------------------------------------- covariate model


@pytest.fixture(scope="module")
def covariate_fit():
    units, docs, texts, vocab = planted()
    design = build_design(
        units, docs, ["province", "level", "genre"], 2, units["n_tokens"].to_numpy()
    )
    out = estimate_effects(
        texts, design, vocab, 3, 11, iterations=150, replicates=5, n_year_points=6
    )
    return design, vocab, out


def test_covariate_design_drops_single_level_covariates(covariate_fit):
    design, _, _ = covariate_fit
    assert design.categorical == ["province"] and design.year and design.degree == 2
    assert any("'level' has 1 level" in n for n in design.notes)
    assert not any("genre" in n for n in design.notes)  # genre is optional


def test_covariate_model_recovers_planted_effects(covariate_fit):
    design, vocab, (fit, prev, contr) = covariate_fit
    theme = _theme_of(fit.topic_word, vocab)
    assert sorted(theme) == [0, 1, 2]
    ta, tb = theme.index(0) + 1, theme.index(1) + 1
    prov = prev[(prev.covariate == "province") & (prev.topic == ta)].set_index("value")
    assert prov.loc["甲", "estimate"] > prov.loc["乙", "estimate"] + 0.1
    c = contr[(contr.topic == ta)].iloc[0]
    assert (c["value"] == "甲" and c["reference"] == "乙") or c["difference"] < 0
    year = prev[(prev.covariate == "year") & (prev.topic == tb)].sort_values("value")
    assert year["estimate"].iloc[-1] > year["estimate"].iloc[0] + 0.1
    ok = prev.dropna(subset=["lo", "hi"])
    assert len(ok) and (ok["lo"] <= ok["hi"]).all() and prev["n_rep"].max() == 5
    # prevalence over topics sums to one for every covariate value
    sums = prev.groupby(["covariate", "value"])["estimate"].sum()
    assert np.allclose(sums, 1.0, atol=1e-4)


def test_covariate_model_is_deterministic(covariate_fit):
    design, vocab, (_, prev, _) = covariate_fit
    units, docs, texts, vocab = planted()
    _, prev2, _ = estimate_effects(
        texts, design, vocab, 3, 11, iterations=150, replicates=5, n_year_points=6
    )
    pd.testing.assert_frame_equal(prev, prev2)


def test_match_topics_undoes_a_permutation():
    rng = np.random.default_rng(0)
    tw = rng.dirichlet(np.ones(20), 5)
    perm = np.array([3, 0, 4, 1, 2])
    assert (match_topics(tw, tw[perm])[perm] == np.arange(5)).all() or (
        (tw[perm][match_topics(tw, tw[perm])] == tw).all()
    )


# ---------------------------------------------------------------- dynamic and correlated


def test_periods_group_years_and_skip_empty_stretches():
    p = periods(pd.Series([2001, 2002, 2005, 2009, 2010, 2010]), 2)
    assert p.set_index("year")["period"].to_dict() == {2001: 0, 2002: 0, 2005: 1, 2009: 2, 2010: 2}
    labels = p.set_index("year")["label"]
    assert labels[2001] == "2001–2002" and labels[2005] == "2005" and labels[2010] == "2009–2010"


def test_dynamic_model_tables(covariate_fit):
    design, vocab, _ = covariate_fit
    units, docs, texts, vocab = planted()
    terms, prev = fit_dynamic(texts, design, vocab, 3, 5, width=5, iterations=100, top_n=4)
    assert prev["period"].nunique() == 2 and set(terms["rank"]) == {1, 2, 3, 4}
    assert np.allclose(prev.groupby("period")["prevalence"].sum(), 1.0, atol=1e-4)


def test_correlated_model_matrix_is_a_correlation_matrix():
    from research.topics.correlated import fit_correlated

    _, _, texts, vocab = planted(n_docs=6)
    corr, _ = fit_correlated(texts, vocab, 3, 1, iterations=100)
    m = corr.pivot(index="topic_a", columns="topic_b", values="correlation").to_numpy()
    assert np.allclose(np.diag(m), 1.0, atol=1e-4) and np.allclose(m, m.T, atol=1e-4)
    assert (np.abs(m) <= 1 + 1e-6).all()


# ---------------------------------------------------------------- keyword-assisted


def test_rank_backends_by_f1_then_coherence():
    t = pd.DataFrame(
        {"backend": ["gensim", "tomotopy"], "c_v": [0.45, 0.63], "macro_f1": [0.85, 0.75]}
    )
    assert rank_backends(t).set_index("backend")["chosen"].to_dict() == {
        "gensim": True,
        "tomotopy": False,
    }
    t["macro_f1"] = [0.85, 0.845]  # within the tolerance: coherence decides
    assert rank_backends(t, 0.01).loc[1, "chosen"]
    t["macro_f1"] = np.nan  # no gold: coherence only
    assert rank_backends(t).loc[1, "why"].startswith("chosen: no gold")


def test_classifier_agreement_correlates_document_shares():
    rng = np.random.default_rng(1)
    rows = []
    for d in range(6):
        share = (d + 1) / 7
        for u in range(5):
            rows.append({"unit_id": f"{d}:{u}", "doc_id": f"{d}", "p_a": share, "p_b": 1 - share})
    seeded = pd.DataFrame(rows)
    pred = seeded.assign(
        p_a=seeded["p_a"] + rng.normal(0, 0.02, len(seeded)), p_b=1 - seeded["p_a"]
    ).drop(columns="doc_id")
    corr, shares = classifier_agreement(seeded, pred, ["a", "b"])
    doc = corr[corr["level"] == "document"].set_index("domain")
    assert doc.loc["a", "n"] == 6 and doc.loc["a", "pearson"] > 0.95
    assert len(shares) == 12


# ---------------------------------------------------------------- page


def test_prevalence_page_is_offline_and_carries_the_data(covariate_fit, tmp_path):
    from research.topics.prevalence_page import write_prevalence_page

    _, _, (_, prev, _) = covariate_fit
    path = write_prevalence_page(
        prev, {1: "就业 创业", 2: "家风", 3: "换届"}, tmp_path / "p.html", "T", "n"
    )
    html = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html) and "http" not in html.replace(
        "http://www.w3.org/2000/svg", ""
    )
    assert '"province"' in html and "就业 创业" in html and "甲" in html


# ---------------------------------------------------------------- gov reports


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.skipif(not GOV_REPORTS.exists(), reason="../shared gov-work-reports corpus absent")
def test_gov_reports_year_covariate_and_dynamic_models(tmp_path, root):
    """The 72 government work reports: year as the covariate (no province), DTM over decades."""
    from research.corpus.prepare import prepare_corpus, write_prepared
    from research.topics.pipeline import run_topics

    prep = tmp_path / "data" / "prepared"
    write_prepared(
        prepare_corpus(GOV_REPORTS, {"tokenize": {"cache": False}}, progress=False), prep
    )
    params = {
        "seed": 3,
        "paths": {
            "data": str(tmp_path / "data"),
            "reports": str(tmp_path / "reports"),
            "models": str(tmp_path / "models"),
            "annotations": str(tmp_path / "none.csv"),
            "codebook": str(root / "research" / "codebooks" / "womens_federation.yaml"),
        },
        "tokenize": {"cache": False},
        "topics": {
            "k": 5,
            "sweep": False,
            "html": False,
            "no_below": 20,
            "backend": "tomotopy",
            "seeded_backend": "tomotopy",
            "seeded_compare": [],
            "tomotopy_iterations": 30,
            "covariate_replicates": 2,
            "covariate_iterations": 30,
            "dynamic_period_years": 10,
            "dynamic_iterations": 30,
            "correlated_model": False,
        },
    }
    res = run_topics(params)
    cov = res.metrics["covariate_model"]
    assert cov["categorical"] == [] and cov["year_smooth_degree"] == 2 and cov["n_docs"] >= 50
    prev = pd.read_csv(tmp_path / "reports/tables/topic_prevalence.csv")
    assert set(prev["covariate"]) == {"year"} and prev["value"].astype(int).min() <= 1960
    assert len(res.metrics["dynamic_model"]["periods"]) >= 6
    assert any("without a year" in n for n in res.notes)
