"""Classifier figures: confusion matrix, method comparison, reliability, learning curve.

Drawn from tables written by ``research train`` (evaluation on real gold only:
``confusion_matrix.csv``, ``classifier_cv.csv``, ``classifier_calibration.csv``) and by
``research learning-curve`` (``learning_curve.csv``). The gold labels of the sample
corpus were made by language-model annotator sessions (seeds/ANNOTATION.md).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from research.settings import FiguresSettings, settings_of
from research.viz.registry import read_input_table, register_figure
from research.viz.style import SEQUENTIAL_CMAP, category_label, load_project_codebook, save_with

METHOD_LABELS = {
    "majority": ("Majority class", "多数类"),
    "dictionary": ("Dictionary alone", "词典"),
    "lr_plain": ("TF-IDF + LR (plain)", "TF-IDF + LR(基线)"),
    "lr_prior": ("TF-IDF + LR × dictionary", "TF-IDF + LR × 词典"),
    "lr_seeded": ("Seeded LR", "种子词 LR"),
    "svm_calibrated": ("Seeded SVM (calibrated)", "种子词 SVM(校准)"),
    "cnb": ("Seeded complement NB", "种子词 CNB"),
    "svm_seeded": ("Seeded SVM (calibrated)", "种子词 SVM(校准)"),
    "lr_plain_gold_only": ("TF-IDF + LR, gold only", "TF-IDF + LR(仅金标准)"),
    "lr_seeded_gold_only": ("Seeded LR, gold only", "种子词 LR(仅金标准)"),
    "svm_seeded_gold_only": ("Seeded SVM, gold only", "种子词 SVM(仅金标准)"),
    "selected": ("Selected (nested)", "嵌套选择"),
    "lr_seeded+weak": ("Seeded LR + weak labels", "种子词 LR + 弱标签"),
}


def _ctx(params: dict) -> tuple[FiguresSettings, list[str], object]:
    fig_p = settings_of(params).figures
    cb = load_project_codebook(settings_of(params).paths.codebook)
    return fig_p, list(cb.ids), cb


_read = read_input_table


_save = save_with


@register_figure("confusion_matrix", requires=["tables/confusion_matrix.csv"])
def confusion_matrix(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Row-normalised confusion matrix (recall per gold class) with counts, selected model."""
    fig_p, ids, cb = _ctx(params)
    df = _read(reports_dir, "confusion_matrix.csv")
    method = settings_of(params).figures.classifier_method
    if method not in set(df["method"]):
        method = sorted(set(df["method"]))[0]
    d = df[df["method"] == method]
    ids = [i for i in ids if i in set(d["true"]) | set(d["pred"])]
    M = (
        d.pivot_table(index="true", columns="pred", values="count", aggfunc="sum")
        .reindex(index=ids, columns=ids)
        .fillna(0)
        .to_numpy(dtype=float)
    )
    support = M.sum(axis=1, keepdims=True)
    R = np.divide(M, support, out=np.zeros_like(M), where=support > 0)
    width = fig_p.width_in
    fig, ax = plt.subplots(figsize=(width, width * 0.92))
    im = ax.imshow(R, cmap=SEQUENTIAL_CMAP, vmin=0, vmax=1)
    small = plt.rcParams["xtick.labelsize"]
    fs = (small - 1) if isinstance(small, (int, float)) else 6
    for i in range(len(ids)):
        for j in range(len(ids)):
            if M[i, j] > 0:
                ax.text(
                    j,
                    i,
                    f"{int(M[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=fs,
                    color="white" if R[i, j] < 0.55 else "black",
                )
    labels = [category_label(c, language, cb) for c in ids]
    ax.set_xticks(range(len(ids)), labels, rotation=35, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(ids)), [f"{lab} ({int(s)})" for lab, s in zip(labels, support[:, 0])])
    ax.set_xlabel("Predicted" if language == "en" else "预测类别")
    ax.set_ylabel("Gold (n)" if language == "en" else "金标准（语言模型标注）(n)")
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    cbar = fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02)
    cbar.set_label("Share of gold class" if language == "en" else "占金标准类别比例")
    cbar.outline.set_visible(False)
    data = d.assign(
        share_of_gold=[
            R[ids.index(t), ids.index(p)] if t in ids and p in ids else np.nan
            for t, p in zip(d["true"], d["pred"])
        ]
    ).sort_values(["true", "pred"], kind="mergesort")
    return _save(fig, data, out_dir, "confusion_matrix", fig_p)


SCHEME_LABELS = {
    "base_only": ("base set only → real gold", "仅基础训练集 → 真实金标准"),
    "by_document": ("leave one report out", "留一报告"),
    "by_province": ("leave one province out", "留一省份"),
}


@register_figure("classifier_comparison", requires=["tables/classifier_cv.csv"])
def classifier_comparison(
    reports_dir: Path, out_dir: Path, params: dict, language: str
) -> list[Path]:
    """Macro-F1 of every method on REAL gold, one panel per scheme, with cluster-bootstrap CIs."""
    fig_p, _, _ = _ctx(params)
    df = _read(reports_dir, "classifier_cv.csv")
    order = [m for m in METHOD_LABELS if m in set(df["method"])] + sorted(
        set(df["method"]) - set(METHOD_LABELS)
    )
    cvs = [c for c in SCHEME_LABELS if c in set(df["cv"])] or sorted(set(df["cv"]))
    k = 0 if language == "en" else 1
    width = fig_p.width_in
    fig, axes = plt.subplots(
        len(cvs),
        1,
        figsize=(width, 0.6 + (0.22 * len(order) + 0.35) * len(cvs)),
        sharex=True,
        squeeze=False,
    )
    for ax, cv in zip(axes[:, 0], cvs):
        d = df[df["cv"] == cv].set_index("method").reindex(order)
        y = np.arange(len(order))
        if {"ci_low", "ci_high"} <= set(d.columns):
            ax.hlines(y, d["ci_low"], d["ci_high"], color="#0072B2", linewidth=1, zorder=2)
        ax.scatter(d["macro_f1"], y, color="#0072B2", s=12, zorder=3)
        ax.set_yticks(y, [METHOD_LABELS.get(m, (m, m))[k] for m in order])
        ax.invert_yaxis()
        n = int(d["n_units"].max()) if "n_units" in d else 0
        docs = int(d["n_docs"].max()) if "n_docs" in d else 0
        title = SCHEME_LABELS.get(cv, (cv, cv))[k]
        ax.set_title(
            f"{title} (n = {n} units, {docs} reports)"
            if language == "en"
            else f"{title}(n = {n} 段, {docs} 篇)",
            fontsize=plt.rcParams["axes.labelsize"],
        )
        ax.grid(axis="x", color="#dddddd", linewidth=0.5, zorder=0)
        ax.set_xlim(0, 1)
    axes[-1, 0].set_xlabel(
        "Macro-F1 on real gold\n(95% document-cluster bootstrap CI)"
        if language == "en"
        else "真实金标准上的宏平均 F1\n(95% 文档聚类自助法区间)"
    )
    cols = [
        c
        for c in (
            "method",
            "cv",
            "n_units",
            "n_docs",
            "macro_f1",
            "ci_low",
            "ci_high",
            "accuracy",
            "min_recall",
            "brier",
            "ece",
            "doc_share_mae",
        )
        if c in df.columns
    ]
    data = df[cols].sort_values(["cv", "method"], kind="mergesort")
    return _save(fig, data, out_dir, "classifier_comparison", fig_p)


@register_figure("classifier_reliability", requires=["tables/classifier_calibration.csv"])
def classifier_reliability(
    reports_dir: Path, out_dir: Path, params: dict, language: str
) -> list[Path]:
    """Reliability diagram of the selected procedure (held-out, leave one report out)."""
    fig_p, _, _ = _ctx(params)
    df = _read(reports_dir, "classifier_calibration.csv")
    d = df[(df["method"] == "selected") & (df["cv"] == "by_document")]
    if d.empty:
        d = df[df["cv"] == sorted(set(df["cv"]))[0]]
        d = d[d["method"] == sorted(set(d["method"]))[0]]
    width = fig_p.width_in
    fig, ax = plt.subplots(figsize=(width, width * 0.9))
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, linestyle="--", zorder=1)
    sizes = 8 + 60 * d["n"] / max(int(d["n"].max()), 1)
    ax.scatter(d["confidence"], d["accuracy"], s=sizes, color="#0072B2", zorder=3)
    for r in d.itertuples():
        ax.annotate(
            f"{int(r.n)}",
            (r.confidence, r.accuracy),
            textcoords="offset points",
            xytext=(4, -8),
            fontsize=plt.rcParams["xtick.labelsize"],
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Predicted probability (top class)" if language == "en" else "预测概率(最高类)")
    ax.set_ylabel("Share correct (n units per bin)" if language == "en" else "正确比例(每组段落数)")
    ax.grid(color="#eeeeee", linewidth=0.5, zorder=0)
    return _save(fig, d.sort_values("bin"), out_dir, "classifier_reliability", fig_p)


@register_figure("learning_curve", requires=["tables/learning_curve.csv"])
def learning_curve(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Macro-F1 on held-out real reports against the number of the user's own labels."""
    fig_p, _, _ = _ctx(params)
    df = _read(reports_dir, "learning_curve.csv")
    g = (
        df.groupby(["strategy", "with_base", "n_labels"])["macro_f1"]
        .agg(["mean", "min", "max", "count"])
        .reset_index()
    )
    names = {
        ("random", True): ("random sample + base set", "随机抽样 + 基础集"),
        ("stratified", True): ("stratified sample + base set", "分层抽样 + 基础集"),
        ("uncertainty", True): ("uncertainty sampling + base set", "不确定性抽样 + 基础集"),
        ("random", False): ("random sample, no base set", "随机抽样(无基础集)"),
        ("stratified", False): ("stratified sample, no base set", "分层抽样(无基础集)"),
        ("uncertainty", False): ("uncertainty sampling, no base set", "不确定性抽样(无基础集)"),
    }
    colors = {"random": "#0072B2", "stratified": "#009E73", "uncertainty": "#D55E00"}
    k = 0 if language == "en" else 1
    width = fig_p.width_in
    fig, ax = plt.subplots(figsize=(width, width * 0.8))
    for (strategy, with_base), d in g.groupby(["strategy", "with_base"], sort=True):
        ax.plot(
            d["n_labels"],
            d["mean"],
            marker="o",
            markersize=3,
            linewidth=1,
            linestyle="-" if with_base else ":",
            color=colors.get(strategy, "#555555"),
            label=names.get((strategy, bool(with_base)), (strategy, strategy))[k],
        )
        ax.fill_between(
            d["n_labels"],
            d["min"],
            d["max"],
            color=colors.get(strategy, "#555555"),
            alpha=0.12,
            linewidth=0,
        )
    ax.set_xlabel("Your labelled units" if language == "en" else "用户标注段落数")
    ax.set_ylabel("Macro-F1 on held-out reports" if language == "en" else "留出报告上的宏平均 F1")
    ax.set_ylim(0, 1)
    ax.grid(color="#eeeeee", linewidth=0.5)
    ax.legend(frameon=False, fontsize=plt.rcParams["xtick.labelsize"], loc="lower right")
    return _save(fig, g, out_dir, "learning_curve", fig_p)
