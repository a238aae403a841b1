"""Measures of research.analysis on small constructed examples with known answers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from research.analysis.bootstrap import bootstrap_document_shares, bootstrap_group_means, rng_for
from research.analysis.campaigns import campaign_names, extract_quoted, summarise_campaigns
from research.analysis.distinctive import distinctive_terms, log_odds_dirichlet
from research.analysis.emphasis import domain_ranks, emphasis_index, first_positions
from research.analysis.quantify import adjust_shares, evaluate_adjustment, misclassification_matrix
from research.analysis.regression import fractional_logit
from research.analysis.shares import document_shares, one_hot

IDS = ["a", "b", "c"]


def _units(
    labels_by_doc: dict[str, list[str]], chars: dict[str, list[int]] | None = None
) -> pd.DataFrame:
    rows = []
    for doc, labels in labels_by_doc.items():
        for i, lab in enumerate(labels):
            n = chars[doc][i] if chars else 10
            rows.append(
                {
                    "doc_id": doc,
                    "unit_id": f"{doc}:p{i:03d}",
                    "para_id": i,
                    "label": lab,
                    "n_chars": n,
                    "text": "x" * n,
                }
            )
    df = pd.DataFrame(rows)
    return pd.concat([df, one_hot(df["label"], IDS)], axis=1)


# --- shares -----------------------------------------------------------------------------
def test_unit_and_char_shares_known_values():
    u = _units(
        {"d1": ["a", "a", "b", "c"], "d2": ["b", "b"]}, {"d1": [10, 30, 40, 20], "d2": [5, 5]}
    )
    s = document_shares(u, IDS, "units").set_index(["doc_id", "domain"])["share"]
    assert s[("d1", "a")] == pytest.approx(0.5)
    assert s[("d1", "b")] == pytest.approx(0.25)
    assert s[("d2", "b")] == pytest.approx(1.0)
    assert s[("d2", "a")] == 0.0
    c = document_shares(u, IDS, "chars").set_index(["doc_id", "domain"])["share"]
    assert c[("d1", "a")] == pytest.approx(0.4)
    assert c[("d1", "b")] == pytest.approx(0.4)
    assert c[("d1", "c")] == pytest.approx(0.2)


def test_probability_weighted_shares_and_unlabelled_rows_dropped():
    u = pd.DataFrame(
        {
            "doc_id": ["d"] * 3,
            "p_a": [0.5, 1.0, 0.0],
            "p_b": [0.5, 0.0, 0.0],
            "p_c": [0.0, 0.0, 0.0],
            "n_chars": [1, 1, 1],
        }
    )
    s = document_shares(u, IDS).set_index("domain")["share"]
    assert s["a"] == pytest.approx(0.75) and s["b"] == pytest.approx(0.25)
    assert s.sum() == pytest.approx(1.0)


# --- bootstrap --------------------------------------------------------------------------
def test_bootstrap_ci_covers_true_share_about_95_percent():
    """Simulation with a known share: ~95% of percentile intervals contain it."""
    true_p, n_units, reps = 0.3, 120, 200
    rng = np.random.default_rng(123)
    hits = 0
    for r in range(reps):
        labels = np.where(rng.random(n_units) < true_p, "a", "b").tolist()
        u = _units({"d": labels})
        tab, _ = bootstrap_document_shares(u, IDS, "units", n_boot=300, ci=0.95, seed=r)
        row = tab[tab["domain"] == "a"].iloc[0]
        hits += row["ci_low"] <= true_p <= row["ci_high"]
    coverage = hits / reps
    assert 0.90 <= coverage <= 0.99, coverage


def test_bootstrap_is_deterministic_and_order_independent():
    u = _units({"d1": ["a", "b", "b", "c", "a"], "d2": ["c", "c", "a"]})
    t1, _ = bootstrap_document_shares(u, IDS, n_boot=200, seed=5, key="gold")
    t2, _ = bootstrap_document_shares(
        u.iloc[::-1].reset_index(drop=True), IDS, n_boot=200, seed=5, key="gold"
    )
    pd.testing.assert_frame_equal(t1, t2)
    t3, _ = bootstrap_document_shares(u, IDS, n_boot=200, seed=6, key="gold")
    assert not t1["ci_low"].equals(t3["ci_low"]) or not t1["ci_high"].equals(t3["ci_high"])
    assert (t1["ci_low"] <= t1["share"] + 1e-12).all() and (
        t1["share"] <= t1["ci_high"] + 1e-12
    ).all()


def test_group_means_resample_documents_and_flag_small_groups():
    ds = pd.DataFrame(
        {
            "doc_id": ["d1", "d1", "d2", "d2", "d3", "d3"],
            "domain": ["a", "b"] * 3,
            "share": [0.2, 0.8, 0.4, 0.6, 0.9, 0.1],
            "province": ["X", "X", "X", "X", "Y", "Y"],
        }
    )
    g = bootstrap_group_means(ds, "province", n_boot=500, seed=1).set_index(["group", "domain"])
    assert g.loc[("X", "a"), "mean_share"] == pytest.approx(0.3)
    assert 0.2 <= g.loc[("X", "a"), "ci_low"] <= 0.3 <= g.loc[("X", "a"), "ci_high"] <= 0.4
    assert np.isnan(g.loc[("Y", "a"), "ci_low"]) and "1 document" in g.loc[("Y", "a"), "note"]
    allg = bootstrap_group_means(ds, "all", n_boot=200, seed=1)
    assert allg.groupby("group")["mean_share"].sum().iloc[0] == pytest.approx(1.0)


def test_rng_for_is_stable():
    assert rng_for(1, "x", "y").integers(0, 10**9) == rng_for(1, "x", "y").integers(0, 10**9)


# --- ACC / PACC -------------------------------------------------------------------------
def test_adjustment_recovers_known_prevalence_from_known_confusion():
    M = np.array([[0.8, 0.1, 0.2], [0.15, 0.7, 0.1], [0.05, 0.2, 0.7]])  # P(pred i | true j)
    p = np.array([0.6, 0.1, 0.3])
    q = M @ p
    for method in ("constrained", "clip"):
        assert adjust_shares(q, M, method) == pytest.approx(p, abs=1e-4)
    assert np.abs(q - p).max() > 0.05  # the naive share is clearly wrong


def test_adjustment_stays_on_simplex_for_infeasible_input():
    M = np.array([[0.9, 0.3], [0.1, 0.7]])
    out = adjust_shares(np.array([0.95, 0.05]), M)  # beyond what M can produce
    assert out.min() >= 0 and out.sum() == pytest.approx(1.0)
    assert out == pytest.approx([1.0, 0.0], abs=1e-6)


def test_acc_and_pacc_on_units_with_a_known_classifier():
    """A classifier confusing b→a 30% of the time: ACC/PACC fix the biased naive share."""
    ids = ["a", "b"]
    gold, pred, pa = [], [], []
    # training documents: 100 a (always right), 100 b (30 called a)
    for doc, (na, nb) in {"t1": (50, 50), "t2": (50, 50), "test": (20, 80)}.items():
        for _ in range(na):
            gold.append((doc, "a"))
            pred.append("a")
            pa.append(0.9)
        for i in range(nb):
            wrong = i % 10 < 3
            gold.append((doc, "b"))
            pred.append("a" if wrong else "b")
            pa.append(0.7 if wrong else 0.2)
    cv = pd.DataFrame(
        {"doc_id": [d for d, _ in gold], "gold": [g for _, g in gold], "pred": pred, "p_a": pa}
    )
    cv["p_b"] = 1 - cv["p_a"]
    M = misclassification_matrix(cv["gold"], one_hot(cv["pred"], ids).to_numpy(), ids)
    assert M[:, 1] == pytest.approx([0.3, 0.7])
    ev = (
        evaluate_adjustment(cv, ids).query("doc_id == 'test' and domain == 'a'").set_index("method")
    )
    assert ev.loc["cc", "estimate"] == pytest.approx(0.2 + 0.8 * 0.3)  # naive: 0.44
    assert ev.loc["acc", "estimate"] == pytest.approx(0.2, abs=1e-3)
    assert ev.loc["pacc", "estimate"] == pytest.approx(0.2, abs=1e-3)
    assert abs(ev.loc["pcc", "error"]) > 0.1


# --- emphasis ---------------------------------------------------------------------------
def test_emphasis_index_ranks_and_first_position():
    ds = pd.DataFrame(
        {
            "doc_id": ["d1"] * 3 + ["d2"] * 3,
            "domain": IDS * 2,
            "share": [0.6, 0.4, 0.0, 0.2, 0.4, 0.4],
        }
    )
    e = emphasis_index(ds, ids=IDS).set_index(["doc_id", "domain"])
    # leave-one-out yardstick: d1 is compared with d2 only, and vice versa
    assert e.loc[("d1", "a"), "corpus_mean"] == pytest.approx(0.2)
    assert e.loc[("d1", "a"), "emphasis"] == pytest.approx(3.0)
    assert e.loc[("d2", "a"), "emphasis"] == pytest.approx(0.2 / 0.6)
    assert e.loc[("d2", "b"), "emphasis"] == pytest.approx(1.0)
    # without `c`, the rest renormalised: d2 becomes a 1/3, b 2/3
    w = emphasis_index(ds, ids=IDS, exclude=["c"]).set_index(["doc_id", "domain"])
    assert "c" not in set(w.index.get_level_values("domain"))
    assert w.loc[("d1", "a"), "emphasis"] == pytest.approx(0.6 / (1 / 3))
    r = domain_ranks(ds).set_index(["doc_id", "domain"])
    assert r.loc[("d1", "a"), "rank"] == 1 and r.loc[("d1", "c"), "rank"] == 3
    assert r.loc[("d2", "b"), "rank"] == 1 and r.loc[("d2", "c"), "rank"] == 1  # tie
    assert r.loc[("d1", "a"), "rank_order"] == "a>b>c"
    u = _units({"d1": ["c", "a", "a", "b", "a"]}, {"d1": [10, 10, 20, 40, 20]})
    fp = first_positions(u.iloc[::-1], "label", IDS).set_index(
        "domain"
    )  # order by para_id, not rows
    assert fp.loc["c", "first_position"] == 0.0
    assert fp.loc["a", "first_position"] == pytest.approx(0.25)
    assert fp.loc["b", "first_position"] == pytest.approx(0.75)
    assert fp.loc["b", "first_position_chars"] == pytest.approx(0.4)


def test_emphasis_interval_from_draws():
    ds = pd.DataFrame(
        {
            "doc_id": ["d1", "d1", "d2", "d2"],
            "domain": ["a", "b"] * 2,
            "share": [0.8, 0.2, 0.2, 0.8],
        }
    )
    draws = {"d1": np.array([[0.8, 0.2], [0.6, 0.4]]), "d2": np.array([[0.2, 0.8], [0.2, 0.8]])}
    e = emphasis_index(ds, draws, ["a", "b"], ci=0.5).set_index(["doc_id", "domain"])
    # leave-one-out: draw 1: 0.8/0.2 = 4; draw 2: 0.6/0.2 = 3 -> 50% interval inside [3, 4]
    assert 3.0 <= e.loc[("d1", "a"), "ci_low"] <= e.loc[("d1", "a"), "ci_high"] <= 4.0
    assert e.loc[("d1", "a"), "ci_low"] < e.loc[("d1", "a"), "ci_high"]


# --- distinctive terms --------------------------------------------------------------------
def test_log_odds_sign_and_ranking():
    tokens = [["妇女", "就业", "就业", "培训"]] * 5 + [["家庭", "家风", "家风", "培训"]] * 5
    groups = ["A"] * 5 + ["B"] * 5
    dt = distinctive_terms(tokens, groups, prior_scale=0.1, top_n=None, min_count=1)
    a = dt[dt["group"] == "A"].set_index("term")
    b = dt[dt["group"] == "B"].set_index("term")
    assert a.loc["就业", "z"] > 0 and a.loc["家风", "z"] < 0
    assert a.loc["就业", "z"] == pytest.approx(-b.loc["就业", "z"])  # symmetric for two groups
    assert abs(a.loc["培训", "z"]) < 0.5  # used equally
    assert (
        a.loc["就业", "rank"] == 1 and a.loc["就业", "z"] > a.loc["妇女", "z"] > a.loc["培训", "z"]
    )
    top = distinctive_terms(tokens, groups, prior_scale=0.1, top_n=2, min_count=1)
    assert top.groupby("group").size().max() == 2


def test_log_odds_prior_shrinks_rare_terms():
    d_rare, _, z_rare = log_odds_dirichlet(
        np.array([1, 99]), np.array([0, 100]), np.array([0.1, 1.99])
    )
    d_freq, _, z_freq = log_odds_dirichlet(
        np.array([60, 40]), np.array([40, 60]), np.array([1.0, 1.0])
    )
    assert z_freq[0] > z_rare[0] > 0


def test_distinctive_terms_needs_two_groups():
    assert distinctive_terms([["a"]], ["X"]).empty


# --- campaign names -----------------------------------------------------------------------
def test_extract_quoted_names():
    text = "开展“巧媳妇”工程和「美丽庭院」创建，实施“巾帼心向党”活动。他说：“我们要做好工作，再接再厉。”“A”“十四五”"
    assert extract_quoted(text) == ["巧媳妇", "美丽庭院", "巾帼心向党", "十四五"]
    assert extract_quoted("没有引号") == []


def test_campaign_table_and_summary():
    units = pd.DataFrame(
        {
            "doc_id": ["d1", "d1", "d2"],
            "unit_id": ["d1:p1", "d1:p2", "d2:p1"],
            "para_id": [1, 2, 1],
            "text": ["“巧媳妇”工程", "“美丽庭院”和“巧媳妇”", "“巧媳妇”"],
            "domain": ["employment", "family", "employment"],
            "domain_source": ["gold", "gold", "predicted:classifier"],
            "province": ["河南", "河南", "山东"],
            "year": [2021, 2021, 2023],
        }
    )
    cn = campaign_names(units)
    assert len(cn) == 4 and set(cn["name"]) == {"巧媳妇", "美丽庭院"}
    s = summarise_campaigns(cn).set_index("name")
    assert s.loc["巧媳妇", "n_mentions"] == 3 and s.loc["巧媳妇", "n_docs"] == 2
    assert (
        s.loc["巧媳妇", "top_domain"] == "employment"
        and s.loc["巧媳妇", "provinces"] == "山东;河南"
    )


# --- GLM ----------------------------------------------------------------------------------
def _glm_data(n_docs: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame(
        {
            "doc_id": [f"d{i:03d}" for i in range(n_docs)],
            "year": rng.integers(2015, 2025, n_docs),
            "level": rng.choice(["city", "county"], n_docs, p=[0.7, 0.3]),
        }
    )
    eta = -1.0 + 0.15 * (meta["year"] - meta["year"].mean()) + 0.5 * (meta["level"] == "county")
    p = 1 / (1 + np.exp(-eta))
    share_a = np.clip(p + rng.normal(0, 0.03, n_docs), 0, 1)
    ds = pd.DataFrame(
        {
            "doc_id": np.repeat(meta["doc_id"], 2).to_numpy(),
            "domain": ["a", "b"] * n_docs,
            "share": np.column_stack([share_a, 1 - share_a]).ravel(),
        }
    )
    return ds, meta


def test_glm_recovers_effects_with_many_documents():
    ds, meta = _glm_data(300)
    tab, warns = fractional_logit(ds, meta, ["year", "level"], ["a", "b"])
    a = tab[tab["domain"] == "a"].set_index("term")
    assert a.loc["year_centred", "coef"] == pytest.approx(0.15, abs=0.03)
    assert a.loc["level[county]", "coef"] == pytest.approx(0.5, abs=0.1)
    assert a.loc["year_centred", "ci_low"] < 0.15 < a.loc["year_centred", "ci_high"]
    assert not tab["note"].str.contains("weak inference").any() and not warns
    assert (tab["status"] == "ok").all()


def test_glm_flags_weak_inference_and_saturation_without_crashing():
    ds, meta = _glm_data(5, seed=3)
    meta["province"] = ["P1", "P2", "P3", "P4", "P5"]
    tab, warns = fractional_logit(ds, meta, ["province", "level", "year"], ["a", "b"])
    assert tab["note"].str.contains("weak inference").all()
    assert tab["note"].str.contains("province dropped").all()  # 5 provinces for 5 documents
    assert warns and "weak inference" in warns[0]
    # a domain that is 0 everywhere: perfect separation reported, not raised
    zero = pd.DataFrame({"doc_id": meta["doc_id"], "domain": "c", "share": 0.0})
    tab2, warns2 = fractional_logit(pd.concat([ds, zero]), meta, ["year"], ["a", "b", "c"])
    assert (tab2[tab2["domain"] == "c"]["status"] == "separation").all()
    assert any("separation" in w for w in warns2)


# --- the stage ------------------------------------------------------------------------------
def _synthetic_project(root: Path) -> dict:
    """A 4-document prepared corpus with gold labels, predictions and CV predictions."""
    ids = ["ideology", "employment", "rights", "family", "organization", "other"]
    rng = np.random.default_rng(0)
    texts = {
        "ideology": "深入学习习近平新时代中国特色社会主义思想，开展“巾帼心向党”宣讲。",
        "employment": "实施“巧媳妇”工程，开展妇女就业创业培训，带动妇女增收。",
        "rights": "开展“两癌”筛查救助，维护妇女儿童合法权益，推进反家暴。",
        "family": "开展“最美家庭”寻找活动，推进“美丽庭院”创建和家庭家教家风建设。",
        "organization": "深化妇联改革，加强基层妇联组织建设，建设“妇女之家”。",
        "other": "回顾过去五年，成绩来之不易。",
    }
    docs = pd.DataFrame(
        {
            "doc_id": ["h1", "h2", "s1", "s2"],
            "province": ["河南", "河南", "山东", "山东"],
            "place": ["郑州", "开封", "济南", "枣庄"],
            "level": ["city", "city", "district", "city"],
            "year": pd.array([2017, 2021, 2021, 2023], dtype="Int64"),
            "title": "t",
        }
    )
    rows = []
    for d in docs["doc_id"]:
        for i in range(12):
            lab = ids[(i + len(rows)) % 6] if d.startswith("h") else ids[(i * 5) % 4]
            rows.append(
                {
                    "unit_id": f"{d}:p{i:03d}",
                    "doc_id": d,
                    "para_id": i,
                    "kind": "body",
                    "text": texts[lab],
                    "gold": lab,
                }
            )
    paras = pd.DataFrame(rows)
    paras["n_chars"] = paras["text"].str.len()
    heading = pd.DataFrame(
        [
            {
                "unit_id": "h1:p099",
                "doc_id": "h1",
                "para_id": 99,
                "kind": "heading",
                "text": "标题",
                "n_chars": 2,
            }
        ]
    )
    (root / "data" / "prepared").mkdir(parents=True)
    docs.to_parquet(root / "data/prepared/documents.parquet")
    pd.concat([paras.drop(columns="gold"), heading]).to_parquet(
        root / "data/prepared/paragraphs.parquet"
    )
    paras[["unit_id", "doc_id", "text", "gold"]].to_csv(root / "ann.csv", index=False)
    P = rng.dirichlet(np.ones(6), len(paras)) * 0.4
    P[np.arange(len(paras)), [ids.index(g) for g in paras["gold"]]] += 0.6
    probs = {f"p_{i}": P[:, k] for k, i in enumerate(ids)}
    pred = paras[["unit_id", "doc_id", "text"]].assign(domain=np.array(ids)[P.argmax(1)], **probs)
    (root / "data" / "predictions").mkdir(parents=True)
    pred.to_parquet(root / "data/predictions/units.parquet")
    (root / "reports" / "tables").mkdir(parents=True)
    (root / "data" / "evaluation").mkdir(parents=True)
    pd.DataFrame(
        {
            "unit_id": paras["unit_id"],
            "doc_id": paras["doc_id"],
            "gold": paras["gold"],
            "pred": pred["domain"],
            **probs,
        }
    ).to_parquet(root / "data/evaluation/cv_predictions.parquet", index=False)
    return {
        "seed": 11,
        "paths": {
            "annotations": str(root / "ann.csv"),
            "data": str(root / "data"),
            "reports": str(root / "reports"),
        },
        "analyse": {"n_boot": 60},
        "tokenize": {"cache": False},
    }


def test_run_analysis_end_to_end_and_deterministic(tmp_path, capsys):
    from research.analysis.pipeline import run_analysis

    params = _synthetic_project(tmp_path)
    s = run_analysis(params)
    tables = tmp_path / "reports" / "tables"
    for name in (
        "documents",
        "adjusted_eval",
        "adjusted_eval_summary",
        "group_shares",
        "emphasis",
        "distinctive_terms",
        "campaign_names",
        "campaign_summary",
        "glm",
    ):
        assert (tables / f"{name}.csv").exists(), name
    docs = pd.read_csv(tables / "documents.csv")
    assert set(docs["basis"]) == {"units", "chars"} and set(docs["source"]) == {"gold"}
    gold = docs.query("basis == 'units'")
    assert gold.groupby("doc_id")["estimate"].sum().round(4).eq(1).all()
    assert gold["n_units"].eq(12).all() and gold["n_gold"].eq(12).all()  # heading not a body unit
    assert (gold["interval"] == "wilson").all()
    assert {"province", "year", "place"} <= set(docs.columns)
    ev = pd.read_csv(tables / "adjusted_eval_summary.csv")
    assert set(ev["method"]) == {"cc", "pcc", "acc", "pacc", "em", "ppi"}
    assert s["estimator"]["chars"] in set(ev["method"])
    glm = pd.read_csv(tables / "glm.csv")
    assert glm["p_value"].isna().all() and not glm["significant"].eq("yes").any()  # 4 documents
    out = capsys.readouterr().out
    assert "weak inference" in out and "no p-value" in out
    assert "seeded_units.parquet missing" in " ".join(s["notes"])
    names = pd.read_csv(tables / "campaign_names.csv")
    assert (names.query("name == '巧媳妇'")["domain"] == "employment").all()

    def digest() -> dict[str, str]:
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(tables.glob("*.csv"))
        }

    first = digest()
    run_analysis(params, echo=None)
    assert digest() == first


def test_run_analysis_with_nothing_present(tmp_path):
    from research.analysis.pipeline import run_analysis

    s = run_analysis(
        {
            "paths": {
                "annotations": str(tmp_path / "none.csv"),
                "data": str(tmp_path / "data"),
                "reports": str(tmp_path / "reports"),
            }
        },
        echo=None,
    )
    assert s["sources"] == [] and len(s["notes"]) >= 4
    assert not (tmp_path / "reports" / "tables" / "documents.csv").exists()
    assert (tmp_path / "reports" / "metrics" / "analysis.json").exists()


def test_vectorised_adjuster_matches_constrained_solver():
    from research.analysis.quantify import ShareAdjuster

    M = np.array([[0.8, 0.1, 0.2], [0.15, 0.7, 0.1], [0.05, 0.2, 0.7]])
    Q = np.random.default_rng(0).dirichlet(np.ones(3), 200)  # many infeasible for this M
    Q[3] = np.nan
    fast = ShareAdjuster(M).many(Q)
    slow = np.vstack([adjust_shares(q, M) if np.isfinite(q).all() else q for q in Q])
    assert np.allclose(fast, slow, atol=1e-6, equal_nan=True)


def test_cv_predictions_with_several_methods_uses_the_selected_one(tmp_path):
    from research.analysis.inputs import load_inputs

    params = _synthetic_project(tmp_path)
    path = tmp_path / "data/evaluation/cv_predictions.parquet"
    cv = pd.read_parquet(path)
    other = cv.assign(method="baseline", pred="other")
    pd.concat([cv.assign(method="selected"), other]).to_parquet(path, index=False)
    inp = load_inputs(params, tmp_path / "data", tmp_path / "reports", echo=None)
    assert len(inp.cv) == len(cv) and (inp.cv["method"] == "selected").all()


def test_partial_gold_uses_gold_then_cross_fitted_then_model_predictions(tmp_path):
    """Gold for two reports and five units of a third: every unit still counts, each from
    the right source, and trained units carry their held-out (not in-sample) prediction."""
    from research.analysis.pipeline import run_analysis
    from research.analysis.units import label_units

    params = _synthetic_project(tmp_path)
    ann = pd.read_csv(params["paths"]["annotations"])
    keep = ann["doc_id"].isin(["h1", "h2"]) | ann["unit_id"].isin(
        [f"s1:p{i:03d}" for i in range(5)]
    )
    ann[keep].to_csv(params["paths"]["annotations"], index=False)
    cv_path = tmp_path / "data/evaluation/cv_predictions.parquet"
    cv = pd.read_parquet(cv_path)
    cv = cv[cv["unit_id"].isin(ann[keep]["unit_id"])]
    cv.to_parquet(cv_path, index=False)
    pred_path = tmp_path / "data/predictions/units.parquet"
    pred = pd.read_parquet(pred_path)
    ids = ["ideology", "employment", "rights", "family", "organization", "other"]
    trained = pred["unit_id"].isin(ann[keep]["unit_id"])
    for i in ids:  # in-sample predictions of trained units are perfect (memorised)
        pred.loc[trained, f"p_{i}"] = (
            pred.loc[trained, "unit_id"].map(ann.set_index("unit_id")["gold"]) == i
        ).astype(float)
    pred.to_parquet(pred_path)

    units = pd.read_parquet(tmp_path / "data/prepared/paragraphs.parquet").query("kind == 'body'")
    lab = label_units(units, ids, ann[keep], pred, cv)
    u = lab.set_index("unit_id")
    assert u.loc["s1:p000", "source"] == "gold" and u.loc["s1:p009", "source"] == "predicted"
    assert u.loc["s1:p000", "pred_source"] == "cross_fitted"  # trained: held-out prediction
    assert u.loc["s2:p000", "pred_source"] == "model"
    held = cv.set_index("unit_id").loc["s1:p000", [f"p_{i}" for i in ids]].to_numpy(float)
    assert np.allclose(u.loc["s1:p000", [f"q_{i}" for i in ids]].to_numpy(float), held)

    s = run_analysis(params, echo=None)
    docs = pd.read_csv(tmp_path / "reports/tables/documents.csv").query("basis == 'units'")
    per = docs.drop_duplicates("doc_id").set_index("doc_id")
    assert per["source"].to_dict() == {"h1": "gold", "h2": "gold", "s1": "mixed", "s2": "predicted"}
    assert per.loc["s1", "n_gold"] == 5 and per.loc["s1", "n_predicted"] == 7
    assert per["n_units"].eq(12).all()  # every report from all of its body units
    assert per.loc["s2", "interval"] == "bootstrap" and per.loc["h1", "interval"] == "wilson"
    assert np.allclose(docs.groupby("doc_id")["estimate"].sum(), 1, atol=1e-5)
    ok = docs.dropna(subset=["ci_low"])
    assert (
        (ok["ci_low"] <= ok["estimate"] + 1e-9) & (ok["estimate"] <= ok["ci_high"] + 1e-9)
    ).all()
    assert s["document_sources"] == {"gold": 2, "mixed": 1, "predicted": 1}
    g = pd.read_csv(tmp_path / "reports/tables/group_shares.csv")
    assert (g.query("variable == 'all'")["source"] == "mixed").all()
    assert g.query("variable == 'province'")["ci_low"].isna().all()  # 2 reports each: no interval


# --- new estimators, intervals, tests -------------------------------------------------------
def test_em_ppi_and_pacc_recover_a_shifted_prevalence():
    """Classifier calibrated on a 50/50 gold sample (x ~ N(±1, 1), p = sigmoid(2x)); a test
    set at 20/80: naive PCC is biased toward the training prior, the corrected estimators
    recover the truth."""
    from research.analysis.estimators import estimate, fit_corrections

    rng = np.random.default_rng(0)

    def sample(n, share_a):
        y = rng.random(n) < share_a
        x = rng.normal(np.where(y, 1.0, -1.0), 1.0)
        pa = 1 / (1 + np.exp(-2 * x))
        return y, np.column_stack([pa, 1 - pa])

    gy, gq = sample(4000, 0.5)
    cv = pd.DataFrame(
        {
            "doc_id": np.repeat([f"g{i}" for i in range(40)], 100),
            "gold": np.where(gy, "a", "b"),
            "p_a": gq[:, 0],
            "p_b": gq[:, 1],
            "n_chars": 1,
        }
    )
    corr = fit_corrections(cv, ["a", "b"], "units")
    ty, tq = sample(4000, 0.2)
    w = np.ones((1, len(tq)))
    pcc = estimate("pcc", tq, w, corr)[0, 0]
    assert pcc > 0.27  # biased toward 0.5
    for m in ("pacc", "acc", "em"):
        assert estimate(m, tq, w, corr)[0, 0] == pytest.approx(0.2, abs=0.03), m
    ppi = estimate("ppi", tq, w, corr)[0, 0]
    # a calibrated classifier has no mean gap on the gold sample: PPI's rectifier is ~0 and
    # cannot fix prior shift (it targets a constant error, not a change of prevalence)
    assert ppi == pytest.approx(pcc, abs=0.01)


def test_wilson_interval_is_inside_zero_one_and_not_degenerate():
    from research.analysis.documents import wilson

    lo, hi = wilson(np.array([1 / 15, 0.0]), 15)
    assert lo[0] > 0 and hi[0] < 0.35  # percentile bootstrap would give 0 as the lower bound
    assert lo[1] == 0 and hi[1] > 0.1


def test_glm_reports_t_inference_only_with_enough_residual_df():
    ds, meta = _glm_data(5, seed=3)
    tab, _ = fractional_logit(ds, meta, ["year"], ["a", "b"])
    assert tab["p_value"].isna().all() and (tab["status"] == "insufficient_df").all()
    assert tab["significant"].fillna("").eq("").all()
    ds, meta = _glm_data(60, seed=1)
    tab, _ = fractional_logit(ds, meta, ["year"], ["a", "b"])
    a = tab[tab["domain"] == "a"].set_index("term")
    assert a.loc["year_centred", "df_resid"] == 58 and np.isfinite(a.loc["year_centred", "p_value"])
    assert a.loc["year_centred", "significant"] in {"yes", "no"}


def test_distinctive_terms_drop_names_and_test_at_document_level():
    from research.analysis.distinctive import distinctive_documents, stoplist

    meta = pd.DataFrame(
        {
            "doc_id": [f"d{i:02d}" for i in range(20)],
            "province": ["河南"] * 10 + ["山东"] * 10,
            "place": ["郑州市"] * 10 + ["济南市"] * 10,
            "organisation": ["郑州市妇联"] * 10 + ["济南市妇联"] * 10,
        }
    )
    stop = stoplist(meta)
    assert {"郑州", "郑州市", "河南", "济南"} <= stop
    rng = np.random.default_rng(1)
    common = ["妇女", "工作", "发展", "家庭", "培训", "组织"]
    toks = {}
    for i, d in enumerate(meta["doc_id"]):
        t = list(rng.choice(common, 60))
        t += ["郑州"] * 5 if i < 10 else ["济南"] * 5
        if i < 10:
            t += ["巧媳妇"] * 4  # planted in every Henan report
        toks[d] = t
    toks["d19"] = toks["d19"] + ["孤词"] * 30  # one document only: never a candidate
    dt = distinctive_documents(toks, meta, ["province"], n_perm=400, stop=stop, seed=0)
    assert not dt["term"].isin(["郑州", "济南", "孤词"]).any()
    hen = dt[dt["group"] == "河南"].set_index("term")
    assert hen.loc["巧媳妇", "significant"] == "yes" and hen.loc["巧媳妇", "q_value"] < 0.05
    assert (dt[dt["term"] != "巧媳妇"]["significant"] == "no").all()


def test_multilevel_model_pools_provinces_and_recovers_a_trend():
    from research.analysis.multilevel import multilevel_shares

    rng = np.random.default_rng(5)
    provs = [f"P{i}" for i in range(12)]
    u = dict(zip(provs, rng.normal(0, 0.08, len(provs))))
    rows, meta = [], []
    for d in range(240):
        p = provs[d % 12] if d < 230 else "P_one"  # P_one: a province with 10 reports
        year = 2010 + d % 16
        a = 0.4 + u.get(p, 0.15) + 0.05 * (year - 2017.5) / 10 + rng.normal(0, 0.04)
        rows += [(f"d{d}", "a", a), (f"d{d}", "b", 1 - a)]
        meta.append((f"d{d}", p, year, "city" if d % 2 else "county"))
    docs = pd.DataFrame(rows, columns=["doc_id", "domain", "estimate"])
    meta = pd.DataFrame(meta, columns=["doc_id", "province", "year", "level"])
    ml = multilevel_shares(docs, meta, ["a", "b"], ["level"]).query("domain == 'a'")
    ml = ml.set_index("term")
    assert ml.loc["year_per_decade", "ci_low"] < 0.05 < ml.loc["year_per_decade", "ci_high"]
    est = np.array([ml.loc[f"province[{p}]", "estimate"] for p in provs])
    truth = np.array([u[p] for p in provs])
    assert np.corrcoef(est, truth)[0, 1] > 0.9
    assert ml.filter(like="province[", axis=0)["p_holm"].notna().all()


def _planted_corpus(seed: int = 7, n: int = 320):
    """Shares with a hump over 2010–2025 (peak +0.08 mid-period), province effects, a
    +0.05 effect of multi-year reviews (varying within provinces) and noise."""
    rng = np.random.default_rng(seed)
    provs = [f"P{i}" for i in range(16)]
    u = dict(zip(provs, rng.normal(0, 0.06, len(provs))))
    rows, meta = [], []
    for d in range(n):
        p, year = provs[rng.integers(16)], int(rng.integers(2010, 2026))
        multi = rng.random() < 0.3
        level = str(rng.choice(["city", "county"]))
        a = 0.35 + u[p] + hump(year) + 0.05 * multi + rng.normal(0, 0.03)
        rows += [(f"d{d}", "a", a), (f"d{d}", "b", 1 - a)]
        meta.append((f"d{d}", p, year, level, year - 5 if multi else year - 1, year - 1))
    docs = pd.DataFrame(rows, columns=["doc_id", "domain", "estimate"])
    cols = ["doc_id", "province", "year", "level", "period_start", "period_end"]
    return docs, pd.DataFrame(meta, columns=cols)


def hump(year):
    return 0.08 * np.sin(np.pi * (np.asarray(year, dtype=float) - 2010) / 15)


def test_year_smooth_df_and_basis():
    from research.analysis.multilevel import YearBasis, year_df

    assert [year_df(range(2010, 2010 + k)) for k in (1, 2, 7, 8, 16, 30)] == [0, 1, 1, 2, 4, 4]
    yrs = np.arange(2010, 2026, dtype=float)
    lin = YearBasis.fit(yrs, 1)
    assert lin.names == ["year_per_decade"]
    assert np.allclose(lin(yrs)[:, 0], (yrs - yrs.mean()) / 10)
    ns = YearBasis.fit(yrs, 4)(np.arange(2000, 2040, dtype=float))
    assert ns.shape == (40, 4)
    # natural spline: linear beyond the boundary knots (second differences vanish)
    assert np.allclose(np.diff(ns[:9], n=2, axis=0), 0) and np.allclose(
        np.diff(ns[-13:], n=2, axis=0), 0
    )


def test_multilevel_recovers_a_planted_smooth_and_period_effect():
    from research.analysis.multilevel import fit_multilevel

    docs, meta = _planted_corpus()
    ml, curves = fit_multilevel(docs, meta, ["a", "b"], ["level", "period"])
    a = ml[ml["domain"] == "a"].set_index("term")
    assert a.loc["year_smooth", "p_value"] < 1e-6 and a.loc["year_smooth", "significant"] == "yes"
    lo, hi = a.loc["period[multi-year]", ["ci_low", "ci_high"]]
    assert 0 < lo < 0.05 < hi
    assert {"var[province]", "var[level_in_province]", "var[residual]"} <= set(a.index)
    c = curves[curves["domain"] == "a"].set_index("year")
    assert list(c.index) == list(range(2010, 2026)) and c["n_docs"].sum() == 320
    # the curve's shape: planted hump (mean-centred) inside the interval after centring
    shape = c["estimate"] - c["estimate"].mean()
    truth = hump(c.index) - hump(c.index).mean()
    assert np.abs(shape - truth).max() < 0.02
    assert c.loc[2017, "estimate"] - c.loc[2010, "estimate"] > 0.05
    assert (c["ci_low"] < c["estimate"]).all() and (c["estimate"] < c["ci_high"]).all()
    # a straight line cannot show the hump: the linear summary is near zero
    assert abs(a.loc["year_per_decade", "estimate"]) < 0.02


def test_estimator_choice_table_marks_the_best_corrected_estimator():
    from research.analysis.quantify import choice_table

    sm = pd.DataFrame({"basis": "chars", "method": ["cc", "pcc", "acc", "pacc", "em", "ppi"],
                       "mae": [0.01, 0.02, 0.04, 0.03, 0.05, 0.035], "n_docs": 5})  # fmt: skip
    t = choice_table(sm, {"chars": "pacc"}, "auto").set_index("method")
    assert t.loc["pacc", "chosen"] == "yes" and (t["chosen"] == "yes").sum() == 1
    assert t.loc["cc", "rank"] == 1 and t.loc["cc", "corrected"] == "no"
    assert "lowest held-out" in t.loc["pacc", "why"]


def test_recovery_generator_and_scoring_on_a_tiny_corpus(tmp_path):
    """The benchmark's pieces end to end on 14 reports (the full run is a benchmark)."""
    from research.analysis import recovery as rec
    from research.analysis.pipeline import run_analysis

    ids = ["ideology", "employment", "rights", "family", "organization", "other"]
    base = pd.read_csv(
        Path(__file__).resolve().parent.parent / "research/resources/base_set/base_set.csv"
    )
    base = base[base["label"].isin(ids)]
    pool = base[base["writer"] == "w1"]
    model = rec.quick_classifier(base[base["writer"] == "w2"].head(150))
    par = rec.planted(ids, seed=0)
    corpus = rec.generate(pool, ids, par, n_docs=14, seed=1, gold_frac=0.2)
    assert corpus["documents"]["province"].isin(rec.PROVINCES).all()
    assert len(corpus["annotations"]) == round(0.2 * len(corpus["paragraphs"]))
    rec.write_project(tmp_path, corpus, model, ids)
    params = {
        "paths": {"annotations": str(tmp_path / "annotations.csv"),
                  "data": str(tmp_path / "data"), "reports": str(tmp_path / "reports")},
        "analyse": {"n_boot": 20, "bases": ["units"], "estimator": "pacc",
                    "distinctive_by": [], "me_replicates": 0},
    }  # fmt: skip
    s = run_analysis(params, echo=None)
    assert s["document_sources"].get("mixed", 0) > 0
    ml = pd.read_csv(tmp_path / "reports/tables/multilevel.csv")
    sc = rec.score(ml, rec.truth(ids, par, n_mc=200)).assign(condition="corrected")
    summ = rec.summarise(sc)
    assert set(summ["kind"]) <= {"province_contrast", "year_trend"} and len(summ)
    assert summ["coverage"].between(0, 1).all()


def test_narrative_reads_the_multilevel_tables(tmp_path):
    """The notebook text quotes the model's own numbers (trend, period effect, curves)."""
    from research.analysis import narrative
    from research.analysis.multilevel import fit_multilevel

    docs, meta = _planted_corpus(n=200)
    ml, curves = fit_multilevel(docs, meta, ["a", "b"], ["level", "period"])
    ml.to_csv(tmp_path / "multilevel.csv", index=False)
    curves.to_csv(tmp_path / "multilevel_year.csv", index=False)
    text = narrative._multilevel_text(tmp_path)
    per = ml.set_index(["domain", "term"]).loc[("a", "period[multi-year]"), "estimate"]
    assert "200 reports in 16 provinces" in text["multilevel"]
    assert f"`a` {per:+.3f}" in text["multilevel"] and "2010–2025" in text["year_smooth"]
    terms, provinces = narrative.multilevel_parts(ml)
    assert (
        len(terms) + len(provinces) == len(ml)
        and provinces["term"].str.startswith("province[").all()
    )
    # a model that could not be fitted says why instead
    few = fit_multilevel(docs.head(8), meta.head(4), ["a", "b"])[0]
    few.to_csv(tmp_path / "multilevel.csv", index=False)
    assert "Not fitted" in narrative._multilevel_text(tmp_path)["multilevel"]


def test_classifier_narrative_from_the_evaluation_tables(tmp_path):
    from research.analysis import narrative

    (tmp_path / "tables").mkdir()
    (tmp_path / "metrics").mkdir()
    rows = [(m, cv, f1, f1 - 0.05, f1 + 0.05) for cv in ("by_document", "by_province")
            for m, f1 in (("selected", 0.9), ("dictionary", 0.8), ("majority", 0.1))]  # fmt: skip
    cols = ["method", "cv", "macro_f1", "ci_low", "ci_high"]
    pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "tables/method_comparison.csv", index=False)
    pd.DataFrame(
        {"method": "selected", "cv": "by_document", "label": ["a", "b"], "f1": [0.6, 0.95]}
    ).to_csv(tmp_path / "tables/classifier_per_class.csv", index=False)
    (tmp_path / "metrics/classifier.json").write_text(
        '{"n_gold_units": 40, "n_gold_documents": 3, "n_base_set": 99}', encoding="utf-8"
    )
    text = narrative.classifier_sections(tmp_path)
    assert (
        "language-model labels" in text["question"] and "40 units in 3 reports" in text["question"]
    )
    assert "`by_province`: classifier 0.90 [0.850, 0.950], dictionary 0.80" in text["comparison"]
    assert "weakest `a` (0.60)" in text["per_class"] and "3 reports" in text["caveats"]
