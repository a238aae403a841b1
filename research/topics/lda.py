"""LDA backends behind one small interface: gensim ``LdaModel`` and tomotopy ``LDAModel``.

``fit_lda(corpus, k, settings, seed, eta=None)`` returns a :class:`FittedLDA` exposing the
topic–word matrix (K × V, rows sum to 1, columns in dictionary-id order) and
``doc_topics(bows)`` (N × K, rows sum to 1), so model selection, tables, the seeded model
and the HTML view never touch backend specifics. ``eta`` is an optional K × V topic–word
prior (the seeded model); both backends accept it (tomotopy through ``set_word_prior``).

Determinism (see also the package docstring): gensim ``LdaModel`` (never
``LdaMulticore``) with an integer ``random_state``, fixed ``passes``/``iterations``/
``chunksize``, ``eval_every=None`` and float64; the inference RNG is reset to a fixed seed
before every ``doc_topics`` call, because gensim draws the initial γ of each inferred
document from the model's RandomState (so results would otherwise depend on call order).
tomotopy: ``seed=`` and ``workers=1`` for training and inference.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gensim.corpora import Dictionary

from research.settings import TopicsSettings, as_section

BACKENDS = ("gensim", "tomotopy")


@dataclass(frozen=True)
class LdaSettings:
    """Training settings shared by both backends (from params ``topics``)."""

    passes: int = 20
    iterations: int = 200
    chunksize: int = 2000
    alpha: str | float = "symmetric"
    eta: float | None = None  # symmetric topic-word prior; None → 1/K (gensim default)
    backend: str = "gensim"
    seeded_init: bool = True  # start the seeded model's first E-step from eta
    tomotopy_iterations: int = 1000  # Gibbs sweeps (tomotopy only)
    tomotopy_burn_in: int = 50

    @classmethod
    def from_params(cls, topics: TopicsSettings | dict[str, Any] | None) -> LdaSettings:
        t = as_section(TopicsSettings, topics)
        return cls(
            passes=t.passes,
            iterations=t.iterations,
            chunksize=t.chunksize,
            alpha=t.alpha,
            eta=None if t.eta in (None, "symmetric") else float(t.eta),
            backend=t.backend,
            seeded_init=t.seeded_init,
            tomotopy_iterations=t.tomotopy_iterations,
            tomotopy_burn_in=t.tomotopy_burn_in,
        )

    def base_eta(self, k: int) -> float:
        """The symmetric topic–word prior value used for every (topic, term) cell."""
        return float(self.eta) if self.eta is not None else 1.0 / k


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=float)
    s = m.sum(axis=1, keepdims=True)
    s[s == 0] = 1.0
    return m / s


@dataclass
class FittedLDA:
    """A trained LDA model, backend-independent view."""

    backend: str
    k: int
    topic_word: np.ndarray
    model: Any = field(repr=False)
    seed: int = 0
    vocab: list[str] = field(default_factory=list, repr=False)
    order: list[int] | None = None  # topic i of this view = backend topic order[i]

    def doc_topics(self, bows: Iterable[Sequence[tuple[int, float]]]) -> np.ndarray:
        """θ for each bag-of-words document (N × K, rows sum to 1), read in chunks."""
        if self.backend == "gensim":
            self.model.random_state = np.random.RandomState(self.seed)
            infer = lambda chunk: _normalise_rows(self.model.inference(chunk)[0])  # noqa: E731
        else:
            infer = lambda chunk: _tomotopy_doc_topics(self, chunk)  # noqa: E731
        parts, chunk = [], []
        for bow in bows:
            chunk.append(list(bow))
            if len(chunk) == 2000:
                parts.append(infer(chunk))
                chunk = []
        if chunk:
            parts.append(infer(chunk))
        theta = np.vstack(parts) if parts else np.zeros((0, self.k))
        return theta if self.order is None else theta[:, self.order]

    def top_terms(self, n: int = 10) -> list[list[str]]:
        """The ``n`` most probable terms of each topic (ties broken by term id)."""
        order = np.lexsort(
            (np.tile(np.arange(self.topic_word.shape[1]), (self.k, 1)), -self.topic_word)
        )
        return [[self.vocab[j] for j in row[:n]] for row in order]

    def reorder(self, order: Sequence[int]) -> FittedLDA:
        """Relabel topics so that new topic i is old topic ``order[i]`` (tables only)."""
        base = self.order if self.order is not None else list(range(self.k))
        self.order = [base[i] for i in order]
        self.topic_word = self.topic_word[list(order)]
        return self


def fit_lda(
    corpus: Iterable[Sequence[tuple[int, float]]],
    dictionary: Dictionary,
    k: int,
    settings: LdaSettings,
    seed: int,
    eta: np.ndarray | None = None,
) -> FittedLDA:
    """Train LDA with ``k`` topics on ``corpus`` (a re-iterable stream of bag-of-words)."""
    if settings.backend not in BACKENDS:
        from research.errors import InputError

        raise InputError("params.yaml", f"topics.backend must be one of {', '.join(BACKENDS)}")
    vocab = [dictionary[i] for i in range(len(dictionary))]
    if settings.backend == "tomotopy":
        return _fit_tomotopy(corpus, vocab, k, settings, seed, eta)
    from gensim.matutils import dirichlet_expectation
    from gensim.models import LdaModel

    eta_arg: Any = eta if eta is not None else settings.base_eta(k)
    model = LdaModel(
        corpus=None,
        id2word=dictionary,
        num_topics=k,
        passes=settings.passes,
        iterations=settings.iterations,
        chunksize=settings.chunksize,
        alpha=settings.alpha,
        eta=eta_arg,
        update_every=1,
        eval_every=None,
        random_state=seed,
        minimum_probability=0.0,
        dtype=np.float64,
    )
    if eta is not None and settings.seeded_init:
        # Seeded start: gensim's first E-step uses exp(E[log β]) of the random initial
        # statistics alone (eta enters only at the first M-step); adding eta here lets the
        # seed terms pull their documents into the seeded topics from the first sweep.
        model.expElogbeta = np.exp(dirichlet_expectation(model.state.sstats + np.asarray(eta)))
    model.update(corpus)
    return FittedLDA("gensim", k, _normalise_rows(model.get_topics()), model, seed, vocab)


# ---------------------------------------------------------------- tomotopy backend


def import_tomotopy():
    """Import tomotopy, silencing the DeprecationWarning its C extension raises on import
    (it fails to import at all under ``-W error`` / pytest ``filterwarnings = error``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tomotopy

    return tomotopy


def available_backend(name: str) -> tuple[str, str]:
    """``(backend to use, note)``: tomotopy falls back to gensim (with a note) when it is
    not installed, so the pipeline still runs with only the required dependencies."""
    if name != "tomotopy":
        return name, ""
    try:
        import_tomotopy()
    except ImportError as exc:
        return "gensim", f"tomotopy not importable ({exc}); using the gensim backend"
    return name, ""


def _tomotopy_alpha(settings: LdaSettings, k: int) -> float:
    a = settings.alpha
    return float(a) if not isinstance(a, str) else 1.0 / k


def _fit_tomotopy(corpus, vocab, k, settings, seed, eta) -> FittedLDA:
    tp = import_tomotopy()
    base = settings.base_eta(k)
    model = tp.LDAModel(
        tw=tp.TermWeight.ONE,
        min_cf=0,
        rm_top=0,
        k=k,
        alpha=_tomotopy_alpha(settings, k),
        eta=base,
        seed=int(seed) % (2**32),
    )
    # Word priors must be set before documents are added; only non-uniform columns need it.
    if eta is not None:
        eta = np.asarray(eta, dtype=float)
        for j in np.where((eta != base).any(axis=0))[0]:
            model.set_word_prior(vocab[j], [float(x) for x in eta[:, j]])
    for bow in corpus:
        words = [vocab[w] for w, c in bow for _ in range(int(c))]
        if words:
            model.add_doc(words)
    model.burn_in = settings.tomotopy_burn_in
    model.train(iterations=settings.tomotopy_iterations, workers=1)
    # φ over the whole dictionary: (n_kw + η_kw) / Σ_w (n_kw + η_kw). tomotopy only knows the
    # words of its training documents; a dictionary term absent from them (e.g. one that
    # occurs only in held-out units) keeps its prior pseudo-count η_kw, as in gensim.
    prior = np.full((k, len(vocab)), base) if eta is None else np.array(eta, dtype=float)
    return FittedLDA("tomotopy", k, tomotopy_topic_word(model, vocab, prior), model, seed, vocab)


def tomotopy_topic_word(model, vocab: Sequence[str], prior: np.ndarray, **kw) -> np.ndarray:
    """K × V topic–word matrix of a trained tomotopy model in dictionary order.

    Counts of the words tomotopy saw; every other dictionary term keeps its prior
    pseudo-count (``prior``, K × V). ``kw`` goes to ``get_topic_word_dist`` (e.g.
    ``timepoint`` and ``normalize=True`` for a DTModel, whose raw values are not counts).
    """
    col = {w: j for j, w in enumerate(vocab)}
    used = [col[w] for w in model.used_vocabs]
    tw = np.array(prior, dtype=float, copy=True)
    kw.setdefault("normalize", False)
    for t in range(tw.shape[0]):
        tw[t, used] = np.asarray(model.get_topic_word_dist(t, **kw), dtype=float)
    return _normalise_rows(tw)


def _tomotopy_doc_topics(fitted: FittedLDA, bows: list[list[tuple[int, float]]]) -> np.ndarray:
    model = fitted.model
    vocab = fitted.vocab
    used = set(model.used_vocabs)
    docs, idx = [], []
    for i, bow in enumerate(bows):
        words = [vocab[w] for w, c in bow for _ in range(int(c)) if vocab[w] in used]
        if words:
            docs.append(model.make_doc(words))
            idx.append(i)
    k = fitted.k
    alpha = np.asarray(model.alpha, dtype=float).reshape(-1)
    out = (
        np.tile(alpha / alpha.sum(), (len(bows), 1))
        if alpha.size == k
        else np.full((len(bows), k), 1.0 / k)
    )
    if docs:
        dists, _ = model.infer(
            docs, iterations=max(fitted.model.burn_in, 100), workers=1, together=False
        )
        for i, d in zip(idx, dists):
            out[i] = np.asarray(d, dtype=float)
    return _normalise_rows(out)
