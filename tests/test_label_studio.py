"""The Label Studio round trip as its users do it: JSON, JSON-MIN and CSV exports (made with
the SDK's own converter) with several annotators and skipped tasks import into one long table
that goes straight to `annotate agreement`; field names come from the config or the export;
files holding labels are never overwritten without --force."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from research.labels.annotation import choice_text, label_config_xml, read_annotations
from research.labels.codebook import load_codebook

from .own_project import research

Converter = pytest.importorskip("label_studio_sdk.converter").Converter

#: unit → [(annotator id, primary, secondary)]
LABELS = {
    "d1:p001": [(1, "employment", ["family"]), (2, "employment", [])],
    "d1:p002": [(1, "rights", []), (2, "family", ["rights"])],
    "d2:p001": [(1, "family", []), (2, "family", [])],
    "d2:p002": [(1, "other", []), (2, "ideology", [])],
}
TEXTS = {u: f"第{i}段 妇女工作" for i, u in enumerate([*LABELS, "d2:p003", "d2:p004"])}


def _result(name: str, choices: list[str]) -> dict:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": choices}}


def full_export(cb, primary: str = "primary", secondary: str = "secondary") -> list[dict]:
    """A Label Studio JSON export: two annotators, one skipped task, one task not annotated."""
    tasks = []
    for n, (uid, text) in enumerate(TEXTS.items(), start=1):
        data = {"unit_id": uid, "doc_id": uid.split(":")[0], "heading": "", "text": text}
        anns = []
        for who, prim, sec in LABELS.get(uid, []):
            res = [_result(primary, [choice_text(cb, prim)])]
            if sec:
                res.append(_result(secondary, [choice_text(cb, s) for s in sec]))
            anns.append(_ann(n * 10 + who, who, res))
        if uid == "d2:p003":  # skipped by annotator 1
            anns.append({**_ann(n * 10 + 1, 1, []), "was_cancelled": True})
        tasks.append({"id": n, "data": data, "annotations": anns, "predictions": []})
    return tasks


def _ann(aid: int, who: int, result: list) -> dict:
    t = "2024-01-01T00:00:00.000000Z"
    return {
        "id": aid,
        "completed_by": who,
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": t,
        "updated_at": t,
        "lead_time": 1.0,
    }


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


@pytest.fixture(scope="module")
def exports(cb, tmp_path_factory) -> dict[str, Path]:
    """The same annotations as Label Studio JSON, and JSON-MIN and CSV by the SDK converter."""
    d = tmp_path_factory.mktemp("ls")
    src = d / "project.json"
    src.write_text(json.dumps(full_export(cb), ensure_ascii=False), encoding="utf-8")
    conv = Converter(config=label_config_xml(cb), project_dir=str(d), download_resources=False)
    out = {"JSON": src}
    for fmt, name in (("JSON_MIN", "result.json"), ("CSV", "result.csv")):
        conv.convert(str(src), str(d / fmt), fmt, is_dir=False)
        out[fmt] = d / fmt / name
    return out


EXPECTED = {
    ("d1:p001", "1"): ("employment", "family"),
    ("d1:p001", "2"): ("employment", ""),
    ("d1:p002", "1"): ("rights", ""),
    ("d1:p002", "2"): ("family", "rights"),
    ("d2:p001", "1"): ("family", ""),
    ("d2:p001", "2"): ("family", ""),
    ("d2:p002", "1"): ("other", ""),
    ("d2:p002", "2"): ("ideology", ""),
}


@pytest.mark.parametrize("fmt", ["JSON", "JSON_MIN", "CSV"])
def test_each_export_format_imports_and_goes_to_agreement(fmt, exports, tmp_path):
    out = tmp_path / "imported.csv"
    research(["annotate", "import", str(exports[fmt]), "--out", str(out)], cwd=tmp_path)
    tidy = pd.read_csv(out, keep_default_na=False, dtype=str)
    got = {(r.unit_id, r.annotator): (r.label, r.secondary) for r in tidy.itertuples()}
    assert got == EXPECTED  # skipped and unannotated tasks are left out
    res = research(
        ["annotate", "agreement", str(out), "--reports", str(tmp_path / "rep")], cwd=tmp_path
    ).stdout
    assert "raters 1, 2; 4 units labelled by all" in res
    metrics = json.loads((tmp_path / "rep/metrics/agreement.json").read_text(encoding="utf-8"))
    assert metrics["percent_agreement"] == 0.5
    # the same long table through the explicit flag
    research(
        [
            "annotate",
            "agreement",
            str(out),
            "--annotator-column",
            "annotator",
            "--reports",
            str(tmp_path / "r2"),
        ],
        cwd=tmp_path,
    )


def test_field_names_from_the_config_or_the_export(cb, tmp_path):
    """Any Label Studio template: choices not named `primary`."""
    (tmp_path / "ls.json").write_text(
        json.dumps(full_export(cb, primary="domain", secondary="also"), ensure_ascii=False),
        encoding="utf-8",
    )
    tidy = read_annotations(tmp_path / "ls.json", cb)  # inferred from the export
    assert {(r.unit_id, r.annotator): (r.label, r.secondary) for r in tidy.itertuples()} == EXPECTED
    cfg = tmp_path / "cfg.xml"
    cfg.write_text(
        label_config_xml(cb)
        .replace('name="primary"', 'name="domain"')
        .replace('name="secondary"', 'name="also"'),
        encoding="utf-8",
    )
    tidy = read_annotations(tmp_path / "ls.json", cb, config=cfg)
    assert len(tidy) == 8 and set(tidy["secondary"]) == {"", "family", "rights"}


def test_import_with_nothing_labelled_fails_loudly(cb, tmp_path):
    tasks = [{**t, "annotations": []} for t in full_export(cb)]
    p = tmp_path / "empty.json"
    p.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    proc = research(
        ["annotate", "import", str(p), "--out", str(tmp_path / "o.csv")], cwd=tmp_path, check=False
    )
    assert proc.returncode == 2 and "nothing labelled" in proc.stderr
    assert not (tmp_path / "o.csv").exists()


def test_files_holding_labels_are_not_overwritten(exports, tmp_path):
    out = tmp_path / "gold.csv"
    pd.DataFrame({"unit_id": ["a"], "gold": ["family"]}).to_csv(out, index=False)
    before = out.read_bytes()
    proc = research(["annotate", "import", str(exports["CSV"]), "--out", str(out)], cwd=tmp_path)
    assert out.read_bytes() == before and "gold-2.csv" in proc.stdout
    assert len(pd.read_csv(tmp_path / "gold-2.csv")) == 8
    research(
        ["annotate", "import", str(exports["CSV"]), "--out", str(out), "--force"], cwd=tmp_path
    )
    assert len(pd.read_csv(out)) == 8


def test_export_twice_keeps_a_filled_sheet(tmp_path):
    units = pd.DataFrame(
        {
            "unit_id": ["d:p1", "d:p2"],
            "doc_id": ["d", "d"],
            "para_id": [1, 2],
            "kind": "body",
            "text": ["甲", "乙"],
        }
    )
    src = tmp_path / "units.parquet"
    units.to_parquet(src)
    args = ["annotate", "export", "--input", str(src), "--out", str(tmp_path / "ann")]
    research(args, cwd=tmp_path)
    sheet = tmp_path / "ann/units.csv"
    filled = pd.read_csv(sheet, keep_default_na=False).assign(label=["family", "rights"])
    filled.to_csv(sheet, index=False)
    proc = research(args, cwd=tmp_path)
    assert "units-2.csv" in proc.stdout
    assert list(pd.read_csv(sheet)["label"]) == ["family", "rights"]
    assert (tmp_path / "ann/units-2.label_studio.json").exists()


def test_ambiguous_or_missing_field_names_are_errors(cb, tmp_path):
    """Two single-choice codebook fields filled equally often: guessing could swap primary
    and secondary labels, so the import stops and asks; naming one settles it."""
    from research.errors import InputError

    p = tmp_path / "min.json"
    flat = [
        {"unit_id": "u1", "a": "family", "b": "rights"},
        {"unit_id": "u2", "a": "employment", "b": "family"},
    ]
    p.write_text(json.dumps(flat), encoding="utf-8")
    with pytest.raises(InputError, match="cannot tell which field holds the primary label"):
        read_annotations(p, cb)
    tidy = read_annotations(p, cb, label_column="b")
    assert list(tidy["label"]) == ["rights", "family"]
    assert list(tidy["secondary"]) == ["family", "employment"]  # the one other label field
    with pytest.raises(InputError, match="labeling config not found"):
        read_annotations(p, cb, config=tmp_path / "nowhere.xml")
