"""Domain classifiers: features, models, baselines, grouped CV, persistence.

Public API::

    from research.classify import DomainClassifier, MajorityClassifier, DictionaryBaseline
    from research.classify import load_model, save_model, run_training
"""

from research.classify.baselines import DictionaryBaseline, MajorityClassifier
from research.classify.models import DomainClassifier

__all__ = ["DictionaryBaseline", "DomainClassifier", "MajorityClassifier"]
