"""CI runs the linters: the README's test command (what .ci/run executes) checks ruff lint
and format and mypy before the tests, with their configuration in pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_command_runs_ruff_mypy_and_pytest() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- test-command -->", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    steps = [s.strip() for s in block.strip().split("&&")]
    for needle in (
        "ruff check research tests benchmarks",
        "ruff format --check research tests benchmarks",
        "mypy",
        "python -m pytest",
    ):
        assert any(s.endswith(needle) for s in steps), (needle, steps)
    assert "README.md" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    tools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    assert tools["ruff"]["lint"]["select"] and tools["mypy"]["packages"] == ["research"]
