"""The pipeline as data: one list of stages used by ``research run`` and by ``dvc.yaml``.

Each stage is a ``research`` CLI call with the files it reads (deps), the params sections
it depends on, and the files it writes (outs, metrics, plots). ``research run`` executes
the stages in order in this process; ``research dvc-yaml`` writes the same list as
``dvc.yaml`` so that ``dvc repro`` runs exactly the same commands, and a test keeps the
two in sync.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import yaml

CODE = "research"


@dataclass(frozen=True)
class Stage:
    """One pipeline step: a ``research`` subcommand and its inputs and outputs."""

    name: str
    cmd: tuple[str, ...]
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[str, ...]
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    help: str = ""

    @property
    def command(self) -> str:
        return "research " + " ".join(self.cmd)


def stages() -> list[Stage]:
    """The stages in execution order (paths are the params.yaml defaults)."""
    cb = "research/codebooks/womens_federation.yaml"
    ann = "seeds/annotations.csv"
    T = "reports/tables"
    M = "reports/metrics"
    cmd = f"{CODE}/commands"

    def tables(*names: str) -> tuple[str, ...]:
        return tuple(f"{T}/{n}.csv" for n in names)

    return [
        Stage(
            "prepare",
            ("prepare", "seeds", "--out", "data/prepared", "--quiet"),
            deps=(
                "seeds",
                f"{CODE}/corpus/prepare.py",
                f"{CODE}/corpus/segment.py",
                f"{CODE}/corpus/normalize.py",
                f"{CODE}/corpus/ingest.py",
                f"{CODE}/corpus/tokenize.py",
                f"{CODE}/resources",
                f"{cmd}/prepare.py",
            ),
            params=("prepare", "tokenize"),
            outs=("data/prepared",),
            help="ingest, clean and segment the corpus",
        ),
        Stage(
            "agreement",
            ("annotate", "agreement", ann, "--columns", "pass1", "pass2"),
            deps=(ann, cb, f"{CODE}/labels/annotation.py", f"{cmd}/annotate.py"),
            params=(),
            outs=tables("agreement_by_category", "agreement_disagreements"),
            metrics=(f"{M}/agreement.json",),
            help="inter-annotator agreement of the two blind passes",
        ),
        Stage(
            "weak_labels",
            ("weak-label",),
            deps=(
                "data/prepared",
                ann,
                cb,
                f"{CODE}/labels/weak_labels.py",
                f"{cmd}/weak_label.py",
            ),
            params=("weak_labels", "tokenize"),
            outs=("data/labels",) + tables("weak_label_eval"),
            metrics=(f"{M}/weak_labels.json",),
            help="dictionary and heading weak labels, evaluated against gold",
        ),
        Stage(
            "train",
            (
                "train",
                ann,
                "--units",
                "data/prepared/paragraphs.parquet",
                "--out",
                "models/classifier",
                "--reports",
                "reports",
            ),
            deps=(
                "data/prepared",
                ann,
                cb,
                f"{CODE}/resources/base_set/base_set.csv",
                f"{CODE}/classify",
                f"{CODE}/labels/evaluation.py",
                f"{CODE}/labels/weak_labels.py",
                f"{cmd}/train.py",
            ),
            params=("seed", "train", "weak_labels", "tokenize"),
            outs=("models/classifier",)
            + tables(
                "classifier_cv",
                "classifier_per_class",
                "classifier_paired",
                "classifier_calibration",
                "classifier_other_confusion",
                "classifier_selection",
                "confusion_matrix",
                "confusion_matrix_all",
                "cv_predictions",
                "cv_predictions_all",
            ),
            metrics=(f"{M}/classifier.json",),
            help="train on the base set + gold; evaluate on real gold only (nested selection)",
        ),
        Stage(
            "learning_curve",
            (
                "learning-curve",
                ann,
                "--units",
                "data/prepared/paragraphs.parquet",
                "--model",
                "models/classifier",
                "--reports",
                "reports",
            ),
            deps=(
                "data/prepared",
                ann,
                cb,
                "models/classifier",
                f"{CODE}/resources/base_set/base_set.csv",
                f"{CODE}/classify/instrument.py",
                f"{cmd}/learning_curve.py",
            ),
            params=("seed", "train", "tokenize"),
            outs=tables("learning_curve"),
            help="macro-F1 against the number of your own labels (simulated on the gold)",
        ),
        Stage(
            "predict",
            (
                "predict",
                "data/prepared/paragraphs.parquet",
                "--output",
                "data/predictions/units.parquet",
                "--model",
                "models/classifier",
            ),
            deps=("data/prepared", "models/classifier", f"{CODE}/classify", f"{cmd}/predict.py"),
            params=(),
            outs=("data/predictions",),
            help="predict the domain of every body unit",
        ),
        Stage(
            "topics",
            ("topics",),
            deps=("data/prepared", ann, cb, f"{CODE}/topics", f"{cmd}/topics.py"),
            params=("seed", "topics", "tokenize"),
            outs=("data/topics", "models/topics", "reports/topics")
            + tables(
                "k_sweep",
                "topic_terms",
                "doc_topics",
                "seeded_topic_terms",
                "seeded_eval",
                "seeded_doc_topics",
                "seeded_seed_terms",
            ),
            metrics=(f"{M}/topics.json",),
            help="LDA with K selection, and seeded LDA for the codebook domains",
        ),
        Stage(
            "analyse",
            ("analyse",),
            deps=(
                "data/prepared",
                "data/predictions",
                "data/topics/seeded_units.parquet",
                ann,
                cb,
                f"{T}/cv_predictions.csv",
                f"{T}/classifier_cv.csv",
                f"{T}/seeded_eval.csv",
                f"{CODE}/analysis",
                f"{cmd}/analyse.py",
            ),
            params=("seed", "analyse", "tokenize"),
            outs=tables(
                "method_comparison",
                "documents",
                "adjusted_eval",
                "adjusted_eval_summary",
                "group_shares",
                "emphasis",
                "distinctive_terms",
                "campaign_names",
                "campaign_summary",
                "glm",
                "multilevel",
            ),
            metrics=(f"{M}/analysis.json",),
            help="domain shares, adjusted shares, uncertainty, emphasis, distinctive terms",
        ),
        Stage(
            "figures",
            ("figures",),
            deps=(T, cb, f"{CODE}/viz", f"{cmd}/figures.py"),
            params=("figures", "analyse.bases"),
            outs=("reports/figures",),
            help="publication figures (PDF, SVG, 300-dpi PNG + data)",
        ),
    ]


#: DVC plots: the tidy tables behind the main figures (``dvc plots show``)
PLOTS = [
    {
        "reports/tables/k_sweep.csv": {
            "x": "k",
            "y": ["c_v", "c_npmi", "stability_cosine"],
            "title": "LDA model selection",
        }
    },
    {
        "reports/tables/cv_predictions.csv": {
            "template": "confusion",
            "x": "pred",
            "y": "gold",
            "title": "Classifier confusion (leave one document out)",
        }
    },
    {
        "reports/tables/method_comparison.csv": {
            "template": "bar_horizontal",
            "x": "macro_f1",
            "y": "method",
            "title": "Macro-F1 against gold",
        }
    },
]


def dvc_yaml(stage_list: list[Stage] | None = None) -> str:
    """``dvc.yaml`` text for the stages (deps, params, outs, metrics, plots)."""
    out: dict = {"stages": {}}
    for st in stage_list or stages():
        entry: dict = {"cmd": st.command, "deps": list(st.deps)}
        if st.params:
            entry["params"] = list(st.params)
        if st.outs:
            entry["outs"] = list(st.outs)
        if st.metrics:
            entry["metrics"] = [{m: {"cache": False}} for m in st.metrics]
        if st.plots:
            entry["plots"] = [{p: {"cache": False}} for p in st.plots]
        out["stages"][st.name] = entry
    out["plots"] = PLOTS
    header = (
        "# Generated by `research dvc-yaml` from research/pipeline.py — edit that, not this.\n"
        "# `dvc repro` runs the same `research` commands as `research run`.\n"
    )
    return header + yaml.safe_dump(out, sort_keys=False, allow_unicode=True, width=100)


def run_pipeline(
    params_path: str | None = None, only: list[str] | None = None, start: str | None = None
) -> list[tuple[str, float]]:
    """Run the stages in this process, in order; return (stage, seconds) pairs."""
    from research.cli import main
    from research.errors import ResearchError

    timings: list[tuple[str, float]] = []
    todo = stages()
    if start:
        names = [s.name for s in todo]
        if start not in names:
            raise ResearchError(f"unknown stage {start!r}; stages: {', '.join(names)}")
        todo = todo[names.index(start) :]
    if only:
        todo = [s for s in todo if s.name in only]
    for st in todo:
        print(f"\n=== {st.name}: {st.command}", flush=True)
        t0 = time.perf_counter()
        argv = (["--params", params_path] if params_path else []) + list(st.cmd)
        code = main(argv)
        if code != 0:
            raise ResearchError(f"stage {st.name} failed (exit {code}): {st.command}")
        timings.append((st.name, time.perf_counter() - t0))
    return timings
