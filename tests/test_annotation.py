"""Annotation workflow: export → fill → import round trips (CSV and Label Studio), label
validation errors, agreement statistics with hand-computed values, and the CLI."""

from __future__ import annotations

import json
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml

from research.cli import main
from research.errors import InputError
from research.labels.annotation import (
    agreement,
    by_category_table,
    cohen_kappa,
    disagreements,
    export_csv,
    export_label_studio,
    krippendorff_alpha,
    label_config_xml,
    read_annotations,
    wide_from_files,
)
from research.labels.codebook import load_codebook


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


def _units() -> pd.DataFrame:
    rows = [
        ("d2", 1, "body", "举办招聘会。", ""),
        ("d1", 2, "body", "开展两癌筛查，救助困难妇女。", "维权"),
        ("d1", 1, "body", '寻找最美家庭，含逗号, "引号" 和\n换行。', ""),
        ("d1", 3, "heading", "维权", ""),
    ]
    df = pd.DataFrame(rows, columns=["doc_id", "para_id", "kind", "text", "heading"])
    df.insert(0, "unit_id", [f"{d}:p{p:03d}" for d, p in zip(df.doc_id, df.para_id)])
    return df


# ---------------------------------------------------------------- round trips


def test_csv_export_fill_import_round_trip(tmp_path, cb):
    units = _units()[lambda d: d.kind == "body"]
    path = export_csv(units, tmp_path / "units.csv")
    filled = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False)
    assert list(filled.columns) == [
        "unit_id",
        "doc_id",
        "heading",
        "text",
        "label",
        "secondary",
        "note",
    ]
    assert (filled[["label", "secondary", "note"]] == "").all().all()
    assert (
        filled.loc[filled.unit_id == "d1:p001", "text"].item()
        == units.loc[units.unit_id == "d1:p001", "text"].item()
    )
    filled["label"] = ["employment", "Rights", "家庭家教家风"]  # id, id in capitals, name_zh
    filled["secondary"] = [
        "",
        "family；rights",
        "ideology;employment",
    ]  # primary repeated is dropped
    filled["note"] = ["", "hard", ""]
    filled.to_csv(tmp_path / "filled.csv", index=False)
    tidy = read_annotations(tmp_path / "filled.csv", cb, annotator="ann1")
    assert list(tidy.columns) == [
        "unit_id",
        "doc_id",
        "annotator",
        "label",
        "secondary",
        "note",
        "text",
    ]
    assert tidy.unit_id.tolist() == ["d1:p001", "d1:p002", "d2:p001"]
    assert tidy.label.tolist() == ["family", "rights", "employment"]
    assert tidy.secondary.tolist() == ["ideology;employment", "family", ""]
    assert tidy.note.tolist() == ["", "hard", ""]
    assert (tidy.annotator == "ann1").all()
    assert tidy.text.iloc[0] == units.loc[units.unit_id == "d1:p001", "text"].item()


def test_unlabelled_rows_are_dropped_unless_kept(tmp_path, cb):
    export_csv(_units(), tmp_path / "u.csv")
    t = pd.read_csv(tmp_path / "u.csv", encoding="utf-8-sig", keep_default_na=False)
    t.loc[0, "label"] = "other"
    t.to_csv(tmp_path / "u.csv", index=False)
    assert len(read_annotations(tmp_path / "u.csv", cb)) == 1
    assert len(read_annotations(tmp_path / "u.csv", cb, keep_unlabelled=True)) == 4


def _ls_export(
    tasks_path: Path, cb, labels: dict[str, list[tuple[str, str, list[str]]]]
) -> list[dict]:
    """Simulate a Label Studio JSON export of the imported tasks."""
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    out = []
    for n, t in enumerate(tasks, start=1):
        anns = []
        for who, prim, sec in labels.get(t["data"]["unit_id"], []):
            result = [
                {
                    "from_name": "primary",
                    "to_name": "text",
                    "type": "choices",
                    "value": {"choices": [prim]},
                }
            ]
            if sec:
                result.append(
                    {
                        "from_name": "secondary",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": sec},
                    }
                )
            result.append(
                {
                    "from_name": "note",
                    "to_name": "text",
                    "type": "textarea",
                    "value": {"text": ["n"]},
                }
            )
            anns.append(
                {
                    "id": n * 10,
                    "completed_by": {"id": 1, "email": who},
                    "result": result,
                    "was_cancelled": False,
                }
            )
        out.append({"id": n, "data": t["data"], "annotations": anns})
    return out


def test_label_studio_export_fill_import_round_trip(tmp_path, cb):
    from research.labels.annotation import choice_text

    units = _units()[lambda d: d.kind == "body"]
    tasks_path = export_label_studio(units, tmp_path / "tasks.json")
    tasks = json.loads(tasks_path.read_text(encoding="utf-8"))
    assert [t["data"]["unit_id"] for t in tasks] == units.unit_id.tolist()
    assert set(tasks[0]["data"]) == {"unit_id", "doc_id", "heading", "text"}
    exported = _ls_export(
        tasks_path,
        cb,
        {
            "d2:p001": [("a@x", "employment", []), ("b@x", choice_text(cb, "employment"), [])],
            "d1:p002": [
                ("a@x", choice_text(cb, "rights"), [choice_text(cb, "family")]),
                ("b@x", "family", ["rights"]),
            ],
        },
    )
    (tmp_path / "export.json").write_text(
        json.dumps(exported, ensure_ascii=False), encoding="utf-8"
    )
    tidy = read_annotations(tmp_path / "export.json", cb)
    got = {(r.unit_id, r.annotator): (r.label, r.secondary, r.note) for r in tidy.itertuples()}
    assert got == {
        ("d1:p002", "a@x"): ("rights", "family", "n"),
        ("d1:p002", "b@x"): ("family", "rights", "n"),
        ("d2:p001", "a@x"): ("employment", "", "n"),
        ("d2:p001", "b@x"): ("employment", "", "n"),
    }
    # the same export gives agreement between the two Label Studio annotators
    wide, raters = wide_from_files([tmp_path / "export.json"], cb)
    assert raters == ["a@x", "b@x"]
    assert agreement(wide, raters, cb)["percent_agreement"] == 0.5


def test_label_config_xml_from_codebook(cb):
    root = ET.fromstring(label_config_xml(cb))
    prim = root.find("./Choices[@name='primary']")
    sec = root.find("./Choices[@name='secondary']")
    assert prim.get("choice") == "single-radio" and prim.get("toName") == "text"
    assert [c.get("alias") for c in prim.findall("Choice")] == cb.ids
    assert sec.get("choice") == "multiple"
    assert [c.get("alias") for c in sec.findall("Choice")] == cb.domain_ids
    hint = prim.find("Choice[@alias='rights']").get("hint")
    assert hint.startswith(cb["rights"].definition)
    assert root.find("./Text[@name='text']").get("value") == "$text"


# ---------------------------------------------------------------- errors


def _csv(tmp_path, rows, name="bad.csv", columns=("unit_id", "label", "secondary")):
    p = tmp_path / name
    pd.DataFrame(rows, columns=list(columns)).to_csv(p, index=False)
    return p


def test_bad_labels_give_errors_naming_file_and_row(tmp_path, cb):
    p = _csv(tmp_path, [("u1", "rights", ""), ("u2", "sports", "")])
    with pytest.raises(InputError) as exc:
        read_annotations(p, cb)
    assert exc.value.path == str(p)
    assert "row 3 (unit_id u2)" in exc.value.problem and "'sports'" in exc.value.problem
    assert "ideology" in exc.value.problem  # lists the allowed ids

    p = _csv(tmp_path, [("u1", "rights", "other")], "sec.csv")
    with pytest.raises(InputError, match="'other' cannot be a secondary label"):
        read_annotations(p, cb)
    p = _csv(tmp_path, [("u1", "rights", "famly")], "sec2.csv")
    with pytest.raises(InputError, match="row 2 .*'famly'"):
        read_annotations(p, cb)
    p = _csv(tmp_path, [("u1", "", "family")], "sec3.csv")
    with pytest.raises(InputError, match="secondary labels given without a primary"):
        read_annotations(p, cb)
    p = _csv(tmp_path, [("u1", "rights", ""), ("u1", "family", "")], "dup.csv")
    with pytest.raises(InputError, match="row 3: duplicate unit_id 'u1'"):
        read_annotations(p, cb)
    p = _csv(tmp_path, [("u1", "rights")], "nolab.csv", columns=("unit_id", "primary"))
    with pytest.raises(InputError, match="missing label column 'label'") as exc:
        read_annotations(p, cb)
    assert "nolab.csv" in str(exc.value)
    with pytest.raises(InputError, match="file not found"):
        read_annotations(tmp_path / "missing.csv", cb)


def test_bad_label_studio_files(tmp_path, cb):
    p = tmp_path / "ls.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not a valid Label Studio JSON export"):
        read_annotations(p, cb)
    p.write_text(
        json.dumps(
            [
                {
                    "data": {"unit_id": "u1"},
                    "annotations": [
                        {
                            "completed_by": 3,
                            "result": [{"from_name": "primary", "value": {"choices": ["sport"]}}],
                        }
                    ],
                }
            ]
        ),
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"task #1 \(unit_id u1, annotator 3\): label 'sport'"):
        read_annotations(p, cb)
    p.write_text(json.dumps([{"data": {"text": "x"}}]), encoding="utf-8")
    with pytest.raises(InputError, match="task #1: data has no 'unit_id'"):
        read_annotations(p, cb)


# ---------------------------------------------------------------- agreement


A = [
    "rights",
    "rights",
    "family",
    "family",
    "rights",
    "family",
    "rights",
    "rights",
    "family",
    "rights",
]
B = [
    "rights",
    "family",
    "family",
    "family",
    "rights",
    "family",
    "rights",
    "rights",
    "rights",
    "rights",
]


def test_cohen_kappa_and_alpha_hand_computed():
    # po = 0.8, pe = 0.6*0.6 + 0.4*0.4 = 0.52 → kappa = 0.28 / 0.48
    assert cohen_kappa(A, B) == pytest.approx(0.28 / 0.48)
    # coincidences: o_RR=10, o_FF=6, o_RF=o_FR=2, n=20, n_R=12, n_F=8
    # alpha = 1 - (4/20) / (2*12*8/(20*19))
    assert krippendorff_alpha([A, B]) == pytest.approx(1 - 0.2 / (192 / 380))
    assert cohen_kappa(A, A) == 1.0
    assert krippendorff_alpha([A, A]) == 1.0
    assert pd.isna(cohen_kappa(["x", "x"], ["x", "x"]))  # undefined, not 1
    # sklearn agrees on kappa
    from sklearn.metrics import cohen_kappa_score

    assert cohen_kappa(A, B) == pytest.approx(cohen_kappa_score(A, B))


def test_agreement_overall_and_per_category(cb):
    wide = pd.DataFrame({"unit_id": [f"u{i}" for i in range(10)], "p1": A, "p2": B})
    res = agreement(wide, ["p1", "p2"], cb)
    assert res["n_units"] == 10
    assert res["percent_agreement"] == 0.8
    assert res["kappa"] == round(0.28 / 0.48, 4)
    assert res["alpha"] == round(1 - 0.2 / (192 / 380), 4)
    # one-vs-rest with two categories in use equals the overall values
    assert res["per_category"]["rights"]["kappa"] == res["kappa"]
    assert res["per_category"]["family"]["alpha"] == res["alpha"]
    # nobody used 'other': perfect percent agreement, kappa/alpha undefined
    assert res["per_category"]["other"]["percent_agreement"] == 1.0
    assert (
        res["per_category"]["other"]["kappa"] is None
        and res["per_category"]["other"]["alpha"] is None
    )
    assert res["per_category"]["rights"]["counts"] == {"p1": 6, "p2": 6}
    table = by_category_table(res)
    assert table.category.tolist() == ["overall"] + cb.ids
    dis = disagreements(wide, ["p1", "p2"])
    assert dis.unit_id.tolist() == ["u1", "u8"]


def test_perfect_agreement_three_raters_with_missing(cb):
    labs = ["rights", "family", "ideology", "other", "employment"]
    wide = pd.DataFrame({"unit_id": list("abcde"), "r1": labs, "r2": labs, "r3": labs[:4] + [""]})
    res = agreement(wide, ["r1", "r2", "r3"], cb)
    assert res["kappa"] == 1.0 and res["alpha"] == 1.0 and res["percent_agreement"] == 1.0
    assert res["n_units"] == 4 and res["n_units_any"] == 5
    assert len(res["pairwise"]) == 3
    assert {p["n"] for p in res["pairwise"]} == {4, 5}
    assert disagreements(wide, ["r1", "r2", "r3"]).empty


# ---------------------------------------------------------------- CLI


def _params(tmp_path: Path) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "seed": 7,
                "paths": {
                    "data": str(tmp_path / "data"),
                    "reports": str(tmp_path / "reports"),
                    "models": str(tmp_path / "models"),
                    "annotations": str(tmp_path / "annotations.csv"),
                },
            }
        ),
        encoding="utf-8",
    )
    return p


def test_cli_export_import_agreement(tmp_path, capsys):
    pfile = _params(tmp_path)
    src = tmp_path / "paragraphs.parquet"
    _units().to_parquet(src, index=False)
    assert main(["--params", str(pfile), "annotate", "export", "--input", str(src)]) == 0
    out_dir = tmp_path / "data" / "annotation"
    assert {p.name for p in out_dir.iterdir()} == {
        "units.csv",
        "units.label_studio.json",
        "label_config.xml",
    }
    exported = pd.read_csv(out_dir / "units.csv", encoding="utf-8-sig", keep_default_na=False)
    assert exported.unit_id.tolist() == [
        "d1:p001",
        "d1:p002",
        "d2:p001",
    ]  # body units, reading order

    a, b = exported.copy(), exported.copy()
    a["label"] = ["family", "rights", "employment"]
    b["label"] = ["family", "family", "employment"]
    a.to_csv(tmp_path / "ann_a.csv", index=False)
    b.to_csv(tmp_path / "ann_b.csv", index=False)
    assert (
        main(
            [
                "--params",
                str(pfile),
                "annotate",
                "import",
                str(tmp_path / "ann_a.csv"),
                str(tmp_path / "ann_b.csv"),
            ]
        )
        == 0
    )
    imported = pd.read_csv(out_dir / "imported.csv", keep_default_na=False)
    assert len(imported) == 6 and set(imported.annotator) == {"ann_a", "ann_b"}

    assert (
        main(
            [
                "--params",
                str(pfile),
                "annotate",
                "agreement",
                str(tmp_path / "ann_a.csv"),
                str(tmp_path / "ann_b.csv"),
            ]
        )
        == 0
    )
    m = json.loads((tmp_path / "reports" / "metrics" / "agreement.json").read_text())
    assert m["raters"] == ["ann_a", "ann_b"] and m["percent_agreement"] == round(2 / 3, 4)
    cat = pd.read_csv(tmp_path / "reports" / "tables" / "agreement_by_category.csv")
    assert cat.category.tolist()[0] == "overall"
    dis = pd.read_csv(tmp_path / "reports" / "tables" / "agreement_disagreements.csv")
    assert dis.unit_id.tolist() == ["d1:p002"]

    # a user codebook given after the action name is used (and validated)
    bad_cb = tmp_path / "cb.yaml"
    bad_cb.write_text("name: x\n", encoding="utf-8")
    capsys.readouterr()
    assert (
        main(
            [
                "--params",
                str(pfile),
                "annotate",
                "import",
                str(tmp_path / "ann_a.csv"),
                "--codebook",
                str(bad_cb),
            ]
        )
        == 2
    )
    assert "cb.yaml" in capsys.readouterr().err

    # one file, two columns (the seeds/annotations.csv layout)
    seeds = pd.DataFrame(
        {
            "unit_id": ["u1", "u2", "u3"],
            "pass1": ["rights", "family", "other"],
            "pass2": ["rights", "family", "other"],
            "gold": ["rights", "family", "other"],
        }
    )
    seeds.to_csv(tmp_path / "annotations.csv", index=False)
    assert (
        main(
            [
                "--params",
                str(pfile),
                "annotate",
                "agreement",
                str(tmp_path / "annotations.csv"),
                "--columns",
                "pass1",
                "pass2",
            ]
        )
        == 0
    )
    m = json.loads((tmp_path / "reports" / "metrics" / "agreement.json").read_text())
    assert m["kappa"] == 1.0 and m["alpha"] == 1.0

    # bad label → exit 2 with file and row
    b.loc[1, "label"] = "welfare"
    b.to_csv(tmp_path / "ann_b.csv", index=False)
    capsys.readouterr()
    assert main(["--params", str(pfile), "annotate", "import", str(tmp_path / "ann_b.csv")]) == 2
    err = capsys.readouterr().err
    assert "ann_b.csv" in err and "row 3" in err and "welfare" in err


def test_cli_suggest_uses_active_learning_module(tmp_path, monkeypatch):
    pfile = _params(tmp_path)
    src = tmp_path / "paragraphs.parquet"
    _units().to_parquet(src, index=False)
    pd.DataFrame({"unit_id": ["d1:p001"], "gold": ["family"]}).to_csv(
        tmp_path / "annotations.csv", index=False
    )
    seen = {}

    def suggest(model_dir, units, n, seed, strategy):
        seen.update(
            model_dir=Path(model_dir), ids=units.unit_id.tolist(), n=n, seed=seed, strategy=strategy
        )
        u = units.head(n)
        return pd.DataFrame(
            {
                "unit_id": u.unit_id,
                "doc_id": u.doc_id,
                "text": u.text,
                "uncertainty": [0.9] * len(u),
            }
        )

    monkeypatch.setitem(
        sys.modules, "research.classify.active_learning", types.SimpleNamespace(suggest=suggest)
    )
    assert (
        main(
            [
                "--params",
                str(pfile),
                "annotate",
                "suggest",
                "--n",
                "1",
                "--input",
                str(src),
                "--strategy",
                "stratified",
            ]
        )
        == 0
    )
    assert seen["ids"] == ["d1:p002", "d2:p001"]  # annotated unit excluded, heading excluded
    assert seen["n"] == 1 and seen["seed"] == 7 and seen["strategy"] == "stratified"
    assert seen["model_dir"] == tmp_path / "models" / "classifier"
    out = pd.read_csv(
        tmp_path / "data" / "annotation" / "suggested.csv",
        encoding="utf-8-sig",
        keep_default_na=False,
    )
    assert list(out.columns) == [
        "unit_id",
        "doc_id",
        "heading",
        "text",
        "uncertainty",
        "label",
        "secondary",
        "note",
    ]
    assert out.unit_id.tolist() == ["d1:p002"] and out.heading.tolist() == ["维权"]
