"""What produced an output: the package and library versions and the params hash.

Every metrics file and model card carries this block, so a number in a paper can be traced
to the code and parameters that made it. No timestamps: two runs with the same inputs and
params write identical bytes.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from research import __version__
from research.config import params_hash
from research.io import write_json

if TYPE_CHECKING:
    from research.settings import Params

LIBRARIES = (
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "gensim",
    "tomotopy",
    "jieba",
    "rjieba",
    "opencc",
    "statsmodels",
    "matplotlib",
)


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries that shape results (None when absent)."""
    out: dict[str, str | None] = {"python": platform.python_version(), "research": __version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    from research.corpus.tokenize import default_segmenter

    out["segmenter"] = default_segmenter()  # rjieba, or jieba where rjieba is missing
    return out


def provenance(params: Params | None) -> dict[str, Any]:
    """The provenance block: params hash (of the whole params.yaml) and library versions."""
    return {"params_hash": params_hash(params or {}), "library_versions": library_versions()}


def write_metrics(obj: dict[str, Any], path: str | Path, params: Params | None) -> Path:
    """Write a metrics JSON with the provenance block added under ``provenance``."""
    return write_json({**obj, "provenance": provenance(params)}, path)
