"""Figures of the distribution and emphasis of work domains (from `research analyse` tables).

Registered figures (each saved as PDF, SVG, 300-dpi PNG + the CSV behind it):
``domain_shares`` (stacked shares per document, by province and year), ``province_heatmap``,
``year_trends`` (with confidence bands), ``emphasis`` (emphasis-index dot plot with
intervals), ``distinctive_terms`` (log-odds z-scores per province), ``share_adjustment``
(naive vs misclassification-adjusted share error on the seeds).
"""

from __future__ import annotations

from pathlib import Path

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
    save_figure,
)

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

TEXT = {
    "share_units": {"en": "Share of body paragraphs", "zh": "正文段落占比"},
    "share_chars": {"en": "Share of body characters", "zh": "正文字数占比"},
    "mean_share": {"en": "Mean share of body paragraphs", "zh": "正文段落平均占比"},
    "domain": {"en": "Work domain", "zh": "工作领域"},
    "province": {"en": "Province", "zh": "省份"},
    "year": {"en": "Year", "zh": "年份"},
    "emphasis": {
        "en": "Emphasis index (document share / corpus mean)",
        "zh": "强调指数（文件占比 / 语料平均）",
    },
    "z": {"en": "Log-odds z-score (vs. other provinces)", "zh": "对数几率 z 值（相对其他省份）"},
    "mae": {"en": "Mean absolute share\nerror vs. gold", "zh": "与人工标注占比的\n平均绝对误差"},
    "mean_share_short": {"en": "Mean share", "zh": "平均占比"},
    "method": {"en": "Estimator", "zh": "估计方法"},
    "source": {
        "gold": {"en": "gold labels", "zh": "人工标注"},
        "classifier": {"en": "classifier", "zh": "分类器"},
        "classifier_acc": {"en": "classifier, ACC-adjusted", "zh": "分类器（ACC校正）"},
        "classifier_pacc": {"en": "classifier, PACC-adjusted", "zh": "分类器（PACC校正）"},
        "seeded_lda": {"en": "seeded LDA", "zh": "种子LDA"},
    },
    "methods": {
        "cc": {"en": "Classify & count", "zh": "分类计数"},
        "pcc": {"en": "Probabilistic CC", "zh": "概率分类计数"},
        "acc": {"en": "Adjusted CC", "zh": "校正分类计数"},
        "pacc": {"en": "Probabilistic ACC", "zh": "概率校正分类计数"},
    },
}


def t(key: str, language: str) -> str:
    """Label text in the figure language."""
    return TEXT[key][language]


def source_label(source: str, language: str) -> str:
    return TEXT["source"].get(source, {}).get(language, source)


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


def _pick_source(df: pd.DataFrame, params: dict) -> str:
    """The figure's source: figures.source if set, else the analyse priority (gold first)."""
    want = settings_of(params).figures.source
    have = set(df["source"])
    if want not in (None, "auto"):
        if want not in have:
            raise SkipFigure(f"source {want!r} not in the table (have {sorted(have)})")
        return want
    order = settings_of(params).analyse.primary_sources
    for s in order:
        if s in have:
            return s
    return sorted(have)[0]


def _save(fig, data, out_dir, name, fig_p) -> list[Path]:
    return save_figure(
        fig,
        data,
        out_dir,
        name,
        tuple(fig_p.formats),
        fig_p.dpi,
    )


def _legend_below(fig, ax, handles, labels, ncol: int = 2) -> None:
    fig.legend(
        handles, labels, loc="outside lower center", ncol=ncol, frameon=False, columnspacing=1.0
    )


def _source_rows(
    reports_dir: Path, name: str, params: dict, variable: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Rows of a shares-like table for the figure's source, unit basis (and one grouping),
    and that source's name."""
    df = _table(reports_dir, name)
    source = _pick_source(df, params)
    keep = (df["source"] == source) & (df["basis"] == "units")
    if variable is not None:
        keep &= df["variable"] == variable
    return df[keep].copy(), source


def _sort_docs(df: pd.DataFrame) -> list[str]:
    cols = [c for c in ("province", "year", "doc_id") if c in df]
    d = df.drop_duplicates("doc_id").sort_values(cols, kind="mergesort")
    return d["doc_id"].tolist()


@register_figure("domain_shares", requires=["tables/shares.csv"])
def domain_shares(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Stacked domain shares per document, ordered by province then year (top to bottom)."""
    fig_p, ids, cb = _context(params)
    d, source = _source_rows(reports_dir, "shares.csv", params)
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
        doc_label(
            meta.loc[dd].assign(doc_id=dd)
            if False
            else pd.Series({**meta.loc[dd].to_dict(), "doc_id": dd}),
            language,
        )
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
    ax.set_xlabel(f"{t('share_units', language)} ({source_label(source, language)})")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _legend_below(fig, ax, handles, [category_label(c, language, cb) for c in ids], ncol=2)
    data = d.assign(doc_order=d["doc_id"].map({dd: i for i, dd in enumerate(docs)}))
    data = data.sort_values(["doc_order", "domain"], kind="mergesort")
    return _save(fig, data, out_dir, "domain_shares", fig_p)


@register_figure("province_heatmap", requires=["tables/group_shares.csv"])
def province_heatmap(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Province × domain mean share (documents averaged within province)."""
    fig_p, ids, cb = _context(params)
    d, source = _source_rows(reports_dir, "group_shares.csv", params, variable="province")
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
    cbar.set_label(f"{t('mean_share_short', language)} ({source_label(source, language)})")
    cbar.outline.set_visible(False)
    data = d.assign(group=d["group"].astype(str)).sort_values(["group", "domain"], kind="mergesort")
    return _save(fig, data, out_dir, "province_heatmap", fig_p)


@register_figure("year_trends", requires=["tables/group_shares.csv"])
def year_trends(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Mean domain share by year with bootstrap confidence bands (documents resampled)."""
    fig_p, ids, cb = _context(params)
    d, source = _source_rows(reports_dir, "group_shares.csv", params, variable="year")
    d["year"] = pd.to_numeric(d["group"], errors="coerce")
    d = d.dropna(subset=["year"])
    if d["year"].nunique() < 2:
        raise SkipFigure("fewer than two years")
    colors = domain_colors(ids)
    width = fig_p.width_in
    fig, ax = plt.subplots(figsize=(width, width * 0.8))
    handles = []
    for cid in ids:
        s = d[d["domain"] == cid].sort_values("year")
        x = s["year"].to_numpy()
        (h,) = ax.plot(x, s["mean_share"], marker="o", color=colors[cid], markersize=3)
        handles.append(h)
        lo, hi = s["ci_low"].to_numpy(dtype=float), s["ci_high"].to_numpy(dtype=float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.all():  # a band where every year has an interval ...
            ax.fill_between(x, lo, hi, color=colors[cid], alpha=0.15, linewidth=0)
        elif ok.any():  # ... else intervals only where they exist (no band through gaps)
            dx = (ids.index(cid) - (len(ids) - 1) / 2) * 0.06
            m = s["mean_share"].to_numpy(dtype=float)
            ax.errorbar(
                x[ok] + dx,
                m[ok],
                yerr=[m[ok] - lo[ok], hi[ok] - m[ok]],
                fmt="none",
                ecolor=colors[cid],
                elinewidth=0.8,
                capsize=0,
            )
    years = sorted(d["year"].unique())
    ax.set_xticks(years, [str(int(y)) for y in years])
    ax.set_xlabel(t("year", language))
    ax.set_ylabel(f"{t('mean_share', language)}\n({source_label(source, language)})")
    ax.set_ylim(bottom=0)
    nd = d.drop_duplicates("year").set_index("year")["n_docs"]
    if (nd < 2).any():
        msg = (
            "intervals only for years with ≥ 2 documents"
            if language == "en"
            else "仅对有≥2篇文件的年份显示置信区间"
        )
        ax.text(
            0.01,
            0.99,
            msg,
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=plt.rcParams["legend.fontsize"] - 0.5,
            color="#555555",
        )
    _legend_below(fig, ax, handles, [category_label(c, language, cb) for c in ids], ncol=2)
    data = d.drop(columns=["year"]).sort_values(["group", "domain"], kind="mergesort")
    return _save(fig, data, out_dir, "year_trends", fig_p)


@register_figure("emphasis", requires=["tables/emphasis.csv"])
def emphasis(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Emphasis index per document and domain with bootstrap intervals (one panel per domain)."""
    fig_p, ids, cb = _context(params)
    d, source = _source_rows(reports_dir, "emphasis.csv", params)
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
    fig.supxlabel(f"{t('emphasis', language)}", fontsize=plt.rcParams["axes.labelsize"])
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
        ax.barh(yy, s["z"], color="#0072B2", height=0.7)
        ax.set_yticks(yy, s["term"].tolist())
        ax.tick_params(axis="y", length=0)
        ax.set_title(province_label(g, language), fontsize=plt.rcParams["axes.labelsize"], pad=2)
        ax.axvline(1.96, color="#888888", linestyle="--", linewidth=0.6)
        ax.set_xlim(0, xmax)
    for ax in axes[len(groups) :]:
        ax.set_visible(False)
    fig.supxlabel(t("z", language), fontsize=plt.rcParams["axes.labelsize"])
    data = d.sort_values(["group", "rank"], kind="mergesort")
    return _save(fig, data, out_dir, "distinctive_terms", fig_p)


@register_figure("share_adjustment", requires=["tables/adjusted_eval.csv"])
def share_adjustment(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Share error vs gold on the seeds: naive (CC, PCC) and adjusted (ACC, PACC), per domain."""
    fig_p, ids, cb = _context(params)
    df = _table(reports_dir, "adjusted_eval.csv")
    d = df[df["basis"] == "units"].copy()
    d["abs_error"] = d["error"].abs()
    methods = [m for m in ("cc", "pcc", "acc", "pacc") if m in set(d["method"])]
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
    ax.set_xlabel(t("method", language))
    ax.set_ylabel(t("mae", language))
    labels = [category_label(c, language, cb) for c in ids] + [
        "All domains" if language == "en" else "全部领域"
    ]
    _legend_below(fig, ax, handles + [mark], labels, ncol=2)
    data = agg.assign(overall=agg["method"].map(dict(zip(methods, overall))))
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
