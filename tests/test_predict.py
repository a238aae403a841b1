"""`research train` and `research predict`: input forms, outputs and errors (via the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from research.cli import main
from research.labels.codebook import load_codebook
from tests.test_classify_synth import synthetic_units

ROOT = Path(__file__).resolve().parent.parent
IDS = load_codebook().ids
P_COLS = [f"p_{i}" for i in IDS]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("train")
    ann = tmp / "ann.csv"
    synthetic_units(n_docs=3, per_class=2, seed=2).to_csv(ann, index=False)
    out = tmp / "model"
    assert main(["train", str(ann), "--out", str(out), "--no-cv"]) == 0
    return out


def _check(df: pd.DataFrame, n: int) -> None:
    assert len(df) == n
    assert set(P_COLS) <= set(df.columns) and "domain" in df.columns
    assert np.allclose(df[P_COLS].sum(axis=1), 1.0, atol=1e-5)
    assert set(df["domain"]) <= set(IDS)


def test_model_card_written(model_dir: Path) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    assert card["labels"] == IDS
    assert card["codebook_fingerprint"] == load_codebook().fingerprint()
    for key in (
        "training_data_sha256",
        "params",
        "library_versions",
        "chosen",
        "train_params_hash",
    ):
        assert key in card
    base = card["training_data"]["counts"]["base_set"]
    assert (
        card["n_train"] == 36 + sum(base.values())
        and sum(card["training_data"]["counts"]["gold"].values()) == 36
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_predict_table_forms(model_dir: Path, tmp_path: Path, suffix: str, capsys) -> None:
    df = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "text": [
                "开展两癌筛查救助和维权服务",
                "寻找最美家庭，弘扬好家风",
                "深化妇联改革，完成换届",
            ],
        }
    )
    src = tmp_path / f"in{suffix}"
    {
        ".csv": lambda: df.to_csv(src, index=False),
        ".parquet": lambda: df.to_parquet(src),
        ".jsonl": lambda: df.to_json(src, orient="records", lines=True, force_ascii=False),
    }[suffix]()
    out = tmp_path / "out.parquet"
    assert main(["predict", str(src), "--output", str(out), "--model", str(model_dir)]) == 0
    got = pd.read_parquet(out)
    _check(got, 3)
    # pass-through columns keep their text (CSV/JSONL) or their Parquet type
    want_ids = [1, 2, 3] if suffix == ".parquet" else ["1", "2", "3"]
    assert got["id"].tolist() == want_ids and got["text"].tolist() == df["text"].tolist()
    assert got["domain"].tolist() == ["rights", "family", "organization"]
    assert "wrote" in capsys.readouterr().out


def test_predict_normalises_traditional_text(model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"body": ["開展兩癌篩查救助和維權服務", "开展两癌筛查救助和维权服务"]}).to_csv(
        src, index=False
    )
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "predict",
                str(src),
                "-o",
                str(out),
                "--model",
                str(model_dir),
                "--text-column",
                "body",
            ]
        )
        == 0
    )
    got = pd.read_csv(out)
    _check(got, 2)
    assert got["body"].tolist()[0] == "開展兩癌篩查救助和維權服務"  # input column kept as given
    assert np.allclose(
        got.loc[0, P_COLS].to_numpy(float), got.loc[1, P_COLS].to_numpy(float), atol=1e-6
    )


def test_empty_and_non_chinese_texts_get_other(model_dir: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"text": ["", "hello world", "开展两癌筛查救助", None]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert main(["predict", str(src), "-o", str(out), "--model", str(model_dir)]) == 0
    got = pd.read_csv(out, keep_default_na=False)
    _check(got, 4)
    assert got["domain"].tolist() == ["other", "other", "rights", "other"]
    assert "3 of 4 texts are empty or have no Chinese" in capsys.readouterr().out


def test_predict_corpus_folder(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "units.csv"
    assert main(["predict", str(ROOT / "seeds"), "-o", str(out), "--model", str(model_dir)]) == 0
    got = pd.read_csv(out)
    _check(got, len(got))
    assert len(got) > 50 and set(got["kind"]) == {"body"}
    assert {"unit_id", "doc_id", "province"} <= set(got.columns)


def test_predict_errors(model_dir: Path, tmp_path: Path, capsys) -> None:
    src = tmp_path / "in.csv"
    pd.DataFrame({"words": ["妇联"]}).to_csv(src, index=False)
    assert (
        main(["predict", str(src), "-o", str(tmp_path / "o.csv"), "--model", str(model_dir)]) == 2
    )
    assert "missing column(s) 'text'" in capsys.readouterr().err
    assert (
        main(["predict", str(src), "-o", str(tmp_path / "o.txt"), "--model", str(model_dir)]) == 2
    )
    assert "output must end in .csv or .parquet" in capsys.readouterr().err
    assert (
        main(
            [
                "predict",
                str(src),
                "-o",
                str(tmp_path / "o.csv"),
                "--model",
                str(tmp_path / "none"),
                "--text-column",
                "words",
            ]
        )
        == 2
    )
    assert "no trained model" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    pd.DataFrame({"text": []}).to_csv(empty, index=False)
    assert (
        main(["predict", str(empty), "-o", str(tmp_path / "o.csv"), "--model", str(model_dir)]) == 2
    )
    assert "no rows" in capsys.readouterr().err
    folder = tmp_path / "corpus"
    folder.mkdir()
    assert (
        main(["predict", str(folder), "-o", str(tmp_path / "o.csv"), "--model", str(model_dir)])
        == 2
    )
    assert "manifest.csv" in capsys.readouterr().err


def test_train_errors(tmp_path: Path, capsys) -> None:
    data = synthetic_units(n_docs=2, per_class=2, seed=3)
    bad = data.copy()
    bad.loc[0, "gold"] = "sports"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["train", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "m")]) == 2
    assert "'sports' (1 rows)" in capsys.readouterr().err
    data[data.gold != "family"].to_csv(tmp_path / "few.csv", index=False)
    few = ["train", str(tmp_path / "few.csv"), "--out", str(tmp_path / "m"), "--no-base-set"]
    assert main(few) == 2  # with the base set, a class missing from your gold is fine
    assert "too few examples" in capsys.readouterr().err
    data.head(0).to_csv(tmp_path / "empty.csv", index=False)
    assert main(["train", str(tmp_path / "empty.csv"), "--out", str(tmp_path / "m")]) == 2
    assert "empty" in capsys.readouterr().err
    data.to_csv(tmp_path / "ok.csv", index=False)
    assert (
        main(
            [
                "train",
                str(tmp_path / "ok.csv"),
                "--out",
                str(tmp_path / "m"),
                "--label-column",
                "domain",
            ]
        )
        == 2
    )
    assert "missing column(s) 'domain'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()  # nothing half-written


def test_train_without_groups_skips_cv(tmp_path: Path, capsys) -> None:
    data = synthetic_units(n_docs=2, per_class=2, seed=4)[["text", "gold"]]
    data.to_csv(tmp_path / "ann.csv", index=False)
    args = ["train", str(tmp_path / "ann.csv"), "--out", str(tmp_path / "m"), "--no-base-set"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "evaluation on your gold is skipped" in out
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    # nothing to measure a choice on: the first candidate in train.candidates is the default
    assert card["chosen"] == "svm_seeded" and card["gold_documents"] == 1
    assert card["training_data"]["base_set"] == "not used"


@pytest.mark.parametrize(("suffix", "out_suffix"), [(".csv", ".csv"), (".jsonl", ".parquet")])
def test_pass_through_columns_keep_their_text(model_dir, tmp_path, suffix, out_suffix):
    src = tmp_path / f"in{suffix}"
    big = "12345678901234567890123"  # 23 digits: beyond int64
    if suffix == ".csv":
        src.write_text(f"id,code,text\n007,{big},深化妇联改革\n", encoding="utf-8")
    else:
        src.write_text(
            f'{{"id": "007", "code": {big}, "text": "深化妇联改革"}}\n', encoding="utf-8"
        )
    out = tmp_path / f"out{out_suffix}"
    assert main(["predict", str(src), "--output", str(out), "--model", str(model_dir)]) == 0
    got = pd.read_csv(out, dtype=str) if out_suffix == ".csv" else pd.read_parquet(out)
    assert got["id"].tolist() == ["007"] and got["code"].tolist() == [big]


def test_predict_never_drops_rows_silently(model_dir, tmp_path, capsys):
    units = pd.DataFrame(
        {
            "unit_id": ["d:p000", "d:p001", "d:p002"],
            "kind": ["heading", "body", "body"],
            "text": ["一、妇联改革", "深化妇联改革，完成换届", "寻找最美家庭"],
        }
    )
    src = tmp_path / "paragraphs.parquet"
    units.to_parquet(src)
    args = ["predict", str(src), "--model", str(model_dir)]
    assert main([*args, "--output", str(src)]) == 2  # onto itself: would lose the heading
    assert "replace the input" in capsys.readouterr().err
    assert len(pd.read_parquet(src)) == 3
    out = tmp_path / "pred.parquet"
    assert main([*args, "--output", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 2
    assert "1 units of other kinds than body" in capsys.readouterr().out


def test_evaluate_then_train_with_its_choice_equals_train(tmp_path: Path, capsys) -> None:
    """The pipeline's two stages (evaluate; train --choice) give the model `train` gives in
    one step, and a choice made for other data is refused."""
    data = synthetic_units(n_docs=3, per_class=2, seed=5)
    ann = tmp_path / "ann.csv"
    data.to_csv(ann, index=False)
    common = [str(ann), "--no-base-set"]
    ev, rep = tmp_path / "ev", tmp_path / "rep"
    assert main(["evaluate", *common, "--out", str(ev), "--reports", str(rep)]) == 0
    assert (ev / "cv_predictions.parquet").exists() and (ev / "classifier_cv.parquet").exists()
    assert (rep / "tables" / "classifier_cv.csv").exists()
    choice = ev / "choice.json"
    assert main(["train", *common, "--out", str(tmp_path / "m2"), "--choice", str(choice)]) == 0
    assert main(["train", *common, "--out", str(tmp_path / "m1")]) == 0
    cards = [json.loads((tmp_path / m / "model_card.json").read_text()) for m in ("m1", "m2")]
    for key in ("chosen", "temperature", "evaluation", "training_data_sha256", "params"):
        assert cards[0][key] == cards[1][key]
    data.iloc[1:].to_csv(ann, index=False)  # the gold changed after the evaluation
    capsys.readouterr()
    assert main(["train", *common, "--out", str(tmp_path / "m3"), "--choice", str(choice)]) == 2
    err = capsys.readouterr().err
    assert "choice.json" in err and "run `research evaluate` again" in err
    assert not (tmp_path / "m3").exists()


def test_prediction_keeps_nothing_of_the_corpus_in_process_memos(model_dir):
    """Memory flat in corpus size: a predicted batch leaves no cached matrix, token list or
    seed-term score behind (the memos serve cross-validation, where texts repeat)."""
    from research.classify import features, models
    from research.classify.persist import load_model
    from research.classify.predict import predict_frame

    cb = load_codebook()
    model, card = load_model(model_dir, cb)
    texts = [f"第{i}期妇女创业培训班，培训{i}人，寻找最美家庭{i}户" for i in range(60)]
    before = len(models._TRANSFORM_CACHE)
    pred = predict_frame(model, pd.DataFrame({"text": texts}), card["labels"], cb.other_id,
                         batch_size=20)  # fmt: skip
    assert len(pred.table) == 60
    assert len(models._TRANSFORM_CACHE) == before
    assert not features._TOKEN_CACHE and not features._CONTENT_CACHE
    assert not features._SCORE_CACHE
    assert models._TRANSFORM_CACHE_ON[0]  # the CV memos are back on afterwards
