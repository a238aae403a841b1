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
from research.viz.registry import SkipFigure, register_figure
from research.viz.style import (
    GREY,
    category_label,
    domain_colors,
    load_project_codebook,
    save_figure,
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


def _save(fig, data: pd.DataFrame, out_dir: Path, name: str, fig_p: FiguresSettings) -> list[Path]:
    return save_figure(
        fig,
        data,
        out_dir,
        name,
        formats=tuple(fig_p.formats),
        dpi=fig_p.dpi,
    )


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
