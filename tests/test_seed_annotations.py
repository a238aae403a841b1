"""The gold annotations stay aligned with the prepared seed units and the codebook."""

from __future__ import annotations

import pandas as pd

from research.labels.codebook import load_codebook

from .conftest import ROOT


def test_every_body_unit_has_two_passes_and_gold(prepared_seeds):
    ann = pd.read_csv(ROOT / "seeds" / "annotations.csv", keep_default_na=False)
    body = prepared_seeds.paragraphs.query("kind == 'body'").set_index("unit_id")
    assert set(ann.unit_id) == set(body.index)
    # texts match: a segmentation change cannot silently misalign labels
    assert (ann.set_index("unit_id").text == body.loc[ann.unit_id, "text"]).all()
    ids = set(load_codebook().ids)
    for col in ("pass1", "pass2", "gold"):
        assert ann[col].isin(ids).all(), col
    for col in ("pass1_secondary", "pass2_secondary", "gold_secondary"):
        labels = {x for v in ann[col] for x in v.split(";") if x}
        assert labels <= ids - {"other"}, col
    disagree = ann[ann.pass1 != ann.pass2]
    assert disagree.note.str.contains("Adjudicated").all()
    assert ann.gold.nunique() == 6
