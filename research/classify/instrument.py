"""How good is the instrument on REAL reports: evaluation on real gold labels only.

Training data = the shipped base set (written paragraphs, see :mod:`base_set`) plus the
real gold units of the training folds; test data = real gold units only. Three schemes:

- ``base_only``: base set alone → every real gold unit (how the shipped model does on
  reports it has never seen, before a user labels anything);
- ``by_document``: leave one real report out, the base set and the other reports' gold in
  training;
- ``by_province``: leave one province's reports out, likewise.

Methods: the majority class, the codebook dictionary alone, plain word+char TF-IDF + LR
(``lr_plain``, always reported: the reference of the paired differences) and the
candidates of ``train.candidates``. ``selected`` is the candidate the nested rule picks in
each outer fold (leave one of that fold's training reports out; with fewer than two, leave
one writer of the base set out), so no held-out gold label ever influences the choice it is
judged by. With one candidate (the default grid, chosen on evidence: docs/classifier.md)
the rule has nothing to choose and no inner fit is made.

Every score carries a document-cluster bootstrap interval, and differences between methods
are paired (same resampled documents for both).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from research.classify.baselines import DictionaryBaseline, MajorityClassifier
from research.classify.models import DomainClassifier
from research.settings import Params, Settings, settings_of

# Candidate configurations of DomainClassifier compared on real gold. Each is a family of
# the existing feature blocks; the grid is small on purpose (each point is one fit per fold).
CANDIDATES: dict[str, dict[str, Any]] = {
    "lr_plain": {
        "model": "lr",
        "C": 10.0,
        "seed_scale": 0.0,
        "seed_vocab": False,
        "heading_scale": 0.0,
    },
    "lr_seeded": {"model": "lr", "C": 10.0},
    "svm_seeded": {"model": "svm", "C": 1.0},
}
PLAIN = "lr_plain"
DICTIONARY = "dictionary"
MAJORITY = "majority"
SELECTED = "selected"
SCHEMES = ("base_only", "by_document", "by_province")
GOLD_ONLY = "_gold_only"  # suffix: the same candidate trained on the gold alone (no base set)


@dataclass
class GoldEvaluation:
    """Tables of the evaluation on real gold (all tidy, one row per method × scheme …)."""

    scores: pd.DataFrame
    per_class: pd.DataFrame
    paired: pd.DataFrame
    calibration: pd.DataFrame
    other_confusion: pd.DataFrame
    selection: pd.DataFrame
    predictions: pd.DataFrame
    selected: str
    summary: dict[str, Any] = field(default_factory=dict)


def make_candidate(name: str, codebook: Any, tokenize: dict | None, seed: int) -> DomainClassifier:
    """An unfitted DomainClassifier for candidate ``name``."""
    if name not in CANDIDATES:
        raise ValueError(f"unknown classifier candidate {name!r} (use one of {sorted(CANDIDATES)})")
    return DomainClassifier(
        labels=list(codebook.ids),
        seed_terms=codebook.seed_terms,
        heading_cues=codebook.heading_cues,
        tokenize=tokenize,
        random_state=int(seed),
        **CANDIDATES[name],
    )


def baseline_estimators(codebook: Any, params: Settings | dict) -> dict[str, Any]:
    """The baselines reported beside the candidates: majority class, dictionary alone."""
    s = settings_of(params)
    return {
        MAJORITY: MajorityClassifier(labels=list(codebook.ids)),
        DICTIONARY: DictionaryBaseline(
            codebook_path=str(codebook.path),
            labels=list(codebook.ids),
            other_id=codebook.other_id,
            min_score=s.weak_labels.min_score,
            min_margin=s.weak_labels.min_margin,
            tokenize=s.tokenize.model_dump(),
        ),
    }


def model_params(model: Any) -> dict[str, Any]:
    """JSON-ready parameters of a fitted model (seed terms summarised, not listed)."""
    from research.classify.models import TemperedClassifier
    from research.config import params_hash

    if isinstance(model, TemperedClassifier):
        return {**model_params(model.estimator), "temperature": model.temperature}
    p = model.get_params()
    out = {k: v for k, v in p.items() if k not in ("seed_terms", "heading_cues", "labels")}
    out["n_seed_terms"] = sum(len(v) for v in (p.get("seed_terms") or {}).values())
    out["params_hash"] = params_hash({k: v for k, v in p.items()})
    return out


def _proba(model: Any, X: pd.DataFrame, labels: list[str]) -> np.ndarray:
    p = model.predict_proba(X[["text", "heading"]])
    classes = [str(c) for c in model.classes_]
    if classes == labels:
        return np.asarray(p, dtype=float)
    out = np.zeros((len(X), len(labels)))
    for j, c in enumerate(classes):
        out[:, labels.index(c)] = p[:, j]
    return out


def _fit(est: Any, train: pd.DataFrame) -> Any:
    model = clone(est)
    return model.fit(
        train[["text", "heading"]],
        train["label"].to_numpy(),
        sample_weight=train["weight"].to_numpy(),
    )


# ------------------------------------------------------------------ selection (base set only)
def select_candidate(
    base: pd.DataFrame, codebook: Any, params: Params, names: list[str]
) -> tuple[str, pd.DataFrame]:
    """Leave-one-writer-out macro-F1 of each candidate on the base set; the best is chosen.

    This is the rule when no real gold can inform the choice (a new user's corpus, and the
    ``base_only`` scheme). Ties within ``train.select_tol`` go to the earlier name in
    ``names``. A single candidate is chosen without fitting anything (one row saying so).
    """
    from research.labels.evaluation import evaluate_labels

    if len(names) == 1:
        only = {"candidate": names[0], "writer_cv_macro_f1": float("nan"), "n_folds": 0}
        rule = "the only candidate in train.candidates (nothing to choose, nothing fitted)"
        return names[0], pd.DataFrame([{**only, "chosen": True, "rule": rule}])
    st = settings_of(params)
    tr = st.train
    labels = list(codebook.ids)
    seed = st.seed
    tokenize = st.tokenize.model_dump()
    groups = base["group"].to_numpy()
    writers = sorted(set(groups))
    b = base.assign(weight=1.0)
    jobs = [(n, g) for n in names for g in writers]
    probas = list(
        fit_all(
            [
                (
                    make_candidate(n, codebook, tokenize, seed),
                    b[groups != g],
                    b[groups == g],
                    labels,
                )
                for n, g in jobs
            ],
            tr.n_jobs,
        )
    )
    rows = []
    for name in names:
        pred = np.empty(len(base), dtype=object)
        for (n, g), p in zip(jobs, probas):
            if n == name and p is not None:
                pred[groups == g] = np.asarray(labels, dtype=object)[p.argmax(1)]
        ev = evaluate_labels(base["label"], pred, labels)
        rows.append(
            {
                "candidate": name,
                "writer_cv_macro_f1": round(ev["macro_f1"], 4),
                "n_folds": len(writers),
            }
        )
    table = pd.DataFrame(rows)
    best = table["writer_cv_macro_f1"].max()
    tol = tr.select_tol
    chosen = next(r.candidate for r in table.itertuples() if r.writer_cv_macro_f1 >= best - tol)
    table["chosen"] = table["candidate"] == chosen
    table["rule"] = (
        f"best leave-one-writer-out macro-F1 on the base set; ties within {tol} → earlier candidate"
    )
    return chosen, table


# ------------------------------------------------------------------ schemes
def scheme_folds(scheme: str, gold: pd.DataFrame) -> Iterator[tuple[str, frozenset[str]]]:
    """(fold name, documents held out) for one scheme; base_only holds out every document."""
    docs = gold["group"].astype(str)
    if scheme == "base_only":
        yield "all", frozenset(docs)
        return
    col = {"by_document": "group", "by_province": "province"}[scheme]
    values = gold[col].astype(str)
    for v in sorted(set(values)):
        yield v, frozenset(docs[values == v])


def fit_all(calls: list[tuple[Any, ...]], n_jobs: int | None) -> Iterator[np.ndarray | None]:
    """``_fit_proba(*args)`` for every ``args`` in ``calls``, in order, in ``n_jobs`` threads
    (yielded as they finish, in order).

    Threads, not processes: the solvers (liblinear, BLAS) release the GIL, and the
    per-process memos (token lists, seed-term scores, fitted feature blocks) are shared by
    every fit instead of being rebuilt in each worker. Each fit is independent, so the
    results do not depend on ``n_jobs``.
    """
    from joblib import Parallel, delayed

    from research.classify.models import one_blas_thread

    with one_blas_thread():  # set once here for all the threads' fits (BLAS limits are global)
        yield from Parallel(n_jobs=n_jobs, backend="threading", return_as="generator")(
            delayed(_fit_proba)(*args) for args in calls
        )


def _fit_proba(
    est: Any, train: pd.DataFrame, test: pd.DataFrame, labels: list[str]
) -> np.ndarray | None:
    if train["label"].nunique() < 2:
        return None
    return _proba(_fit(est, train), test, labels)


class HeldOutFits:
    """Probabilities for every gold unit from a model trained without some documents.

    ``proba(name, held_out)`` is estimator ``name`` fitted on the base set plus the gold
    units of every document not in ``held_out`` (gold weighted ``gold_weight``), predicting
    all gold units. Fits are cached, so outer folds and the inner folds of the nested
    selection share them (the inner fold that drops documents {a, b} is fitted once), and
    :meth:`compute` fits a batch of them in parallel processes (results do not depend on
    ``n_jobs``).
    """

    def __init__(
        self,
        gold: pd.DataFrame,
        base: pd.DataFrame | None,
        estimators: dict[str, Any],
        labels: list[str],
        gold_weight: float,
    ) -> None:
        self.gold = gold.reset_index(drop=True)
        self.base = base.assign(weight=1.0) if base is not None and len(base) else None
        self.estimators = estimators
        self.labels = labels
        self.gold_weight = gold_weight
        self.docs = self.gold["group"].astype(str).to_numpy()
        self._cache: dict[tuple[str, frozenset[str]], np.ndarray | None] = {}

    @property
    def n_fits(self) -> int:
        return len(self._cache)

    def _train(self, held_out: frozenset[str]) -> pd.DataFrame:
        keep = ~np.isin(self.docs, list(held_out))
        parts = [self.gold[keep].assign(weight=float(self.gold_weight))]
        if self.base is not None:
            parts.append(self.base)
        return pd.concat(parts, ignore_index=True)

    def compute(self, keys: list[tuple[str, frozenset[str]]], n_jobs: int = 1) -> None:
        """Fit every (name, held_out) in ``keys`` not cached yet (in ``n_jobs`` threads)."""
        from tqdm.auto import tqdm

        todo = [k for k in dict.fromkeys(keys) if k not in self._cache]
        calls = [
            (self.estimators[n], self._train(held), self.gold, self.labels) for n, held in todo
        ]
        # a progress bar on terminals (disable=None): the fits are minutes of otherwise silent work
        with tqdm(total=len(todo), desc="classifier fits", unit="fit", disable=None) as bar:
            results = []
            for p in fit_all(calls, n_jobs):
                results.append(p)
                bar.update()
        self._cache.update(zip(todo, results))

    def proba(self, name: str, held_out: frozenset[str]) -> np.ndarray | None:
        key = (name, held_out)
        if key not in self._cache:
            self.compute([key])
        return self._cache[key]

    def rows(self, held_out: frozenset[str]) -> np.ndarray:
        return np.isin(self.docs, list(held_out))


def needed_fits(
    fits: HeldOutFits, methods: list[str], names: list[str], schemes: tuple[str, ...]
) -> list[tuple[str, frozenset[str]]]:
    """Every (estimator, held-out documents) fit the schemes and nested selection need."""
    keys: list[tuple[str, frozenset[str]]] = []
    outer = [
        held
        for s in schemes
        if not (s == "base_only" and fits.base is None)
        for _, held in scheme_folds(s, fits.gold)
    ] + [frozenset()]
    for held in outer:
        if held:
            keys += [(m, held) for m in methods]
        remaining = sorted(set(fits.docs) - held)
        if len(remaining) >= 2 and len(names) >= 2:  # one candidate: no inner selection
            keys += [(n, held | {d}) for n in names for d in remaining]
    return keys


def nested_choice(
    fits: HeldOutFits, names: list[str], held_out: frozenset[str], fallback: str, tol: float
) -> str:
    """The candidate the selection rule picks using only documents outside ``held_out``.

    Inner CV: leave one of the remaining gold documents out at a time (base set always in
    training), pooled macro-F1 over their units; fewer than two remaining documents → the
    base-set choice ``fallback``. Ties within ``tol`` → the earlier candidate in ``names``;
    a single candidate is the choice without any inner fit.
    """
    from research.labels.evaluation import evaluate_labels

    if len(names) == 1:
        return names[0]
    remaining = sorted(set(fits.docs) - held_out)
    if len(remaining) < 2:
        return fallback
    rows = fits.rows(frozenset(remaining))
    scores = {}
    for name in names:
        p = np.zeros((len(fits.gold), len(fits.labels)))
        for d in remaining:
            q = fits.proba(name, held_out | {d})
            if q is None:
                return fallback
            m = fits.rows(frozenset({d}))
            p[m] = q[m]
        pred = np.asarray(fits.labels, dtype=object)[p[rows].argmax(1)]
        scores[name] = evaluate_labels(fits.gold["label"][rows], pred, fits.labels)["macro_f1"]
    best = max(scores.values())
    return next(n for n in names if scores[n] >= best - tol)


def predict_schemes(
    fits: HeldOutFits,
    methods: list[str],
    selection: dict[str, Any] | None = None,
    schemes: tuple[str, ...] = SCHEMES,
    log: Callable[[str], None] = lambda s: None,
) -> pd.DataFrame:
    """Held-out probabilities of every method for every real gold unit, per scheme.

    Long table: unit_id, group (document), province, gold, method, cv (the scheme), fold,
    pred, p_<label>. In every scheme each gold unit is predicted exactly once, by a model
    that never saw it (nor, for by_province, any report of its province). With
    ``selection`` (names, fallback, tol) a ``selected`` method is added: in each outer fold
    the candidate chosen by :func:`nested_choice` on that fold's training documents.
    """
    gold, labels = fits.gold, fits.labels
    out = []
    for scheme in schemes:
        if scheme == "base_only" and fits.base is None:
            continue
        for fold, held in scheme_folds(scheme, gold):
            rows = fits.rows(held)
            todo = [(m, m) for m in methods]
            if selection is not None:
                chosen = nested_choice(
                    fits, selection["names"], held, selection["fallback"], selection["tol"]
                )
                todo.append((SELECTED, chosen))
            for method, name in todo:
                p = fits.proba(name, held)
                if p is None:
                    continue
                p = p[rows]
                te = gold[rows]
                df = pd.DataFrame(p, columns=[f"p_{lab}" for lab in labels])
                df.insert(0, "pred", np.asarray(labels, dtype=object)[p.argmax(1)])
                for col, val in (
                    ("chosen", name),
                    ("fold", fold),
                    ("cv", scheme),
                    ("method", method),
                ):
                    df.insert(0, col, val)
                for col in ("gold", "province", "group", "unit_id"):
                    df.insert(0, col, te["label" if col == "gold" else col].to_numpy())
                out.append(df)
            log(
                f"  {scheme} fold {fold}: {int(rows.sum())} gold units held out ({fits.n_fits} fits so far)"
            )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


# ------------------------------------------------------------------ metrics
def _macro_f1(cm: np.ndarray) -> float:
    """Macro-F1 over classes present in gold or predictions (as evaluate_labels).

    From a (bootstrap-weighted) confusion matrix, so a thousand resamples cost one tensor
    product instead of a thousand ``f1_score`` calls; a test checks it equals sklearn's.
    """
    tp = np.diag(cm).astype(float)
    support = cm.sum(1)
    predicted = cm.sum(0)
    present = (support + predicted) > 0
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1[present].mean()) if present.any() else float("nan")


def _doc_confusions(df: pd.DataFrame, labels: list[str], docs: list[str]) -> np.ndarray:
    """(n_docs, L, L) confusion counts per document."""
    li = {lab: i for i, lab in enumerate(labels)}
    di = {d: i for i, d in enumerate(docs)}
    L = len(labels)
    idx = (
        df["group"].map(di).to_numpy() * L * L
        + df["gold"].map(li).to_numpy() * L
        + df["pred"].map(li).to_numpy()
    )
    return np.bincount(idx.astype(int), minlength=len(docs) * L * L).reshape(len(docs), L, L)


def cluster_bootstrap(
    preds: pd.DataFrame, labels: list[str], n_boot: int, seed: int
) -> dict[tuple[str, str], np.ndarray]:
    """Macro-F1 per (method, scheme) on ``n_boot`` document-cluster resamples.

    The same resampled documents (with replacement) are used for every method within a
    scheme, so differences between methods are paired.
    """
    out: dict[tuple[str, str], np.ndarray] = {}
    rng = np.random.default_rng(seed)
    for scheme, sdf in preds.groupby("cv", sort=True):
        docs = sorted(sdf["group"].unique())
        draws = rng.integers(0, len(docs), size=(n_boot, len(docs)))
        weights = np.stack([np.bincount(d, minlength=len(docs)) for d in draws])  # (B, D)
        for method, mdf in sdf.groupby("method", sort=True):
            per_doc = _doc_confusions(mdf, labels, docs)  # (D, L, L)
            cms = np.tensordot(weights, per_doc, axes=(1, 0))  # (B, L, L)
            out[(str(method), str(scheme))] = np.array([_macro_f1(cm) for cm in cms])
    return out


def _ci(x: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    return float(np.quantile(x, a)), float(np.quantile(x, 1 - a))


def score_tables(
    preds: pd.DataFrame, labels: list[str], n_boot: int, level: float, seed: int, other_id: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Scores with intervals, per-class numbers, paired differences, calibration bins and
    the other-vs-domain confusion, from the long prediction table."""
    from research.labels.evaluation import confidence_bins, evaluate_labels

    boots = cluster_bootstrap(preds, labels, n_boot, seed)
    pcols = [f"p_{lab}" for lab in labels]
    scores, per_class, calib, other = [], [], [], []
    for (method, scheme), df in preds.groupby(["method", "cv"], sort=True):
        ev = evaluate_labels(
            df["gold"], df["pred"], labels, groups=df["group"], proba=df[pcols].to_numpy()
        )
        lo, hi = _ci(boots[(str(method), str(scheme))], level)
        scores.append(
            {
                "method": method,
                "cv": scheme,
                "n_units": len(df),
                "n_docs": df["group"].nunique(),
                "macro_f1": ev["macro_f1"],
                "ci_low": lo,
                "ci_high": hi,
                "accuracy": ev["accuracy"],
                "min_recall": min(v["recall"] for v in ev["per_class"].values() if v["support"]),
                "brier": ev["brier"],
                "ece": ev["ece"],
                "doc_share_mae": ev["doc_share_mae"],
            }
        )
        for lab, v in ev["per_class"].items():
            per_class.append({"method": method, "cv": scheme, "label": lab, **v})
        conf = df[pcols].to_numpy().max(1)
        correct = (df["gold"] == df["pred"]).to_numpy()
        bins = confidence_bins(conf, 10)
        for b in range(10):
            m = bins == b
            if m.any():
                calib.append(
                    {
                        "method": method,
                        "cv": scheme,
                        "bin": b,
                        "bin_low": b / 10,
                        "bin_high": (b + 1) / 10,
                        "n": int(m.sum()),
                        "confidence": float(conf[m].mean()),
                        "accuracy": float(correct[m].mean()),
                    }
                )
        for lab in labels:
            if lab == other_id:
                continue
            other.append(
                {
                    "method": method,
                    "cv": scheme,
                    "domain": lab,
                    "gold_other_pred_domain": int(
                        ((df["gold"] == other_id) & (df["pred"] == lab)).sum()
                    ),
                    "gold_domain_pred_other": int(
                        ((df["gold"] == lab) & (df["pred"] == other_id)).sum()
                    ),
                    "n_gold_other": int((df["gold"] == other_id).sum()),
                    "n_gold_domain": int((df["gold"] == lab).sum()),
                }
            )
    point = {(s["method"], s["cv"]): s["macro_f1"] for s in scores}
    methods = sorted(preds["method"].unique())
    pairs = [(m, v) for v in (DICTIONARY, PLAIN) for m in methods if m != v]
    pairs += [(m[: -len(GOLD_ONLY)], m) for m in methods if m.endswith(GOLD_ONLY)]
    paired = []
    for scheme in sorted(preds["cv"].unique()):
        for m, versus in pairs:
            if (m, scheme) not in boots or (versus, scheme) not in boots:
                continue
            d = boots[(m, scheme)] - boots[(versus, scheme)]
            lo, hi = _ci(d, level)
            paired.append(
                {
                    "method": m,
                    "versus": versus,
                    "cv": scheme,
                    "diff": point[(m, scheme)] - point[(versus, scheme)],
                    "ci_low": lo,
                    "ci_high": hi,
                    "share_boot_le_0": float(np.mean(d <= 0)),
                }
            )
    return (
        pd.DataFrame(scores),
        pd.DataFrame(per_class),
        pd.DataFrame(paired),
        pd.DataFrame(calib),
        pd.DataFrame(other),
    )


def targets(scores: pd.DataFrame, paired: pd.DataFrame) -> dict[str, Any]:
    """The issue's targets for the selected procedure, each with its number and met/not met."""

    def get(scheme: str, col: str = "macro_f1") -> float | None:
        r = scores[(scores["method"] == SELECTED) & (scores["cv"] == scheme)]
        return float(r[col].iloc[0]) if len(r) else None

    out: dict[str, Any] = {}
    spec = [
        ("base_only_macro_f1", get("base_only"), 0.85),
        ("by_document_macro_f1", get("by_document"), 0.90),
    ]
    for name, val, target in spec:
        out[name] = {"value": val, "target": target, "met": val is not None and val >= target}
    rec = [get(s, "min_recall") for s in SCHEMES]
    rec_vals = [r for r in rec if r is not None]
    out["min_recall_all_schemes"] = {
        "value": min(rec_vals) if rec_vals else None,
        "target": 0.80,
        "met": bool(rec_vals) and min(rec_vals) >= 0.80,
    }
    p = paired[
        (paired["method"] == SELECTED)
        & (paired["versus"] == DICTIONARY)
        & (paired["cv"] == "by_province")
    ]
    if len(p):
        r = p.iloc[0]
        out["minus_dictionary_by_province"] = {
            "value": float(r["diff"]),
            "ci": [float(r["ci_low"]), float(r["ci_high"])],
            "target": "interval above 0",
            "met": bool(r["ci_low"] > 0),
        }
    return out


def evaluate_on_gold(
    gold: pd.DataFrame,
    base: pd.DataFrame | None,
    codebook: Any,
    params: Params,
    log: Callable[[str], None] = lambda s: None,
) -> GoldEvaluation:
    """The full comparison on real gold (nested selection), and the final model's choice."""
    st = settings_of(params)
    tr = st.train
    labels = list(codebook.ids)
    seed = st.seed
    tol = tr.select_tol
    names = list(dict.fromkeys(tr.candidates))  # what the selection rule chooses among
    # plain TF-IDF + LR is always reported (the reference of the paired differences), and
    # is a candidate only when train.candidates lists it
    reported = names + ([PLAIN] if PLAIN not in names else [])
    fallback, selection = names[0], pd.DataFrame()
    if base is not None and len(base):
        fallback, selection = select_candidate(base, codebook, params, names)
        how = "leave-one-writer-out" if len(names) > 1 else "the only candidate"
        log(f"base-set choice ({how}): {fallback}")
    estimators: dict[str, Any] = dict(baseline_estimators(codebook, st))
    for name in reported:
        estimators[name] = make_candidate(name, codebook, st.tokenize.model_dump(), seed)
    fits = HeldOutFits(gold, base, estimators, labels, tr.gold_weight)
    keys = needed_fits(fits, list(estimators), names, SCHEMES)
    log(f"fitting {len(set(keys))} models on held-out splits …")
    fits.compute(keys, n_jobs=tr.n_jobs)
    preds = predict_schemes(
        fits, list(estimators), {"names": names, "fallback": fallback, "tol": tol}, log=log
    )
    if base is not None and len(base):  # what the base set adds: the candidates on gold alone
        alone = HeldOutFits(
            gold, None, {n: estimators[n] for n in reported}, labels, tr.gold_weight
        )
        gold_only = ("by_document", "by_province")
        alone.compute(needed_fits(alone, reported, [], gold_only), n_jobs=tr.n_jobs)
        p2 = predict_schemes(alone, reported, schemes=gold_only, log=log)
        if len(p2):
            preds = pd.concat(
                [preds, p2.assign(method=p2["method"] + GOLD_ONLY)], ignore_index=True
            )
    final = nested_choice(fits, names, frozenset(), fallback, tol)
    log(f"final model: {final} (selection rule applied to all gold documents)")
    scores, per_class, paired, calib, other = score_tables(
        preds,
        labels,
        tr.n_boot,
        tr.ci,
        seed,
        codebook.other_id,
    )
    return GoldEvaluation(
        scores=scores,
        per_class=per_class,
        paired=paired,
        calibration=calib,
        other_confusion=other,
        selection=selection,
        predictions=preds,
        selected=final,
        summary={"targets": targets(scores, paired)},
    )


# ------------------------------------------------------------------ learning curve
def report_folds(docs: np.ndarray, folds: int | None) -> list[list[str]]:
    """The reports held out together in each learning-curve fold.

    ``folds`` None (or at least the number of reports): each report alone, in sorted order.
    Otherwise ``GroupKFold(folds)`` over the reports (deterministic; folds balanced by
    units): the cost stays ``folds`` × the grid however many reports carry gold.
    """
    from sklearn.model_selection import GroupKFold

    ids = sorted(set(docs.tolist()))
    if folds is None or folds >= len(ids):
        return [[d] for d in ids]
    split = GroupKFold(n_splits=max(2, folds)).split(docs, groups=docs)
    return [sorted(set(docs[test].tolist())) for _, test in split]


def learning_curve(
    gold: pd.DataFrame,
    base: pd.DataFrame | None,
    codebook: Any,
    params: Params,
    method: str,
    log: Callable[[str], None] = lambda s: None,
) -> pd.DataFrame:
    """Macro-F1 on held-out real reports against the number of the user's own labels.

    Simulated on the gold available: for each fold of held-out reports in turn (each
    report its own fold, or ``learning_curve.folds`` groups of reports), ``n`` units are
    drawn from the other reports' gold under each strategy (random, stratified by
    document, or uncertainty = smallest margin of the model trained without them), the
    model is trained on the base set plus those ``n`` units (and, for contrast, on the
    ``n`` units alone), and scored on the held-out reports; scores pool all held-out units.
    A size larger than the gold some fold can draw from is skipped (and logged), not fitted.
    Rows: strategy, with_base, n_labels, repeat, macro_f1, accuracy, n_test.
    """
    from research.classify.active_learning import pick
    from research.labels.evaluation import evaluate_labels

    st = settings_of(params)
    tr = st.train
    lc = tr.learning_curve
    sizes = list(lc.sizes)
    repeats = lc.repeats
    strategies: list[str] = list(lc.strategies)
    seed = st.seed
    labels = list(codebook.ids)
    gw = tr.gold_weight
    est = make_candidate(method, codebook, st.tokenize.model_dump(), seed)
    gold = gold.reset_index(drop=True)
    docs = gold["group"].astype(str).to_numpy()
    base_w = base.assign(weight=1.0) if base is not None and len(base) else None
    p_base_all = _fit_proba(est, base_w, gold, labels) if base_w is not None else None
    folds = report_folds(docs, lc.folds)
    # a size is scored only if every fold can draw it: a size capped at each fold's own pool
    # would differ between folds and could not be pooled (its fits would be wasted)
    smallest = min((int((~np.isin(docs, held)).sum()) for held in folds), default=0)
    too_big = [n for n in sizes if n > smallest]
    if too_big:
        log(
            f"  learning curve: sizes {too_big} skipped: the smallest fold has {smallest}"
            " gold units to draw from"
        )
    sizes = [n for n in sizes if n <= smallest]
    # every (draw, training set) first, then the fits: they are independent of each other
    # (the uncertainty picks use the base-set model only), so they run in train.n_jobs
    # threads with results that do not depend on it
    jobs: list[tuple[tuple[str, bool, int, int], np.ndarray, pd.DataFrame | None]] = []
    for fi, held in enumerate(folds):
        test = np.isin(docs, held)
        pool_m = ~test
        pool = gold[pool_m].reset_index(drop=True)
        for strategy in strategies:
            for n in sizes:
                reps = 1 if (strategy == "uncertainty" or n == 0) else repeats
                for r in range(reps):
                    if strategy == "uncertainty" and p_base_all is None:
                        continue
                    p_pool = (
                        p_base_all[pool_m]
                        if p_base_all is not None
                        else np.full((len(pool), len(labels)), 1 / len(labels))
                    )
                    draw = int(np.random.default_rng([seed, r, n, fi]).integers(2**31))
                    # the same rule `research annotate suggest --strategy` applies
                    chosen = pick(p_pool, pool["group"].astype(str).to_numpy(), n, strategy, draw)
                    pick_rows = pool.iloc[chosen].assign(weight=gw)
                    for with_base in [True, False] if base_w is not None else [False]:
                        train = (
                            pd.concat([pick_rows, base_w], ignore_index=True)
                            if with_base
                            else pick_rows
                        )
                        if len(train) == 0 or train["label"].nunique() < 2:
                            continue
                        reuse = with_base and n == 0 and p_base_all is not None
                        jobs.append(((strategy, with_base, n, r), test, None if reuse else train))
    fitted = list(
        fit_all(
            [(est, train, gold[test], labels) for _, test, train in jobs if train is not None],
            tr.n_jobs,
        )
    )
    results = iter(fitted)
    preds: dict[tuple[str, bool, int, int], np.ndarray] = {}
    for key, test, train in jobs:
        assert p_base_all is not None or train is not None
        p = p_base_all[test] if train is None else next(results)  # type: ignore[index]
        if p is None:
            continue
        full = preds.setdefault(key, np.full(len(gold), None, dtype=object))
        full[test] = np.asarray(labels, dtype=object)[p.argmax(1)]
    log(
        f"  learning curve: {len(fitted)} fits, {len(folds)} folds of held-out reports"
        f" ({len(set(docs))} reports)"
    )
    rows = []
    for (strategy, with_base, n, r), pred in sorted(preds.items()):
        m = np.array([v is not None for v in pred])
        if m.sum() < len(gold):  # a report had no valid fit: the pooled score would not compare
            continue
        ev = evaluate_labels(gold["label"][m], pred[m], labels)
        rows.append(
            {
                "strategy": strategy,
                "with_base": with_base,
                "n_labels": n,
                "repeat": r,
                "macro_f1": ev["macro_f1"],
                "accuracy": ev["accuracy"],
                "n_test": int(m.sum()),
            }
        )
    return pd.DataFrame(rows)
