"""Shared fixtures: the repo root, the seed corpus prepared once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
GOV_REPORTS = SHARED / "corpora" / "gov-work-reports" / "government_work_reports.jsonl"

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def params() -> dict:
    from research.config import load_params

    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def prepared_seeds(params):
    """The seed corpus prepared in memory (no files written)."""
    from research.corpus.prepare import prepare_corpus

    p = dict(params)
    p["tokenize"] = {**(params.get("tokenize") or {}), "cache": False}
    return prepare_corpus(ROOT / "seeds", p, progress=False)


@pytest.fixture(scope="session")
def prepared_dir(prepared_seeds, tmp_path_factory) -> Path:
    """The seed corpus prepared and written to a temp folder."""
    from research.corpus.prepare import write_prepared

    out = tmp_path_factory.mktemp("prepared")
    write_prepared(prepared_seeds, out)
    return out
