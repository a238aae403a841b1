"""Small helpers that keep the notebooks free of logic: locate the project, make sure the
pipeline's outputs exist, and read tables and figures by name."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

#: outputs whose presence means `research run` has completed
SENTINELS = ("data/prepared/paragraphs.parquet", "reports/metrics/analysis.json", "reports/figures")


def project_dir(default: str | Path = "..") -> Path:
    """The project folder: ``$RESEARCH_PROJECT`` if set, else ``default`` (the repo root
    when a notebook runs from ``notebooks/``)."""
    return Path(os.environ.get("RESEARCH_PROJECT", default)).resolve()


@contextlib.contextmanager
def working_dir(path: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(old)


def ensure_outputs(project: Path) -> Path:
    """Run the whole pipeline in ``project`` unless its outputs are already there."""
    if all((project / s).exists() for s in SENTINELS):
        return project
    from research.pipeline import run_pipeline

    with working_dir(project):
        run_pipeline("params.yaml")
    return project


def params(project: Path) -> dict:
    """The project's params.yaml."""
    from research.config import load_params

    return load_params(project / "params.yaml")


def table(project: Path, name: str) -> pd.DataFrame:
    """A table written by the pipeline, by file name (searched under reports/ and data/)."""
    for base in (
        "reports/tables",
        "reports/metrics",
        "data/prepared",
        "data/labels",
        "data/predictions",
        "data/topics",
        "reports",
    ):
        p = project / base / name
        if p.exists():
            from research.io import read_table

            if p.suffix == ".json":
                import json

                return pd.json_normalize(json.loads(p.read_text(encoding="utf-8")))
            return read_table(p)
    raise FileNotFoundError(f"{name} not found under {project}/reports or {project}/data")


def metrics(project: Path, name: str) -> dict:
    """A metrics JSON file from reports/metrics as a dict."""
    import json

    return json.loads((project / "reports" / "metrics" / name).read_text(encoding="utf-8"))


def figure(project: Path, name: str, width: int = 700):
    """Display a figure PNG from reports/figures (for Jupyter)."""
    from IPython.display import Image

    return Image(filename=str(project / "reports" / "figures" / f"{name}.png"), width=width)


def figure_names(project: Path) -> list[str]:
    """Names of the figures the pipeline drew."""
    return sorted(p.stem for p in (project / "reports" / "figures").glob("*.png"))
