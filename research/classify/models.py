"""The domain classifier: one scikit-learn estimator over several feature blocks.

:class:`DomainClassifier` combines

- word TF-IDF over the project tokeniser (jieba + federation dictionary, with the
  codebook's seed terms added to the dictionary so campaign names stay single tokens),
- character n-gram TF-IDF (1–3), robust to segmentation errors and unseen compounds,
- per-domain weighted seed-term scores from the codebook (its prior knowledge, which
  transfers to provinces the training data never saw),
- the section heading (character n-grams and seed-term scores of the nearest heading),

and one of three linear learners: logistic regression, a linear SVM calibrated with
``CalibratedClassifierCV`` (sigmoid), or complement naive Bayes. ``predict_proba`` always
returns one column per label in ``labels`` (the codebook ids), with probability 0 for a
label absent from the training data, so downstream shares have every category.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

from research.classify.baselines import _check_labels, _check_weights
from research.classify.features import (
    CharNgramTfidf,
    JiebaAnalyzer,
    SeedTermScores,
    TextInputMixin,
    VocabTfidf,
    as_units,
    char_preprocess,
    on_distinct,
    word_tfidf_fit,
)
from research.labels.matcher import dictionary_proba

MODEL_KINDS = ("lr", "svm", "cnb")
_THREADPOOLS: ThreadpoolController | None = None
_BLAS_LOCK = threading.Lock()
_BLAS_DEPTH = [0]  # fits inside the BLAS limit in this process
_BLAS_LIMIT: list[Any] = []  # the active BLAS limit (restored by the last fit to leave)
_POOLS_SEEN = [-1]  # len(sys.modules) when the thread pools were last looked up


def _threadpools() -> ThreadpoolController:
    """The process's thread pools, looked up again only after new modules were imported (an
    import can load another BLAS or OpenMP library, which a stale list would not limit)."""
    global _THREADPOOLS
    if _THREADPOOLS is None or _POOLS_SEEN[0] != len(sys.modules):
        _POOLS_SEEN[0] = len(sys.modules)
        _THREADPOOLS = ThreadpoolController()
    return _THREADPOOLS


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS and OpenMP to one thread while a fit runs.

    Fits may run in parallel threads (``instrument.fit_all``). A BLAS library's thread count
    is process-wide, so the fits share one BLAS limit, set by the first to enter and lifted
    by the last to leave (nested limits from several threads would restore each other's
    settings out of order); ``instrument.fit_all`` holds it in the calling thread for all
    its fits (set from a worker thread, OpenBLAS's limit did not always take hold). OpenMP's
    is per thread, so each fit limits its own. The thread pools are looked up again only
    after new imports (rediscovering them costs ~5-30 ms per call).
    """
    with _BLAS_LOCK:
        pools = _threadpools()
        if _BLAS_DEPTH[0] == 0:
            _BLAS_LIMIT.append(pools.select(user_api="blas").limit(limits=1))
        _BLAS_DEPTH[0] += 1
    omp = pools.select(user_api="openmp").limit(limits=1)
    try:
        yield
    finally:
        omp.restore_original_limits()
        with _BLAS_LOCK:
            _BLAS_DEPTH[0] -= 1
            if _BLAS_DEPTH[0] == 0:
                _BLAS_LIMIT.pop().restore_original_limits()


class TextTfidf(TextInputMixin, TransformerMixin, BaseEstimator):
    """TF-IDF of one text column, scaled; an all-empty column gives one zero feature."""

    def __init__(
        self,
        column: str = "text",
        analyzer: Any = "char",
        ngram_range: tuple[int, int] = (1, 3),
        min_df: int = 1,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        scale: float = 1.0,
    ) -> None:
        self.column = column
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.scale = scale

    def _vectorizer(self) -> TfidfVectorizer:
        if callable(self.analyzer):
            return TfidfVectorizer(
                analyzer=self.analyzer,
                min_df=self.min_df,
                max_features=self.max_features,
                sublinear_tf=self.sublinear_tf,
                dtype=np.float64,
            )
        return TfidfVectorizer(
            analyzer=self.analyzer,
            ngram_range=tuple(self.ngram_range),
            preprocessor=char_preprocess,
            lowercase=True,
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float64,
        )

    def _fast(self) -> bool:
        """Whether the exact numpy char n-gram TF-IDF can stand in for sklearn's."""
        return (
            isinstance(self.analyzer, str)
            and self.analyzer == "char"
            and self.max_features is None
            and isinstance(self.min_df, int)
            and 1 <= self.ngram_range[0] <= self.ngram_range[1] <= 3
        )

    def fit(self, X: Any, y: Any = None) -> TextTfidf:
        if not (self._fast() or callable(self.analyzer)):
            return self._fit(X)  # sklearn's vectorizer: fitting needs no transform
        self.fit_transform(X)  # the memo paths give the matrix as they fit
        return self

    def _fit(self, X: Any) -> TextTfidf:
        texts = as_units(X)[self.column].tolist()
        if self._fast():
            self.vectorizer_ = CharNgramTfidf(
                tuple(self.ngram_range), self.min_df, self.sublinear_tf
            )
        else:
            self.vectorizer_ = self._vectorizer()
        try:
            self.vectorizer_.fit(texts)
            self.empty_ = False
        except ValueError:  # empty vocabulary (e.g. no headings at all)
            self.empty_ = True
        return self

    def fit_transform(self, X: Any, y: Any = None) -> sp.csr_matrix:
        if not self._fast():
            if callable(self.analyzer):  # word TF-IDF: from the token memo when it can
                texts = as_units(X)[self.column].tolist()
                vec = self._vectorizer()
                try:
                    out = word_tfidf_fit(vec, texts)
                except ValueError:  # empty vocabulary
                    self.vectorizer_, self.empty_ = vec, True
                    return sp.csr_matrix((len(texts), 1))
                if out is not None:
                    self.vectorizer_, self.empty_ = vec, False
                    return out * float(self.scale) if self.scale != 1.0 else out
            return self._fit(X).transform(X)
        texts = as_units(X)[self.column].tolist()
        self.vectorizer_ = CharNgramTfidf(tuple(self.ngram_range), self.min_df, self.sublinear_tf)
        try:
            out = self.vectorizer_.fit_transform(texts)
            self.empty_ = False
        except ValueError:  # empty vocabulary (e.g. no headings at all)
            self.empty_ = True
            return sp.csr_matrix((len(texts), 1))
        return out * float(self.scale) if self.scale != 1.0 else out

    def transform(self, X: Any) -> sp.csr_matrix:
        check_is_fitted(self, "vectorizer_")
        texts = as_units(X)[self.column].tolist()
        if self.empty_:
            return sp.csr_matrix((len(texts), 1))
        vec: Any = self.vectorizer_  # CharNgramTfidf, TfidfVectorizer or VocabTfidf below
        if isinstance(vec, TfidfVectorizer) and VocabTfidf.applies(vec):
            fast = self.__dict__.get("_fast_vec")
            if fast is None or fast.vec is not vec:
                fast = self.__dict__["_fast_vec"] = VocabTfidf(vec)
            vec = fast
        out = on_distinct(vec.transform, texts)
        return out * float(self.scale) if self.scale != 1.0 else out

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_fast_vec", None)
        return state

    def __setstate__(self, state: dict) -> None:
        # Models saved with sklearn's char vectorizer transform with the exact numpy one.
        vec = state.get("vectorizer_")
        if isinstance(vec, TfidfVectorizer) and not state.get("empty_", False):
            fast = CharNgramTfidf.from_sklearn(vec)
            if fast is not None:
                state = {**state, "vectorizer_": fast}
        super().__setstate__(state)


class DomainClassifier(TextInputMixin, ClassifierMixin, BaseEstimator):
    """Domain classifier over text (+ heading) with codebook seed-term features.

    Args:
        labels: every category id (codebook order); the columns of ``predict_proba``.
            None → the sorted labels seen in training.
        seed_terms: ``{domain_id: {term: weight}}`` from the codebook (None → no seed features).
        heading_cues: ``{domain_id: [cue]}`` from the codebook, matched (weight 2) in headings.
        tokenize: the params.yaml ``tokenize`` section.
        model: "lr" | "svm" | "cnb".
        C: inverse regularisation (lr, svm); alpha: smoothing (cnb).
        class_weight: "balanced" or None.
        word, char: use word / character TF-IDF; word_ngrams 1 or 2; char_ngram_max ≤ 3.
        seed_scale: weight of the seed-term score block (0 = off).
        seed_vocab: add seed terms to jieba's dictionary for the word features.
        heading_scale: weight of heading features (0 = off).
        calibration: "sigmoid" | "isotonic" | None; used by svm (always calibrated) and
            optionally cnb; "lr" is left uncalibrated unless ``calibrate_lr``.
        min_df, max_features: vocabulary limits of the TF-IDF blocks.
        dict_prior: exponent α of the codebook dictionary as a prior (product of experts):
            p ∝ p_model · p_dict^α, with p_dict ∝ seed-term score per domain (+ smoothing),
            ``dict_min_score`` for the residual category. 0 = off. It carries the
            codebook's knowledge to provinces whose wording the training data never saw.
        lr_dtype: "float32" | "float64": the features' precision for "lr". float32 halves
            newton-cg's time; on the seed evaluation the held-out probabilities moved by at
            most ~1e-5 (below the solver's own tolerance) and no label changed.
        svm_tol: liblinear's stopping tolerance for "svm". 1e-3 instead of sklearn's 1e-4:
            on the seed evaluation the held-out probabilities moved by at most ~1e-5 and no
            label changed, for about 30% fewer solver iterations (docs/classifier.md).
        random_state: seed for the calibration folds.
    """

    def __init__(
        self,
        labels: list[str] | None = None,
        seed_terms: dict[str, dict[str, float]] | None = None,
        heading_cues: dict[str, list[str]] | None = None,
        tokenize: dict | None = None,
        model: str = "lr",
        C: float = 10.0,
        alpha: float = 0.3,
        class_weight: str | None = "balanced",
        word: bool = True,
        word_ngrams: int = 1,
        char: bool = True,
        char_ngram_max: int = 3,
        seed_scale: float = 1.0,
        seed_vocab: bool = True,
        heading_scale: float = 0.5,
        calibration: str | None = "sigmoid",
        calibrate_lr: bool = False,
        min_df: int = 1,
        max_features: int | None = None,
        dict_prior: float = 0.0,
        dict_min_score: float = 1.0,
        dict_smoothing: float = 0.1,
        lr_dtype: str = "float32",
        svm_tol: float = 1e-3,
        random_state: int = 0,
    ) -> None:
        self.labels = labels
        self.seed_terms = seed_terms
        self.heading_cues = heading_cues
        self.tokenize = tokenize
        self.model = model
        self.C = C
        self.alpha = alpha
        self.class_weight = class_weight
        self.word = word
        self.word_ngrams = word_ngrams
        self.char = char
        self.char_ngram_max = char_ngram_max
        self.seed_scale = seed_scale
        self.seed_vocab = seed_vocab
        self.heading_scale = heading_scale
        self.calibration = calibration
        self.calibrate_lr = calibrate_lr
        self.min_df = min_df
        self.max_features = max_features
        self.dict_prior = dict_prior
        self.dict_min_score = dict_min_score
        self.dict_smoothing = dict_smoothing
        self.lr_dtype = lr_dtype
        self.svm_tol = svm_tol
        self.random_state = random_state

    #: parameters added later, with the value models saved before them were fitted with
    _BEFORE: ClassVar[dict[str, Any]] = {"svm_tol": 1e-4, "lr_dtype": "float64"}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__({**self._BEFORE, **state})

    # -- features -------------------------------------------------------------------
    def analyzer(self) -> JiebaAnalyzer:
        """The word analyzer this configuration uses (shared token cache)."""
        extra: list[str] = []
        if self.seed_vocab and self.seed_terms:
            extra = sorted({t for terms in self.seed_terms.values() for t in terms})
        return JiebaAnalyzer(self.tokenize, extra_words=extra, ngrams=self.word_ngrams)

    def heading_terms(self) -> dict[str, dict[str, float]]:
        """Seed terms plus heading cues (weight 2) for scoring section headings."""
        table = {d: dict(t) for d, t in (self.seed_terms or {}).items()}
        for d, cues in (self.heading_cues or {}).items():
            for cue in cues:
                table.setdefault(d, {})[cue] = max(table.get(d, {}).get(cue, 0.0), 2.0)
        return table

    def _features(self) -> FeatureUnion:
        parts: list[tuple[str, Any]] = []
        analyzer = self.analyzer()
        if self.word:
            parts.append(
                (
                    "word",
                    TextTfidf(
                        "text",
                        analyzer=analyzer,
                        min_df=self.min_df,
                        max_features=self.max_features,
                    ),
                )
            )
        if self.char:
            parts.append(
                (
                    "char",
                    TextTfidf(
                        "text",
                        analyzer="char",
                        ngram_range=(1, int(self.char_ngram_max)),
                        min_df=self.min_df,
                        max_features=self.max_features,
                    ),
                )
            )
        if self.seed_scale and self.seed_terms:
            parts.append(
                (
                    "seed",
                    SeedTermScores(
                        self.seed_terms, "text", scale=self.seed_scale, analyzer=analyzer
                    ),
                )
            )
        if self.heading_scale:
            parts.append(
                (
                    "heading",
                    TextTfidf(
                        "heading", analyzer="char", ngram_range=(1, 2), scale=self.heading_scale
                    ),
                )
            )
            if self.seed_terms:
                parts.append(
                    (
                        "heading_seed",
                        SeedTermScores(
                            self.heading_terms(),
                            "heading",
                            scale=self.heading_scale * max(self.seed_scale, 1.0),
                            analyzer=analyzer,
                        ),
                    )
                )
        if not parts:
            raise ValueError("DomainClassifier: no feature block enabled")
        return FeatureUnion(parts)

    # -- learner --------------------------------------------------------------------
    def _learner(self, y: np.ndarray) -> Any:
        if self.model == "lr":
            # newton-cg: ~8x faster than lbfgs on these wide sparse problems (same optimum).
            base = LogisticRegression(
                C=self.C, class_weight=self.class_weight, solver="newton-cg", max_iter=1000
            )
            return self._calibrated(base, y) if self.calibrate_lr else base
        if self.model == "svm":
            base = LinearSVC(
                C=self.C,
                class_weight=self.class_weight,
                tol=self.svm_tol,
                max_iter=20000,
                random_state=self.random_state,
            )
            return self._calibrated(base, y, force=True)
        if self.model == "cnb":
            base = ComplementNB(alpha=self.alpha)
            return self._calibrated(base, y) if self.calibration else base
        raise ValueError(
            f"DomainClassifier: unknown model {self.model!r} (use one of {MODEL_KINDS})"
        )

    def _calibrated(self, base: Any, y: np.ndarray, force: bool = False) -> Any:
        method = self.calibration or ("sigmoid" if force else None)
        if method is None:
            return base
        counts = pd.Series(y).value_counts()
        k = int(min(3, counts.min()))
        self._dup_singletons_ = k < 2
        k = max(k, 2)
        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=self.random_state)
        return CalibratedClassifierCV(base, method=method, cv=cv)

    # -- API ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> DomainClassifier:
        # One BLAS thread: multi-threaded BLAS on these small problems is up to 20x slower
        # (oversubscription), and results stay identical across machines.
        with one_blas_thread():
            return self._fit(X, y, sample_weight)

    def _fit(self, X: Any, y: Any, sample_weight: Any = None) -> DomainClassifier:
        units = as_units(X)
        y = _check_labels(y, len(units))  # labels keep their type (str ids, ints, ...)
        labels = list(self.labels) if self.labels is not None else sorted(set(y))
        unknown = sorted(set(y) - set(labels))
        if unknown:
            raise ValueError(f"DomainClassifier.fit: labels not in `labels`: {unknown}")
        self.classes_ = np.asarray(labels)
        sw = _check_weights(sample_weight, len(y))
        if self.model == "cnb" and self.class_weight == "balanced":
            sw = sw * compute_sample_weight("balanced", y)
        self.seen_ = sorted(set(y[sw > 0].tolist()))  # labels with weight to learn from
        self.features_key_, self.features_, Xf = _fit_features(self, units)
        self.dict_scorer_ = SeedTermScores(
            self.seed_terms or {}, "text", analyzer=self.analyzer()
        ).fit()
        if len(self.seen_) == 1:
            self.learner_ = None
            return self
        lkey = _learner_key(self, y, sw)
        hit = _cache_get(_LEARNER_CACHE, lkey)
        if hit is not None:
            self.learner_ = hit
            return self
        self._dup_singletons_ = False
        self.learner_ = self._learner(y)
        if self._dup_singletons_:
            # A class with one example cannot be split into calibration folds; its
            # example is duplicated for fitting (it only affects calibration).
            counts = pd.Series(y).value_counts()
            extra = np.flatnonzero(np.isin(y, counts[counts < 2].index.to_numpy()))
            Xf = sp.vstack([Xf, Xf[extra]]).tocsr()
            y = np.concatenate([y, y[extra]])
            sw = np.concatenate([sw, sw[extra]])
        keep = sw > 0  # zero-weight rows teach nothing (and can stall the solver)
        Xk = Xf[keep]
        if self.model == "lr":
            Xk = Xk.astype(np.dtype(self.lr_dtype), copy=False)
        self.learner_.fit(Xk, y[keep], sample_weight=sw[keep])
        _cache_put(_LEARNER_CACHE, lkey, self.learner_)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, len(classes_)) probabilities; unseen labels get 0; rows sum to 1."""
        with one_blas_thread():
            return self._predict_proba(X)

    def _predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "features_")
        units = as_units(X)
        out: np.ndarray = np.zeros((len(units), len(self.classes_)))
        col = {lab: j for j, lab in enumerate(self.classes_.tolist())}
        if self.learner_ is None:
            out[:, col[self.seen_[0]]] = 1.0
            return out
        p = self.learner_.predict_proba(_transform(self.features_key_, self.features_, units))
        for j, lab in enumerate(self.learner_.classes_.tolist()):
            out[:, col[lab]] = p[:, j]
        if self.dict_prior:
            out = out * self.dictionary_proba(units) ** float(self.dict_prior)
        tot = out.sum(axis=1, keepdims=True)
        return np.divide(out, tot, out=np.full_like(out, 1.0 / out.shape[1]), where=tot > 0)

    def dictionary_proba(self, X: Any) -> np.ndarray:
        """Dictionary pseudo-probabilities over ``classes_`` from seed-term scores.

        Each domain gets its weighted seed-term score, a label that is not a domain (the
        residual category) gets ``dict_min_score`` (the evidence needed to leave it), all
        get ``dict_smoothing``; rows normalised — as ``DictionaryLabeller.predict_proba``.
        """
        check_is_fitted(self, "dict_scorer_")
        raw = self.dict_scorer_.raw_scores(as_units(X)["text"].tolist())
        return dictionary_proba(
            raw,
            self.dict_scorer_.domains_,
            self.classes_.tolist(),
            self.dict_min_score,
            self.dict_smoothing,
        )

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label per unit (ties → first in ``labels`` order)."""
        p = self.predict_proba(X)
        return self.classes_[np.argmax(p, axis=1)]

    def warm(self, X: Any) -> DomainClassifier:
        """Tokenise the texts of ``X`` into the shared cache (speeds up repeated fits)."""
        if self.word:
            self.analyzer().warm(as_units(X)["text"].tolist())
        return self


# Caches that make a grid over learner settings cheap inside cross-validation, without
# ever sharing a fitted object between estimators: the TF-IDF blocks fitted on a training
# fold (keyed by the feature parameters and the training texts) and fitted learners (keyed
# by that, the learner parameters, y and the weights) are stored as pickled bytes, and each
# hit unpickles a private copy — as ``Pipeline(memory=...)`` does with its disk cache.
# Transformed matrices (plain data, read-only) are keyed by the fitted features' key.
_FEATURE_PARAMS = (
    "labels",
    "seed_terms",
    "heading_cues",
    "tokenize",
    "word",
    "word_ngrams",
    "char",
    "char_ngram_max",
    "seed_scale",
    "seed_vocab",
    "heading_scale",
    "min_df",
    "max_features",
)
_LEARNER_PARAMS = (
    "model",
    "C",
    "alpha",
    "class_weight",
    "calibration",
    "calibrate_lr",
    "lr_dtype",
    "svm_tol",
    "random_state",
)
#: parameters used only when predicting (the dictionary prior), in neither cache key
_PREDICT_PARAMS = ("dict_prior", "dict_min_score", "dict_smoothing")
_CACHE_MAX = 48
_FEATURE_CACHE: OrderedDict[str, bytes] = OrderedDict()
_LEARNER_CACHE: OrderedDict[str, bytes] = OrderedDict()
_TRANSFORM_CACHE: OrderedDict[tuple[str, str], sp.csr_matrix] = OrderedDict()
_TRANSFORM_CACHE_ON = [True]


@contextmanager
def prediction_mode() -> Iterator[None]:
    """Predict without the process memos that serve cross-validation (transformed matrices,
    token lists, seed-term scores): a corpus is predicted once, so caching its batches only
    makes memory grow with the corpus (48 cached 5,000-row matrices are over 1 GB)."""
    from research.classify.features import clear_memos

    _TRANSFORM_CACHE_ON[0] = False
    try:
        yield
    finally:
        _TRANSFORM_CACHE_ON[0] = True
        clear_memos()


_CACHE_LOCK = threading.Lock()  # fits may run in parallel threads (instrument.fit_all)


def _cache_get(cache: OrderedDict, key: Any) -> Any:
    """A private copy of the cached object (None on a miss)."""
    with _CACHE_LOCK:
        blob = cache.get(key)
        if blob is None:
            return None
        cache.move_to_end(key)
    return pickle.loads(blob)


def _cache_put(cache: OrderedDict, key: Any, obj: Any) -> None:
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    with _CACHE_LOCK:
        cache[key] = blob
        while len(cache) > _CACHE_MAX:
            cache.popitem(last=False)


def _texts_hash(h: Any, units: pd.DataFrame) -> str:
    for t, hd in zip(units["text"], units["heading"]):
        h.update(t.encode("utf-8") + b"\x00" + hd.encode("utf-8") + b"\x01")
    return h.hexdigest()


def _fit_features(
    est: DomainClassifier, units: pd.DataFrame
) -> tuple[str, FeatureUnion, sp.csr_matrix]:
    """(key, fitted feature union, training matrix); the union is this estimator's own."""
    h = hashlib.sha1()
    h.update(repr([(k, getattr(est, k)) for k in _FEATURE_PARAMS]).encode("utf-8"))
    key = _texts_hash(h, units)
    hit = _cache_get(_FEATURE_CACHE, key)
    if hit is not None:
        return key, hit[0], hit[1]
    features = est._features()
    Xf = features.fit_transform(units).tocsr()
    _cache_put(_FEATURE_CACHE, key, (features, Xf))
    return key, features, Xf


def _learner_key(est: DomainClassifier, y: np.ndarray, sw: np.ndarray) -> str:
    h = hashlib.sha1()
    h.update(repr([(k, getattr(est, k)) for k in _LEARNER_PARAMS]).encode("utf-8"))
    h.update(est.features_key_.encode())
    h.update(repr(y.tolist()).encode("utf-8"))
    h.update(np.ascontiguousarray(sw, dtype=float).tobytes())
    return h.hexdigest()


def _transform(key: str, features: FeatureUnion, units: pd.DataFrame) -> sp.csr_matrix:
    """``features.transform(units)``, shared by estimators whose features have ``key``."""
    if not _TRANSFORM_CACHE_ON[0] or len(units) > 5000:  # a prediction, not a CV test fold
        return features.transform(units)
    tkey = (key, _texts_hash(hashlib.sha1(), units))
    with _CACHE_LOCK:
        hit = _TRANSFORM_CACHE.get(tkey)
        if hit is not None:
            _TRANSFORM_CACHE.move_to_end(tkey)
            return hit
    Xf = features.transform(units)
    with _CACHE_LOCK:
        _TRANSFORM_CACHE[tkey] = Xf
        while len(_TRANSFORM_CACHE) > _CACHE_MAX:
            _TRANSFORM_CACHE.popitem(last=False)
    return Xf


class TemperedClassifier(TextInputMixin, ClassifierMixin, BaseEstimator):
    """A classifier whose probabilities are tempered: p^(1/T), renormalised.

    ``temperature`` is chosen outside (log-loss on out-of-fold probabilities from grouped
    CV, see ``research.classify.calibration.fit_temperature``); T < 1 sharpens under-confident
    probabilities, T > 1 softens over-confident ones. Argmax labels do not change.
    """

    def __init__(self, estimator: Any = None, temperature: float = 1.0) -> None:
        self.estimator = estimator
        self.temperature = temperature

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> TemperedClassifier:
        self.estimator_ = clone(self.estimator).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        from research.classify.calibration import temper

        check_is_fitted(self, "estimator_")
        return temper(self.estimator_.predict_proba(X), float(self.temperature))

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(X), axis=1)]
