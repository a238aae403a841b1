"""Stages side by side (research/stagepool.py): which may, where they are waited for, what
they report, and that a failure beside the main line stops the run with the stage named."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from research import pipeline, stagepool, workers
from research.errors import ResearchError
from research.pipeline import Stage, StageTime, conflicts
from research.stagepool import run_stages

from .conftest import outlived

needs_fork = pytest.mark.skipif(not workers.can_fork(), reason="stages run in order here")

# a -> b (reads a's folder), c beside (reads a, nothing reads c until d), d reads everything
A = Stage("a", ("a",), deps=("in",), params=(), outs=("data/a",))
C = Stage("c", ("c",), deps=("data/a/x.parquet",), params=(), outs=("reports/c.csv",), beside=True)
B = Stage("b", ("b",), deps=("data/a",), params=(), outs=("data/b",))
D = Stage("d", ("d",), deps=("reports", "data/b"), params=(), outs=("out",))


def test_conflicts_follow_declared_paths_and_folders() -> None:
    assert conflicts(B, A, {}) and conflicts(A, B, {})  # b reads a folder a writes
    assert conflicts(C, A, {})  # a file inside a's folder
    assert not conflicts(B, C, {}) and not conflicts(C, B, {})
    assert conflicts(D, C, {})  # reports/ covers reports/c.csv
    both = Stage("e", ("e",), deps=(), params=(), outs=("reports/c.csv",))
    assert conflicts(both, C, {})  # two writers of one file never run together


def test_the_pipeline_runs_topics_and_learning_curve_beside_and_waits_where_read() -> None:
    from research.config import load_params

    params = load_params(None)
    todo = pipeline.stages()
    pool = stagepool.StagePool(params, enabled=True)
    beside = [s.name for i, s in enumerate(todo) if pool.background(s, todo[i + 1 :])]
    assert beside == ["topics", "learning_curve"]

    def waits(name: str) -> list[str]:
        st = next(s for s in todo if s.name == name)
        return [s.name for s in todo if s is not st and conflicts(s, st, params)]

    # the topic models read nothing of the classifier: they run beside evaluate ... predict
    assert waits("topics") == ["prepare", "analyse", "figures", "report"]
    # the learning curve reads the evaluation's choice, not the final model: it runs beside
    # train ... analyse
    assert waits("learning_curve") == ["prepare", "evaluate", "figures", "report"]


def _runner(log: Path, fail: str | None = None, side_by_side: bool = True):
    def run_one(st: Stage) -> list[StageTime]:
        start = time.time()
        if st.name == "b":
            (log.parent / "b-started").touch()
        if st.name == "c" and side_by_side and fail != "b":  # c ends once b has started
            deadline = time.time() + 120
            while not (log.parent / "b-started").exists() and time.time() < deadline:
                time.sleep(0.01)
        if st.name == fail:
            raise ResearchError(f"{st.name} broke")
        with log.open("a") as fh:  # O_APPEND: whole lines from both processes
            fh.write(f"{st.name} {os.getpid()} {start:.3f} {time.time():.3f}\n")
        print(f"output of {st.name}")
        return [StageTime(st.name, 0.25, 0.5)]

    return run_one


def _never_fresh(st: Stage) -> tuple[str, StageTime | None]:
    return f"key-{st.name}", None


@needs_fork
def test_a_beside_stage_runs_in_a_child_while_the_next_runs_and_is_waited_for(
    tmp_path, capsys
) -> None:
    log = tmp_path / "log"
    recorded: list[tuple[str, str]] = []
    times = run_stages(
        [A, C, B, D],
        {},
        True,
        _runner(log),
        _never_fresh,
        lambda st, key: recorded.append((st.name, key)),
        tmp_path,
    )
    assert [t.name for t in times] == ["a", "c", "b", "d"]  # in pipeline order
    assert times[1] == StageTime("c", 0.25, 0.5)  # the child's own timing came back
    rows = {r.split()[0]: r.split()[1:] for r in log.read_text().splitlines()}
    assert rows["c"][0] != str(os.getpid()) and rows["b"][0] == str(os.getpid())
    b_start, c_end, d_start = float(rows["b"][1]), float(rows["c"][2]), float(rows["d"][1])
    assert b_start < c_end <= d_start  # b ran meanwhile (c waited for it); d waited for c
    assert sorted(recorded) == [("a", "key-a"), ("b", "key-b"), ("c", "key-c"), ("d", "key-d")]
    out = capsys.readouterr().out
    assert "output of c" in out  # the child's output, printed whole when waited for
    assert out.index("=== c: finished") < out.index("output of c") < out.index("output of d")
    assert (tmp_path / "c.log").read_text().startswith("output of c")  # kept for later
    assert not pipeline.BACKGROUND


def test_serial_runs_everything_here_in_order(tmp_path) -> None:
    log = tmp_path / "log"
    run = _runner(log, side_by_side=False)
    run_stages([A, C, B, D], {}, False, run, _never_fresh, lambda st, key: None)
    rows = [r.split() for r in log.read_text().splitlines()]
    assert [r[0] for r in rows] == ["a", "c", "b", "d"]
    assert {r[1] for r in rows} == {str(os.getpid())}


@needs_fork
@pytest.mark.parametrize(
    ("fail", "message", "kept"),
    [
        # beside: b ran meanwhile, d never; the message names the stage's log
        ("c", r"stage c failed: c broke \(log: .*c\.log\)", ["a", "b"]),
        ("b", "b broke", ["a", "c"]),  # main line: c was let finish and recorded
    ],
)
def test_a_failed_stage_stops_the_run_and_is_not_recorded(tmp_path, fail, message, kept) -> None:
    recorded: list[str] = []
    with pytest.raises(ResearchError, match=message):
        run_stages(
            [A, C, B, D],
            {},
            True,
            _runner(tmp_path / "log", fail=fail),
            _never_fresh,
            lambda st, key: recorded.append(st.name),
            tmp_path,
        )
    assert recorded == kept
    assert not pipeline.BACKGROUND


def test_cpu_seconds_leaves_out_stages_running_beside(monkeypatch) -> None:
    import subprocess
    import sys

    import psutil

    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        spent = psutil.Process(child.pid)
        while sum(spent.cpu_times()[:2]) < 0.3:  # CPU it has used (a count, not a time)
            time.sleep(0.05)
        used = sum(spent.cpu_times()[:2])  # the child's CPU so far; it only grows
        monkeypatch.setattr(pipeline, "BACKGROUND", {child.pid})
        without = pipeline.cpu_seconds()  # read after `used`: every sum only grows
        monkeypatch.setattr(pipeline, "BACKGROUND", set())
        # counted only when not beside: the difference holds at least the child's CPU read
        # before, whatever the machine's load (no time limit, only CPU counts in order)
        assert used >= 0.3
        assert pipeline.cpu_seconds() - without >= used
    finally:
        child.kill()
        child.wait()


def test_before_fork_ends_the_progress_bar_monitor_threads(monkeypatch) -> None:
    import threading

    from tqdm.auto import tqdm as auto_tqdm
    from tqdm.std import TMonitor, tqdm

    monkeypatch.setattr(tqdm, "monitor_interval", 10)
    for cls in (tqdm, auto_tqdm):  # a monitor per class: tqdm.auto's is a subclass
        monkeypatch.setattr(cls, "monitor", TMonitor(cls, 10))
    assert sum(isinstance(t, TMonitor) for t in threading.enumerate()) >= 2
    workers.before_fork()
    assert tqdm.monitor is None and auto_tqdm.monitor is None and tqdm.monitor_interval == 0
    assert not any(isinstance(t, TMonitor) and t.is_alive() for t in threading.enumerate())


SCRIPT = """
import os, sys, time
from research.pipeline import Stage, StageTime
from research.stagepool import run_stages
side = Stage("side", ("x",), deps=(), params=(), outs=("s",), beside=True)
main_line = Stage("main", ("x",), deps=(), params=(), outs=("m",))
def run_one(st):
    if st.name == "side":
        with open(os.path.join(sys.argv[1], "side.pid"), "w") as fh:
            fh.write(str(os.getpid()))
    time.sleep(120)
    return [StageTime(st.name, 0.0, 0.0)]
run_stages([side, main_line], {}, True, run_one, lambda st: ("k", None),
           lambda st, key: None, __import__("pathlib").Path(sys.argv[1]))
"""


@needs_fork
def test_a_stage_beside_ends_when_the_run_is_killed(tmp_path) -> None:
    import signal
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)])
    pid_file = tmp_path / "side.pid"
    while not pid_file.exists() or not pid_file.read_text():
        assert p.poll() is None, "the run ended before the stage beside started"
        time.sleep(0.05)
    child = int(pid_file.read_text())
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    left = outlived([child])
    for q in left:
        os.kill(q, signal.SIGKILL)
    assert not left, "the stage beside outlived the killed run"
