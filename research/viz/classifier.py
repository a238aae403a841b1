"""Classifier figures: the cross-validated confusion matrix and the method comparison.

Both are drawn from tables written by ``research train``: ``confusion_matrix.csv``
(leave-one-document-out, nested) and ``classifier_cv.csv``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from research.viz.registry import read_input_table, register_figure
from research.viz.style import SEQUENTIAL_CMAP, category_label, load_codebook_or_none, save_figure

DEFAULT_IDS = ["ideology", "employment", "rights", "family", "organization", "other"]
METHOD_LABELS = {
    "majority": ("Majority class", "多数类"),
    "dictionary": ("Dictionary alone", "词典"),
    "lr_plain": ("TF-IDF + LR (plain)", "TF-IDF + LR(基线)"),
    "lr_prior": ("TF-IDF + LR × dictionary", "TF-IDF + LR × 词典"),
    "lr_seeded": ("Seeded LR", "种子词 LR"),
    "svm_calibrated": ("Seeded SVM (calibrated)", "种子词 SVM(校准)"),
    "cnb": ("Seeded complement NB", "种子词 CNB"),
    "selected": ("Selected (nested)", "嵌套选择"),
    "lr_seeded+weak": ("Seeded LR + weak labels", "种子词 LR + 弱标签"),
}


def _ctx(params: dict) -> tuple[dict, list[str], object]:
    fig_p = params.get("figures") or {}
    cb = load_codebook_or_none((params.get("paths") or {}).get("codebook"))
    return fig_p, (list(cb.ids) if cb is not None else DEFAULT_IDS), cb


_read = read_input_table


def _save(fig, data, out_dir, name, fig_p) -> list[Path]:
    return save_figure(
        fig,
        data,
        out_dir,
        name,
        tuple(fig_p.get("formats", ("pdf", "svg", "png"))),
        int(fig_p.get("dpi", 300)),
    )


@register_figure("confusion_matrix", requires=["tables/confusion_matrix.csv"])
def confusion_matrix(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
    """Row-normalised confusion matrix (recall per gold class) with counts, selected model."""
    fig_p, ids, cb = _ctx(params)
    df = _read(reports_dir, "confusion_matrix.csv")
    method = (params.get("figures") or {}).get("classifier_method", "selected")
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
    width = float(fig_p.get("width_in", 3.5))
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


@register_figure("classifier_comparison", requires=["tables/classifier_cv.csv"])
def classifier_comparison(
    reports_dir: Path, out_dir: Path, params: dict, language: str
) -> list[Path]:
    """Macro-F1 of every method and baseline, by document and by province (nested CV)."""
    fig_p, _, _ = _ctx(params)
    df = _read(reports_dir, "classifier_cv.csv")
    order = [m for m in METHOD_LABELS if m in set(df["method"])] + sorted(
        set(df["method"]) - set(METHOD_LABELS)
    )
    cvs = [c for c in ("by_document", "by_province") if c in set(df["cv"])]
    names = {
        "by_document": ("leave one document out", "留一文档"),
        "by_province": ("leave one province out", "留一省份"),
    }
    markers = {"by_document": "o", "by_province": "s"}
    colors = {"by_document": "#0072B2", "by_province": "#D55E00"}
    width = float(fig_p.get("width_in", 3.5))
    fig, ax = plt.subplots(figsize=(width, 0.9 + 0.24 * len(order)))
    k = 0 if language == "en" else 1
    for n, cv in enumerate(cvs):
        d = df[df["cv"] == cv].set_index("method").reindex(order)
        y = np.arange(len(order)) + (n - (len(cvs) - 1) / 2) * 0.18
        ax.scatter(
            d["macro_f1"],
            y,
            marker=markers[cv],
            color=colors[cv],
            s=14,
            label=names[cv][k],
            zorder=3,
        )
    ax.set_yticks(range(len(order)), [METHOD_LABELS.get(m, (m, m))[k] for m in order])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(
        "Macro-F1 (nested grouped CV)" if language == "en" else "宏平均 F1(嵌套分组交叉验证)"
    )
    ax.grid(axis="x", color="#dddddd", linewidth=0.5, zorder=0)
    ax.legend(loc="lower left", frameon=False)
    data = df[
        ["method", "cv", "macro_f1", "accuracy", "brier", "ece", "doc_share_mae"]
    ].sort_values(["cv", "method"], kind="mergesort")
    return _save(fig, data, out_dir, "classifier_comparison", fig_p)
