"""A project as the CLI sees it, for notebooks and scripts: its params, paths, codebook and
the tables and figures the pipeline wrote. Nothing here runs the pipeline: a missing input
is reported with a sentence saying what is missing and why, so a notebook section can skip.

>>> import research
>>> p = research.project("myproj")            # doctest: +SKIP
>>> p.table("shares.csv").head()              # doctest: +SKIP
>>> if p.section("agreement.json"): ...       # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

#: where the pipeline writes tables, in search order (relative to paths.reports / paths.data)
TABLE_DIRS = (
    ("reports", "tables"),
    ("reports", "metrics"),
    ("data", "prepared"),
    ("data", "labels"),
    ("data", "predictions"),
    ("data", "topics"),
    ("reports", ""),
)

#: why an output may be missing, by file name (the sentence a skipped section shows)
WHY = {
    "agreement": "agreement needs labels from two annotators in paths.annotations "
    "(see `research annotate`)",
    "weak_label_eval": "the weak_labels stage has not run",
    "cv_predictions": "the classifier is trained by the train stage",
    "classifier_cv": "the classifier is trained by the train stage",
    "confusion_matrix": "the classifier is trained by the train stage",
    "classifier_per_class": "the classifier is trained by the train stage",
    "multilevel_year": "the multilevel model needs reports from three or more provinces "
    "in two or more years",
    "seeded_eval": "scoring the seeded LDA needs gold labels of this corpus in paths.annotations",
    "adjusted_eval": "evaluating the share adjustment needs held-out predictions with gold labels",
    "k_sweep": "the K sweep runs only with topics.sweep: true",
    "gold": "this corpus has no gold labels in paths.annotations yet (see `research annotate`)",
}


class MissingOutput(FileNotFoundError):
    """A pipeline output that does not exist (yet); the message says why."""


def project_dir(default: str | Path = ".") -> Path:
    """The project folder: ``$RESEARCH_PROJECT`` if set, else ``default``."""
    return Path(os.environ.get("RESEARCH_PROJECT", default)).resolve()


@dataclass
class Project:
    """A project folder (``params.yaml`` + the pipeline's outputs), resolved like the CLI:
    paths from ``params.yaml`` relative to the folder, the codebook from ``paths.codebook``
    (or the bundled one)."""

    root: Path
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, root: str | Path = ".") -> Project:
        """The project in folder ``root`` (its params.yaml; defaults when it has none)."""
        from research.config import load_params

        root = Path(root).resolve()
        p = root / "params.yaml"
        return cls(root, load_params(p) if p.exists() else {})

    @property
    def paths(self) -> dict[str, Path]:
        """``paths`` of params.yaml as absolute paths (relative ones from the project)."""
        from research.config import project_paths

        return {k: self._abs(v) for k, v in project_paths(self.params).items()}

    def _abs(self, rel: str | Path) -> Path:
        p = Path(rel)
        return p if p.is_absolute() else self.root / p

    @property
    def codebook(self):
        """The codebook the CLI uses for this project."""
        from research.config import project_paths
        from research.labels.codebook import load_codebook, resolve_codebook_path

        p = self.paths["codebook"]
        return load_codebook(
            p if p.exists() else resolve_codebook_path(project_paths(self.params)["codebook"])
        )

    def path(self, name: str) -> Path:
        """Where output ``name`` (e.g. ``shares.csv``, ``paragraphs.parquet``) is."""
        p = self._find(name)
        if p is None:
            raise MissingOutput(self.why(name))
        return p

    def _find(self, name: str) -> Path | None:
        bases = {"reports": self.paths["reports"], "data": self.paths["data"]}
        for base, sub in TABLE_DIRS:
            p = bases[base] / sub / name
            if p.exists():
                return p
        return None

    def why(self, name: str) -> str:
        """A sentence saying that ``name`` is missing and why."""
        stem = Path(name).stem
        key = next((k for k in WHY if stem.startswith(k)), stem)
        reason = WHY.get(key) or "run `research run` in the project to make it"
        found = self._find(name)
        if found is not None and found.suffix == ".csv" and pd.read_csv(found).empty:
            reason = "the table is empty (its stage found nothing to report)"
        skipped = self._skipped(key)
        return f"{name} is not available: {skipped or reason}."

    def _skipped(self, stem: str) -> str:
        m = self.paths["reports"] / "metrics" / f"{stem}.json"
        if m.exists():
            return str(json.loads(m.read_text(encoding="utf-8")).get("skipped", ""))
        return ""

    def has(self, name: str) -> bool:
        """Whether output ``name`` exists, is not empty, and its stage was not skipped."""
        if name == "gold":
            return self.gold() is not None
        try:
            p = self.path(name)
        except MissingOutput:
            return False
        stem = Path(name).stem
        if self._skipped(next((k for k in WHY if stem.startswith(k)), stem)):
            return False
        if p.suffix == ".csv":
            return len(pd.read_csv(p, nrows=1)) > 0
        return True

    def section(self, *names: str) -> bool:
        """True when every input of a notebook section exists; else display (or print) one
        sentence per missing input saying why, and return False."""
        missing = [n for n in names if not self.has(n)]
        for n in missing:
            _say(f"*Skipped:* {self.why(n)}")
        return not missing

    def table(self, name: str) -> pd.DataFrame:
        """A table the pipeline wrote, by file name (.csv/.parquet; .json flattened)."""
        from research.io import read_table

        p = self.path(name)
        if p.suffix == ".json":
            return pd.json_normalize(json.loads(p.read_text(encoding="utf-8")))
        return read_table(p)

    def metrics(self, name: str) -> dict:
        """A metrics file of ``reports/metrics`` as a dict."""
        p = self.paths["reports"] / "metrics" / name
        if not p.exists():
            raise MissingOutput(self.why(name))
        return json.loads(p.read_text(encoding="utf-8"))

    def gold(self) -> pd.DataFrame | None:
        """The gold-labelled rows of ``paths.annotations`` (None when there are none)."""
        from research.io import read_table

        p = self.paths["annotations"]
        if not p.exists():
            return None
        t = read_table(p)
        if "gold" not in t.columns:
            return None
        t = t[t["gold"].fillna("").astype(str).str.strip() != ""]
        return t.reset_index(drop=True) if len(t) else None

    def figure(self, name: str, width: int = 700):
        """A figure PNG the pipeline drew (for Jupyter); if absent, a sentence saying why
        is shown instead and None returned."""
        p = self.paths["reports"] / "figures" / f"{name}.png"
        if not p.exists():
            _say(
                f"*Skipped:* figure {name} was not drawn: its input tables are missing or "
                "empty (`research figures` lists why)."
            )
            return None
        from IPython.display import Image

        return Image(filename=str(p), width=width)

    def figure_names(self) -> list[str]:
        """Names of the figures the pipeline drew."""
        return sorted(p.stem for p in (self.paths["reports"] / "figures").glob("*.png"))

    def model_dir(self) -> Path:
        return self.paths["models"] / "classifier"


def _say(markdown: str) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(markdown))
            return
    except ImportError:
        pass
    print(markdown.replace("*", ""))
