"""Figures of the topic models (from `research topics` tables).

Registered figures (each saved as PDF, SVG, 300-dpi PNG + the CSV behind it):

- ``topic_model_selection``: coherence (c_v, c_npmi), held-out perplexity and stability
  (cosine, Jaccard) against K, mean ± s.d. over the seeded runs, the chosen K marked.
- ``topic_terms``: one panel per unseeded topic, its top terms by relevance (λ from the
  table), bar length = the term's probability in the topic.
- ``seeded_topic_terms``: the same for the seeded model, one panel per domain topic in the
  domain's colour (seed terms solid, other terms light) and the free topics in grey.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from research.io import read_table
from research.settings import FiguresSettings, settings_of
from research.viz.registry import SkipFigure, read_input_table, register_figure
from research.viz.style import (
    GREY,
    category_label,
    domain_colors,
    load_project_codebook,
    save_with,
)

N_TERMS = 8

TEXT = {
    "k": {"en": "Number of topics K", "zh": "主题数 K"},
    "c_v": {"en": "Coherence c_v", "zh": "一致性 c_v"},
    "c_npmi": {"en": "Coherence NPMI", "zh": "一致性 NPMI"},
    "perplexity": {"en": "Held-out perplexity", "zh": "留出困惑度"},
    "stability": {"en": "Stability across seeds", "zh": "跨随机种子稳定性"},
    "cosine": {"en": "cosine", "zh": "余弦"},
    "jaccard": {"en": "Jaccard (top terms)", "zh": "Jaccard（高频词）"},
    "chosen": {"en": "chosen K", "zh": "选定 K"},
    "topic": {"en": "Topic {}", "zh": "主题{}"},
    "free": {"en": "Free topic {}", "zh": "自由主题{}"},
    "prob": {"en": "P(term | topic)", "zh": "P(词 | 主题)"},
    "seed": {"en": "seed term", "zh": "种子词"},
    "other_term": {"en": "other term", "zh": "其他词"},
}


def _t(key: str, language: str) -> str:
    return TEXT[key][language]


def _clip(term: str, n: int = 8) -> str:
    """Long terms (e.g. 习近平新时代中国特色社会主义思想) are cut so panels stay aligned."""
    return term if len(term) <= n else term[: n - 1] + "…"


def _fig_params(params: dict) -> FiguresSettings:
    return settings_of(params).figures


_save = save_with


@register_figure("topic_model_selection", requires=["tables/k_sweep.csv"])
def topic_model_selection(
    reports_dir: Path, out_dir: Path, params: dict, language: str
) -> list[Path]:
    """Coherence, perplexity and stability against K (the evidence for choosing K)."""
    fig_p = _fig_params(params)
    df = read_table(Path(reports_dir) / "tables" / "k_sweep.csv").sort_values("k")
    if df.empty:
        raise SkipFigure("k_sweep.csv is empty")
    width = fig_p.width_in
    fig, axes = plt.subplots(2, 2, figsize=(width, width * 0.85), sharex=True)
    k = df["k"].to_numpy()
    chosen = df.loc[df["chosen"].astype(str).str.lower() == "true", "k"].tolist()
    panels = [("c_v", axes[0, 0]), ("c_npmi", axes[0, 1]), ("perplexity", axes[1, 0])]
    for metric, ax in panels:
        y = df[metric].to_numpy(dtype=float)
        sd = df[f"{metric}_sd"].to_numpy(dtype=float) if f"{metric}_sd" in df else np.zeros_like(y)
        sd = np.nan_to_num(sd)
        ax.fill_between(k, y - sd, y + sd, color=GREY, alpha=0.25, linewidth=0)
        ax.plot(k, y, marker="o", color="black")
        ax.set_ylabel(_t(metric, language))
    ax = axes[1, 1]
    ax.plot(k, df["stability_cosine"], marker="o", color="black", label=_t("cosine", language))
    ax.plot(
        k,
        df["stability_jaccard"],
        marker="s",
        color=GREY,
        linestyle="--",
        label=_t("jaccard", language),
    )
    ax.set_ylabel(_t("stability", language))
    ax.set_ylim(0, 1.02)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2)
    for a in axes.ravel():
        for c in chosen:
            a.axvline(c, color="#0072B2", linewidth=0.8, linestyle=":")
        a.set_xticks(k)
    for a in axes[1]:
        a.set_xlabel(_t("k", language))
    if chosen:
        axes[0, 0].text(
            chosen[0],
            axes[0, 0].get_ylim()[1],
            " " + _t("chosen", language),
            color="#0072B2",
            va="top",
            ha="left",
            fontsize=plt.rcParams["legend.fontsize"],
        )
    return _save(fig, df, out_dir, "topic_model_selection", fig_p)


def _term_panels(
    terms: pd.DataFrame,
    topics: list,
    titles: dict,
    colors: dict,
    width: float,
    n_terms: int,
    seed_col: str | None,
    language: str,
):
    """Small multiples of top terms (by relevance) per topic; returns (fig, plotted rows)."""
    ncol = 2 if len(topics) <= 8 else 3
    nrow = math.ceil(len(topics) / ncol)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(width, 0.25 + nrow * (0.16 * n_terms + 0.35)), squeeze=False
    )
    xmax = 0.0
    plotted = []
    for i, topic in enumerate(topics):
        ax = axes[i // ncol, i % ncol]
        g = (
            terms[terms["topic"] == topic]
            .sort_values("rank_relevance", kind="mergesort")
            .head(n_terms)
        )
        plotted.append(g)
        y = np.arange(len(g))[::-1]
        base = colors[topic]
        if seed_col is not None:
            is_seed = g[seed_col].astype(str).str.lower().eq("true").to_numpy()
            bar_colors = [base if s else "none" for s in is_seed]
            ax.barh(y, g["prob"], color=bar_colors, edgecolor=base, linewidth=0.6, height=0.7)
        else:
            ax.barh(y, g["prob"], color=base, height=0.7)
        ax.set_yticks(y, [_clip(str(w)) for w in g["term"]])
        ax.tick_params(axis="y", length=0)
        ax.set_title(titles[topic], loc="left")
        xmax = max(xmax, float(g["prob"].max()) if len(g) else 0.0)
    for j in range(len(topics), nrow * ncol):
        axes[j // ncol, j % ncol].axis("off")
    for ax in axes.ravel():
        ax.set_xlim(0, xmax * 1.05 if xmax > 0 else 1)
    for c in range(ncol):
        last = max(r for r in range(nrow) if r * ncol + c < len(topics)) if len(topics) > c else 0
        axes[last, c].set_xlabel(_t("prob", language))
    return fig, axes, pd.concat(plotted, ignore_index=True)


@register_figure("topic_terms", requires=["tables/topic_terms.csv"])
def topic_terms(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Top terms (by relevance) of each unseeded LDA topic."""
    fig_p = _fig_params(params)
    df = read_table(Path(reports_dir) / "tables" / "topic_terms.csv")
    if df.empty:
        raise SkipFigure("topic_terms.csv is empty")
    topics = sorted(df["topic"].unique(), key=int)
    titles = {t: _t("topic", language).format(t) for t in topics}
    colors = {t: "#0072B2" for t in topics}
    width = 2 * fig_p.width_in
    fig, _, data = _term_panels(df, topics, titles, colors, width, N_TERMS, None, language)
    lam = df["lambda"].iloc[0] if "lambda" in df else None
    if lam is not None:
        fig.suptitle(
            f"Top terms by relevance (λ = {lam:g})"
            if language == "en"
            else f"按相关度排序的主题词（λ = {lam:g}）"
        )
    return _save(fig, data, out_dir, "topic_terms", fig_p)


@register_figure("seeded_topic_terms", requires=["tables/seeded_topic_terms.csv"])
def seeded_topic_terms(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Top terms of each seeded-LDA topic: domain topics in their colours, free topics grey."""
    fig_p = _fig_params(params)
    df = read_table(Path(reports_dir) / "tables" / "seeded_topic_terms.csv")
    if df.empty:
        raise SkipFigure("seeded_topic_terms.csv is empty")
    topics = list(dict.fromkeys(df["topic"].astype(str)))  # table order: domains, then free
    df = df.assign(topic=df["topic"].astype(str))
    cb = load_project_codebook(settings_of(params).paths.codebook)
    domains = [t for t in topics if not t.startswith("free_")]
    palette = domain_colors(domains + ["other"])
    colors = {t: palette.get(t, GREY) if not t.startswith("free_") else GREY for t in topics}
    titles = {
        t: (
            _t("free", language).format(t.split("_", 1)[1])
            if t.startswith("free_")
            else category_label(t, language, cb)
        )
        for t in topics
    }
    width = 2 * fig_p.width_in
    fig, axes, data = _term_panels(
        df, topics, titles, colors, width, N_TERMS, "seed_term", language
    )
    from matplotlib.patches import Patch

    handles = [
        Patch(facecolor="black", edgecolor="black", label=_t("seed", language)),
        Patch(facecolor="none", edgecolor="black", label=_t("other_term", language)),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=2)
    return _save(fig, data, out_dir, "seeded_topic_terms", fig_p)


# ------------------------------------------------- where and when (covariate, dynamic, CTM)

TEXT.update(
    {
        "year": {"en": "Issue year", "zh": "年份"},
        "prevalence": {"en": "Prevalence", "zh": "主题比例"},
        "difference": {"en": "Difference in prevalence", "zh": "主题比例之差"},
        "period": {"en": "Period", "zh": "时期"},
        "corr": {"en": "Topic correlation (CTM)", "zh": "主题相关（CTM）"},
        "seeded_share": {"en": "Seeded-topic share", "zh": "种子主题比例"},
        "classifier_share": {"en": "Classifier share", "zh": "分类器比例"},
    }
)


def _grid(n: int, ncol: int, width: float, row_h: float, **kw):
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(width, 0.3 + nrow * row_h), squeeze=False, **kw)
    for j in range(n, nrow * ncol):
        axes[j // ncol, j % ncol].axis("off")
    return fig, axes


def _panel_title(topic, label: str, language: str) -> str:
    return f"{_t('topic', language).format(topic)}: {label}"


@register_figure("topic_prevalence_year", requires=["tables/topic_prevalence.csv"])
def topic_prevalence_year(
    reports_dir: Path, out_dir: Path, params: dict, language: str
) -> list[Path]:
    """Covariate model: each topic's estimated prevalence over the years, with its interval
    band (replicates: seeds + report bootstrap); dots mark years with reports."""
    fig_p = _fig_params(params)
    df = read_input_table(reports_dir, "topic_prevalence.csv")
    df = df[df["covariate"] == "year"].assign(year=lambda d: d["value"].astype(float))
    if df.empty:
        raise SkipFigure("no year in the covariate model")
    topics = sorted(df["topic"].unique())
    fig, axes = _grid(len(topics), 3, 2 * fig_p.width_in, 1.25, sharex=True, sharey=True)
    for i, t in enumerate(topics):
        ax = axes[i // 3, i % 3]
        g = df[df["topic"] == t].sort_values("year")
        ax.fill_between(g["year"], g["lo"], g["hi"], color="#56B4E9", alpha=0.35, linewidth=0)
        ax.plot(g["year"], g["estimate"], color="#0072B2")
        obs = g[g["observed"].astype(str).str.lower() == "true"]
        ax.plot(obs["year"], obs["estimate"], "o", color="#0072B2", markersize=2.5)
        ax.set_title(
            _panel_title(t, _clip(str(g["topic_label"].iloc[0]), 14), language), loc="left"
        )
    for ax in axes[-1]:
        ax.set_xlabel(_t("year", language))
    for ax in axes[:, 0]:
        ax.set_ylabel(_t("prevalence", language))
    return _save(fig, df, out_dir, "topic_prevalence_year", fig_p)


@register_figure("topic_prevalence_contrasts", requires=["tables/topic_prevalence_contrasts.csv"])
def topic_prevalence_contrasts(
    reports_dir: Path, out_dir: Path, params: dict, language: str
) -> list[Path]:
    """Covariate model: per topic, each level's prevalence minus the reference level's,
    with intervals (one panel per categorical covariate)."""
    fig_p = _fig_params(params)
    df = read_input_table(reports_dir, "topic_prevalence_contrasts.csv")
    covs = list(dict.fromkeys(df["covariate"]))
    width = 2 * fig_p.width_in
    n_topics = df["topic"].nunique()
    fig, axes = plt.subplots(
        1, len(covs), figsize=(width, 0.6 + 0.22 * n_topics), squeeze=False, sharey=True
    )
    for ax, cov in zip(axes[0], covs):
        g = df[df["covariate"] == cov]
        levels = list(dict.fromkeys(g["value"]))
        offs = np.linspace(-0.2, 0.2, len(levels)) if len(levels) > 1 else [0.0]
        colors = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
        for j, lev in enumerate(levels):
            h = g[g["value"] == lev].sort_values("topic")
            y = -h["topic"].to_numpy(dtype=float) + offs[j]
            err = np.vstack([h["difference"] - h["lo"], h["hi"] - h["difference"]])
            ax.errorbar(
                h["difference"],
                y,
                xerr=np.nan_to_num(np.clip(err, 0, None)),
                fmt="o",
                markersize=3,
                color=colors[j % len(colors)],
                linewidth=0.8,
                label=f"{lev} − {h['reference'].iloc[0]}",
            )
        ax.axvline(0, color=GREY, linewidth=0.6)
        ax.set_title(cov, loc="left")
        ax.set_xlabel(_t("difference", language))
        ax.legend(loc="lower right", fontsize=plt.rcParams["legend.fontsize"] * 0.85)
    first = df.drop_duplicates("topic").sort_values("topic")
    axes[0, 0].set_yticks(
        -first["topic"].to_numpy(dtype=float),
        [
            _panel_title(t, _clip(str(lab), 12), language)
            for t, lab in zip(first["topic"], first["topic_label"])
        ],
    )
    return _save(fig, df, out_dir, "topic_prevalence_contrasts", fig_p)


@register_figure(
    "dynamic_topics",
    requires=["tables/dynamic_topic_prevalence.csv", "tables/dynamic_topic_terms.csv"],
)
def dynamic_topics(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Dynamic topic model: each topic's prevalence across periods, its top three words
    written at every period (how the vocabulary of a theme drifts)."""
    fig_p = _fig_params(params)
    prev = read_input_table(reports_dir, "dynamic_topic_prevalence.csv")
    terms = read_input_table(reports_dir, "dynamic_topic_terms.csv")
    top = (
        terms[terms["rank"] <= 3]
        .sort_values(["topic", "period", "rank"])
        .groupby(["topic", "period"])["term"]
        .agg("\n".join)
        .rename("top_terms")
        .reset_index()
    )
    data = prev.merge(top, on=["topic", "period"], how="left")
    topics = sorted(data["topic"].unique())
    ncol = 2
    fig, axes = _grid(len(topics), ncol, 2 * fig_p.width_in, 1.5, sharey=True)
    ymax = float(data["prevalence"].max()) * 1.9
    for i, t in enumerate(topics):
        ax = axes[i // ncol, i % ncol]
        g = data[data["topic"] == t].sort_values("period")
        x = g["period"].to_numpy()
        ax.plot(x, g["prevalence"], marker="o", markersize=2.5, color="#0072B2")
        for xi, yi, words in zip(x, g["prevalence"], g["top_terms"].fillna("")):
            ax.text(xi, yi, words, fontsize=5.5, ha="center", va="bottom", linespacing=0.95)
        ax.set_xticks(x, g["label"].astype(str), fontsize=6)
        ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
        ax.set_ylim(0, ymax)
        ax.set_title(_t("topic", language).format(t), loc="left")
    for ax in axes[:, 0]:
        ax.set_ylabel(_t("prevalence", language))
    return _save(fig, data, out_dir, "dynamic_topics", fig_p)


@register_figure("topic_correlations", requires=["tables/topic_correlations.csv"])
def topic_correlations(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Correlated topic model: correlation of topic log-proportions across units."""
    from research.viz.style import DIVERGING_CMAP

    fig_p = _fig_params(params)
    df = read_input_table(reports_dir, "topic_correlations.csv")
    k = int(df["topic_a"].max())
    m = df.pivot(index="topic_a", columns="topic_b", values="correlation").to_numpy()
    labels = (
        df.drop_duplicates("topic_a")
        .sort_values("topic_a")
        .apply(lambda r: f"{r['topic_a']} {_clip(str(r['label_a']), 10)}", axis=1)
        .tolist()
    )
    width = fig_p.width_in * 1.4
    fig, ax = plt.subplots(figsize=(width, width * 0.85))
    off = m.copy()
    np.fill_diagonal(off, np.nan)
    lim = float(np.nanmax(np.abs(off))) if k > 1 else 1.0
    im = ax.imshow(off, cmap=DIVERGING_CMAP, vmin=-lim, vmax=lim)
    ax.set_xticks(range(k), [str(i + 1) for i in range(k)])
    ax.set_yticks(range(k), labels)
    for a in range(k):
        for b in range(k):
            if a != b:
                ax.text(b, a, f"{m[a, b]:.2f}", ha="center", va="center", fontsize=5.5)
    fig.colorbar(im, ax=ax, label=_t("corr", language), shrink=0.8)
    return _save(fig, df, out_dir, "topic_correlations", fig_p)


@register_figure("seeded_vs_classifier", requires=["tables/seeded_vs_classifier_shares.csv"])
def seeded_vs_classifier(
    reports_dir: Path, out_dir: Path, params: dict, language: str
) -> list[Path]:
    """Convergent validity: per document and domain, the seeded-topic share against the
    classifier's share (Pearson r per domain across documents in the panel titles)."""
    fig_p = _fig_params(params)
    df = read_input_table(reports_dir, "seeded_vs_classifier_shares.csv")
    corr_path = Path(reports_dir) / "tables" / "seeded_vs_classifier.csv"
    corr = read_table(corr_path) if corr_path.exists() else pd.DataFrame()
    cb = load_project_codebook(settings_of(params).paths.codebook)
    domains = list(dict.fromkeys(df["domain"]))
    palette = domain_colors(domains + ["other"])
    fig, axes = _grid(len(domains), 3, 2 * fig_p.width_in, 1.55)
    lim = float(max(df["seeded_share"].max(), df["classifier_share"].max())) * 1.05
    for i, d in enumerate(domains):
        ax = axes[i // 3, i % 3]
        g = df[df["domain"] == d]
        ax.plot([0, lim], [0, lim], color=GREY, linewidth=0.6, linestyle="--")
        ax.scatter(g["classifier_share"], g["seeded_share"], s=10, color=palette.get(d, GREY))
        r = (
            corr[(corr.get("domain") == d) & (corr.get("level") == "document")]
            if len(corr)
            else corr
        )
        rtxt = (
            f" (r = {r['pearson'].iloc[0]:.2f})"
            if len(r) and pd.notna(r["pearson"].iloc[0])
            else ""
        )
        ax.set_title(category_label(d, language, cb) + rtxt, loc="left")
        ax.set_xlim(0, lim)
        ax.set_ylim(0, lim)
        ax.set_xlabel(_t("classifier_share", language))
        ax.set_ylabel(_t("seeded_share", language))
    return _save(fig, df, out_dir, "seeded_vs_classifier", fig_p)
