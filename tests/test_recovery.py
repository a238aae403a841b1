"""Parameter recovery end to end on a tiny generated corpus (the full run is
benchmarks/bench_recovery.py): generator → research prepare → gold re-anchoring →
research train/predict → analyse → scored table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from research.analysis import recovery as rec
from research.analysis.inputs import codebook_ids
from research.classify.base_set import load_base_set


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    ids, _ = codebook_ids(None)
    return load_base_set(labels=ids)


def test_generated_report_has_the_noise_and_truth_follows_what_prepare_kept(tmp_path, base):
    from research.corpus.prepare import prepare_corpus

    ids, _ = codebook_ids(None)
    par = rec.planted(ids, seed=1, n_provinces=3)
    pool = base[base["writer"].isin(rec.POOL_WRITERS)]
    paras = rec.write_corpus(tmp_path, pool, ids, par, n_docs=4, seed=2, p_traditional=0.5)
    texts = [p.read_text(encoding="utf-8") for p in sorted((tmp_path / "corpus").glob("*.txt"))]
    assert len(texts) == 4 and all("图为" in t or "圖爲" in t or "圖為" in t for t in texts)
    manifest = pd.read_csv(tmp_path / "corpus/manifest.csv")
    assert set(manifest["province"]) <= set(rec.PROVINCES[:3])
    gold = pd.read_csv(tmp_path / "gold.csv")
    assert set(gold["gold"]) <= set(ids) and len(gold) < len(paras)

    prepared = prepare_corpus(tmp_path / "corpus", {"tokenize": {"cache": False}}, progress=False)
    units = prepared.paragraphs[prepared.paragraphs["kind"] == "body"]
    matched = rec.match_units(paras, units)
    assert len(matched) == len(units)
    # the repeated paragraph is a duplicate, not a second body unit: each paragraph kept once
    out = rec.kept_outcomes(paras, matched)
    assert out["units"].max() <= 2 and (out["units"] > 0).mean() > 0.9
    anchored, lost = rec.anchor_gold(gold, units)
    assert len(anchored) + lost == len(gold) and anchored["unit_id"].isin(units["unit_id"]).all()
    # the chars truth differs from the units truth (paragraph lengths differ by label)
    t_c = rec.truth(ids, par, out, "chars", n_mc=300)
    t_u = rec.truth(ids, par, out, "units", n_mc=300)
    assert np.allclose(t_c.groupby(t_c["term"].str[:8])["truth"].sum().loc["province"], 0)
    assert not np.allclose(t_c["truth"], t_u["truth"])


@pytest.mark.slow
def test_recovery_runs_the_stages_and_recovers_the_planted_sign(tmp_path, base):
    ids, _ = codebook_ids(None)
    pool = base[base["writer"].isin(rec.POOL_WRITERS)]
    par = rec.planted(ids, seed=0, province_sd=1.0, n_provinces=4)
    model = rec.train_model(tmp_path / "model", base)
    rows, facts = rec.run_rep(
        tmp_path / "rep", pool, ids, par, model, n_docs=20, seed=3,
        estimators=("pcc", "pacc"), bases=("chars",), n_boot=30, me_replicates=2, n_mc=400,
    )  # fmt: skip
    assert facts["n_docs"] == 20 and facts["n_gold"] > 0
    assert facts["unit_match"].get("none", 0) < 0.05 * facts["n_body_units"]
    summary = rec.summarise(rows)
    assert list(summary.columns) == [
        "condition", "basis", "kind", "n", "bias", "rmse", "coverage", "mean_ci_width",
    ]  # fmt: skip
    assert set(summary["condition"]) == {"pcc", "pacc"}
    assert set(summary["kind"]) == {"province_contrast", "year_trend"}
    assert (summary.loc[summary["kind"] == "province_contrast", "n"] == 4 * len(ids)).all()
    assert summary["coverage"].between(0, 1).all() and (summary["mean_ci_width"] > 0).all()
    # the planted province effects are recovered: sign of the large contrasts, and correlation
    pc = rows[(rows["condition"] == "pacc") & (rows["kind"] == "province_contrast")]
    big = pc[pc["truth"].abs() > 0.05]
    assert len(big) >= 4
    assert (np.sign(big["estimate"]) == np.sign(big["truth"])).mean() >= 0.8
    assert np.corrcoef(pc["estimate"], pc["truth"])[0, 1] > 0.7
    assert "# " not in rec.markdown_table(summary) and "| pacc | chars |" in rec.markdown_table(
        summary
    )
