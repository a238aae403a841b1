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


def outlived(pids: list[int], polls: int = 100) -> list[int]:
    """The processes of ``pids`` still running (not zombies) after polling for them to end:
    polls, not a time limit (watchdogs check once a second)."""
    import time

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except FileNotFoundError:
            return False

    for _ in range(polls):
        if not any(alive(q) for q in pids):
            break
        time.sleep(0.1)
    return [q for q in pids if alive(q)]
