"""Parameter recovery: a generated corpus with planted province and year effects, analysed
by the pipeline's own code, and the bias, RMSE and interval coverage of what it recovers.

Generator. Reports are spread over 31 provinces and 2010–2025. Report d in province p in
year t has domain probabilities π_d = softmax(a + u_p + b·(t − 2017.5)/10 + ε_d) with
planted province effects u_p ~ N(0, province_sd²), per-decade trends b and report noise
ε_d ~ N(0, doc_sd²). Each of its 15–60 paragraphs gets a label drawn from π_d and a text
drawn from a labelled pool with that label (the shipped base set: paragraphs by some
writer sessions form the pool, the classifier is trained on the other writers', so its
errors are real). A random ``gold_frac`` of paragraphs gets its true label as gold.

Truth. The estimands are on the share scale: a province's contrast is its expected mean
share minus the mean over provinces; the trend is the per-decade slope of the expected
share, both computed from the planted parameters by Monte Carlo (not from the sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from research.analysis.inputs import input_path
from research.io import write_table

PROVINCES = [
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆",
    "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆",
]  # fmt: skip
YEARS = (2010, 2025)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def planted(ids: Sequence[str], seed: int, province_sd: float = 0.5) -> dict:
    """The planted parameters: intercepts a, per-decade trends b, province effects u."""
    rng = np.random.default_rng(seed)
    k = len(ids)
    a = np.log(np.full(k, 1.0 / k))
    b = np.linspace(-0.6, 0.6, k)
    rng.shuffle(b)
    u = rng.normal(0, province_sd, (len(PROVINCES), k))
    return {"a": a, "b": b, "u": u}


def truth(ids: Sequence[str], par: dict, doc_sd: float = 0.3, n_mc: int = 4000) -> pd.DataFrame:
    """Share-scale estimands: province contrasts and per-decade year trends (Monte Carlo)."""
    rng = np.random.default_rng(12345)
    years = rng.uniform(YEARS[0], YEARS[1] + 1, n_mc)
    eps = rng.normal(0, doc_sd, (n_mc, len(ids)))
    base = par["a"] + np.outer((years - 2017.5) / 10, par["b"]) + eps
    rows = []
    prov_means = np.stack(
        [_softmax(base + par["u"][i]).mean(axis=0) for i in range(len(PROVINCES))]
    )
    contrast = prov_means - prov_means.mean(axis=0)
    for i, p in enumerate(PROVINCES):
        for j, cid in enumerate(ids):
            rows.append((cid, f"province[{p}]", float(contrast[i, j])))
    pis = np.stack([_softmax(base + par["u"][i]) for i in range(len(PROVINCES))]).mean(axis=0)
    xd = (years - years.mean()) / 10
    for j, cid in enumerate(ids):
        slope = float(np.polyfit(xd, pis[:, j], 1)[0])
        rows.append((cid, "year_per_decade", slope))
    return pd.DataFrame(rows, columns=["domain", "term", "truth"])


def generate(
    pool: pd.DataFrame,
    ids: Sequence[str],
    par: dict,
    n_docs: int = 300,
    seed: int = 0,
    gold_frac: float = 0.1,
    doc_sd: float = 0.3,
) -> dict[str, pd.DataFrame]:
    """documents, paragraphs (with the true ``label``) and the gold annotations."""
    rng = np.random.default_rng(seed)
    by_label = {c: pool.loc[pool["label"] == c, "text"].to_numpy() for c in ids}
    docs, units = [], []
    for d in range(n_docs):
        i = rng.integers(len(PROVINCES))
        year = int(rng.integers(YEARS[0], YEARS[1] + 1))
        eta = par["a"] + par["u"][i] + par["b"] * (year - 2017.5) / 10
        pi = _softmax(eta + rng.normal(0, doc_sd, len(ids)))
        n = int(rng.integers(15, 61))
        labels = rng.choice(len(ids), size=n, p=pi)
        doc_id = f"r{d:04d}"
        level = str(rng.choice(["province", "city", "county"]))
        docs.append((doc_id, PROVINCES[i], PROVINCES[i], level, year, year - 1, year - 1,
                     str(rng.choice(["report", "speech"])), f"{PROVINCES[i]}妇联", doc_id))  # fmt: skip
        for k, lab in enumerate(labels):
            texts = by_label[ids[lab]]
            text = str(texts[rng.integers(len(texts))])
            units.append((f"{doc_id}:p{k:03d}", doc_id, k, "body", text, len(text), ids[lab]))
    documents = pd.DataFrame(
        docs, columns=["doc_id", "province", "place", "level", "year", "period_start",
                       "period_end", "genre", "organisation", "title"],
    )  # fmt: skip
    paragraphs = pd.DataFrame(
        units, columns=["unit_id", "doc_id", "para_id", "kind", "text", "n_chars", "label"]
    )
    gold = paragraphs.sample(frac=gold_frac, random_state=seed)
    annotations = gold[["unit_id", "doc_id", "text"]].assign(gold=gold["label"].to_numpy())
    return {"documents": documents, "paragraphs": paragraphs, "annotations": annotations}


def quick_classifier(train: pd.DataFrame, seed: int = 0, c: float = 2.0, max_iter: int = 300):
    """Character 1–2-gram TF-IDF + logistic regression (the benchmark's stand-in model)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=max_iter, C=c, tol=1e-3, random_state=seed),
    )
    return model.fit(train["text"].astype(str), train["label"].astype(str))


def write_project(root: Path, corpus: dict[str, pd.DataFrame], model, ids: Sequence[str]) -> None:
    """The tables the analysis reads: prepared units, predictions, gold, held-out predictions
    of the gold units (the classifier never saw the corpus, so they are held out)."""
    (root / "data/prepared").mkdir(parents=True, exist_ok=True)
    (root / "data/predictions").mkdir(parents=True, exist_ok=True)
    (root / "reports/tables").mkdir(parents=True, exist_ok=True)
    paras = corpus["paragraphs"]
    corpus["documents"].to_parquet(root / "data/prepared/documents.parquet")
    paras.drop(columns="label").to_parquet(root / "data/prepared/paragraphs.parquet")
    P = model.predict_proba(paras["text"].astype(str))
    cls = list(model.classes_)
    probs = {f"p_{c}": P[:, cls.index(c)] if c in cls else 0.0 for c in ids}
    pred = paras[["unit_id", "doc_id"]].assign(domain=np.array(cls)[P.argmax(axis=1)], **probs)
    pred.to_parquet(root / "data/predictions/units.parquet")
    ann = corpus["annotations"]
    ann.to_csv(root / "annotations.csv", index=False)
    cv = pred[pred["unit_id"].isin(ann["unit_id"])].merge(ann[["unit_id", "gold"]], on="unit_id")
    cv_path = input_path("cv_predictions", root / "data", root / "reports")
    cv_path.parent.mkdir(parents=True, exist_ok=True)
    write_table(
        cv.rename(columns={"domain": "pred"}).assign(method="selected", cv="by_document"),
        cv_path,
    )


def score(ml: pd.DataFrame, tr: pd.DataFrame) -> pd.DataFrame:
    """Join model rows to the truth: error and whether the interval covers it."""
    m = ml.merge(tr, on=["domain", "term"], how="inner")
    m["kind"] = np.where(m["term"].str.startswith("province["), "province_contrast", "year_trend")
    m["error"] = m["estimate"] - m["truth"]
    m["covered"] = (m["ci_low"] <= m["truth"]) & (m["truth"] <= m["ci_high"])
    return m


def summarise(scored: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE, coverage (and n) per condition and estimand kind."""
    g = scored.groupby(["condition", "kind"], sort=True)
    out = g.agg(
        n=("error", "size"),
        bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(np.square(e))))),
        coverage=("covered", "mean"),
        mean_ci_width=("ci_high", "mean"),
    )
    out["mean_ci_width"] = g.apply(lambda s: float((s["ci_high"] - s["ci_low"]).mean()))
    return out.reset_index()
