"""The pipeline as data: one list of stages used by ``research run`` and by ``dvc.yaml``.

Each stage is a ``research`` CLI call with the files it reads (deps), the params sections
it depends on, and the files it writes (outs, metrics, plots). ``research run`` executes
the stages in order in this process; ``research dvc-yaml`` writes the same list as
``dvc.yaml`` so that ``dvc repro`` runs exactly the same commands, and a test keeps the
two in sync. ``research run`` may run a stage marked ``beside`` in a forked process while
the next stages run (:mod:`research.stagepool`); the declared deps and outs say where it
must be waited for.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import NamedTuple

import yaml

CODE = "research"
_VAR = re.compile(r"\$\{paths\.([a-z_]+)\}")


@dataclass(frozen=True)
class Stage:
    """One pipeline step: a ``research`` subcommand and its inputs and outputs.

    Paths are written with DVC's templating (``${paths.data}/prepared``): ``dvc.yaml`` keeps
    them as they are, so DVC fills them from params.yaml; ``research run`` fills them the
    same way with :func:`render`. ``code`` lists the package files the stage runs (DVC
    dependencies in this repository only; a user's project depends on the installed package).
    """

    name: str
    cmd: tuple[str, ...]
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[str, ...]
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    help: str = ""
    code: tuple[str, ...] = ()
    #: outputs / inputs that exist only when the corpus has gold labels (paths.annotations)
    gold_outs: tuple[str, ...] = ()
    gold_deps: tuple[str, ...] = ()
    #: long and read by few later stages (topics: analyse; learning curve: figures):
    #: ``research run`` may run it beside the stages after it (research/stagepool.py)
    beside: bool = False

    @property
    def command(self) -> str:
        return "research " + " ".join(self.cmd)


class StageTime(NamedTuple):
    """How long a stage took: wall seconds, CPU seconds (this process and the worker
    processes it waited for), and whether the run cache skipped it."""

    name: str
    wall_s: float
    cpu_s: float
    skipped: bool = False


#: process ids of stages running beside this process (research.stagepool): their CPU is
#: their own stage's, so :func:`cpu_seconds` leaves them and their workers out
BACKGROUND: set[int] = set()


def cpu_seconds() -> float:
    """CPU seconds of this process plus its children, finished or still running.

    Process pools (loky) keep their workers alive between stages, so the CPU of live
    children is read too (with psutil, when installed); a worker that ends between two
    readings moves from the live sum to the finished one, so differences stay exact.
    Stages running beside this one (:data:`BACKGROUND`) are not counted: they are waited
    for, and so added to the finished sum, only between stages.
    """
    import resource

    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dev dependency
        return total
    skip = set(BACKGROUND)
    for pid in BACKGROUND:
        try:
            skip.update(c.pid for c in psutil.Process(pid).children(recursive=True))
        except psutil.Error:
            continue
    for child in psutil.Process().children(recursive=True):
        if child.pid in skip:
            continue
        try:
            t = child.cpu_times()
        except psutil.Error:  # ended while being read
            continue
        total += t.user + t.system
    return total


def _overlap(a: str, b: str) -> bool:
    a, b = a.rstrip("/"), b.rstrip("/")
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def conflicts(stage: Stage, other: Stage, params: dict) -> bool:
    """Whether ``stage`` must not run while ``other`` does: one reads or writes what the
    other writes (declared deps and outs, ``${paths.*}`` filled, a folder covering what is
    in it). The graph DVC builds from the same declarations."""

    def paths(items: tuple[str, ...]) -> list[str]:
        return [render(p, params) for p in items]

    def writes(st: Stage) -> list[str]:
        return paths((*st.outs, *st.metrics, *st.plots, *st.gold_outs))

    def reads(st: Stage) -> list[str]:
        return paths((*st.deps, *st.gold_deps))

    mine, theirs = writes(stage), writes(other)
    return any(
        _overlap(a, b)
        for xs, ys in ((reads(stage), theirs), (reads(other), mine), (mine, theirs))
        for a in xs
        for b in ys
    )


def render(text: str, params: dict) -> str:
    """``text`` with every ``${paths.<key>}`` replaced from params (as DVC does)."""
    from research.config import project_paths

    paths = project_paths(params)

    def sub(m: re.Match) -> str:
        if m.group(1) not in paths:
            from research.errors import ResearchError

            raise ResearchError(f"params.yaml: paths.{m.group(1)} is not set")
        return paths[m.group(1)]

    return _VAR.sub(sub, text)


#: train params that never change the evaluation (the learning curve's; processes)
NOT_EVALUATION = ("learning_curve", "n_jobs")


def _evaluation_params() -> tuple[str, ...]:
    """The ``train.*`` params the evaluation depends on (DVC and the run cache key)."""
    from research.settings import TrainSettings

    return tuple(f"train.{k}" for k in TrainSettings.model_fields if k not in NOT_EVALUATION)


#: stages' metrics files (plain outputs; ``summary.json`` of the report stage is the DVC metric)
METRICS = ("agreement", "weak_labels", "classifier", "topics", "analysis")


def stages() -> list[Stage]:
    """The stages in execution order, with ``${paths.*}`` placeholders for every path."""
    cb = "${paths.codebook}"
    ann = "${paths.annotations}"
    data, models, reports = "${paths.data}", "${paths.models}", "${paths.reports}"
    prepared = f"{data}/prepared"
    T = f"{reports}/tables"
    M = f"{reports}/metrics"
    cmd = f"{CODE}/commands"

    def tables(*names: str) -> tuple[str, ...]:
        return tuple(f"{T}/{n}.csv" for n in names)

    return [
        Stage(
            "prepare",
            ("prepare", "${paths.corpus}", "--out", prepared, "--quiet"),
            deps=("${paths.corpus}",),
            code=(
                f"{CODE}/corpus/prepare.py",
                f"{CODE}/corpus/segment.py",
                f"{CODE}/corpus/normalize.py",
                f"{CODE}/corpus/ingest.py",
                f"{CODE}/corpus/tokenize.py",
                f"{CODE}/resources",
                f"{cmd}/prepare.py",
            ),
            params=("prepare", "tokenize"),
            outs=(prepared,),
            help="ingest, clean and segment the corpus",
        ),
        Stage(
            "agreement",
            ("annotate", "agreement", ann, "--reports", reports, "--skip-without-labels"),
            deps=(ann, cb),
            code=(f"{CODE}/labels/annotation.py", f"{cmd}/annotate.py"),
            params=("annotate",),
            outs=tables("agreement_by_category", "agreement_disagreements"),
            metrics=(f"{M}/agreement.json",),
            help="inter-annotator agreement (skipped without two annotators' labels)",
        ),
        Stage(
            "weak_labels",
            ("weak-label",),
            deps=(prepared, ann, cb),
            code=(f"{CODE}/labels/weak_labels.py", f"{cmd}/weak_label.py"),
            params=("weak_labels", "tokenize"),
            outs=(f"{data}/labels",) + tables("weak_label_eval"),
            metrics=(f"{M}/weak_labels.json",),
            help="dictionary and heading weak labels, evaluated against gold when there is gold",
        ),
        Stage(
            "topics",
            ("topics",),
            deps=(prepared, ann, cb),
            code=(f"{CODE}/topics", f"{cmd}/topics.py"),
            params=("seed", "topics", "tokenize"),
            outs=(f"{data}/topics", f"{models}/topics", f"{reports}/topics")
            + tables(
                "topic_stoplist",
                "k_sweep",
                "topic_terms",
                "doc_topics",
                "seeded_backends",
                "seeded_topic_terms",
                "seeded_eval",
                "seeded_doc_topics",
                "seeded_seed_terms",
                "covariate_topic_terms",
                "topic_prevalence",
                "topic_prevalence_contrasts",
                "dynamic_topic_terms",
                "dynamic_topic_prevalence",
                "topic_correlations",
            ),
            metrics=(f"{M}/topics.json",),
            beside=True,
            help="LDA with K by a stated rule, seeded LDA (gensim vs tomotopy), covariate "
            "(GDMR), dynamic (DTM) and correlated (CTM) topic models",
        ),
        Stage(
            "evaluate",
            (
                "evaluate",
                ann,
                "--units",
                f"{prepared}/paragraphs.parquet",
                "--documents",
                f"{prepared}/documents.parquet",
                "--reports",
                reports,
                "--out",
                f"{data}/evaluation",
                "--if-unlabelled-base-set",
            ),
            deps=(prepared, ann, cb),
            code=(
                f"{CODE}/resources/base_set/base_set.csv",
                f"{CODE}/classify",
                f"{CODE}/labels/evaluation.py",
                f"{CODE}/labels/weak_labels.py",
                f"{cmd}/train.py",
            ),
            params=("seed", *_evaluation_params(), "weak_labels", "tokenize"),
            outs=(f"{data}/evaluation",),
            gold_outs=tables(
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
            )
            + (f"{M}/classifier.json",),
            help="evaluate the candidates on real gold only (nested selection) and choose one",
        ),
        Stage(
            "learning_curve",
            (
                "learning-curve",
                ann,
                "--units",
                f"{prepared}/paragraphs.parquet",
                "--choice",
                f"{data}/evaluation/choice.json",
                "--reports",
                reports,
                "--skip-without-labels",
            ),
            deps=(prepared, ann, cb, f"{data}/evaluation/choice.json"),
            code=(
                f"{CODE}/resources/base_set/base_set.csv",
                f"{CODE}/classify",
                f"{cmd}/learning_curve.py",
            ),
            params=("seed", "train", "tokenize"),
            outs=tables("learning_curve"),
            help="macro-F1 against the number of your own labels (simulated on the gold)",
            beside=True,
        ),
        Stage(
            "train",
            (
                "train",
                ann,
                "--units",
                f"{prepared}/paragraphs.parquet",
                "--out",
                f"{models}/classifier",
                "--choice",
                f"{data}/evaluation/choice.json",
                "--if-unlabelled-base-set",
            ),
            deps=(prepared, ann, cb, f"{data}/evaluation/choice.json"),
            code=(
                f"{CODE}/resources/base_set/base_set.csv",
                f"{CODE}/classify",
                f"{cmd}/train.py",
            ),
            params=("seed", *_evaluation_params(), "tokenize"),
            outs=(f"{models}/classifier",),
            help="fit the chosen classifier on the base set + all gold (model + card)",
        ),
        Stage(
            "predict",
            (
                "predict",
                f"{prepared}/paragraphs.parquet",
                "--out",
                f"{data}/predictions/units.parquet",
                "--model",
                f"{models}/classifier",
            ),
            deps=(prepared, f"{models}/classifier"),
            code=(f"{CODE}/classify", f"{cmd}/predict.py"),
            params=(),
            outs=(f"{data}/predictions",),
            help="predict the domain of every body unit",
        ),
        Stage(
            "analyse",
            ("analyse",),
            deps=(
                prepared,
                f"{data}/predictions",
                f"{data}/topics/seeded_units.parquet",
                f"{data}/topics/seeded_eval.parquet",
                ann,
                cb,
            ),
            gold_deps=(f"{data}/evaluation",),
            code=(f"{CODE}/analysis", f"{CODE}/topics/keyword.py", f"{cmd}/analyse.py"),
            params=("seed", "analyse", "tokenize"),
            gold_outs=tables("method_comparison", "adjusted_eval", "adjusted_eval_summary"),
            outs=tables(
                "documents",
                "group_shares",
                "emphasis",
                "distinctive_terms",
                "campaign_names",
                "campaign_summary",
                "glm",
                "multilevel",
                "multilevel_year",
                "seeded_vs_classifier",
                "seeded_vs_classifier_shares",
            ),
            metrics=(f"{M}/analysis.json",),
            help="domain shares, adjusted shares, uncertainty, emphasis, distinctive terms, "
            "seeded LDA vs classifier",
        ),
        Stage(
            "figures",
            ("figures",),
            deps=(T, cb),
            code=(f"{CODE}/viz", f"{cmd}/figures.py"),
            params=("figures", "analyse.bases"),
            outs=(f"{reports}/figures",),
            help="publication figures (PDF, SVG, 300-dpi PNG + data)",
        ),
        Stage(
            "report",
            ("report", "--reports", reports),
            deps=(
                T,
                f"{reports}/figures",
                *(f"{M}/{n}.json" for n in METRICS if n != "classifier"),
            ),
            gold_deps=(f"{M}/classifier.json",),
            code=(f"{CODE}/report.py", f"{cmd}/run.py"),
            params=(),
            outs=(f"{reports}/index.html", f"{reports}/tables.xlsx"),
            metrics=(f"{M}/summary.json",),
            help="headline numbers (the DVC metric), warnings, index.html linking the figures",
        ),
    ]


#: DVC plots: the package's own static figures (``dvc plots show`` needs no web access)
PLOTS = [
    f"${{paths.reports}}/figures/{name}.png"
    for name in (
        "classifier_comparison",
        "confusion_matrix",
        "topic_model_selection",
        "domain_shares",
    )
]


def dvc_yaml(
    stage_list: list[Stage] | None = None, code_deps: bool = True, gold: bool = True
) -> str:
    """``dvc.yaml`` text for the stages (deps, params, outs, metrics, plots).

    ``code_deps`` adds the package's own files as dependencies (this repository); a user's
    project (``research init``) leaves them out, as its code is the installed package.
    ``gold`` declares the outputs that only exist with gold labels (DVC fails on a declared
    output that a run does not write); ``research dvc-yaml`` sets it from the project.
    """
    out: dict = {"stages": {}}
    for st in stage_list or stages():
        deps = list(st.deps) + (list(st.gold_deps) if gold else [])
        entry: dict = {"cmd": st.command, "deps": deps + (list(st.code) if code_deps else [])}
        if st.params:
            entry["params"] = list(st.params)
        outs: list = list(st.outs)
        gold_outs = list(st.gold_outs) if gold else []
        outs += [o for o in gold_outs if not o.endswith(".json")]
        outs += [{o: {"cache": False}} for o in gold_outs if o.endswith(".json")]
        if st.name == "report":
            entry["metrics"] = [{m: {"cache": False}} for m in st.metrics]
        else:  # the stages' full metrics files: plain outputs, kept in git beside dvc.lock
            outs += [{m: {"cache": False}} for m in st.metrics]
        if outs:
            entry["outs"] = outs
        if st.plots:
            entry["plots"] = [{p: {"cache": False}} for p in st.plots]
        out["stages"][st.name] = entry
    out["plots"] = PLOTS
    header = (
        "# Generated by `research dvc-yaml` from research/pipeline.py — edit that, not this.\n"
        "# `dvc repro` runs the same `research` commands as `research run`; ${paths.*} come\n"
        "# from params.yaml (DVC templating), so `dvc exp run -S paths.corpus=other` works.\n"
    )
    return header + yaml.safe_dump(out, sort_keys=False, allow_unicode=True, width=100)


def has_gold(params: dict) -> bool:
    """Whether ``paths.annotations`` holds gold labels (decides the gold-only DVC outputs)."""
    from research.config import project_paths
    from research.labels.annotation import has_labels

    return has_labels(project_paths(params)["annotations"])


def select(only: list[str] | None = None, start: str | None = None) -> list[Stage]:
    """The stages to run: all, from ``start`` on, or ``only`` these (unknown names → error)."""
    from research.errors import ResearchError

    todo = stages()
    names = [s.name for s in todo]
    for name in ([start] if start else []) + list(only or []):
        if name not in names:
            raise ResearchError(f"unknown stage {name!r}; stages: {', '.join(names)}")
    if start:
        todo = todo[names.index(start) :]
    if only:
        todo = [s for s in todo if s.name in only]
    return todo


def run_pipeline(
    params_path: str | None = None, only: list[str] | None = None, start: str | None = None
) -> list[StageTime]:
    """Run the stages in this process, in order; return each one's wall and CPU time.

    Each stage's command is the one in ``dvc.yaml`` with ``${paths.*}`` filled from params.
    """
    import shlex

    from research.cli import main
    from research.config import load_params
    from research.errors import ResearchError
    from research.settings import load_settings

    load_settings(params_path)  # a bad params file stops here, before the first stage
    params = load_params(params_path)
    timings: list[StageTime] = []
    for st in select(only, start):
        argv = [render(a, params) for a in st.cmd]
        print(f"\n=== {st.name}: research {shlex.join(argv)}", flush=True)
        t0, c0 = time.perf_counter(), cpu_seconds()
        code = main((["--params", params_path] if params_path else []) + argv)
        if code != 0:
            raise ResearchError(
                f"stage {st.name} failed (exit {code}): research {shlex.join(argv)}"
            )
        timings.append(StageTime(st.name, time.perf_counter() - t0, cpu_seconds() - c0))
    return timings
