"""Gold labels follow unit ids *and* their text: re-segmentation is caught and repairable."""

from __future__ import annotations

import pandas as pd
import pytest

from research.errors import InputError
from research.labels.anchors import check_anchors, reanchor


@pytest.fixture(scope="module")
def annotations(root) -> pd.DataFrame:
    return pd.read_csv(root / "seeds" / "annotations.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def resegmented(root, params) -> pd.DataFrame:
    """The seeds prepared with join_window 5 (the issue's case): 8 gold ids move."""
    from research.corpus.prepare import prepare_corpus

    p = {**params, "tokenize": {**params["tokenize"], "cache": False}}
    p["prepare"] = {**params["prepare"], "join_window": 5}
    return prepare_corpus(root / "seeds", p, progress=False).paragraphs


def test_seed_gold_labels_match_their_units(annotations, prepared_seeds):
    check_anchors(annotations, prepared_seeds.paragraphs, "annotations.csv")


def test_moved_units_are_an_error_naming_them_and_the_command(annotations, resegmented):
    with pytest.raises(InputError) as exc:
        check_anchors(annotations, resegmented, "annotations.csv", "paragraphs.parquet")
    msg = str(exc.value)
    assert msg.startswith("annotations.csv: 8 labelled unit(s)")
    assert "jiyang-2023:p010" in msg and "research annotate reanchor" in msg


def test_reanchor_moves_labels_to_the_same_text(annotations, resegmented):
    table, moved, lost = reanchor(annotations, resegmented)
    assert len(moved) == 6 and sorted(lost) == ["jiyang-2023:p010", "jiyang-2023:p021"]
    assert len(table) == len(annotations)
    kept, _, _ = reanchor(annotations, resegmented, drop_unmatched=True)
    assert len(kept) == len(annotations) - 2
    check_anchors(kept, resegmented, "reanchored")  # no error any more
    text = dict(zip(resegmented["unit_id"], resegmented["text"]))
    row = kept[kept["unit_id"] == "jiyang-2023:p016"].iloc[0]
    assert row["text"] == annotations[annotations["unit_id"] == "jiyang-2023:p015"]["text"].iloc[0]
    assert text["jiyang-2023:p016"].replace(" ", "") == row["text"].replace(" ", "")


def test_reanchor_command(tmp_path, annotations, resegmented, root):
    from research.cli import main

    units = tmp_path / "paragraphs.parquet"
    resegmented.to_parquet(units)
    ann = tmp_path / "ann.csv"
    annotations.to_csv(ann, index=False)
    args = ["annotate", "reanchor", "--annotations", str(ann), "--units", str(units)]
    assert main(["--params", str(root / "params.yaml"), *args]) == 2  # 2 rows match no unit
    out = tmp_path / "fixed.csv"
    code = main(
        ["--params", str(root / "params.yaml"), *args, "--drop-unmatched", "--out", str(out)]
    )
    assert code == 0
    fixed = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(fixed) == len(annotations) - 2
    check_anchors(fixed, resegmented, out)
