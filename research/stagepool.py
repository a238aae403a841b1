"""Stages side by side: ``research run`` starts a stage marked ``beside`` (long, and read
by few: the topic models, the learning curve) in a forked process when the next stage does
not need it, and waits for it only where a later stage reads what it writes.

Why fork: the child starts with everything this process has loaded (libraries, the token
lists and feature memos of the stages before), so a stage costs the same beside the others
as in line. The topic models (one core: tomotopy holds the GIL) run while the classifier
is evaluated and trained; the learning curve (it reads the evaluation's choice) while
train, predict and analyse run. A stage's results never depend on this:
it reads the same files and writes them atomically; a test compares the bytes of a run with
stages side by side against ``dvc repro``, which runs them one after another.

What a stage needs is read from the declarations in :mod:`research.pipeline` (deps and
outs, folders counting as prefixes): the same graph DVC uses. The child's output goes to
``<data>/cache/logs/<stage>.log``, printed whole when the stage has been waited for, so
lines of two stages never interleave; a child ends if this process dies. Only on Linux
with two or more usable cores (macOS system libraries are not fork-safe); elsewhere, or
with ``research run --serial``, stages run in order here.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from research import pipeline
from research.pipeline import Stage, StageTime, conflicts
from research.workers import before_fork, can_fork


@dataclass
class _Running:
    stage: Stage
    key: str
    pid: int
    result_fd: int
    log: Path


class StagePool:
    """Stages running in forked children of this process, and what they return."""

    def __init__(self, params: dict, enabled: bool, log_dir: Path | None = None) -> None:
        self.params = params
        self.enabled = enabled
        self.log_dir = log_dir
        self.running: dict[str, _Running] = {}

    def background(self, stage: Stage, following: list[Stage]) -> bool:
        """Run ``stage`` in a child? Only a ``beside`` stage, and only if the next stage
        neither reads what it writes nor writes what it reads (else nothing to do meanwhile)."""
        return bool(
            self.enabled
            and stage.beside
            and following
            and not conflicts(following[0], stage, self.params)
        )

    def start(self, stage: Stage, key: str, run: Callable[[], list[StageTime]]) -> None:
        """Fork a child that runs ``run()`` (the stage) and exits."""
        from research.config import project_paths

        logs = self.log_dir or Path(project_paths(self.params)["data"]) / "cache" / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{stage.name}.log"
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        before_fork()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(run, write_fd, log)
        os.close(write_fd)
        self.running[stage.name] = _Running(stage, key, pid, read_fd, log)
        pipeline.BACKGROUND.add(pid)  # its CPU is its own stage's, not the parent's
        print(f"\n=== {stage.name}: started beside the next stages (process {pid})", flush=True)

    def wait_for(self, stage: Stage) -> list[tuple[_Running, list[StageTime] | str]]:
        """Wait for the running stages ``stage`` conflicts with (see :func:`conflicts`)."""
        names = [n for n, r in self.running.items() if conflicts(stage, r.stage, self.params)]
        return [self._join(n) for n in names]

    def wait_all(self) -> list[tuple[_Running, list[StageTime] | str]]:
        return [self._join(n) for n in list(self.running)]

    def _join(self, name: str) -> tuple[_Running, list[StageTime] | str]:
        """(the running stage, its timings — or the error message if it failed)."""
        r = self.running.pop(name)
        with os.fdopen(r.result_fd, "rb") as fh:
            raw = fh.read()
        _, status = os.waitpid(r.pid, 0)
        pipeline.BACKGROUND.discard(r.pid)
        text = r.log.read_text(encoding="utf-8", errors="replace")
        print(f"\n=== {name}: finished beside the stages above; its output:", flush=True)
        sys.stdout.write(text)
        sys.stdout.flush()
        try:
            res = json.loads(raw.decode("utf-8"))
        except ValueError:
            res = {"error": f"process {r.pid} ended without a result (exit status {status})"}
        if "error" in res:
            return r, str(res["error"])
        return r, [StageTime(**t) for t in res["timings"]]

    def stop(self) -> None:
        """Interrupted: end the children and wait for them (their outputs are atomic)."""
        import signal

        for r in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(r.pid, signal.SIGTERM)
        for name in list(self.running):
            r = self.running.pop(name)
            os.close(r.result_fd)
            os.waitpid(r.pid, 0)


def _child(run: Callable[[], list[StageTime]], result_fd: int, log: Path) -> None:
    """In the forked child: output to ``log``, run the stage, send the result, exit."""
    from research.workers import die_with_parent

    code = 1
    payload: dict[str, Any] = {"error": "the stage raised"}
    try:
        try:
            die_with_parent(os.getppid())  # no orphan left computing if the run is killed
            pipeline.BACKGROUND.clear()
            out = open(log, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed by _exit
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
            sys.stdout = sys.stderr = out
            payload = {"timings": [t._asdict() for t in run()]}
            code = 0
        except BaseException as exc:  # reported to the parent, which raises it
            traceback.print_exc()
            payload = {"error": f"{str(exc) or type(exc).__name__} (log: {log})"}
    finally:
        try:
            os.write(result_fd, json.dumps(payload).encode("utf-8"))
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_stages(
    todo: list[Stage],
    params: dict,
    parallel: bool,
    run_one: Callable[[Stage], list[StageTime]],
    fresh: Callable[[Stage], tuple[str, StageTime | None]],
    record: Callable[[Stage, str], None],
    log_dir: Path | None = None,
) -> list[StageTime]:
    """Run ``todo`` in order, a stage beside the next ones where :class:`StagePool` allows.

    ``fresh(stage)`` gives (key, the skipped stage's timing or None when it must run);
    ``record(stage, key)`` is called for each stage that ran and succeeded. A failed stage
    stops the run after the stages already running have finished. Logs of the stages run
    beside go to ``log_dir`` (default ``<data>/cache/logs``).
    """
    from research.errors import ResearchError

    pool = StagePool(params, parallel and can_fork(), log_dir)
    done: dict[str, list[StageTime]] = {}
    failed: list[str] = []

    def collect(results: list[tuple[_Running, list[StageTime] | str]]) -> None:
        for r, res in results:
            if isinstance(res, str):
                failed.append(f"stage {r.stage.name} failed: {res}")
            else:
                done[r.stage.name] = res
                record(r.stage, r.key)

    try:
        for i, st in enumerate(todo):
            collect(pool.wait_for(st))
            if failed:
                break
            key, skipped = fresh(st)
            if skipped is not None:
                done[st.name] = [skipped]
                continue
            if pool.background(st, todo[i + 1 :]):
                pool.start(st, key, lambda st=st: run_one(st))  # type: ignore[misc]
                continue
            done[st.name] = run_one(st)
            record(st, key)
        collect(pool.wait_all())
    except Exception:  # a stage here failed: let those beside it finish (and keep them)
        collect(pool.wait_all())
        raise
    except BaseException:  # interrupted: end them
        pool.stop()
        raise
    if failed:
        raise ResearchError("; ".join(failed))
    return [t for st in todo for t in done.get(st.name, [])]
