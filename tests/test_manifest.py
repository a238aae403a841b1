"""The manifest reader reports every problem of every row at once, each naming its line."""

from __future__ import annotations

import warnings

import pytest

from research.corpus.ingest import read_manifest
from research.errors import InputError

HEADER = "file,doc_id,level,year,period_start,period_end,script,province\n"


def _write(tmp_path, rows: list[str]):
    (tmp_path / "manifest.csv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return tmp_path


def test_every_problem_is_reported_with_its_line(tmp_path):
    rows = [
        "a.txt,,city,2020,,,,河南",  # line 2: empty doc_id
        "b.txt,b c,city,2020,,,,河南",  # line 3: bad doc_id
        ",c,city,2020,,,,河南",  # line 4: empty file
        "../d.txt,d,city,2020,,,,河南",  # line 5: leaves the folder
        "e.txt,e,town,2020,,,,河南",  # line 6: unknown level
        "f.txt,f,city,2020,,,latin,河南",  # line 7: unknown script
        "g.txt,g,city,20x0,,,,河南",  # line 8: not a year
        "h.txt,h,city,1066,,,,河南",  # line 9: outside the range
        "i.txt,i,city,2020,2021,2019,,河南",  # line 10: period reversed
        "j.txt,j,city,2020,,,,河南",
        "j.txt,j,city,2020,,,,河南",  # duplicates
    ]
    with pytest.raises(InputError) as exc:
        read_manifest(_write(tmp_path, rows))
    msg = str(exc.value)
    for expected in (
        "line 2: empty doc_id",
        "line 3: doc_id 'b c' must be letters",
        "line 4: empty file",
        "line 5: file '../d.txt' leaves the corpus folder",
        "line 6: unknown level 'town'",
        "line 7: unknown script 'latin'",
        "line 8: year '20x0' is not a year",
        "line 9: year 1066 outside",
        "line 10: period_start 2021 after period_end 2019",
        "duplicate doc_id(s): j",
        "file(s) listed twice: j.txt",
    ):
        assert expected in msg
    assert "manifest.csv" in msg


def test_a_valid_manifest_is_typed_and_extra_levels_are_accepted(tmp_path):
    rows = ["sub\\a.txt, a ,town,2020.0,2016,2020,simplified,河南"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = read_manifest(_write(tmp_path, rows), extra_levels=["town"])
    assert df.loc[0, "file"] == "sub/a.txt" and df.loc[0, "doc_id"] == "a"
    assert str(df["year"].dtype) == "Int64" and df.loc[0, "year"] == 2020
    assert df.loc[0, "title"] == ""  # optional columns added blank


def test_missing_year_or_province_warns_from_the_callers_line(tmp_path):
    rows = ["a.txt,a,city,,,,,河南"]
    with pytest.warns(UserWarning, match="no year") as rec:
        read_manifest(_write(tmp_path, rows))
    assert {w.filename for w in rec} == {__file__}  # points at the caller, not ingest.py


@pytest.mark.parametrize(
    "text, message",
    [("doc_id\nx\n", "missing required column(s): file"), (HEADER, "manifest has no rows")],
)
def test_unusable_manifest_files(tmp_path, text, message):
    (tmp_path / "manifest.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_manifest(tmp_path)
