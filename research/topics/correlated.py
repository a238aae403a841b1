"""Correlated topics: which themes appear together (tomotopy CTModel; Blei & Lafferty 2007).

The correlated topic model replaces LDA's Dirichlet with a logistic-normal prior whose
covariance is estimated; ``get_correlations`` gives the K × K correlation matrix of the
topics' log-proportions across units. A positive correlation means the two themes tend to
share paragraphs; a negative one that a paragraph about one rarely touches the other.
The table is long (``topic_a``, ``topic_b``, ``correlation``) with each topic's top words,
so the figure can be labelled without the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from research.topics.lda import import_tomotopy, tomotopy_topic_word
from research.topics.tables import FLOAT32_DECIMALS


def fit_correlated(
    texts: Sequence[list[str]],
    vocab: Sequence[str],
    k: int,
    seed: int,
    *,
    iterations: int = 300,
    top_n: int = 4,
) -> tuple[pd.DataFrame, np.ndarray]:
    """(long correlation table, topic–word matrix) of a CTModel on the units."""
    tp = import_tomotopy()
    eta = 0.01
    model = tp.CTModel(tw=tp.TermWeight.ONE, k=k, eta=eta, seed=int(seed) % 2**32)
    for words in texts:
        if words:
            model.add_doc(words)
    model.train(iterations=iterations, workers=1)
    tw = tomotopy_topic_word(model, vocab, np.full((k, len(vocab)), eta))
    corr = np.array([model.get_correlations(t) for t in range(k)], dtype=float)
    labels = [
        " ".join(vocab[j] for j in np.argsort(-tw[t], kind="stable")[:top_n]) for t in range(k)
    ]
    rows = [(a + 1, labels[a], b + 1, labels[b], corr[a, b]) for a in range(k) for b in range(k)]
    out = pd.DataFrame(rows, columns=["topic_a", "label_a", "topic_b", "label_b", "correlation"])
    out["correlation"] = out["correlation"].round(FLOAT32_DECIMALS)
    return out, tw
