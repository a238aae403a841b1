"""Registry of figure functions, so `research figures` draws every figure any module defines.

A figure function builds one (or a few) figures from tables already written by the pipeline::

    @register_figure("confusion_matrix", requires=["tables/confusion_matrix.csv"])
    def confusion_matrix(reports_dir: Path, out_dir: Path, params: dict, language: str) -> list[Path]:
        ...
        return save_figure(fig, data, out_dir, "confusion_matrix", ...)

``requires`` lists input files relative to ``reports_dir`` (a path starting with ``data/``
or an absolute path is taken as is); when one is missing the figure is skipped with a
printed note. A function may also raise ``SkipFigure("why")`` itself. Put figure modules in
``research/viz/``: they are imported automatically by :func:`discover`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from research.settings import settings_of

FigureFn = Callable[[Path, Path, dict, str], list[Path]]

_NOT_FIGURE_MODULES = {"style", "registry"}


class SkipFigure(Exception):
    """Raised by a figure function when its inputs are absent or unusable (not an error)."""


@dataclass(frozen=True)
class FigureSpec:
    """One registered figure: its name, function and the input files it needs."""

    name: str
    fn: FigureFn
    requires: tuple[str, ...] = field(default_factory=tuple)
    module: str = ""

    def missing_inputs(self, reports_dir: Path) -> list[Path]:
        """The required input files that do not exist."""
        return [p for p in (resolve_input(r, reports_dir) for r in self.requires) if not p.exists()]


FIGURES: dict[str, FigureSpec] = {}


def resolve_input(rel: str, reports_dir: Path) -> Path:
    """Path of a required input: absolute, ``data/...`` (from the cwd), else under reports_dir."""
    p = Path(rel)
    if p.is_absolute():
        return p
    if p.parts and p.parts[0] in {"data", "models", "seeds"}:
        return p
    return Path(reports_dir) / p


def read_input_table(reports_dir: Path, name: str):
    """A table from ``reports/tables`` for a figure; missing or empty → :class:`SkipFigure`."""
    from research.io import read_table

    path = Path(reports_dir) / "tables" / name
    if not path.exists():
        raise SkipFigure(f"missing input {path}")
    df = read_table(path)
    if df.empty:
        raise SkipFigure(f"{path} is empty")
    return df


def register_figure(name: str, requires: Iterable[str] = ()) -> Callable[[FigureFn], FigureFn]:
    """Decorator: register ``fn`` as figure ``name`` (names are unique across the package)."""

    def deco(fn: FigureFn) -> FigureFn:
        existing = FIGURES.get(name)
        if existing is not None and existing.fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"figure {name!r} already registered by {existing.module}")
        FIGURES[name] = FigureSpec(name, fn, tuple(requires), fn.__module__)
        return fn

    return deco


def discover() -> dict[str, FigureSpec]:
    """Import every module of ``research.viz`` (registering their figures); return the registry."""
    import research.viz as pkg

    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if m.name.startswith("_") or m.name in _NOT_FIGURE_MODULES:
            continue
        importlib.import_module(f"research.viz.{m.name}")
    return dict(sorted(FIGURES.items()))


@dataclass
class FigureResult:
    """What happened to one figure: the files written, or why it was skipped/failed."""

    name: str
    paths: list[Path] = field(default_factory=list)
    skipped: str = ""
    error: str = ""


def draw_figure(
    name: str, reports_dir: Path, out_dir: Path, params: dict[str, Any], language: str, cwd: str
) -> FigureResult:
    """Draw one registered figure (in this process or a worker); never raises."""
    import os

    import matplotlib.pyplot as plt

    from research.viz.style import setup_style

    if os.getcwd() != cwd:  # a reused worker process may have started in another directory
        os.chdir(cwd)
    spec = discover()[name]
    res = FigureResult(name)
    missing = spec.missing_inputs(Path(reports_dir))
    if missing:
        res.skipped = "missing input " + ", ".join(str(p) for p in missing)
        return res
    setup_style(language, width_in=float(settings_of(params).figures.width_in))
    try:
        res.paths = list(spec.fn(Path(reports_dir), Path(out_dir), params, language) or [])
    except SkipFigure as exc:
        res.skipped = str(exc)
    except Exception as exc:
        res.error = f"{type(exc).__name__}: {exc}"
    finally:
        plt.close("all")
    return res


def run_figures(
    reports_dir: Path,
    out_dir: Path,
    params: dict[str, Any],
    language: str = "en",
    names: Iterable[str] | None = None,
    echo: Callable[[str], None] | None = print,
) -> list[FigureResult]:
    """Draw every registered figure (or only ``names``), skipping those whose inputs are missing.

    A figure that fails with an unexpected exception is reported (not raised), so one broken
    figure does not stop the others; the caller decides the exit status. Figures are
    independent of each other, so they are drawn in ``figures.n_jobs`` processes (saving
    PDFs and PNGs is most of the stage); the files do not depend on it.
    """
    import os

    from joblib import Parallel, delayed, effective_n_jobs
    from tqdm.auto import tqdm

    from research.workers import can_fork, in_worker

    registry = discover()
    wanted = list(registry) if names is None else list(names)
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise KeyError(f"unknown figure(s): {', '.join(unknown)}; known: {', '.join(registry)}")
    n_jobs = settings_of(params).figures.n_jobs if len(wanted) > 1 else 1
    if n_jobs != 1:  # cut the cached CJK font subset once here, not in every worker
        from research.viz.style import cjk_subset_path

        cjk_subset_path()
    cwd = os.getcwd()
    calls = [(n, reports_dir, out_dir, params, language, cwd) for n in wanted]
    drawn: Iterable[FigureResult]
    if n_jobs != 1 and can_fork():
        drawn = _draw_forked(calls, effective_n_jobs(n_jobs))
    else:
        drawn = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(in_worker(draw_figure))(*call) for call in calls
        )
    results: list[FigureResult] = []
    for res in tqdm(drawn, total=len(wanted), desc="figures", unit="fig", disable=None):
        if echo is not None:
            if res.skipped:
                echo(f"  skip {res.name}: {res.skipped}")
            elif res.error:
                echo(f"  FAILED {res.name}: {res.error}")
            else:
                echo(f"  {res.name}: {len(res.paths)} files")
        results.append(res)
    return results


def _draw_forked(calls: list[tuple[Any, ...]], n_jobs: int) -> Iterator[FigureResult]:
    """:func:`draw_figure` for each call in ``n_jobs`` forked processes, in order (Linux).

    Forked rather than loky's fresh interpreters: matplotlib, the figure modules and the
    font list are loaded once here and every worker starts with them (about 1 s of imports
    per worker otherwise).
    """
    import multiprocessing
    import os

    import matplotlib.pyplot  # noqa: F401 - loaded once, before the workers start

    from research.viz.style import cjk_families
    from research.workers import before_fork

    discover()
    cjk_families()
    before_fork()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(n_jobs, initializer=_forked_worker, initargs=(os.getpid(),)) as pool:
        yield from pool.imap(_draw_call, calls)


def _forked_worker(parent: int) -> None:
    # A worker writes its files itself: a stage's deferred output set lives in the parent;
    # and it ends if the stage's process dies, as loky's workers do (research/workers.py)
    from research import io
    from research.workers import die_with_parent

    io._PENDING.set(None)
    die_with_parent(parent)


def _draw_call(call: tuple[Any, ...]) -> FigureResult:
    return draw_figure(*call)
