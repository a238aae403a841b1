"""The whole pipeline: `research run` and `dvc repro` give byte-identical tables and metrics,
DVC re-runs only what a parameter change touches, the notebooks execute, and the
generated files (dvc.yaml, the README's CLI reference) are in sync with the code."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmarks.bench_pipeline import project_files
from research.pipeline import dvc_yaml

from .conftest import ROOT

pytestmark = pytest.mark.slow

#: outputs that must be byte-identical across runs
COMPARED = (
    "data/prepared",
    "data/labels",
    "data/predictions",
    "data/topics",
    "reports/tables",
    "reports/metrics",
    "models/classifier/model_card.json",
)
SUFFIXES = {".csv", ".json", ".parquet"}
DVC = shutil.which("dvc") or (
    str(Path(sys.executable).parent / "dvc")
    if (Path(sys.executable).parent / "dvc").exists()
    else None
)
RESEARCH = str(Path(sys.executable).parent / "research")


#: the whole evaluation on the full base set is minutes of fitting; the pipeline tests train
#: on a label-stratified sample of it (the full run is measured in benchmarks/)
BASE_SET_SAMPLE = 300


def make_workspace(dest: Path) -> Path:
    for f in project_files():
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, target)
    params = dest / "params.yaml"
    text = params.read_text(encoding="utf-8")
    assert "base_set_sample: null" in text
    params.write_text(
        text.replace("base_set_sample: null", f"base_set_sample: {BASE_SET_SAMPLE}", 1),
        encoding="utf-8",
    )
    return dest


def run(cmd: list[str], cwd: Path) -> str:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MPLBACKEND": "Agg",
    }
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout + proc.stderr


def digests(ws: Path) -> dict[str, str]:
    out = {}
    for rel in COMPARED:
        base = ws / rel
        files = (
            [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.suffix in SUFFIXES)
        )
        for p in files:
            out[str(p.relative_to(ws))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="session")
def run_workspace(tmp_path_factory) -> Path:
    """A copy of the project where `research run` has run once (shared with the notebooks)."""
    ws = make_workspace(tmp_path_factory.mktemp("run"))
    out = run([RESEARCH, "run"], ws)
    assert "research run: done" in out
    return ws


def test_dvc_yaml_is_generated_from_pipeline():
    assert (ROOT / "dvc.yaml").read_text(encoding="utf-8") == dvc_yaml()
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert all(s["cmd"].startswith("research ") for s in stages.values())


def test_readme_cli_reference_is_current():
    from research.commands._docs import END, START, cli_reference

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(START, 1)[1].split(END, 1)[0]
    assert block.strip() == cli_reference().strip(), (
        "run: python -m research.commands._docs README.md"
    )


def test_readme_figure_guide_is_current_and_complete():
    from research.commands._docs import FIG_END, FIG_START, figure_guide
    from research.report import HOW_TO_READ
    from research.viz.registry import discover

    missing = sorted(set(discover()) - set(HOW_TO_READ))
    assert not missing, f"figures without a how-to-read text in research/report.py: {missing}"
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split(FIG_START, 1)[1].split(FIG_END, 1)[0]
    assert block.strip() == figure_guide().strip(), (
        "run: python -m research.commands._docs README.md"
    )


def test_run_writes_every_declared_output(run_workspace):
    from research.config import load_params
    from research.pipeline import render, stages

    params = load_params(run_workspace / "params.yaml")
    for st in stages():
        for path in (*st.outs, *st.metrics):
            assert (run_workspace / render(path, params)).exists(), f"{st.name}: {path} missing"
    import json

    for metrics in (run_workspace / "reports" / "metrics").glob("*.json"):
        if metrics.name == "summary.json":  # the headline numbers only (the DVC metric)
            continue
        prov = json.loads(metrics.read_text(encoding="utf-8"))["provenance"]
        assert len(prov["params_hash"]) == 16 and prov["library_versions"]["scikit-learn"], (
            metrics.name
        )
    card = json.loads(
        (run_workspace / "models" / "classifier" / "model_card.json").read_text(encoding="utf-8")
    )
    assert card["library_versions"] and card["codebook_fingerprint"]
    figs = run_workspace / "reports" / "figures"
    for name in ("domain_shares", "confusion_matrix", "topic_model_selection", "province_heatmap"):
        for ext in ("pdf", "png", "csv"):
            assert (figs / f"{name}.{ext}").exists()


@pytest.mark.skipif(DVC is None, reason="DVC not installed (pip install -e '.[dev]')")
def test_dvc_repro_matches_research_run_and_is_incremental(run_workspace, tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("dvc"))
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    run(["git", "init", "-q"], ws)
    run(git + ["add", "-A"], ws)
    run(git + ["commit", "-qm", "snapshot"], ws)
    out = run([DVC, "repro"], ws)
    assert "Running stage 'figures'" in out
    # determinism: two independent runs (research run, dvc repro) → identical bytes
    a, b = digests(run_workspace), digests(ws)
    assert a.keys() == b.keys() and len(a) > 30
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, f"outputs differ between runs: {differ}"
    # a second repro changes nothing
    out = run([DVC, "repro"], ws)
    assert "Running stage" not in out
    run(git + ["add", "-A"], ws)
    run(git + ["commit", "-qm", "lock"], ws)
    # one parameter changes → only the stages that depend on it run
    params = ws / "params.yaml"
    params.write_text(
        params.read_text(encoding="utf-8").replace("language: en", "language: zh", 1),
        encoding="utf-8",
    )
    assert "figures.language" in run([DVC, "params", "diff"], ws)
    out = run([DVC, "repro"], ws)
    ran = sorted(
        line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")
    )
    assert ran == ["figures", "report"]  # the report links the figures
    shown = run([DVC, "metrics", "show"], ws)
    assert "f1_by_doc" in shown and max(len(line) for line in shown.splitlines()) < 250


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs():
    import nbformat

    assert len(NOTEBOOKS) == 5
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert all(
            not c.get("outputs") and c.get("execution_count") is None
            for c in nb.cells
            if c.cell_type == "code"
        ), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, run_workspace, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("RESEARCH_PROJECT", str(run_workspace))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
