"""File-system failures (disk full, read-only, no permission) end in one line naming the
file, and replace nothing: the previous outputs stay, no temp file is left behind."""

from __future__ import annotations

import errno
import os

import pandas as pd
import pytest

from research.errors import InputError
from research.io import check_output, write_json, write_table


def _disk_full(self, path, *args, **kwargs):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("half a tab")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_disk_full_while_writing_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    out = tmp_path / "t.csv"
    write_table(pd.DataFrame({"x": [1]}), out)
    monkeypatch.setattr(pd.DataFrame, "to_csv", _disk_full)
    with pytest.raises(InputError, match="No space left on device") as exc:
        write_table(pd.DataFrame({"x": [2]}), out)
    assert str(out) in str(exc.value) and ".tmp" not in str(exc.value)
    monkeypatch.undo()
    assert pd.read_csv(out)["x"].tolist() == [1] and not _leftovers(tmp_path)


def test_disk_full_in_a_stage_is_one_line_and_replaces_nothing(tmp_path, monkeypatch, capsys):
    from research.cli import main
    from research.commands import init

    done = tmp_path / "done.json"
    write_json({"old": True}, done)

    def stage(args):
        write_json({"old": False}, done)  # finished, waiting for the set to commit
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "big.bin"))

    monkeypatch.setattr(init, "run", stage)
    assert main(["init", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "big.bin: No space left on device" in err
    assert "Traceback" not in err
    assert done.read_text(encoding="utf-8").find('"old": true') >= 0
    assert not _leftovers(tmp_path)


def test_unwritable_folder_is_refused_up_front_even_as_root(tmp_path, monkeypatch):
    """os.access answers for the current user; root is simulated by patching it."""
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(InputError, match="not writable"):
        check_output(tmp_path / "x.csv")
