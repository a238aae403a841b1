"""A convergence problem while training is written into the model card (not hidden by a
process-wide filter), and training leaves the caller's warning filters as they were."""

from __future__ import annotations

import json
import warnings

from sklearn.exceptions import ConvergenceWarning

from research.classify import models
from research.cli import main
from tests.test_classify_synth import synthetic_units


def test_convergence_warning_lands_in_the_model_card(tmp_path, monkeypatch) -> None:
    fit = models.TemperedClassifier.fit

    def fit_that_warns(self, *args, **kwargs):
        warnings.warn("lbfgs failed to converge (status=1)", ConvergenceWarning, stacklevel=1)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(models.TemperedClassifier, "fit", fit_that_warns)
    data = synthetic_units(n_docs=2, per_class=2, seed=4)[["text", "gold"]]
    data.to_csv(tmp_path / "ann.csv", index=False)
    before = list(warnings.filters)
    args = ["train", str(tmp_path / "ann.csv"), "--out", str(tmp_path / "m"), "--no-base-set"]
    assert main(args) == 0
    assert warnings.filters == before
    card = json.loads((tmp_path / "m" / "model_card.json").read_text(encoding="utf-8"))
    assert card["convergence_warnings"] == ["lbfgs failed to converge (status=1)"]
