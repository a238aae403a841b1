"""Stage result cache: a stage re-runs exactly when its deps, params, code or outs change."""

from __future__ import annotations

from pathlib import Path

import pytest

from research import pipeline, runcache
from research.pipeline import Stage
from research.runcache import RunCache, run_cached


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runcache, "code_hash", lambda: "code-v1")
    (tmp_path / "params.yaml").write_text(
        "paths: {data: data}\nprepare: {join_window: 40}\ntopics: {no_below: 2}\n"
    )
    (tmp_path / "in.txt").write_text("x")
    return tmp_path


STAGE = Stage("s", ("noop",), deps=("in.txt",), params=("prepare",), outs=("out.txt",))


def _fresh() -> bool:
    cache = RunCache("params.yaml")
    return cache.fresh(STAGE, cache.key(STAGE))


def test_fresh_only_when_deps_params_code_and_outs_are_unchanged(project, monkeypatch) -> None:
    cache = RunCache("params.yaml")
    key = cache.key(STAGE)
    assert not cache.fresh(STAGE, key)  # never ran
    (project / "out.txt").write_text("y")
    cache.record(STAGE, key)
    assert _fresh()
    (project / "params.yaml").write_text(
        "paths: {data: data}\nprepare: {join_window: 40}\ntopics: {no_below: 3}\n"
    )
    assert _fresh()  # a section the stage does not read
    (project / "params.yaml").write_text(
        "paths: {data: data}\nprepare: {join_window: 41}\ntopics: {no_below: 3}\n"
    )
    assert not _fresh()  # its params
    (project / "params.yaml").write_text(
        "paths: {data: data}\nprepare: {join_window: 40}\ntopics: {no_below: 3}\n"
    )
    (project / "in.txt").write_text("changed")
    assert not _fresh()  # its deps
    (project / "in.txt").write_text("x")
    assert _fresh()
    (project / "out.txt").write_text("edited by hand")
    assert not _fresh()  # its outs
    (project / "out.txt").write_text("y")
    monkeypatch.setattr(runcache, "code_hash", lambda: "code-v2")
    assert not _fresh()  # the code


def test_run_cached_runs_each_stage_once_until_something_changes(project, monkeypatch) -> None:
    ran: list[str] = []

    def fake_run(params_path, only=None, start=None):
        ran.extend(only)
        (project / "out.txt").write_text("y")
        return [pipeline.StageTime(only[0], 0.0, 0.0)]

    monkeypatch.setattr(pipeline, "stages", lambda: [STAGE])
    monkeypatch.setattr(pipeline, "run_pipeline", fake_run)
    run_cached("params.yaml")
    run_cached("params.yaml")
    assert ran == ["s"]
    run_cached("params.yaml", force=True)
    assert ran == ["s", "s"]
    (project / "in.txt").write_text("new input")
    run_cached("params.yaml")
    assert ran == ["s", "s", "s"]


def test_the_evaluation_key_ignores_what_cannot_change_it(project) -> None:
    """Analysis, figure and learning-curve params never re-run the evaluation or the final
    fit; its own train params do."""
    stages = {s.name: s for s in pipeline.stages()}

    def keys(text: str) -> dict[str, str]:
        (project / "params.yaml").write_text("paths: {data: data}\n" + text)
        cache = RunCache("params.yaml")
        return {n: cache.key(stages[n]) for n in ("evaluate", "train", "learning_curve")}

    base = keys("train: {n_boot: 1000, learning_curve: {repeats: 2}}\nanalyse: {n_boot: 100}\n")
    other = keys("train: {n_boot: 1000, learning_curve: {repeats: 3}, n_jobs: 2}\n")
    assert other["evaluate"] == base["evaluate"] and other["train"] == base["train"]
    assert other["learning_curve"] != base["learning_curve"]
    boot = keys("train: {n_boot: 500, learning_curve: {repeats: 2}}\n")
    assert boot["evaluate"] != base["evaluate"]


def test_a_stage_run_beside_is_recorded_and_skipped_next_time(project, monkeypatch) -> None:
    """The learning curve's path: forked beside the next stage, waited for, its key recorded
    by the parent, so an unchanged re-run skips it like any other stage."""
    from research import workers

    if not workers.can_fork():
        pytest.skip("stages run in order here")
    side = Stage("side", ("noop",), deps=("in.txt",), params=(), outs=("side.txt",), beside=True)
    main_line = Stage("main", ("noop",), deps=("in.txt",), params=(), outs=("main.txt",))
    ran = project / "ran.log"

    def fake_run(params_path, only=None, start=None):
        (project / f"{only[0]}.txt").write_text("y")
        with ran.open("a") as fh:
            fh.write(only[0] + "\n")
        return [pipeline.StageTime(only[0], 0.0, 0.0)]

    monkeypatch.setattr(pipeline, "stages", lambda: [side, main_line])
    monkeypatch.setattr(pipeline, "run_pipeline", fake_run)
    first = run_cached("params.yaml")
    assert sorted(ran.read_text().split()) == ["main", "side"]
    assert [t.name for t in first] == ["side", "main"] and not any(t.skipped for t in first)
    second = run_cached("params.yaml")
    assert sorted(ran.read_text().split()) == ["main", "side"]  # nothing ran again
    assert all(t.skipped for t in second)


def test_stages_that_finished_stay_recorded_when_a_later_stage_fails(project, monkeypatch) -> None:
    """`research run` runs inside an output set (cli.main). A stage's record is written when
    the stage has committed its outputs, not when the whole run ends: fixing a late stage
    and running again skips the stages that had finished (as dvc.lock keeps them)."""
    from research.errors import ResearchError
    from research.io import output_set

    first = Stage("first", ("noop",), deps=("in.txt",), params=(), outs=("first.txt",))
    late = Stage("late", ("noop",), deps=("first.txt",), params=(), outs=("late.txt",))
    ran: list[str] = []
    broken = {"late"}

    def fake_run(params_path, only=None, start=None):
        ran.extend(only)
        if only[0] in broken:
            raise ResearchError(f"{only[0]} broke")
        (project / f"{only[0]}.txt").write_text("y")
        return [pipeline.StageTime(only[0], 0.0, 0.0)]

    monkeypatch.setattr(pipeline, "stages", lambda: [first, late])
    monkeypatch.setattr(pipeline, "run_pipeline", fake_run)
    with pytest.raises(ResearchError, match="late broke"), output_set():
        run_cached("params.yaml", parallel=False)
    assert ran == ["first", "late"]
    broken.clear()  # the user mends the late stage
    with output_set():
        run_cached("params.yaml", parallel=False)
    assert ran == ["first", "late", "late"]  # the stage that had finished is not re-run
