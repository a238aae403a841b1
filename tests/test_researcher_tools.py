"""Friendly to the tools researchers use: Excel's GBK/GB18030 and `;` CSVs, Windows paths,
HTML entities in text files, .xlsx inputs, the federation levels, warnings for missing
metadata, one flag scheme across commands."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from research.corpus.ingest import read_document, read_manifest
from research.errors import InputError
from research.io import read_table

from .own_project import research


def test_gbk_semicolon_manifest_with_windows_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("妇联工作报告", encoding="utf-8")
    text = "file;doc_id;province;level;year\r\nsub\\a.txt;a1;河南;township;2020\r\n"
    (tmp_path / "manifest.csv").write_bytes(text.encode("gbk"))
    m = read_manifest(tmp_path)
    assert m.loc[0, "file"] == "sub/a.txt" and m.loc[0, "province"] == "河南"
    assert m.loc[0, "level"] == "township" and m.loc[0, "year"] == 2020


def test_levels_national_to_village_and_user_levels(tmp_path):
    for lvl in ("national", "street", "village", "community"):
        (tmp_path / "manifest.csv").write_text(
            f"file,doc_id,level,year,province\na.txt,a,{lvl},2020,河南\n", encoding="utf-8"
        )
        assert read_manifest(tmp_path).loc[0, "level"] == lvl
    (tmp_path / "manifest.csv").write_text(
        "file,doc_id,level,year,province\na.txt,a,prefecture,2020,河南\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="prepare.extra_levels"):
        read_manifest(tmp_path)
    assert read_manifest(tmp_path, ["prefecture"]).loc[0, "level"] == "prefecture"


def test_missing_year_or_province_warns_what_is_lost(tmp_path):
    (tmp_path / "manifest.csv").write_text("file,doc_id\na.txt,a\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_manifest(tmp_path)
    msgs = [str(w.message) for w in caught]
    assert any("no year" in m and "yearly trends" in m for m in msgs)
    assert any("no province" in m and "provincial comparisons" in m for m in msgs)


def test_undecodable_manifest_says_save_as_utf8(tmp_path):
    (tmp_path / "manifest.csv").write_bytes(b"file,doc_id\n\xff\xfe\xfa\xfb,a\n")
    with pytest.raises(InputError, match="CSV UTF-8"):
        read_manifest(tmp_path)


def test_html_entities_in_text_files_are_unescaped(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("&ldquo;美丽庭院&rdquo;&nbsp;创建&#12288;活动 &amp; more", encoding="utf-8")
    text = read_document(p).text
    assert text == "“美丽庭院”\xa0创建\u3000活动 & more"


def test_xlsx_tables_are_read(tmp_path):
    df = pd.DataFrame(
        {"unit_id": ["u1", "u2"], "text": ["妇女就业", "家庭"], "label": ["employment", "family"]}
    )
    df.to_excel(tmp_path / "a.xlsx", index=False)
    assert read_table(tmp_path / "a.xlsx").to_dict("list") == df.to_dict("list")
    out = tmp_path / "imported.csv"
    research(["annotate", "import", str(tmp_path / "a.xlsx"), "--out", str(out)], cwd=tmp_path)
    assert list(pd.read_csv(out)["label"]) == ["employment", "family"]


def test_one_flag_scheme(tmp_path):
    for cmd in (
        ["predict"],
        ["weak-label"],
        ["annotate", "export"],
        ["annotate", "import"],
        ["dvc-yaml"],
    ):
        helptext = research([*cmd, "--help"], cwd=tmp_path).stdout
        assert "--out" in helptext, cmd
    assert "--jobs" in research(["predict", "--help"], cwd=tmp_path).stdout
    # --params after the subcommand
    proc = research(
        ["figures", "--list", "--params", str(tmp_path / "nope.yaml")], cwd=tmp_path, check=False
    )
    assert proc.returncode == 2 and "params file not found" in proc.stderr


def test_bash_completion_lists_commands_and_flags(tmp_path):
    import subprocess

    script = research(["completion"], cwd=tmp_path).stdout
    assert "complete -o default -F _research research" in script
    assert "init)" in script and "agreement" in script and "--jobs" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
