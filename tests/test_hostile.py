"""Hostile inputs: each gets a defined outcome — processed (with the provenance invariant
holding and nothing lost), or a clear InputError naming the file — and nothing is half
written. Also checks that the long-input paths are not quadratic."""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from research.cli import main
from research.corpus import segment as segment_module
from research.corpus.normalize import normalize_text
from research.corpus.prepare import (
    PreparedCorpus,
    check_provenance,
    prepare_corpus,
    prepare_to_dir,
)
from research.corpus.segment import _SeenIndex, segment
from research.errors import InputError

HEADER = "file,doc_id,title,organisation,province,place,level,year,period_start,period_end,script,source\n"
PARAS = [
    "市妇联深入开展“巾帼心向党”主题宣讲活动，覆盖妇女群众十万余人次。",
    "实施巾帼家政服务专项培训工程，帮助农村妇女实现就业创业。",
    "推进两癌免费筛查，为困难妇女发放救助金。",
    "深化妇联组织改革，建设妇女之家一千二百个。",
]
PARAMS = {"tokenize": {"cache": False}}


def row(name: str, doc_id: str | None = None, level: str = "city", year: str = "2021") -> str:
    return f"{name},{doc_id or Path(name).stem},t,o,河南,郑州,{level},{year},2016,2020,simplified,s"


def corpus(tmp_path: Path, files: dict[str, bytes | str], rows: list[str] | None = None) -> Path:
    root = tmp_path / "corpus"
    root.mkdir(exist_ok=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    rows = rows if rows is not None else [row(n) for n in files]
    (root / "manifest.csv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return root


def nonspace(text: str) -> Counter:
    return Counter(c for c in text if not c.isspace())


def processed(root: Path, **kw) -> PreparedCorpus:
    """Prepare, check provenance, and check that no non-space character was lost."""
    prepared = prepare_corpus(root, {**PARAMS, **kw}, progress=False)
    check_provenance(prepared)
    for doc in prepared.documents.itertuples():
        assert nonspace(doc.text) == nonspace(normalize_text(doc.text_original)), doc.doc_id
    return prepared


def fails(root: Path, tmp_path: Path, message: str, names: str, capsys) -> None:
    """The CLI exits 2 with ``error: <names...>: ...message...`` and writes nothing."""
    out = tmp_path / "out"
    code = main(["prepare", str(root), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and names in err, err
    assert not out.exists()


# ---------------------------------------------------------------- text content
def test_mixed_traditional_and_simplified(tmp_path):
    text = "市婦聯深入開展巾幗心向黨主題宣講活動。\n\n市妇联推进两癌免费筛查，覆盖妇女三万人。\n\n婦女之家建設成效顯著，实现全覆盖。\n"
    p = processed(corpus(tmp_path, {"a.txt": text}))
    doc = p.documents.iloc[0]
    assert "妇联" in doc.text and "婦" not in doc.text and "巾帼" in doc.text
    assert 0 < doc.traditional_ratio < 1
    assert list(p.paragraphs.kind) == ["body", "body", "body"]


def test_zero_width_and_control_characters(tmp_path):
    text = (
        "\ufeff市妇\u200b联开展\u200d巾帼\u2060宣讲\u00ad活动\x07，组织\x1b妇女\u202e参加培训。\r\n"
        "\x0c深化妇联\u180e改革。\u2028推进家庭建设。\x85加\x7f强宣传。\x00"
    )
    p = processed(corpus(tmp_path, {"a.txt": text}))
    doc_text = p.documents.iloc[0].text
    bad = [c for c in doc_text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")]
    assert bad == []
    body = p.paragraphs[p.paragraphs.kind == "body"].text.tolist()
    assert body[0] == "市妇联开展巾帼宣讲活动，组织妇女参加培训。"
    assert body[1:] == [
        "深化妇联改革。",
        "推进家庭建设。",
        "加强宣传。",
    ]  # separators → line breaks
    assert (p.removed.kind == "invisible").sum() >= 9


def test_emoji_kept_in_text_not_in_tokens(tmp_path):
    text = "市妇联开展巾帼宣讲活动👩‍👩‍👧🎉，组织妇女参加技能培训💪🏽。\n"
    p = processed(corpus(tmp_path, {"a.txt": text}))
    unit = p.paragraphs.iloc[0]
    assert "🎉" in unit.text and "💪" in unit.text
    assert "\u200d" not in unit.text  # the joiner is a format character
    assert not any(ord(c) > 0xFFFF for c in unit.tokens)
    assert "巾帼" in unit.tokens.split()


class _CountingIndex(_SeenIndex):
    """The duplicate index, remembering every instance so a test can read its op counts."""

    made: ClassVar[list[_SeenIndex]] = []

    def __init__(self, min_len: int) -> None:
        super().__init__(min_len)
        _CountingIndex.made.append(self)


def _index_ops(monkeypatch, run) -> int:
    """Characters indexed, compared and scanned by the duplicate index during ``run()``."""
    _CountingIndex.made = []
    monkeypatch.setattr(segment_module, "_SeenIndex", _CountingIndex)
    run()
    return sum(i.ops for i in _CountingIndex.made)


def test_extremely_long_paragraph_is_linear(tmp_path, monkeypatch):
    text = "".join(f"{PARAS[i % 4][:-1]}，第{i}项。" for i in range(7000))[
        :200_000
    ]  # no line break
    assert len(text) == 200_000 and "\n" not in text
    ops = _index_ops(monkeypatch, lambda: processed(corpus(tmp_path, {"a.txt": text})))
    p = processed(corpus(tmp_path, {"a.txt": text}))
    kinds = p.paragraphs.kind.tolist()
    assert set(kinds) <= {"body", "duplicate"} and kinds[0] == "body"
    assert p.documents.iloc[0].n_chars == 200_000
    assert ops < 20 * len(text), ops  # a few passes over the text, not one per sentence


def test_many_lines_segment_and_provenance_are_linear(monkeypatch):
    """Doubling a many-paragraph document doubles the duplicate index's work (not 4×).

    Each paragraph repeats an earlier sentence (the hit path) and ends with a sentence
    found nowhere else (the miss path). Work is counted in characters, not seconds; the
    increments are compared so the constant start-up part (plain ``str.find`` while the
    kept text is short) cancels: linear gives 2, one scan of the kept text per query 4.
    """

    def doc(n: int) -> str:
        return "\n\n".join(f"{PARAS[i % 4]}{PARAS[(i // 4) % 4][:-1]}第{i}期。" for i in range(n))

    ops = []
    for n in (4000, 8000, 16000):
        text = normalize_text(doc(n))
        box: dict = {}
        ops.append(
            _index_ops(monkeypatch, lambda box=box, text=text: box.setdefault("seg", segment(text)))
        )
        seg = box["seg"]
        units = pd.DataFrame(
            {
                "unit_id": [f"d:p{i}" for i in range(len(seg.units))],
                "doc_id": "d",
                "text": [u.text for u in seg.units],
                "char_start": [u.char_start for u in seg.units],
                "char_end": [u.char_end for u in seg.units],
            }
        )
        check_provenance(
            PreparedCorpus(
                pd.DataFrame({"doc_id": ["d"], "text": [seg.text]}),
                units,
                pd.DataFrame(),
                pd.DataFrame(),
            )
        )
    growth = (ops[2] - ops[1]) / (ops[1] - ops[0])
    assert 1.5 < growth < 2.6, ops


def test_file_of_only_headings(tmp_path):
    text = "妇联工作总结\n\n思想引领\n\n巾帼建功\n\n家庭建设\n\n组织建设\n"
    p = processed(corpus(tmp_path, {"a.txt": text}))
    assert set(p.paragraphs.kind) == {"heading"}
    assert len(p.paragraphs) == 5 and len(p.items) == 0
    assert p.documents.iloc[0].n_body == 0


def test_crlf_and_cr_line_endings(tmp_path):
    text = "思想引领\r\n\r\n" + PARAS[0] + "\r\r" + PARAS[1]
    p = processed(corpus(tmp_path, {"a.txt": text}))
    assert p.paragraphs.text.tolist() == ["思想引领", PARAS[0], PARAS[1]]


# ---------------------------------------------------------------- bytes and files
def test_truncated_gb18030_drops_only_the_cut_character(tmp_path):
    data = (PARAS[0] + "\n\n" + PARAS[1]).encode("gb18030")[:-1]  # cut inside "。"
    p = processed(corpus(tmp_path, {"a.txt": data}))
    doc = p.documents.iloc[0]
    assert doc.encoding == "gb18030"
    assert doc.text.endswith(PARAS[1][:-1])
    truncated = p.removed[p.removed.kind == "truncated"]
    assert len(truncated) == 1 and "GB18030" in truncated.iloc[0].text


def test_truncated_utf8_is_not_read_as_gb18030_mojibake(tmp_path):
    data = (PARAS[0] + PARAS[2]).encode("utf-8")[:-2]
    p = processed(corpus(tmp_path, {"a.txt": data}))
    doc = p.documents.iloc[0]
    assert doc.encoding == "utf-8" and doc.text == PARAS[0] + PARAS[2][:-1]


def test_corrupt_bytes_inside_gb18030_are_an_error(tmp_path, capsys):
    data = PARAS[0].encode("gb18030") + b"\x81\x20" + PARAS[1].encode("gb18030")
    fails(corpus(tmp_path, {"a.txt": data}), tmp_path, "undecodable", "a.txt", capsys)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty (0 bytes)"),
        (b"\xef\xbb\xbf", "no text"),
        (" \n\t\r\n\u3000 ", "no text"),
    ],
    ids=["zero-bytes", "bom-only", "whitespace-only"],
)
def test_empty_files_name_the_file(tmp_path, capsys, data, message):
    root = corpus(tmp_path, {"good.txt": PARAS[0], "b.txt": data})
    fails(root, tmp_path, message, str(root / "b.txt"), capsys)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_directory_symlink_loop_is_not_followed(tmp_path):
    root = corpus(
        tmp_path, {"a.txt": PARAS[0], "sub/b.txt": PARAS[1]}, [row("a.txt"), row("sub/b.txt")]
    )
    try:
        os.symlink(root, root / "sub" / "loop", target_is_directory=True)
        os.symlink("..", root / "up", target_is_directory=True)
    except OSError:
        pytest.skip("cannot create symlinks here")
    p = processed(root)
    assert p.documents.doc_id.tolist() == ["a", "b"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_file_symlink_loop_is_a_clear_error(tmp_path, capsys):
    root = corpus(tmp_path, {"a.txt": PARAS[0]}, [row("a.txt"), row("self.txt")])
    try:
        os.symlink("self.txt", root / "self.txt")
    except OSError:
        pytest.skip("cannot create symlinks here")
    fails(root, tmp_path, "symbolic link loop", str(root / "self.txt"), capsys)


# ---------------------------------------------------------------- manifest
def test_manifest_bad_years_and_unknown_levels_listed_together(tmp_path, capsys):
    rows = [
        row("a.txt", level="town"),
        row("b.txt", year="20x1"),
        row("c.txt", year="1066"),
        row("d.txt", level="County "),
    ]
    root = corpus(tmp_path, {n: PARAS[0] for n in ("a.txt", "b.txt", "c.txt", "d.txt")}, rows)
    out = tmp_path / "out"
    assert main(["prepare", str(root), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(root / "manifest.csv") in err
    for part in (
        "line 2: unknown level 'town'",
        "line 3: year '20x1' is not a year",
        "line 4: year 1066 outside",
        "line 5: unknown level 'County'",
    ):
        assert part in err, err
    assert not out.exists()


def test_jsonl_with_bad_year_and_lone_surrogates(tmp_path):
    import json

    path = tmp_path / "r.jsonl"
    good = {"title": "报告", "year": "2019", "content": "市妇联开展宣讲\ud800活动。\n"}
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")  # ASCII escapes keep \ud800
    p = processed(path)
    assert p.documents.year.tolist() == [2019]
    assert p.paragraphs.text.tolist() == ["市妇联开展宣讲活动。"]
    assert "surrogate" in p.removed[p.removed.kind == "truncated"].text.iloc[0]
    bad = {"title": "报告", "year": 99999, "content": "市妇联开展宣讲活动。"}
    path.write_text(json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"r\.jsonl: line 1: year 99999"):
        prepare_corpus(path, PARAMS, progress=False)


# ---------------------------------------------------------------- duplicates
def test_duplicate_documents_under_different_names(tmp_path):
    text = "工作报告\n\n" + "\n\n".join(PARAS)
    root = corpus(
        tmp_path,
        {
            "a.txt": text,
            "copy of a.txt": text.encode("gb18030"),
            "b.txt": PARAS[3] + "\n\n" + PARAS[0],
        },
        [row("a.txt"), row("copy of a.txt", "a-copy"), row("b.txt")],
    )
    p = processed(root)
    d = p.documents.set_index("doc_id")
    assert d.loc["a-copy", "duplicate_of"] == "a" and d.loc["a", "duplicate_of"] == ""
    units = p.paragraphs.set_index("unit_id")
    copy = p.paragraphs[p.paragraphs.doc_id == "a-copy"]
    assert (copy[copy.kind != "heading"].kind == "duplicate").all()
    for u in copy[copy.kind == "duplicate"].itertuples():
        assert units.loc[u.duplicate_of, "text"] == u.text  # points at the kept copy
    # a different document sharing paragraphs is not a duplicate document
    assert d.loc["b", "duplicate_of"] == "" and d.loc["b", "n_body"] == 2


# ---------------------------------------------------------------- nothing half-written
def test_error_in_a_late_chunk_leaves_previous_output_untouched(tmp_path):
    files = {f"d{i}.txt": PARAS[i % 4] + f"第{i}号。" for i in range(5)}
    files["d5.txt"] = b"\x00\x01binary\x00" * 10
    root = corpus(tmp_path, files)
    out = tmp_path / "out"
    out.mkdir()
    (out / "documents.parquet").write_bytes(b"old")
    with pytest.raises(InputError, match="d5.txt"):
        prepare_to_dir(root, out, PARAMS, progress=False, chunk_docs=2)
    assert sorted(os.listdir(out)) == ["documents.parquet"]  # no temp files left behind
    assert (out / "documents.parquet").read_bytes() == b"old"


def test_check_provenance_catches_violations(prepared_seeds):
    from dataclasses import replace

    p = prepared_seeds.paragraphs
    first = p.index[p.doc_id == p.doc_id.iloc[0]]
    gap = replace(prepared_seeds, paragraphs=p.drop(index=first[1]))
    with pytest.raises(AssertionError, match="lies in 0 units"):
        check_provenance(gap)
    twice = replace(prepared_seeds, paragraphs=pd.concat([p, p.loc[[first[1]]]]))
    with pytest.raises(AssertionError, match="lies in 2 units"):
        check_provenance(twice)
    moved = p.copy()
    moved.loc[first[1], "char_start"] += 1
    with pytest.raises(AssertionError, match="does not match"):
        check_provenance(replace(prepared_seeds, paragraphs=moved))
