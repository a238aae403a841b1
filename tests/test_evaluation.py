"""evaluate_labels: known answers computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.metrics import f1_score

from research.errors import ResearchError
from research.labels.evaluation import (
    confidence_bins,
    evaluate_labels,
    expected_calibration_error,
)

Y_TRUE = ["a", "a", "a", "b", "b", "c"]
Y_PRED = ["a", "a", "b", "b", "c", "c"]
GROUPS = ["d1", "d1", "d1", "d2", "d2", "d2"]


def test_label_metrics_by_hand() -> None:
    r = evaluate_labels(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert r["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert r["accuracy"] == pytest.approx(4 / 6)
    pc = r["per_class"]
    assert pc["a"]["precision"] == pytest.approx(1.0)
    assert pc["a"]["recall"] == pytest.approx(2 / 3)
    assert pc["a"]["f1"] == pytest.approx(0.8)
    assert pc["b"]["f1"] == pytest.approx(0.5)
    assert pc["c"]["precision"] == pytest.approx(0.5)
    assert pc["c"]["recall"] == pytest.approx(1.0)
    assert pc["c"]["f1"] == pytest.approx(2 / 3)
    assert pc["a"]["support"] == 3 and pc["c"]["support"] == 1
    assert r["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert r["macro_f1"] == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))
    assert "brier" not in r and "doc_share_mae" not in r


def test_absent_label_is_skipped_in_macro_but_kept_in_matrix() -> None:
    r = evaluate_labels(Y_TRUE, Y_PRED, ["c", "b", "a", "d"])
    # rows and columns follow the given label order
    assert r["confusion"] == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]]
    assert r["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert r["macro_f1_all"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 4)
    assert r["per_class"]["d"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 0,
        "predicted": 0,
    }


def test_brier_and_ece_by_hand() -> None:
    proba = np.array([[0.8, 0.2], [0.6, 0.4]])
    r = evaluate_labels(["a", "b"], ["a", "a"], ["a", "b"], proba=proba)
    # (0.2² + 0.2²) and (0.6² + 0.6²), mean = (0.08 + 0.72) / 2
    assert r["brier"] == pytest.approx(0.4)
    # bins: 0.8 correct → |1 - 0.8|, 0.6 wrong → |0 - 0.6|, each weight 1/2
    assert r["ece"] == pytest.approx(0.4)


def test_perfectly_calibrated_and_perfect_predictions() -> None:
    labels = ["a", "b"]
    proba = np.array([[1.0, 0.0], [0.0, 1.0]])
    r = evaluate_labels(["a", "b"], ["a", "b"], labels, proba=proba)
    assert r["brier"] == 0.0 and r["ece"] == 0.0 and r["macro_f1"] == 1.0
    # 4 units at confidence 0.75, 3 right: calibrated, ECE 0
    p = np.array([[0.75, 0.25]] * 4)
    assert expected_calibration_error(["a", "a", "a", "b"], p, labels) == pytest.approx(0.0)


def test_proba_as_dataframe_with_p_columns() -> None:
    df = pd.DataFrame({"p_b": [0.2, 0.4], "p_a": [0.8, 0.6]})
    r = evaluate_labels(["a", "b"], ["a", "a"], ["a", "b"], proba=df)
    assert r["brier"] == pytest.approx(0.4)


def test_doc_share_mae_by_hand() -> None:
    r = evaluate_labels(Y_TRUE, Y_PRED, ["a", "b", "c"], groups=GROUPS)
    # d1: gold (1, 0, 0) vs pred (2/3, 1/3, 0) → 2/9; d2: gold (0, 2/3, 1/3) vs (0, 1/3, 2/3) → 2/9
    assert r["doc_share_mae"] == pytest.approx(2 / 9)
    assert r["doc_share_mae_by_group"] == pytest.approx({"d1": 2 / 9, "d2": 2 / 9})


def test_doc_share_mae_with_probabilities() -> None:
    proba = np.array([[1.0, 0.0]] * 2 + [[0.5, 0.5]] * 2)
    r = evaluate_labels(
        ["a", "a", "a", "b"], ["a", "a", "a", "b"], ["a", "b"], groups=[1, 1, 2, 2], proba=proba
    )
    assert r["doc_share_mae"] == 0.0
    # doc 1: exact; doc 2: gold (0.5, 0.5), proba mean (0.5, 0.5) → also exact
    assert r["doc_share_mae_proba"] == pytest.approx(0.0)
    proba2 = np.array([[0.5, 0.5]] * 4)
    r2 = evaluate_labels(
        ["a", "a", "a", "b"], ["a"] * 4, ["a", "b"], groups=[1, 1, 2, 2], proba=proba2
    )
    # doc 1: gold (1, 0) vs (0.5, 0.5) → 0.5; doc 2: exact → 0; mean 0.25
    assert r2["doc_share_mae_proba"] == pytest.approx(0.25)


def test_errors() -> None:
    with pytest.raises(ResearchError, match="y_pred has"):
        evaluate_labels(["a"], ["a", "b"], ["a", "b"])
    with pytest.raises(ResearchError, match="shape"):
        evaluate_labels(["a"], ["a"], ["a", "b"], proba=np.ones((1, 3)))
    with pytest.raises(ResearchError, match="duplicates"):
        evaluate_labels(["a"], ["a"], ["a", "a"])


def test_metrics_agree_with_sklearn_on_a_small_case() -> None:
    """The scorer's numbers are scikit-learn's: confusion matrix, per-class P/R/F1, and the
    multi-class Brier score = the sum of the one-vs-rest binary Brier scores."""
    rng = np.random.default_rng(4)
    labels = ["c", "a", "d", "b"]  # not sorted: sklearn's Brier assumes sorted columns
    y = rng.choice(["a", "b", "c"], 30)  # "d" never true
    p = rng.dirichlet(np.ones(4), 30)
    pred = np.array(labels)[p.argmax(1)]
    r = evaluate_labels(y, pred, labels, proba=p)
    assert r["confusion"] == metrics.confusion_matrix(y, pred, labels=labels).tolist()
    prec, rec, f1, sup = metrics.precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0.0
    )
    for i, lab in enumerate(labels):
        got = r["per_class"][lab]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx(
            (prec[i], rec[i], f1[i])
        )
        assert got["support"] == sup[i]
    ovr = sum(metrics.brier_score_loss(y == lab, p[:, k]) for k, lab in enumerate(labels))
    assert r["brier"] == pytest.approx(ovr)
    onehot = (y[:, None] == np.array(labels)[None, :]).astype(float)
    assert r["brier"] == pytest.approx(np.mean(((p - onehot) ** 2).sum(1)))


def test_brier_with_a_true_label_outside_labels_is_an_error() -> None:
    with pytest.raises(ResearchError, match=r"true label\(s\) \['z'\] not in labels"):
        evaluate_labels(["a", "z"], ["a", "a"], ["a", "b"], proba=np.array([[1, 0], [1, 0]]))


def test_confidence_bins_are_right_closed_and_shared() -> None:
    conf = np.array([0.0, 0.1, 0.1000001, 0.5, 0.95, 1.0])
    assert confidence_bins(conf, 10).tolist() == [0, 0, 1, 4, 9, 9]
