"""Topic models of the work reports: unseeded LDA with model selection, and seeded LDA.

Modules:

- :mod:`~research.topics.corpus` — units → project tokeniser → gensim Dictionary
  (documented filtering) → Matrix Market corpus streamed from disk.
- :mod:`~research.topics.lda` — the LDA backends (gensim ``LdaModel``; tomotopy
  ``LDAModel``) behind one interface, :func:`fit_lda` → :class:`FittedLDA`.
- :mod:`~research.topics.selection` — the K sweep: c_v, c_npmi, u_mass coherence,
  document-completion perplexity on held-out units, stability across seeds.
- :mod:`~research.topics.tables` — tidy topic–term (probability, relevance with λ, FREX),
  unit–topic and document–topic tables.
- :mod:`~research.topics.seeded` — codebook seed terms as an asymmetric topic–word prior
  (eta), labelling rule, evaluation row.
- :mod:`~research.topics.ldavis` — the LDAvis page with its JavaScript inlined (offline).
- :mod:`~research.topics.pipeline` — the ``research topics`` stage.

Determinism — what makes two runs with the same params byte-identical:

1. ``gensim.models.LdaModel`` only, never ``LdaMulticore`` (its worker processes make the
   order of updates, and so the topics, differ between runs even with a fixed seed).
2. ``random_state`` = params ``seed`` (run r of the stability sweep uses ``seed + r``);
   ``passes``, ``iterations``, ``chunksize`` and ``alpha``/``eta`` from params;
   ``eval_every=None``; ``dtype=float64``.
3. Inference (θ of any set of documents) resets the model's RandomState to the seed before
   each call: gensim draws each document's initial γ from that RandomState, so without the
   reset θ would depend on how many inference calls came before.
4. ``CoherenceModel(processes=1)``; pyLDAvis ``prepare(n_jobs=1)`` and a fixed element id.
5. The corpus is built in a fixed unit order (doc_id, para_id); gensim's Dictionary assigns
   ids by first appearance and compacts them in sorted order, so ids do not depend on hash
   order; extra words for the tokeniser are sorted.
6. Output tables are sorted and floats rounded (6 decimals; sweep metrics 4).
7. tomotopy: ``seed=`` and ``workers=1`` for training and inference.

Multi-threaded BLAS could in principle change the order of floating-point sums; gensim's
LDA uses per-document vector products, and tests/test_topics.py checks that two fits give
identical tables. Byte identity is promised for the same machine and library versions.
"""

from research.topics.corpus import TopicCorpus, build_corpus, load_units
from research.topics.lda import FittedLDA, LdaSettings, fit_lda
from research.topics.pipeline import TopicsResult, run_topics

__all__ = [
    "FittedLDA",
    "LdaSettings",
    "TopicCorpus",
    "TopicsResult",
    "build_corpus",
    "fit_lda",
    "load_units",
    "run_topics",
]
