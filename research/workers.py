"""Worker processes (joblib/loky) that end with the process that started them, a thread
pool for work that releases the GIL (:func:`in_threads`), and what forking needs
(:func:`can_fork`, :func:`before_fork`: stages beside each other, figure workers).

loky keeps idle workers alive for minutes; when the parent is killed (SIGKILL, OOM) they
are re-parented and would hold their memory (~500 MB seen) until loky's idle timeout.
Tasks sent to workers are wrapped with :func:`in_worker`: in a worker process it starts
(once) a daemon thread that checks every second that the parent is still there and ends
the worker when it is not. Run in the parent itself (``n_jobs=1``), it does nothing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

_watching: int | None = None
_lock = threading.Lock()


def _watch(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(1)


def die_with_parent(parent: int, interval: float = 1.0) -> bool:
    """In a worker of ``parent``: start the watchdog (once). True when one is running."""
    global _watching
    if os.getpid() == parent or os.getppid() != parent:
        return _watching is not None  # the parent itself, or not its direct child
    with _lock:
        if _watching is None:
            threading.Thread(
                target=_watch, args=(parent, interval), name="die-with-parent", daemon=True
            ).start()
            _watching = parent
    return True


def _run(fn: Callable[..., Any], parent: int, *args: Any, **kwargs: Any) -> Any:
    die_with_parent(parent)
    return fn(*args, **kwargs)


def in_threads(fn: Callable[[Any], Any], items: Iterable[Any], n_jobs: int) -> list[Any]:
    """``[fn(x) for x in items]`` in ``n_jobs`` threads (-1: all cores), in order.

    For work that releases the GIL (gensim's numpy work, solvers; not tomotopy 0.14, whose
    extension holds it while training); each call must be independent of the others (its
    own seed), so results do not depend on ``n_jobs``."""
    from joblib import effective_n_jobs

    items = list(items)
    workers = min(effective_n_jobs(n_jobs), len(items))
    if workers <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def in_worker(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` for ``joblib.delayed``: the worker running it ends if this process dies."""
    return functools.partial(_run, fn, os.getpid())


def can_fork() -> bool:
    """Whether stages may run side by side here (Linux, fork, two or more usable cores)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    try:
        return len(os.sched_getaffinity(0)) >= 2
    except (AttributeError, OSError):  # pragma: no cover - Linux always has it
        return (os.cpu_count() or 1) >= 2


def before_fork() -> None:
    """Stop this process's helper threads that fork would copy half-way: tqdm's monitors
    (started by progress bars on a terminal, one per tqdm class, e.g. ``tqdm.auto``'s) are
    ended and not started again. Forking a process with other threads alive can deadlock
    the child (a lock held at fork)."""
    tqdm_mod = sys.modules.get("tqdm.std")
    if tqdm_mod is None:
        return
    tqdm_mod.tqdm.monitor_interval = 0  # no new monitor in this process (or its children)
    for t in threading.enumerate():
        if isinstance(t, tqdm_mod.TMonitor):
            with contextlib.suppress(Exception):
                t.exit()
            owner = getattr(t, "tqdm_cls", None)
            if owner is not None and getattr(owner, "monitor", None) is t:
                owner.monitor = None
