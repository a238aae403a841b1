"""Imports run downward: a stage imports only earlier stages and the shared modules; the
shared modules import no stage (so reading and cleaning never depends on modelling)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "research"
STAGES = ["corpus", "labels", "classify", "topics", "analysis", "viz"]
SHARED = ["errors", "config", "settings", "io", "workers"]


def _imports(f: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("research."):
            out.append((node.lineno, node.module.split(".")[1]))
        elif isinstance(node, ast.Import):
            out += [
                (node.lineno, a.name.split(".")[1])
                for a in node.names
                if a.name.startswith("research.")
            ]
    return out


def test_stages_import_downward_and_shared_modules_import_no_stage() -> None:
    bad = []
    for f in sorted(ROOT.rglob("*.py")):
        me = f.relative_to(ROOT).with_suffix("").parts[0]
        for line, target in _imports(f):
            if target not in STAGES:
                continue
            if me in SHARED or (me in STAGES and STAGES.index(target) > STAGES.index(me)):
                bad.append(f"{f.relative_to(ROOT.parent)}:{line} {me} → {target}")
    assert not bad, f"imports that run upward: {bad}"
