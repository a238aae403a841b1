"""Domain classifiers: features, models, baselines, the base set, evaluation on real gold, persistence.

Public API::

    from research.classify import DomainClassifier, MajorityClassifier, DictionaryBaseline
    from research.classify.persist import load_model, save_model
"""

from research.classify.baselines import DictionaryBaseline, MajorityClassifier
from research.classify.models import DomainClassifier

__all__ = ["DictionaryBaseline", "DomainClassifier", "MajorityClassifier"]
