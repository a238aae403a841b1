"""Stage results keyed by a hash of their inputs, params and code (as DVC does).

``research run`` asks :func:`run_cached` to run the stages: a stage whose key — the
contents of its deps, the params sections it reads (and ``paths``), the package's code
and resources, and the versions of the libraries that shape results — matches the key
recorded when it last ran, and whose outs still hash to what it wrote then, is skipped.
Anything else runs as before. Keys live in ``<data>/cache/runcache.json`` (written
atomically); ``--force`` (or deleting that file) runs everything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SKIP = {"__pycache__", ".ipynb_checkpoints"}


def _hash_path(h: Any, path: Path) -> None:
    """Feed a file's or a folder's (sorted, recursive) names and bytes into ``h``."""
    if path.is_file():
        h.update(b"F" + path.name.encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    elif path.is_dir():
        h.update(b"D" + path.name.encode() + b"\0")
        for child in sorted(path.iterdir()):
            if child.name not in _SKIP and not child.name.endswith(".pyc"):
                _hash_path(h, child)
    else:
        h.update(b"-" + path.name.encode() + b"\0")


def hash_paths(paths: Iterable[str | Path], root: Path) -> str:
    """sha256 over the contents of ``paths`` (relative to ``root``); missing ones count."""
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p).encode() + b"\0")
        _hash_path(h, root / p)
    return h.hexdigest()


def _section(params: dict, dotted: str) -> Any:
    node: Any = params
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def code_hash() -> str:
    """The package's code and shipped resources, and the versions that shape results
    (read from package metadata: importing them would cost more than the check)."""
    import platform
    from importlib import metadata

    import research

    h = hashlib.sha256()
    _hash_path(h, Path(research.__file__).resolve().parent)
    h.update(platform.python_version().encode())
    for name in ("numpy", "pandas", "scipy", "scikit-learn", "rjieba", "jieba", "gensim"):
        try:
            h.update(f"{name}=={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name} absent\0".encode())
    return h.hexdigest()


class RunCache:
    """Keys of the stages' last runs, in ``<data>/cache/runcache.json``."""

    def __init__(self, params_path: str | None, root: Path | None = None) -> None:
        from research.config import load_params, project_paths

        self.root = Path(root or Path.cwd())
        self.params = load_params(params_path) or {}
        self.file = self.root / project_paths(self.params)["data"] / "cache" / "runcache.json"
        try:
            self.entries: dict[str, dict] = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}
        self._code: str | None = None

    def _paths(self, paths: Iterable[str]) -> list[str]:
        """Stage paths with ``${paths.*}`` filled from params (as the commands get them)."""
        from research.pipeline import render

        return [render(p, self.params) for p in paths]

    def key(self, stage: Any) -> str:
        """Hash of the stage's command, deps, params sections, paths and code."""
        if self._code is None:
            self._code = code_hash()
        h = hashlib.sha256()
        cmd = " ".join(self._paths(stage.cmd))
        h.update(cmd.encode() + b"\0" + self._code.encode())
        sections = {s: _section(self.params, s) for s in ("paths", *stage.params)}
        h.update(json.dumps(sections, sort_keys=True, default=str).encode())
        h.update(hash_paths(self._paths(stage.deps), self.root).encode())
        return h.hexdigest()

    def outs_hash(self, stage: Any) -> str:
        """Hash of the outs, metrics and plots, and of the gold-only outs (absent ones count)."""
        return hash_paths(self._outs(stage) + self._paths(stage.gold_outs), self.root)

    def _outs(self, stage: Any) -> list[str]:
        return self._paths((*stage.outs, *stage.metrics, *stage.plots))

    def fresh(self, stage: Any, key: str) -> bool:
        """Did the stage last run with this key, and are its outs as it left them?"""
        entry = self.entries.get(stage.name)
        outs = self._outs(stage)
        return (
            entry is not None
            and entry.get("key") == key
            and bool(outs)
            and all((self.root / o).exists() for o in outs)
            and entry.get("outs") == self.outs_hash(stage)
        )

    def record(self, stage: Any, key: str) -> None:
        from research.io import atomic_path

        self.entries[stage.name] = {"key": key, "outs": self.outs_hash(stage)}
        self.file.parent.mkdir(parents=True, exist_ok=True)
        # now, not when `research run`'s own output set ends: the stage has committed its
        # outputs, and a later stage that fails must not make the next run redo this one
        with atomic_path(self.file, defer=False) as tmp:
            Path(tmp).write_text(json.dumps(self.entries, indent=1, sort_keys=True), "utf-8")


def run_cached(
    params_path: str | None,
    only: list[str] | None = None,
    start: str | None = None,
    force: bool = False,
    parallel: bool = True,
) -> list[Any]:
    """Run the selected stages like ``run_pipeline``, skipping those whose key is unchanged.

    A stage's key is computed just before it would run (after the stages it reads from have
    finished), so a stage whose deps an earlier stage rewrote sees the new contents. A
    skipped stage reports the seconds its check took. With ``parallel`` a stage the next one
    does not need runs beside it (:mod:`research.stagepool`); results are the same.
    """
    import time

    from research.pipeline import StageTime, cpu_seconds, run_pipeline, select
    from research.stagepool import run_stages

    todo = select(only, start)
    cache = RunCache(params_path)

    def fresh(st: Any) -> tuple[str, StageTime | None]:
        t0, c0 = time.perf_counter(), cpu_seconds()
        key = cache.key(st)
        if force or not cache.fresh(st, key):
            return key, None
        print(f"\n=== {st.name}: unchanged (inputs, params and code as last run) — skipped")
        return key, StageTime(st.name, time.perf_counter() - t0, cpu_seconds() - c0, skipped=True)

    def run_one(st: Any) -> list[StageTime]:
        return run_pipeline(params_path, only=[st.name])

    return run_stages(todo, cache.params, parallel, run_one, fresh, cache.record)
