"""Every estimator class of the package keeps the scikit-learn contract: mixins before
``BaseEstimator``, run through ``parametrize_with_checks`` (tests/test_estimator_contract.py)
or excused here with the reason, and ``NotFittedError`` before fit."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import NotFittedError

import research

from . import test_estimator_contract as contract

#: estimators not in the checks, and why
EXCUSED = {
    "DictionaryLabeller": "abstains with '' and takes its classes from the codebook, not y",
    "DictionaryBaseline": "the dictionary is the model: classes from the codebook, not y",
}


def _estimator_classes() -> dict[str, type]:
    found = {}
    for m in pkgutil.walk_packages(research.__path__, "research."):
        if m.name.endswith("__main__") or ".commands" in m.name:
            continue
        mod = importlib.import_module(m.name)
        for obj in vars(mod).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseEstimator)
                and obj.__module__.startswith("research.")
            ):
                found[obj.__name__] = obj
    return found


def test_every_estimator_is_checked_or_excused() -> None:
    classes = _estimator_classes()
    checked = set(contract.NUMERIC)
    assert set(classes) == checked | set(EXCUSED), "add new estimators to the contract checks"


def test_mixins_come_before_base_estimator() -> None:
    for name, cls in _estimator_classes().items():
        bases = [b for b in cls.__bases__ if issubclass(b, BaseEstimator) or "Mixin" in b.__name__]
        assert bases[-1] is BaseEstimator, f"{name}: {[b.__name__ for b in cls.__bases__]}"


def test_excused_estimators_still_keep_the_basics() -> None:
    from research.classify.baselines import DictionaryBaseline
    from research.labels.weak_labels import DictionaryLabeller

    assert is_classifier(DictionaryBaseline())
    for est in (DictionaryBaseline(), DictionaryLabeller()):
        with pytest.raises(NotFittedError):
            est.predict(["开展两癌筛查救助"])
        assert not hasattr(est, "score") or est.score.__code__.co_varnames[1:3] == ("X", "y")
