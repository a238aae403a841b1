"""Silent failures turned into clear errors, and outputs that never half-change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from research.errors import InputError, ResearchError
from research.io import check_output, clean_stale_tmp, output_set, write_json, write_table

from .conftest import outlived

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- outputs as a set
def test_failed_stage_changes_none_of_its_outputs(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "sub" / "b.json"
    write_table(pd.DataFrame({"x": [1]}), a)
    with pytest.raises(RuntimeError), output_set():
        write_table(pd.DataFrame({"x": [2]}), a)
        write_json({"new": True}, b)
        assert pd.read_csv(a)["x"].tolist() == [1]  # nothing replaced before the set ends
        raise RuntimeError("stage failed half-way")
    assert pd.read_csv(a)["x"].tolist() == [1] and not b.exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    with output_set():
        write_table(pd.DataFrame({"x": [3]}), a)
        write_json({"new": True}, b)
    assert pd.read_csv(a)["x"].tolist() == [3] and b.exists()


def test_stale_temp_files_are_cleaned_and_dvcignored(tmp_path):
    stale = [tmp_path / ".units.parquet.0123456789ab.tmp", tmp_path / ".x.csv.ab_cd12z.tmp"]
    keep = [tmp_path / "notes.tmp", tmp_path / ".hidden"]
    for p in stale + keep:
        p.write_text("x")
    assert sorted(clean_stale_tmp(tmp_path)) == sorted(stale)
    assert all(p.exists() for p in keep)
    assert ".*.tmp" in (ROOT / ".dvcignore").read_text().split()


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_table(pd.DataFrame({"x": [1]}), tmp_path / "t.csv")
    finally:
        os.umask(old)
    assert (tmp_path / "t.csv").stat().st_mode & 0o777 == 0o640


def test_no_process_wide_side_effects_at_import_or_docs():
    code = (
        "import os; m = os.umask(0o022); os.umask(m);"
        "import research.io, research.cli; from research.commands._docs import cli_reference;"
        "cli_reference(); assert 'COLUMNS' not in os.environ, 'COLUMNS set'; print('ok')"
    )
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.stdout.strip() == "ok", r.stderr


@pytest.mark.parametrize(
    ("make", "kind", "needle"),
    [
        (lambda p: p.mkdir(), "file", "output is a folder"),
        (lambda p: p.write_text("x"), "dir", "a file has this name"),
        (lambda p: p.parent.joinpath("blocker").write_text("x"), "file", "is a file"),
    ],
)
def test_output_paths_are_checked_up_front(tmp_path, make, kind, needle):
    target = tmp_path / "out"
    make(target)
    if needle == "is a file":
        target = tmp_path / "blocker" / "model"
    with pytest.raises(InputError, match=needle):
        check_output(target, kind)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_output_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(InputError, match="not writable"):
            check_output(ro / "x.csv")
    finally:
        ro.chmod(0o755)


def test_train_refuses_a_file_as_model_folder_before_any_work(tmp_path, monkeypatch):
    from research.classify import training
    from research.cli import main

    def must_not_run(*a, **k):
        raise AssertionError("training started before the output path was checked")

    monkeypatch.setattr(training, "train_and_report", must_not_run)
    out = tmp_path / "model_is_a_file"
    out.write_text("x")
    code = main(
        [
            "--params",
            str(ROOT / "params.yaml"),
            "train",
            str(ROOT / "seeds" / "annotations.csv"),
            "--out",
            str(out),
        ]
    )
    assert code == 2


# ---------------------------------------------------------------- silent fall-backs
def test_mistyped_tokenize_paths_are_errors():
    from research.corpus.tokenize import TokenizerSettings

    for key in ("user_dict", "stopwords"):
        with pytest.raises(InputError, match=f"tokenize.{key}: file not found"):
            TokenizerSettings.from_params({key: "research/resources/no_such_file.txt"})


def test_broken_user_codebook_does_not_fall_back(tmp_path):
    from research.analysis.inputs import codebook_ids
    from research.viz.style import load_project_codebook

    bad = tmp_path / "cb.yaml"
    bad.write_text("name: x\nversion: 1\nlanguage: zh\ncategories: []\n", encoding="utf-8")
    for load in (codebook_ids, load_project_codebook):
        with pytest.raises(InputError, match="categories"):
            load(bad)
    with pytest.raises(InputError, match="not found"):
        codebook_ids(tmp_path / "missing.yaml")


def test_model_file_must_match_its_card(tmp_path):
    from research.classify.baselines import MajorityClassifier
    from research.classify.persist import load_model, save_model

    model = MajorityClassifier(labels=["a", "b"]).fit(
        pd.DataFrame({"text": ["x", "y", "z"]}), ["a", "a", "b"]
    )
    save_model(model, tmp_path, {"labels": ["a", "b"]})
    load_model(tmp_path)  # intact: loads
    with (tmp_path / "model.joblib").open("ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ResearchError, match="does not match the model card"):
        load_model(tmp_path)


def test_convergence_warnings_are_collected_not_hidden():
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from research.classify.calibration import fit_warnings

    with fit_warnings() as found:
        warnings.warn("lbfgs failed to converge", ConvergenceWarning, stacklevel=1)
        warnings.warn("tiny fold", UserWarning, stacklevel=1)
    assert found == ["lbfgs failed to converge"]
    with warnings.catch_warnings(record=True) as after:
        warnings.simplefilter("default")
        warnings.warn("outside the scope", UserWarning, stacklevel=1)
    assert len(after) == 1  # the filter did not leak out of the scope


# ---------------------------------------------------------------- workers
def test_workers_die_with_their_parent(tmp_path):
    code = (
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from joblib import Parallel, delayed\n"
        "from research.workers import in_worker\n"
        "def task(i):\n"
        # one write per line: with PYTHONUNBUFFERED print's pieces interleave between workers
        "    os.write(1, f'worker {os.getpid()}\\n'.encode()); time.sleep(120)\n"
        "Parallel(n_jobs=2, backend='loky')(delayed(in_worker(task))(i) for i in range(2))\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    pids: list[int] = []
    seen: list[str] = []
    assert p.stdout is not None and p.stderr is not None
    for line in p.stdout:  # the two workers' lines, whatever else is printed around them
        seen.append(line)
        if line.startswith("worker "):
            pids.append(int(line.split()[1]))
            if len(pids) == 2:
                break
    if len(pids) < 2:  # the script ended before both workers ran: say what it printed
        p.kill()
        _, err = p.communicate()
        pytest.fail(f"workers did not start: stdout {seen!r}, stderr {err[-2000:]!r}")
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    left = outlived(pids)
    for q in left:
        os.kill(q, signal.SIGKILL)
    assert not left, "loky workers outlived their killed parent"


def test_watchdog_never_starts_in_the_parent():
    from research import workers

    assert workers.die_with_parent(os.getpid()) is (workers._watching is not None)
    assert workers._watching is None


def test_cleaning_keeps_the_temp_files_of_running_writers(tmp_path):
    import subprocess
    import sys

    from research.io import new_tmp_file

    mine = new_tmp_file(tmp_path / "t.csv")  # this process is writing it
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    theirs = tmp_path / f".u.csv.p{child.pid}.0123456789ab.tmp"  # a stage running beside
    try:
        theirs.write_text("x")
        assert clean_stale_tmp(tmp_path) == []
    finally:
        child.kill()
        child.wait()
    assert clean_stale_tmp(tmp_path) == [theirs]  # its writer has gone: stale
    assert mine.exists() and mine.name.startswith(f".t.csv.p{os.getpid()}.")
