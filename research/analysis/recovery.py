"""Parameter recovery: a generated corpus with planted province and year effects, run through
the package's own stages (prepare → train/predict → analyse), and the bias, RMSE and interval
coverage of what comes out.

Generator (:func:`write_corpus`). Reports are spread over ``n_provinces`` provinces and
2010–2025. Report d in province p in year t has domain probabilities
π_d = softmax(a + u_p + b·(t − 2017.5)/10 + ε_d) with planted province effects
u_p ~ N(0, province_sd²), per-decade trends b and report noise ε_d ~ N(0, doc_sd²). Each of
its 15–60 paragraphs gets a label drawn from π_d and a text drawn (without replacement within
the report) from a labelled pool with that label (the shipped base set's writers w1–w3; the
classifier is trained on writers w4–w6, so its errors are real). The report is a .txt file
as a user's would be: a title line, a source/date line, neutral section headings, the
paragraphs, and noise — a paragraph broken across two lines, a photo caption, a repeated
paragraph, and in some reports traditional characters. ``manifest.csv`` is the project's
manifest; ``gold.csv`` holds the true label of a random ``gold_frac`` of the paragraphs,
keyed by text (unit ids do not exist before ``prepare``; :func:`anchor_gold` attaches them
with the package's own re-anchoring, as ``research annotate reanchor`` does).

Truth (:func:`match_units`, :func:`truth`). Each body unit ``prepare`` kept is matched back to
the paragraph it came from (by text), so the truth is defined on the units the analysis sees.
The estimands are on the share scale of a basis (chars or units): a province's contrast is
its expected mean share minus the mean over provinces; the trend is the per-decade slope of
the expected share. They are computed by Monte Carlo from the planted parameters, with each
paragraph's contribution (how many body units and characters of it ``prepare`` kept) drawn
from what ``prepare`` actually did to paragraphs of that label in this corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from research.corpus.segment import text_key

PROVINCES = [
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆",
    "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏", "新疆",
]  # fmt: skip
YEARS = (2010, 2025)
N_PARAS = (15, 60)  # paragraphs per report (inclusive)
POOL_WRITERS = ("w1", "w2", "w3")
MODEL_WRITERS = ("w4", "w5", "w6")
HEADINGS = ["一、主要工作", "二、工作成效", "三、存在的问题", "四、下一步工作打算"]
BASES = ("chars", "units")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def planted(ids: Sequence[str], seed: int, province_sd: float = 0.5, n_provinces: int = 31) -> dict:
    """The planted parameters: intercepts a, per-decade trends b, province effects u."""
    rng = np.random.default_rng(seed)
    k = len(ids)
    b = np.linspace(-0.6, 0.6, k)
    rng.shuffle(b)
    u = rng.normal(0, province_sd, (n_provinces, k))
    return {"a": np.log(np.full(k, 1.0 / k)), "b": b, "u": u, "provinces": PROVINCES[:n_provinces]}


def _break_line(text: str, rng: np.random.Generator) -> str:
    """The paragraph with a hard line break after a comma in its middle (a layout break)."""
    commas = [i for i, ch in enumerate(text) if ch == "，" and 10 < i < len(text) - 10]
    if not commas:
        return text
    i = commas[rng.integers(len(commas))] + 1
    return text[:i] + "\n" + text[i:]


def write_corpus(
    out: Path,
    pool: pd.DataFrame,
    ids: Sequence[str],
    par: dict,
    n_docs: int = 300,
    seed: int = 0,
    gold_frac: float = 0.1,
    doc_sd: float = 0.3,
    p_traditional: float = 0.1,
) -> pd.DataFrame:
    """Write ``out/corpus/*.txt`` + ``manifest.csv`` and ``out/gold.csv``; return the paragraphs.

    Returned table: doc_id, seq (order in the report), label (true), text (as drawn from the
    pool, simplified), gold (in the gold sample). Injected noise (caption, title, source line,
    the repeat of a paragraph) is not in it: it is not a paragraph of work.
    """
    from research.corpus.ingest import MANIFEST_COLUMNS
    from research.corpus.normalize import to_simplified

    rng = np.random.default_rng(seed)
    provinces = par["provinces"]
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    by_label = {c: pool.loc[pool["label"] == c, "text"].astype(str).to_numpy() for c in ids}
    manifest, paras = [], []
    for d in range(n_docs):
        i = int(rng.integers(len(provinces)))
        prov = provinces[i]
        year = int(rng.integers(YEARS[0], YEARS[1] + 1))
        pi = _softmax(
            par["a"] + par["u"][i] + par["b"] * (year - 2017.5) / 10
            + rng.normal(0, doc_sd, len(ids))
        )  # fmt: skip
        n = int(rng.integers(N_PARAS[0], N_PARAS[1] + 1))
        labels = rng.choice(len(ids), size=n, p=pi)
        counts = np.bincount(labels, minlength=len(ids))
        drawn = {
            j: list(rng.choice(by_label[ids[j]], size=c, replace=False))
            for j, c in enumerate(counts)
            if c
        }
        texts = [str(drawn[j].pop()) for j in labels]
        doc_id = f"r{d:04d}"
        level = str(rng.choice(["province", "city", "county"]))
        org = f"{prov}{'省' if level == 'province' else '某市' if level == 'city' else '某县'}妇联"
        title = f"{org}{year - 1}年工作总结和{year}年工作要点"
        lines = [title, f"来源：{org}  发布时间：{year}-01-{int(rng.integers(10, 29))}", ""]
        cuts = sorted(rng.choice(np.arange(1, n), size=min(3, n - 1), replace=False))
        broken = int(rng.integers(n))
        caption_at = int(rng.integers(n))
        repeat = int(rng.integers(n))
        for k, text in enumerate(texts):
            if k == 0 or k in cuts:
                lines += [
                    HEADINGS[min(len(HEADINGS) - 1, int(np.searchsorted(cuts, k, "right")))],
                    "",
                ]
            lines += [_break_line(text, rng) if k == broken else text, ""]
            if k == caption_at:
                lines += [f"图为{org}开展主题活动现场", ""]
        lines += [texts[repeat], ""]  # a paragraph repeated at the end (copy-paste)
        body = "\n".join(lines)
        script = "simplified"
        if rng.random() < p_traditional:
            import opencc

            s2t = opencc.OpenCC("s2t")
            body = s2t.convert(body)
            # the paragraphs as an annotator sees them after prepare (OpenCC's round trip)
            texts = [to_simplified(s2t.convert(t)) for t in texts]
            script = "traditional"
        (corpus / f"{doc_id}.txt").write_text(body, encoding="utf-8")
        manifest.append({
            "file": f"{doc_id}.txt", "doc_id": doc_id, "title": title, "organisation": org,
            "province": prov, "place": prov, "level": level, "year": year,
            "period_start": year - 1, "period_end": year - 1, "script": script,
            "source": "generated (research.analysis.recovery)", "note": "",
        })  # fmt: skip
        for k, (j, text) in enumerate(zip(labels, texts)):
            paras.append((doc_id, k, ids[j], text))
    pd.DataFrame(manifest, columns=MANIFEST_COLUMNS).to_csv(corpus / "manifest.csv", index=False)
    paragraphs = pd.DataFrame(paras, columns=["doc_id", "seq", "label", "text"])
    gold = rng.random(len(paragraphs)) < gold_frac
    paragraphs["gold"] = gold
    g = paragraphs[gold]
    pd.DataFrame(
        {"unit_id": "", "doc_id": g["doc_id"], "text": g["text"], "gold": g["label"],
         "annotator": "generator"}
    ).to_csv(out / "gold.csv", index=False)  # fmt: skip
    return paragraphs


def anchor_gold(gold: pd.DataFrame, units: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Gold rows pointed at the prepared body units with the same text (the package's
    :func:`research.labels.anchors.reanchor`); rows whose text no unit has are dropped.
    Returns (anchored table, number dropped)."""
    from research.labels.anchors import reanchor

    table, _, lost = reanchor(gold.assign(unit_id=gold["unit_id"].fillna("").astype(str)), units,
                              drop_unmatched=True)  # fmt: skip
    return table, len(lost)


def _bigrams(key: str) -> set[str]:
    return {key[i : i + 2] for i in range(len(key) - 1)}


def match_units(paragraphs: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """Each prepared body unit matched to the generated paragraph it came from.

    Same text key → that paragraph; else the paragraph containing the unit's text (a broken
    paragraph left in pieces) or contained in it (paragraphs joined); else the paragraph of
    the report with the most shared character bigrams (≥ 0.5 Jaccard); else none (``seq``
    −1: text that is no paragraph of work, e.g. a caption kept as body — labelled ``other``).
    Returns the units' unit_id, doc_id, n_chars, seq, label, match.
    """
    gen = {d: g for d, g in paragraphs.groupby("doc_id", sort=False)}
    rows = []
    for doc, u in units.groupby("doc_id", sort=False):
        g = gen.get(doc, paragraphs.iloc[:0])
        keys = [text_key(t) for t in g["text"]]
        exact = {k: i for i, k in reversed(list(enumerate(keys)))}
        for uid, text in zip(u["unit_id"], u["text"].astype(str)):
            k = text_key(text)
            i, how = exact.get(k, -1), "exact"
            if i < 0 and k:
                hits = [j for j, gk in enumerate(keys) if k in gk or gk in k]
                i, how = (max(hits, key=lambda j: len(keys[j])), "contained") if hits else (-1, "")
            if i < 0 and k:
                bk = _bigrams(k)
                sims = [len(bk & _bigrams(gk)) / max(1, len(bk | _bigrams(gk))) for gk in keys]
                if sims and max(sims) >= 0.5:
                    i, how = int(np.argmax(sims)), "similar"
            rows.append((uid, doc, len(text), int(g["seq"].iloc[i]) if i >= 0 else -1,
                         str(g["label"].iloc[i]) if i >= 0 else "other", how or "none"))  # fmt: skip
    return pd.DataFrame(rows, columns=["unit_id", "doc_id", "n_chars", "seq", "label", "match"])


def kept_outcomes(paragraphs: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    """Per generated paragraph: how many body units and characters of it ``prepare`` kept."""
    m = (
        matched[matched["seq"] >= 0]
        .groupby(["doc_id", "seq"])
        .agg(units=("unit_id", "size"), chars=("n_chars", "sum"))
    )
    out = paragraphs[["doc_id", "seq", "label"]].merge(
        m.reset_index(), on=["doc_id", "seq"], how="left"
    )
    return out.fillna({"units": 0, "chars": 0})


def truth(
    ids: Sequence[str],
    par: dict,
    outcomes: pd.DataFrame,
    basis: str,
    doc_sd: float = 0.3,
    n_mc: int = 2000,
    seed: int = 12345,
) -> pd.DataFrame:
    """Share-scale estimands of ``basis``: province contrasts and per-decade year trends.

    Monte Carlo over reports (year, report noise, number of paragraphs, labels), the same
    draws for every province; a paragraph of label k contributes a (units, chars) outcome
    drawn from ``outcomes`` of label k (what prepare did to such paragraphs).
    """
    rng = np.random.default_rng(seed)
    col = {"chars": "chars", "units": "units"}[basis]
    pools = [outcomes.loc[outcomes["label"] == c, col].to_numpy(dtype=float) for c in ids]
    pools = [p if len(p) else np.ones(1) for p in pools]
    years = rng.integers(YEARS[0], YEARS[1] + 1, n_mc).astype(float)
    eps = rng.normal(0, doc_sd, (n_mc, len(ids)))
    n = rng.integers(N_PARAS[0], N_PARAS[1] + 1, n_mc)
    base = par["a"] + np.outer((years - 2017.5) / 10, par["b"]) + eps
    u_draws = rng.random((n_mc, N_PARAS[1]))  # label draw per paragraph slot
    w_idx = rng.random((n_mc, N_PARAS[1]))  # outcome draw per slot
    slot = np.arange(N_PARAS[1])[None, :] < n[:, None]
    shares = []
    for i in range(len(par["provinces"])):
        pi = _softmax(base + par["u"][i])
        lab = (u_draws[..., None] > np.cumsum(pi, axis=1)[:, None, :]).sum(-1)
        lab = np.minimum(lab, len(ids) - 1)
        w = np.zeros(lab.shape)
        for j, p in enumerate(pools):
            m = lab == j
            w[m] = p[(w_idx[m] * len(p)).astype(int)]
        w *= slot
        tot = w.sum(1)
        s = np.stack([(w * (lab == j)).sum(1) for j in range(len(ids))], axis=1)
        shares.append(s / np.where(tot > 0, tot, 1.0)[:, None])
    S = np.stack(shares)  # (province, report, domain)
    prov_means = S.mean(axis=1)
    contrast = prov_means - prov_means.mean(axis=0)
    rows = [
        (cid, f"province[{p}]", float(contrast[i, j]))
        for i, p in enumerate(par["provinces"])
        for j, cid in enumerate(ids)
    ]
    xd = (years - years.mean()) / 10
    pis = S.mean(axis=0)
    rows += [(cid, "year_per_decade", float(np.polyfit(xd, pis[:, j], 1)[0]))
             for j, cid in enumerate(ids)]  # fmt: skip
    return pd.DataFrame(rows, columns=["domain", "term", "truth"])


def score(ml: pd.DataFrame, tr: pd.DataFrame) -> pd.DataFrame:
    """Join model rows to the truth: error and whether the interval covers it."""
    m = ml.merge(tr, on=["domain", "term"], how="inner")
    m["kind"] = np.where(m["term"].str.startswith("province["), "province_contrast", "year_trend")
    m["error"] = m["estimate"] - m["truth"]
    m["covered"] = (m["ci_low"] <= m["truth"]) & (m["truth"] <= m["ci_high"])
    m["ci_width"] = m["ci_high"] - m["ci_low"]
    return m


def summarise(scored: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE, coverage, mean interval width (and n) per condition, basis and estimand."""
    keys = [k for k in ("condition", "basis", "kind") if k in scored]
    out = scored.groupby(keys, sort=True).agg(
        n=("error", "size"),
        bias=("error", "mean"),
        rmse=("error", lambda e: float(np.sqrt(np.mean(np.square(e))))),
        coverage=("covered", "mean"),
        mean_ci_width=("ci_width", "mean"),
    )
    return out.reset_index()


def markdown_table(summary: pd.DataFrame) -> str:
    """The summary as a markdown table (coverage in bold)."""
    head = "| condition | basis | estimand | n | bias | RMSE | coverage | mean CI width |"
    lines = [head, "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in summary.itertuples():
        lines.append(
            f"| {r.condition} | {r.basis} | {str(r.kind).replace('_', ' ')} | {r.n} | "
            f"{r.bias:.3f} | {r.rmse:.3f} | **{r.coverage:.3f}** | {r.mean_ci_width:.3f} |"
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the stages, as a user runs them
def _cli(params_path: Path, *argv: str) -> None:
    """One ``research`` command in this process; a failure is an error naming the command."""
    from research.cli import main

    rc = main(["--params", str(params_path), *argv])
    if rc:
        raise RuntimeError(f"research {' '.join(argv)} failed with exit code {rc}")


def write_params(root: Path, name: str = "params.yaml", **sections: dict) -> Path:
    """A params.yaml whose paths point into ``root`` (plus the given sections)."""
    import yaml

    params = {
        "seed": 20240308,
        "paths": {
            "corpus": str(root / "corpus"), "annotations": str(root / "annotations.csv"),
            "data": str(root / "data"), "reports": str(root / "reports"),
            "models": str(root / "models"),
        },
        "tokenize": {"cache": False},
        **sections,
    }  # fmt: skip
    path = root / name
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def train_model(root: Path, base: pd.DataFrame, writers: Sequence[str] = MODEL_WRITERS) -> Path:
    """``research train --no-cv`` on the base set rows of ``writers`` (never the pool's):
    the classifier a user without gold of their own would get, saved as the pipeline saves it."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "base_set_model_writers.csv"
    base[base["writer"].isin(list(writers))].to_csv(path, index=False)
    params = write_params(root, "params_train.yaml", train={"base_set_path": str(path)})
    out = root / "models" / "classifier"
    _cli(params, "train", "--no-cv", "--out", str(out))
    return out


def run_rep(
    root: Path,
    pool: pd.DataFrame,
    ids: Sequence[str],
    par: dict,
    model_dir: Path,
    n_docs: int,
    seed: int,
    gold_frac: float = 0.1,
    estimators: Sequence[str] = ("pcc", "auto", "pacc"),
    bases: Sequence[str] = BASES,
    n_boot: int = 200,
    me_replicates: int = 20,
    n_mc: int = 2000,
) -> tuple[pd.DataFrame, dict]:
    """One corpus through prepare → predict → analyse; the multilevel rows scored.

    ``auto`` is scored as the estimator it chose (``estimator`` column); a fixed estimator
    that ``auto`` already chose is not refitted. Returns (scored rows, facts about the run).
    """
    from research.analysis.inputs import body_units, input_path
    from research.analysis.pipeline import run_analysis
    from research.config import load_params
    from research.io import read_table, write_table

    paragraphs = write_corpus(root, pool, ids, par, n_docs, seed, gold_frac)
    params_path = write_params(root)
    data, reports = root / "data", root / "reports"
    units_path = input_path("paragraphs", data, reports)
    _cli(params_path, "prepare", str(root / "corpus"), "--out", str(units_path.parent), "--quiet")
    units = body_units(read_table(units_path))
    gold, n_lost = anchor_gold(pd.read_csv(root / "gold.csv", dtype=str), units)
    gold.to_csv(root / "annotations.csv", index=False)
    pred_path = input_path("predictions", data, reports)
    _cli(
        params_path, "predict", str(units_path), "--out", str(pred_path), "--model", str(model_dir)
    )
    # the classifier never saw this corpus, so its predictions of the gold units are held out:
    # they are the cross-fitted predictions `research train` writes for a model trained on gold
    pred = read_table(pred_path)
    cv = pred.merge(gold[["unit_id", "gold"]], on="unit_id").rename(columns={"domain": "pred"})
    cols = ["unit_id", "doc_id", "gold", "pred", *[f"p_{c}" for c in ids]]
    write_table(cv[cols].assign(method="selected", cv="by_document"),
                input_path("cv_predictions", data, reports))  # fmt: skip
    matched = match_units(paragraphs, units)
    outcomes = kept_outcomes(paragraphs, matched)
    facts = {
        "n_docs": int(units["doc_id"].nunique()), "n_paragraphs": len(paragraphs),
        "n_body_units": len(units), "n_gold": len(gold), "n_gold_unanchored": n_lost,
        "unit_match": matched["match"].value_counts().to_dict(),
        "paragraphs_kept": float((outcomes["units"] > 0).mean()),
        "accuracy": float((pred.merge(matched, on="unit_id")["domain"]
                           == pred.merge(matched, on="unit_id")["label"]).mean()),
    }  # fmt: skip
    rows = []
    for basis in bases:
        tr = truth(ids, par, outcomes, basis, n_mc=n_mc)
        done: dict[str, pd.DataFrame] = {}
        for est in estimators:
            if est in done:
                rows.append(done[est].assign(condition=est))
                continue
            p = write_params(root, analyse={
                "n_boot": n_boot, "bases": [basis], "estimator": est, "distinctive_by": [],
                "me_replicates": me_replicates,
            })  # fmt: skip
            s = run_analysis(load_params(p), echo=None)
            chosen = str(s["estimator"][basis])
            sc = score(read_table(s["written"]["multilevel"]), tr).assign(
                basis=basis, estimator=chosen, rep=seed
            )
            done.setdefault(chosen, sc)
            rows.append(sc.assign(condition=est))
    return pd.concat(rows, ignore_index=True), facts
