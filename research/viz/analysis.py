"""Figures of the distribution and emphasis of work domains (from `research analyse` tables).

Registered figures (each saved as PDF, SVG, 300-dpi PNG + the CSV behind it):
``domain_shares`` (stacked shares per document, by province and year), ``province_heatmap``,
``year_trends`` (document points, the multilevel model's year smooth with its band — else a
LOWESS —, yearly means with document-level intervals, reform and congress markers),
``province_trends`` (small multiples by province, a point per report), ``province_tiles`` (tile-grid map of shares with n),
``emphasis`` (leave-one-out emphasis with intervals), ``distinctive_terms`` (log-odds per
province), ``share_adjustment`` (held-out error of the share estimators).

Every figure reads the per-unit-source tables (``documents.csv`` and what derives from it),
labels its basis (characters or units), shows n, and says in a note when it mixes gold
labels (made by language-model annotators) with classifier predictions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from research.settings import FiguresSettings, settings_of
from research.viz.registry import SkipFigure, read_input_table, register_figure
from research.viz.style import (
    SEQUENTIAL_CMAP,
    category_label,
    domain_colors,
    load_project_codebook,
    save_with,
)

#: Years marked on time axes: the 2016 federation reform and Party congresses.
EVENTS = {2012: ("18th Congress", "十八大"), 2016: ("reform", "妇联改革"),
          2017: ("19th Congress", "十九大"), 2022: ("20th Congress", "二十大")}  # fmt: skip

#: ISO 3166-2:CN codes, the English tile labels.
PROVINCE_CODE = {
    "北京": "BJ", "天津": "TJ", "河北": "HE", "山西": "SX", "内蒙古": "NM", "辽宁": "LN",
    "吉林": "JL", "黑龙江": "HL", "上海": "SH", "江苏": "JS", "浙江": "ZJ", "安徽": "AH",
    "福建": "FJ", "江西": "JX", "山东": "SD", "河南": "HA", "湖北": "HB", "湖南": "HN",
    "广东": "GD", "广西": "GX", "海南": "HI", "重庆": "CQ", "四川": "SC", "贵州": "GZ",
    "云南": "YN", "西藏": "XZ", "陕西": "SN", "甘肃": "GS", "青海": "QH", "宁夏": "NX",
    "新疆": "XJ", "香港": "HK", "澳门": "MO", "台湾": "TW",
}  # fmt: skip

#: Tile-grid positions (row, column) of the provincial-level units, roughly geographic.
TILES = {
    "黑龙江": (0, 7), "新疆": (1, 0), "内蒙古": (1, 4), "北京": (1, 5), "辽宁": (1, 6),
    "吉林": (1, 7), "甘肃": (2, 2), "宁夏": (2, 3), "山西": (2, 4), "河北": (2, 5),
    "天津": (2, 6), "西藏": (3, 0), "青海": (3, 1), "陕西": (3, 3), "河南": (3, 4),
    "山东": (3, 5), "四川": (4, 2), "重庆": (4, 3), "湖北": (4, 4), "安徽": (4, 5),
    "江苏": (4, 6), "云南": (5, 2), "贵州": (5, 3), "湖南": (5, 4), "江西": (5, 5),
    "浙江": (5, 6), "上海": (5, 7), "广西": (6, 3), "广东": (6, 4), "福建": (6, 5),
    "台湾": (6, 7), "海南": (7, 4), "香港": (7, 5), "澳门": (7, 3),
}  # fmt: skip

#: Province names in pinyin for English labels (provincial-level units of the PRC).
PROVINCE_EN = {
    "北京": "Beijing",
    "天津": "Tianjin",
    "河北": "Hebei",
    "山西": "Shanxi",
    "内蒙古": "Inner Mongolia",
    "辽宁": "Liaoning",
    "吉林": "Jilin",
    "黑龙江": "Heilongjiang",
    "上海": "Shanghai",
    "江苏": "Jiangsu",
    "浙江": "Zhejiang",
    "安徽": "Anhui",
    "福建": "Fujian",
    "江西": "Jiangxi",
    "山东": "Shandong",
    "河南": "Henan",
    "湖北": "Hubei",
    "湖南": "Hunan",
    "广东": "Guangdong",
    "广西": "Guangxi",
    "海南": "Hainan",
    "重庆": "Chongqing",
    "四川": "Sichuan",
    "贵州": "Guizhou",
    "云南": "Yunnan",
    "西藏": "Tibet",
    "陕西": "Shaanxi",
    "甘肃": "Gansu",
    "青海": "Qinghai",
    "宁夏": "Ningxia",
    "新疆": "Xinjiang",
    "香港": "Hong Kong",
    "澳门": "Macao",
    "台湾": "Taiwan",
}

TEXT: dict[str, dict[str, Any]] = {  # key → language → text, or group → key → language → text
    "share_units": {"en": "Share of body paragraphs", "zh": "正文段落占比"},
    "share_chars": {"en": "Share of body characters", "zh": "正文字数占比"},
    "mean_share_units": {"en": "Mean share of body paragraphs", "zh": "正文段落平均占比"},
    "mean_share_chars": {"en": "Mean share of body characters", "zh": "正文字数平均占比"},
    "domain": {"en": "Work domain", "zh": "工作领域"},
    "province": {"en": "Province", "zh": "省份"},
    "year": {"en": "Year", "zh": "年份"},
    "emphasis": {
        "en": "Emphasis (share / mean of the other reports)",
        "zh": "强调指数（文件占比 / 其他文件平均）",
    },
    "z": {"en": "Log-odds z-score (vs. other provinces)", "zh": "对数几率 z 值（相对其他省份）"},
    "mae": {
        "en": "Held-out mean absolute\nshare error vs. gold",
        "zh": "与金标准占比的\n留出平均绝对误差",
    },
    "mean_share_short": {"en": "Mean share", "zh": "平均占比"},
    "method": {"en": "Estimator", "zh": "估计方法"},
    "methods": {
        "cc": {"en": "Classify & count", "zh": "分类计数"},
        "pcc": {"en": "Probabilistic CC", "zh": "概率分类计数"},
        "acc": {"en": "Adjusted CC", "zh": "校正分类计数"},
        "pacc": {"en": "Probabilistic ACC", "zh": "概率校正分类计数"},
        "em": {"en": "EM (Saerens)", "zh": "EM 先验校正"},
        "ppi": {"en": "Prediction-powered", "zh": "预测驱动校正"},
    },
}


def t(key: str, language: str) -> str:
    """Label text in the figure language."""
    return TEXT[key][language]


def province_label(p: object, language: str) -> str:
    s = "NA" if p is None or (isinstance(p, float) and np.isnan(p)) else str(p)
    return PROVINCE_EN.get(s, s) if language == "en" else s


def doc_label(row: pd.Series, language: str) -> str:
    """Short document label: doc_id in English; place + year in Chinese."""
    if (
        language == "zh"
        and "place" in row
        and isinstance(row.get("place"), str)
        and row.get("place")
    ):
        year = row.get("year")
        return f"{row['place']} {int(year)}" if pd.notna(year) else str(row["place"])
    return str(row["doc_id"])


_table = read_input_table


def _context(params: dict) -> tuple[FiguresSettings, list[str], object]:
    fig_p = settings_of(params).figures
    cb = load_project_codebook(settings_of(params).paths.codebook)
    ids = (
        list(cb.ids)
        if cb is not None
        else ["ideology", "employment", "rights", "family", "organization", "other"]
    )
    return fig_p, ids, cb


def _basis(params: dict) -> str:
    """The primary basis: the first of ``analyse.bases`` (characters by default)."""
    return str(settings_of(params).analyse.bases[0])


def mix_note(sources: pd.Series, estimator: str | None, language: str) -> str:
    """A caption line saying which label sources a figure mixes ('' when all gold)."""
    kinds = set(sources.dropna().astype(str)) - {"none"}
    est = (estimator or "").upper()
    if kinds <= {"gold"}:
        return (
            "gold labels by language-model annotators"
            if language == "en"
            else "金标准由语言模型标注"
        )
    if language == "en":
        return (f"mixes sources: gold labels (language-model annotators) where labelled, "
                f"else classifier ({est})") if kinds != {"predicted"} else f"classifier ({est})"  # fmt: skip
    return (f"混合来源：有标注处用金标准（语言模型标注），其余用分类器（{est}）"
            if kinds != {"predicted"} else f"分类器（{est}）")  # fmt: skip


def _note(fig, text: str) -> None:
    """A small grey caption line above the panels (layout engines keep room for it)."""
    if text:
        import textwrap

        cjk = any("\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for ch in text)
        width = int(fig.get_figwidth() * (12 if cjk else 22))  # CJK glyphs are twice as wide
        fig.suptitle("\n".join(textwrap.wrap(text, width)), x=0.01, ha="left", fontsize=5.5,
                     color="#555555")  # fmt: skip


_save = save_with


def _legend_below(fig, ax, handles, labels, ncol: int = 2) -> None:
    fig.legend(
        handles, labels, loc="outside lower center", ncol=ncol, frameon=False, columnspacing=1.0
    )


def _basis_rows(
    reports_dir: Path, name: str, params: dict, variable: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Rows of a table for the primary basis (and one grouping variable), and the basis."""
    df = _table(reports_dir, name)
    basis = _basis(params)
    if basis not in set(df["basis"]):
        basis = sorted(set(df["basis"]))[0]
    keep = df["basis"] == basis
    if variable is not None:
        keep &= df["variable"] == variable
    return df[keep].copy(), basis


def _estimator(reports_dir: Path, basis: str) -> str | None:
    import json

    path = Path(reports_dir) / "metrics" / "analysis.json"
    if not path.exists():
        return None
    est = json.loads(path.read_text(encoding="utf-8")).get("estimator") or {}
    return est.get(basis)


def _sort_docs(df: pd.DataFrame) -> list[str]:
    cols = [c for c in ("province", "year", "doc_id") if c in df]
    d = df.drop_duplicates("doc_id").sort_values(cols, kind="mergesort")
    return d["doc_id"].tolist()


@register_figure("domain_shares", requires=["tables/documents.csv"])
def domain_shares(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Stacked domain shares per document, ordered by province then year (top to bottom);
    each label carries the document's number of body units."""
    fig_p, ids, cb = _context(params)
    d, basis = _basis_rows(reports_dir, "documents.csv", params)
    d = d.rename(columns={"estimate": "share"})
    docs = _sort_docs(d)
    meta = d.drop_duplicates("doc_id").set_index("doc_id")
    colors = domain_colors(ids)
    width = fig_p.width_in
    n = len(docs)
    fig, ax = plt.subplots(figsize=(width, min(1.6 + 0.24 * n, 9.0)))
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    handles = []
    wide = (
        d.pivot_table(index="doc_id", columns="domain", values="share", aggfunc="first")
        .reindex(index=docs, columns=ids)
        .fillna(0)
    )
    for cid in ids:
        vals = wide[cid].to_numpy()
        h = ax.barh(
            y, vals, left=left, color=colors[cid], height=0.75, edgecolor="white", linewidth=0.4
        )
        handles.append(h)
        left += vals
    labels = [
        f"{doc_label(pd.Series({**meta.loc[dd].to_dict(), 'doc_id': dd}), language)} "
        f"(n={int(meta.loc[dd, 'n_units'])})"
        for dd in docs
    ]
    ax.set_yticks(y, labels if n <= 60 else [""] * n)
    # province separators and labels on the right
    if "province" in meta:
        prov = [meta.loc[dd, "province"] for dd in docs]
        for i in range(1, n):
            if prov[i] != prov[i - 1]:
                ax.axhline(y[i] + 0.5, color="black", linewidth=0.6)
        start = 0
        for i in range(1, n + 1):
            if i == n or prov[i] != prov[start]:
                ax.text(
                    1.02,
                    (y[start] + y[i - 1]) / 2,
                    province_label(prov[start], language),
                    transform=ax.get_yaxis_transform(),
                    va="center",
                    ha="left",
                    fontsize=plt.rcParams["xtick.labelsize"],
                    rotation=0,
                )
                start = i
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(t(f"share_{basis}", language))
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _legend_below(fig, ax, handles, [category_label(c, language, cb) for c in ids], ncol=2)
    _note(fig, mix_note(meta["source"], _estimator(reports_dir, basis), language))
    data = d.assign(doc_order=d["doc_id"].map({dd: i for i, dd in enumerate(docs)}))
    data = data.sort_values(["doc_order", "domain"], kind="mergesort")
    return _save(fig, data, out_dir, "domain_shares", fig_p)


@register_figure("province_heatmap", requires=["tables/group_shares.csv"])
def province_heatmap(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Province × domain mean share (documents averaged within province)."""
    fig_p, ids, cb = _context(params)
    d, basis = _basis_rows(reports_dir, "group_shares.csv", params, variable="province")
    if d.empty:
        raise SkipFigure("no province groups in group_shares.csv")
    provs = sorted(d["group"].astype(str).unique())
    M = d.pivot_table(
        index="group", columns="domain", values="mean_share", aggfunc="first"
    ).reindex(index=provs, columns=ids)
    ndocs = d.drop_duplicates("group").set_index("group")["n_docs"].reindex(provs)
    width = fig_p.width_in
    fig, ax = plt.subplots(figsize=(width, min(1.4 + 0.32 * len(provs), 9.0)))
    vmax = max(0.05, float(np.nanmax(M.to_numpy())))
    im = ax.imshow(M.to_numpy(), cmap=SEQUENTIAL_CMAP, vmin=0, vmax=vmax, aspect="auto")
    for i in range(M.shape[0]):
        for j in range(M.shape[1]):
            v = M.iat[i, j]
            if np.isfinite(v) and len(provs) <= 40:
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=plt.rcParams["xtick.labelsize"] - 1,
                    color="white" if v < 0.55 * vmax else "black",
                )
    ax.set_xticks(
        range(len(ids)),
        [category_label(c, language, cb) for c in ids],
        rotation=35,
        ha="right",
        rotation_mode="anchor",
    )
    nlab = "n" if language == "en" else "篇"
    ax.set_yticks(
        range(len(provs)),
        [f"{province_label(p, language)} ({nlab}={int(ndocs[p])})" for p in provs],
    )
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    cbar = fig.colorbar(im, ax=ax, shrink=0.9, pad=0.02)
    cbar.set_label(t(f"mean_share_{basis}", language))
    cbar.outline.set_visible(False)
    _note(fig, mix_note(d["source"], _estimator(reports_dir, basis), language))
    data = d.assign(group=d["group"].astype(str)).sort_values(["group", "domain"], kind="mergesort")
    return _save(fig, data, out_dir, "province_heatmap", fig_p)


def _lowess(x: np.ndarray, y: np.ndarray, frac: float = 0.8) -> np.ndarray | None:
    """LOWESS smooth (statsmodels) of y on x, sorted by x; None with too few points."""
    if len(x) < 5 or len(np.unique(x)) < 3:
        return None
    from statsmodels.nonparametric.smoothers_lowess import lowess

    return lowess(y, x, frac=frac, it=1, return_sorted=True)


@register_figure("year_trends", requires=["tables/documents.csv"])
def year_trends(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """One panel per domain: every report as a point at its year, the multilevel model's
    year smooth with its 95% band (``multilevel_year.csv``; a LOWESS across reports when the
    model was not fitted), and yearly means over the years each report covers (period weights) with
    document-level intervals where there are enough reports; n per year on the axis;
    the 2016 federation reform and Party congresses marked. No line joins two places."""
    fig_p, ids, cb = _context(params)
    d, basis = _basis_rows(reports_dir, "documents.csv", params)
    d["year"] = pd.to_numeric(d.get("year"), errors="coerce")
    d = d.dropna(subset=["year"])
    if d["year"].nunique() < 2:
        raise SkipFigure("fewer than two years")
    try:
        g, _ = _basis_rows(reports_dir, "group_shares.csv", params, variable="year_covered")
        g["year"] = pd.to_numeric(g["group"], errors="coerce")
    except SkipFigure:
        g = pd.DataFrame(columns=["year", "domain", "mean_share", "ci_low", "ci_high"])
    model = _model_curves(reports_dir, basis)
    colors = domain_colors(ids)
    width = fig_p.width_in
    ncols = 2
    nrows = int(np.ceil(len(ids) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, 0.9 + 1.35 * nrows), sharex=True, sharey=True,
        squeeze=False,
    )  # fmt: skip
    axes = axes.ravel()
    y0, y1 = int(d["year"].min()), int(d["year"].max())
    smooth_rows = []
    for k, cid in enumerate(ids):
        ax = axes[k]
        s = d[d["domain"] == cid]
        x, y = s["year"].to_numpy(float), s["estimate"].to_numpy(float)
        ax.plot(x, y, "o", color=colors[cid], alpha=0.45, markersize=2.2, markeredgewidth=0)
        mc = model[model["domain"] == cid]
        if len(mc):
            if mc["ci_low"].notna().all():
                ax.fill_between(mc["year"], mc["ci_low"], mc["ci_high"], color=colors[cid],
                                alpha=0.18, linewidth=0)  # fmt: skip
            ax.plot(mc["year"], mc["estimate"], color=colors[cid], linewidth=1.2)
        else:
            sm = _lowess(x, y)
            if sm is not None:
                ax.plot(sm[:, 0], sm[:, 1], color=colors[cid], linewidth=1.2)
                smooth_rows += [(cid, float(a), float(b)) for a, b in sm]
        gg = g[g["domain"] == cid].dropna(subset=["year"])
        ok = gg["ci_low"].notna() & gg["ci_high"].notna()
        m = gg["mean_share"].to_numpy(float)
        if ok.any():
            ax.errorbar(
                gg["year"][ok], m[ok.to_numpy()],
                yerr=[m[ok.to_numpy()] - gg["ci_low"][ok], gg["ci_high"][ok] - m[ok.to_numpy()]],
                fmt="s", color="black", markersize=2, elinewidth=0.6, capsize=0,
            )  # fmt: skip
        for yr in EVENTS:
            if y0 - 1 <= yr <= y1 + 1:
                ax.axvline(yr, color="#BBBBBB", linestyle=":", linewidth=0.6, zorder=0)
        ax.set_title(category_label(cid, language, cb), fontsize=plt.rcParams["axes.labelsize"],
                     pad=2)  # fmt: skip
        ax.set_ylim(0, 1)
    for ax in axes[len(ids) :]:
        ax.set_visible(False)
    lang = 0 if language == "en" else 1
    for yr, names in EVENTS.items():
        if y0 - 1 <= yr <= y1 + 1:
            axes[0].text(yr, 0.98, names[lang], rotation=90, va="top", ha="right",
                         fontsize=4.5, color="#777777")  # fmt: skip
    n_year = d.drop_duplicates("doc_id").groupby("year").size()
    years = list(range(y0, y1 + 1))
    step = max(1, int(np.ceil(len(years) / 6)))
    ticks = years[::step]
    for ax in axes[max(0, len(ids) - ncols) : len(ids)]:
        ax.set_xticks(ticks, [f"{yr}\nn={int(n_year.get(yr, 0))}" for yr in ticks])
        ax.tick_params(axis="x", labelsize=5.5)
    fig.supylabel(t(f"share_{basis}", language), fontsize=plt.rcParams["axes.labelsize"])
    note = mix_note(d.drop_duplicates("doc_id")["source"], _estimator(reports_dir, basis), language)
    if len(model):
        note += (
            "; points = reports, line and band = multilevel model's year smooth ± 95% CI, "
            "squares = yearly means (period-weighted) ± 95% CI"
            if language == "en"
            else "；点＝文件，线与带＝多层模型的年份平滑±95%区间，方块＝年度均值（按覆盖年份加权）±95%区间"
        )
    else:
        note += (
            "; points = reports, line = LOWESS, squares = yearly means (period-weighted) ± 95% CI"
            if language == "en"
            else "；点＝文件，线＝LOWESS，方块＝年度均值（按覆盖年份加权）±95%区间"
        )
    _note(fig, note)
    data = pd.concat([
        d[["doc_id", "domain", "year", "estimate", "source"]].assign(layer="report"),
        pd.DataFrame(smooth_rows, columns=["domain", "year", "estimate"]).assign(layer="lowess"),
        model.assign(layer="multilevel_smooth"),
        gg_all(g),
    ], ignore_index=True)  # fmt: skip
    data["basis"] = basis
    return _save(fig, data, out_dir, "year_trends", fig_p)


def _model_curves(reports_dir: Path, basis: str) -> pd.DataFrame:
    """The multilevel model's fitted year curves of ``basis`` (empty when the model was not
    fitted): domain, year, estimate, ci_low, ci_high."""
    cols = ["domain", "year", "estimate", "ci_low", "ci_high"]
    path = Path(reports_dir) / "tables" / "multilevel_year.csv"
    if not path.exists() or not path.stat().st_size:
        return pd.DataFrame(columns=cols)
    m = pd.read_csv(path)
    if m.empty or "basis" not in m:
        return pd.DataFrame(columns=cols)
    return m.loc[m["basis"] == basis, cols].sort_values(["domain", "year"], kind="mergesort")


@register_figure("province_trends", requires=["tables/documents.csv"])
def province_trends(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Small multiples by province: each report a point per domain at its year, a thin line
    only between reports of the same place; provinces with reports in two or more years;
    n reports per panel."""
    fig_p, ids, cb = _context(params)
    d, basis = _basis_rows(reports_dir, "documents.csv", params)
    d["year"] = pd.to_numeric(d.get("year"), errors="coerce")
    d = d.dropna(subset=["year"])
    if "province" not in d:
        raise SkipFigure("no province column in documents.csv")
    d = d[d["province"].notna()]
    n_years = d.groupby("province")["year"].nunique()
    provs = sorted(n_years[n_years >= 2].index.astype(str))
    if not provs:
        raise SkipFigure("no province has reports from two or more years")
    d = d[d["province"].astype(str).isin(provs)].copy()
    place = d["place"].fillna(d["province"]).astype(str) if "place" in d else d["province"]
    d["place_key"] = place
    colors = domain_colors(ids)
    ncols = min(4, len(provs))
    nrows = int(np.ceil(len(provs) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(fig_p.width_in, min(1.0 + 1.15 * nrows, 9.5)), sharex=True,
        sharey=True, squeeze=False,
    )  # fmt: skip
    axes = axes.ravel()
    y0, y1 = int(d["year"].min()), int(d["year"].max())
    nlab = "n" if language == "en" else "篇"
    for ax, prov in zip(axes, provs):
        s = d[d["province"].astype(str) == prov]
        for cid in ids:
            sc = s[s["domain"] == cid].sort_values("year")
            for _, same in sc.groupby("place_key"):
                if same["year"].nunique() >= 2:  # one place over time: a line may join it
                    ax.plot(same["year"], same["estimate"], color=colors[cid], linewidth=0.5,
                            alpha=0.6)  # fmt: skip
            ax.plot(sc["year"], sc["estimate"], "o", color=colors[cid], markersize=2.2,
                    markeredgewidth=0, alpha=0.85)  # fmt: skip
        for yr in EVENTS:
            if y0 - 1 <= yr <= y1 + 1:
                ax.axvline(yr, color="#BBBBBB", linestyle=":", linewidth=0.5, zorder=0)
        ax.set_title(f"{province_label(prov, language)} ({nlab}={s['doc_id'].nunique()})",
                     fontsize=plt.rcParams["xtick.labelsize"], pad=2)  # fmt: skip
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=5)
    for ax in axes[len(provs) :]:
        ax.set_visible(False)
    if y1 > y0:
        step = max(1, int(np.ceil((y1 - y0 + 1) / 3)))
        axes[0].set_xticks(list(range(y0, y1 + 1, step)))
        for ax in axes:
            ax.tick_params(axis="x", labelsize=4.5)
    fig.supylabel(t(f"share_{basis}", language), fontsize=plt.rcParams["axes.labelsize"])
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=colors[c], markersize=4)
               for c in ids]  # fmt: skip
    _legend_below(fig, axes[0], handles, [category_label(c, language, cb) for c in ids], ncol=3)
    note = mix_note(d.drop_duplicates("doc_id")["source"], _estimator(reports_dir, basis), language)
    note += (
        "; points = reports; lines join reports of the same place only; provinces with "
        "reports in ≥ 2 years"
        if language == "en"
        else "；点＝文件；线只连接同一地方的文件；仅列出至少有两个年份文件的省份"
    )
    _note(fig, note)
    cols = ["province", "place", "doc_id", "year", "domain", "estimate", "ci_low", "ci_high",
            "source"]  # fmt: skip
    data = d[[c for c in cols if c in d]].assign(basis=basis)
    data = data.sort_values(["province", "year", "doc_id", "domain"], kind="mergesort")
    return _save(fig, data, out_dir, "province_trends", fig_p)


def gg_all(g: pd.DataFrame) -> pd.DataFrame:
    """Yearly means rows of the trend figure's data table."""
    cols = ["domain", "year", "mean_share", "ci_low", "ci_high", "n_docs"]
    out = g[[c for c in cols if c in g]].rename(columns={"mean_share": "estimate"})
    return out.assign(layer="yearly_mean")


@register_figure("province_tiles", requires=["tables/group_shares.csv"])
def province_tiles(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Tile-grid maps, one per domain: each province's mean share (colour) and its
    emphasis (share / mean of the other provinces, printed) with n reports; provinces
    without reports stay grey."""
    fig_p, ids, cb = _context(params)
    d, basis = _basis_rows(reports_dir, "group_shares.csv", params, variable="province")
    if d.empty:
        raise SkipFigure("no province groups in group_shares.csv")
    M = d.pivot_table(index="group", columns="domain", values="mean_share", aggfunc="first")
    M = M.reindex(columns=ids)
    n = d.drop_duplicates("group").set_index("group")["n_docs"]
    tot = M.sum(axis=0)
    other = (tot - M) / max(len(M) - 1, 1)
    E = M / other.where(other > 0)
    width = fig_p.width_in
    ncols = 2
    nrows = int(np.ceil(len(ids) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 0.8 + 1.45 * nrows), squeeze=False)
    axes = axes.ravel()
    cmap = plt.get_cmap(SEQUENTIAL_CMAP)
    vmax = max(0.05, float(np.nanmax(M.to_numpy())))
    for k, cid in enumerate(ids):
        ax = axes[k]
        for prov, (r, c) in TILES.items():
            have = prov in M.index and np.isfinite(M.loc[prov, cid])
            col = cmap(M.loc[prov, cid] / vmax) if have else "#EEEEEE"
            ax.add_patch(plt.Rectangle((c, -r), 0.95, 0.95, color=col, linewidth=0))
            lab = PROVINCE_CODE.get(prov, prov[:2]) if language == "en" else prov[:2]
            if have:
                v = M.loc[prov, cid] / vmax
                tc = "white" if v < 0.55 else "black"
                ax.text(c + 0.47, -r + 0.66, lab, ha="center", va="center", fontsize=3.6, color=tc)
                e = E.loc[prov, cid]
                es = f"{e:.1f}×" if np.isfinite(e) else "–"
                ax.text(c + 0.47, -r + 0.3, f"{es}\nn={int(n[prov])}",
                        ha="center", va="center", fontsize=3.0, color=tc, linespacing=0.9)  # fmt: skip
            else:
                ax.text(c + 0.47, -r + 0.47, lab, ha="center", va="center", fontsize=3.6,
                        color="#AAAAAA")  # fmt: skip
        ax.set_xlim(-0.1, 8.05)
        ax.set_ylim(-7.1, 1.0)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(category_label(cid, language, cb), fontsize=plt.rcParams["axes.labelsize"],
                     pad=1)  # fmt: skip
    for ax in axes[len(ids) :]:
        ax.set_visible(False)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, vmax))
    cbar = fig.colorbar(sm, ax=axes.tolist(), location="bottom", shrink=0.6, aspect=40)
    cbar.set_label(t(f"mean_share_{basis}", language))
    cbar.outline.set_visible(False)
    note = mix_note(d["source"], _estimator(reports_dir, basis), language)
    note += ("; printed: emphasis (× mean of other provinces) and n reports" if language == "en"
             else "；数字：强调指数（相对其他省份平均）与文件数")  # fmt: skip
    _note(fig, note)
    data = d.assign(emphasis=[E.loc[g_, c_] if g_ in E.index else np.nan
                              for g_, c_ in zip(d["group"], d["domain"])])  # fmt: skip
    data = data.sort_values(["group", "domain"], kind="mergesort")
    return _save(fig, data, out_dir, "province_tiles", fig_p)


@register_figure("emphasis", requires=["tables/emphasis.csv"])
def emphasis(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Leave-one-out emphasis per document and domain with intervals (one panel per domain)."""
    fig_p, ids, cb = _context(params)
    d, basis = _basis_rows(reports_dir, "emphasis.csv", params)
    if "scope" in d:
        d = d[d["scope"] == "all"]
    docs = _sort_docs(d)
    meta = d.drop_duplicates("doc_id").set_index("doc_id")
    colors = domain_colors(ids)
    width = fig_p.width_in
    n = len(docs)
    ncols = 2
    nrows = int(np.ceil(len(ids) / ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width, min(0.9 + nrows * (0.45 + 0.17 * n), 9.5)),
        sharex=True,
        sharey=True,
    )
    axes = np.atleast_1d(axes).ravel()
    y = np.arange(n)[::-1]
    pos = {dd: y[i] for i, dd in enumerate(docs)}
    xmax = float(
        np.nanmax(
            np.r_[d["ci_high"].to_numpy(dtype=float), d["emphasis"].to_numpy(dtype=float), 2.0]
        )
    )
    labels = [
        doc_label(pd.Series({**meta.loc[dd].to_dict(), "doc_id": dd}), language) for dd in docs
    ]
    for k, cid in enumerate(ids):
        ax = axes[k]
        s = d[d["domain"] == cid]
        yy = s["doc_id"].map(pos).to_numpy()
        e = s["emphasis"].to_numpy(dtype=float)
        lo = s["ci_low"].to_numpy(dtype=float)
        hi = s["ci_high"].to_numpy(dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.axvline(1.0, color="#888888", linewidth=0.6, linestyle="--")
        ax.hlines(yy[ok], lo[ok], hi[ok], color=colors[cid], linewidth=1.0)
        ax.plot(
            e,
            yy,
            "o",
            color=colors[cid],
            markersize=3.2,
            markeredgecolor="white",
            markeredgewidth=0.3,
        )
        ax.set_title(
            category_label(cid, language, cb), fontsize=plt.rcParams["axes.labelsize"], pad=2
        )
        ax.set_yticks(y, labels if n <= 40 else [""] * n)
        ax.tick_params(axis="y", length=0)
        ax.set_xlim(0, min(xmax * 1.05, 6.0))
    for ax in axes[len(ids) :]:
        ax.set_visible(False)
    fig.supxlabel(
        f"{t('emphasis', language)}; {t(f'share_{basis}', language)}",
        fontsize=plt.rcParams["axes.labelsize"],
    )
    _note(fig, mix_note(d["source"], _estimator(reports_dir, basis), language))
    cols = [
        "source",
        "basis",
        "doc_id",
        "domain",
        "share",
        "corpus_mean",
        "emphasis",
        "ci_low",
        "ci_high",
        "rank",
        "first_position",
    ]
    data = d[[c for c in cols if c in d]].sort_values(["doc_id", "domain"], kind="mergesort")
    return _save(fig, data, out_dir, "emphasis", fig_p)


@register_figure("distinctive_terms", requires=["tables/distinctive_terms.csv"])
def distinctive_terms(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Most distinctive terms of each province (log-odds z vs the other provinces)."""
    fig_p, ids, cb = _context(params)
    df = _table(reports_dir, "distinctive_terms.csv")
    d = df[df["variable"] == "province"].copy()
    if d.empty:
        raise SkipFigure("no province terms in distinctive_terms.csv")
    top = fig_p.distinctive_top_n
    d = d[d["rank"] <= top]
    groups = sorted(d["group"].astype(str).unique())
    width = fig_p.width_in
    ncols = min(2, len(groups))
    nrows = int(np.ceil(len(groups) / ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, min(0.6 + nrows * (0.35 + 0.16 * top), 9.5)), squeeze=False
    )
    axes = axes.ravel()
    xmax = float(d["z"].max()) * 1.1
    for ax, g in zip(axes, groups):
        s = d[d["group"].astype(str) == g].sort_values("rank")
        yy = np.arange(len(s))[::-1]
        sig = s["significant"].eq("yes") if "significant" in s else pd.Series(False, s.index)
        ax.barh(yy, s["z"], color=np.where(sig, "#0072B2", "#9DBFD9"), height=0.7)
        ax.set_yticks(yy, s["term"].tolist())
        ax.tick_params(axis="y", length=0)
        ax.set_title(province_label(g, language), fontsize=plt.rcParams["axes.labelsize"], pad=2)
        ax.set_xlim(0, xmax)
    for ax in axes[len(groups) :]:
        ax.set_visible(False)
    fig.supxlabel(t("z", language), fontsize=plt.rcParams["axes.labelsize"])
    _note(fig, "dark bars: q < 0.05 (document permutation test, Benjamini–Hochberg); no fixed z line"
          if language == "en" else "深色：q < 0.05（文件置换检验，BH 校正）")  # fmt: skip
    data = d.sort_values(["group", "rank"], kind="mergesort")
    return _save(fig, data, out_dir, "distinctive_terms", fig_p)


@register_figure("share_adjustment", requires=["tables/adjusted_eval.csv"])
def share_adjustment(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Held-out share error vs gold of each estimator (CC, PCC, ACC, PACC, EM, PPI), per
    domain; the lowest overall error picks the pipeline's default estimator."""
    fig_p, ids, cb = _context(params)
    d, basis = _basis_rows(reports_dir, "adjusted_eval.csv", params)
    d["abs_error"] = d["error"].abs()
    order = ("cc", "pcc", "acc", "pacc", "em", "ppi")
    methods = [m for m in order if m in set(d["method"])]
    agg = d.groupby(["method", "domain"], sort=True)["abs_error"].mean().reset_index()
    width = fig_p.width_in
    fig, ax = plt.subplots(figsize=(width, width * 0.75))
    colors = domain_colors(ids)
    bw = 0.8 / len(ids)
    handles = []
    for j, cid in enumerate(ids):
        vals = [
            agg[(agg["method"] == m) & (agg["domain"] == cid)]["abs_error"].mean() for m in methods
        ]
        handles.append(
            ax.bar(
                np.arange(len(methods)) + (j - (len(ids) - 1) / 2) * bw, vals, bw, color=colors[cid]
            )
        )
    overall = [d[d["method"] == m]["abs_error"].mean() for m in methods]
    (mark,) = ax.plot(
        np.arange(len(methods)), overall, "k_", markersize=16, markeredgewidth=1.4, linestyle=""
    )
    ax.set_xticks(range(len(methods)), [m.upper() for m in methods])
    ax.set_xlabel(f"{t('method', language)} (n = {d['doc_id'].nunique()} held-out reports)"
                  if language == "en" else f"{t('method', language)}（留出文件 n = {d['doc_id'].nunique()}）")  # fmt: skip
    ax.set_title(t(f"share_{basis}", language), fontsize=plt.rcParams["axes.labelsize"])
    ax.set_ylabel(t("mae", language))
    labels = [category_label(c, language, cb) for c in ids] + [
        "All domains" if language == "en" else "全部领域"
    ]
    _legend_below(fig, ax, handles + [mark], labels, ncol=2)
    data = agg.assign(overall=agg["method"].map(dict(zip(methods, overall))), basis=basis)
    return _save(fig, data, out_dir, "share_adjustment", fig_p)


@register_figure("campaign_names", requires=["tables/campaign_names.csv"])
def campaign_names(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Which quoted campaign names appear in which reports (by province and year), coloured by
    the domain of the paragraphs they appear in most; names in ≥ 2 reports, most widespread first."""
    fig_p, ids, cb = _context(params)
    df = _table(reports_dir, "campaign_names.csv")
    top = fig_p.campaign_top_n
    per = df.groupby("name")["doc_id"].nunique()
    mentions = df.groupby("name").size()
    names = sorted(per[per >= 2].index, key=lambda n: (-per[n], -mentions[n], n))[:top]
    if not names:
        raise SkipFigure("no campaign name appears in two or more reports")
    d = df[df["name"].isin(names)].copy()
    d["domain"] = d["domain"].fillna("").astype(str)
    docs = _sort_docs(df)
    meta = df.drop_duplicates("doc_id").set_index("doc_id")
    cell = (
        d.groupby(["name", "doc_id"])
        .agg(
            n=("name", "size"), domain=("domain", lambda s: s.value_counts().sort_index().idxmax())
        )
        .reset_index()
    )
    colors = domain_colors(ids)
    width = fig_p.width_in
    fig, ax = plt.subplots(figsize=(width, min(1.6 + 0.2 * len(names), 9.0)))
    xi = {dd: i for i, dd in enumerate(docs)}
    yi = {n: len(names) - 1 - i for i, n in enumerate(names)}
    for r in cell.itertuples():
        ax.scatter(
            xi[r.doc_id],
            yi[r.name],
            s=10 + 8 * min(r.n, 6),
            color=colors.get(r.domain, "#CCCCCC"),
            edgecolor="white",
            linewidth=0.3,
            zorder=3,
        )
    ax.set_yticks(range(len(names)), names[::-1])
    labels = [
        doc_label(pd.Series({**meta.loc[dd].to_dict(), "doc_id": dd}), language) for dd in docs
    ]
    ax.set_xticks(range(len(docs)), labels, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(docs) - 0.4)
    ax.grid(True, axis="both", zorder=0)
    ax.tick_params(length=0)
    present = [c for c in ids if c in set(cell["domain"])]
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colors[c], markersize=4) for c in present
    ]
    _legend_below(fig, ax, handles, [category_label(c, language, cb) for c in present], ncol=2)
    data = cell.assign(
        name_order=cell["name"].map({n: i for i, n in enumerate(names)})
    ).sort_values(["name_order", "doc_id"])
    return _save(fig, data, out_dir, "campaign_names", fig_p)
