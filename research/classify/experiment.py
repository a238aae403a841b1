"""The training stage: candidate models, nested grouped CV, reports, and the final fit.

Methods compared (all with the same evaluation code):

- ``majority``: most frequent training label (probabilities = training frequencies).
- ``dictionary``: the codebook's dictionary labeller alone, abstentions → ``other``.
- ``lr_plain``: plain word + character TF-IDF with logistic regression (no codebook
  knowledge) — the reference a new model must beat clearly.
- ``lr_prior``: plain TF-IDF + LR combined with the codebook dictionary as a prior
  (product of experts, exponent chosen by inner CV).
- ``lr_seeded``: the same plus codebook seed-term scores, seed-term vocabulary and the
  section heading.
- ``svm_calibrated``: seeded features, linear SVM with sigmoid calibration.
- ``cnb``: seeded features, complement naive Bayes (calibrated).
- ``ensemble``: soft voting of seeded LR, calibrated SVM and CNB (fixed settings).
- ``selected``: model selection across all the candidates above by inner grouped CV —
  this is the procedure that picks the saved model, so its nested score is the honest
  estimate of the saved model's quality.
- ``<method>+weak``: the same with weakly labelled unlabelled units added at a lower
  weight (only when such units exist).

Each model method has a small hyper-parameter grid chosen by inner grouped CV on the
training folds (nested); outer CV is leave-one-document-out and leave-one-province-out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
import pandas as pd

from research.classify.baselines import DictionaryBaseline, MajorityClassifier
from research.classify.cv import (
    Augment,
    Candidate,
    choose,
    fit_temperature,
    group_splits,
    inner_scores,
    nested_cv,
    oof_predict,
)
from research.classify.models import DomainClassifier, EnsembleClassifier, TemperedClassifier
from research.config import params_hash
from research.labels.evaluation import evaluate_labels
from research.settings import Settings, TrainSettings, settings_of

DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "lr_plain": {"C": [1.0, 10.0, 100.0]},
    "lr_prior": {"C": [10.0], "dict_prior": [0.5, 1.0]},
    "lr_seeded": {"C": [10.0], "dict_prior": [0.0, 0.5, 1.0]},
    "svm_calibrated": {"C": [0.1, 1.0], "dict_prior": [0.0, 0.5]},
    "cnb": {"alpha": [0.1, 0.5]},
}
# Soft-voting ensemble of the three seeded learners at fixed, central settings (no grid:
# its members reuse the fits of the families above inside cross-validation).
ENSEMBLE_MEMBERS: list[tuple[str, dict[str, Any]]] = [
    ("lr_seeded", {"C": 10.0, "dict_prior": 0.0}),
    ("svm_calibrated", {"C": 1.0, "dict_prior": 0.0}),
    ("cnb", {"alpha": 0.1}),
]
FAMILY_BASE: dict[str, dict[str, Any]] = {
    "lr_plain": {"model": "lr", "seed_scale": 0.0, "seed_vocab": False, "heading_scale": 0.0},
    "lr_prior": {"model": "lr", "seed_scale": 0.0, "seed_vocab": False, "heading_scale": 0.0},
    "lr_seeded": {"model": "lr"},
    "svm_calibrated": {"model": "svm"},
    "cnb": {"model": "cnb", "calibration": "sigmoid"},
}
BASELINES = ("majority", "dictionary")
PLAIN = "lr_plain"
SELECTED = "selected"


def family_candidates(
    family: str, base: dict[str, Any], grid: dict[str, list[Any]]
) -> list[Candidate]:
    """One Candidate per grid point of ``family`` (grid keys sorted → deterministic order)."""
    keys = sorted(grid)
    out = []
    for values in product(*(grid[k] for k in keys)):
        p = dict(zip(keys, values))
        est = DomainClassifier(**{**base, **FAMILY_BASE[family], **p})
        out.append(Candidate(family, est, p))
    return out


def build_methods(
    codebook: Any, train: TrainSettings, tokenize: dict | None, seed: int
) -> dict[str, list[Candidate]]:
    """Candidate lists per method name from the ``train`` params section."""
    base = {
        "labels": list(codebook.ids),
        "seed_terms": codebook.seed_terms,
        "heading_cues": codebook.heading_cues,
        "tokenize": tokenize,
        "random_state": int(seed),
    }
    grids = {**DEFAULT_GRIDS, **train.grids}
    wanted = list(train.models)
    families = [m for m in wanted if m in FAMILY_BASE]
    if PLAIN not in families:
        families = [PLAIN] + families
    methods = {f: family_candidates(f, base, grids.get(f, {})) for f in families}
    if "ensemble" in wanted:
        members = [DomainClassifier(**{**base, **FAMILY_BASE[f], **p}) for f, p in ENSEMBLE_MEMBERS]
        methods["ensemble"] = [Candidate("ensemble", EnsembleClassifier(members), {})]
        families = families + ["ensemble"]
    methods[SELECTED] = [c for f in families for c in methods[f]]
    return methods


def baseline_estimators(codebook: Any, params: Settings | dict) -> dict[str, Any]:
    """The baseline estimators (majority class, dictionary labeller alone)."""
    s = settings_of(params)
    return {
        "majority": MajorityClassifier(labels=list(codebook.ids)),
        "dictionary": DictionaryBaseline(
            codebook_path=str(codebook.path),
            labels=list(codebook.ids),
            other_id=codebook.other_id,
            min_score=s.weak_labels.min_score,
            min_margin=s.weak_labels.min_margin,
            tokenize=s.tokenize.model_dump(),
        ),
    }


@dataclass
class CVReport:
    """Everything the training stage reports."""

    metrics: dict[str, Any]
    table: pd.DataFrame  # one row per (method, cv)
    confusion: pd.DataFrame  # method, cv, true, pred, count
    predictions: pd.DataFrame  # unit_id, doc_id, province, gold, method, cv, pred, p_*
    chosen: dict[str, Any] = field(default_factory=dict)
    convergence: list[str] = field(default_factory=list)  # distinct ConvergenceWarnings


def _round(x: Any, nd: int = 4) -> Any:
    if isinstance(x, float):
        return round(x, nd)
    if isinstance(x, dict):
        return {k: _round(v, nd) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v, nd) for v in x]
    return x


def _weak_augment(
    table: pd.DataFrame, unlabeled: pd.DataFrame | None, weight: float, transductive: bool = False
) -> Augment | None:
    """Weakly labelled rows; for the final fit (not transductive) units with gold are dropped."""
    if unlabeled is None or len(unlabeled) == 0 or weight <= 0:
        return None
    u = unlabeled
    if not transductive:
        u = u[~u["unit_id"].astype(str).isin(set(table["unit_id"].astype(str)))]
    u = u[u["weak_label"].astype(str) != ""]
    if len(u) == 0:
        return None
    X = pd.DataFrame(
        {
            "text": u["text"].astype(str).to_numpy(),
            "heading": u.get("heading", pd.Series([""] * len(u))).astype(str).to_numpy(),
        }
    )
    return Augment(
        X,
        u["weak_label"].astype(str).to_numpy(dtype=object),
        u["group"].astype(str).to_numpy(dtype=object),
        float(weight),
        u["unit_id"].astype(str).to_numpy(dtype=object),
        transductive,
    )


def run_cv(
    table: pd.DataFrame,
    codebook: Any,
    params: dict,
    unlabeled: pd.DataFrame | None = None,
    log: Any = print,
) -> CVReport:
    """Nested grouped CV of every method (by document, and by province when known)."""
    s = settings_of(params)
    train = s.train
    labels = list(codebook.ids)
    X = table[["text", "heading", "unit_id"]].reset_index(drop=True)
    y = table["label"].astype(str).to_numpy(dtype=object)
    docs = table["group"].astype(str).to_numpy(dtype=object)
    prov = table["province"].astype(str).to_numpy(dtype=object)
    methods = build_methods(codebook, train, s.tokenize.model_dump(), s.seed)
    warm = (
        X
        if unlabeled is None
        else pd.concat([X[["text", "heading"]], unlabeled[["text", "heading"]]])
    )
    methods[SELECTED][0].estimator.warm(warm)
    aug_obj = _weak_augment(
        table,
        unlabeled,
        train.weak_label_weight,
        transductive=train.weak_transductive,
    )
    aug: dict[str, Augment | None] = {}
    if aug_obj is not None:
        for name in list(methods):
            if name == "lr_seeded":
                methods[f"{name}+weak"] = methods[name]
                aug[f"{name}+weak"] = aug_obj
    cvs: list[tuple[str, np.ndarray]] = []
    if len(set(docs)) >= 2:
        cvs.append(("by_document", docs))
    if len(set(prov) - {""}) >= 2 and "" not in set(prov):
        cvs.append(("by_province", prov))
    if not cvs:
        raise ValueError("grouped CV needs at least two documents (groups)")
    inner = train.cv_inner_folds
    rows, conf_rows, pred_frames, metrics, chosen = [], [], [], {}, {}
    convergence: list[str] = []
    baselines = baseline_estimators(codebook, s)
    for cv_name, groups in cvs:
        t0 = time.time()
        res = nested_cv(
            methods,
            X,
            y,
            groups,
            labels,
            inner_folds=inner,
            aug=aug,
            doc_groups=docs,
            n_jobs=train.n_jobs,
            temperature=train.temperature,
        )
        probas = dict(res.proba)
        for bname, est in baselines.items():
            probas[bname] = oof_predict(est, X, y, groups, group_splits(groups), labels)
        chosen[cv_name] = res.chosen
        convergence += [w for w in res.convergence if w not in convergence]
        log(
            f"  cv {cv_name}: {len(set(groups))} folds, {len(methods)} methods in {time.time() - t0:.1f}s"
        )
        order = list(BASELINES) + [m for m in methods]
        for name in order:
            p = probas[name]
            pred = _hard(name, p, labels, X, baselines)
            ev = evaluate_labels(y, pred, labels, groups=docs, proba=p)
            per_fold = {}
            for g in sorted(set(groups)):
                m = groups == g
                evg = evaluate_labels(y[m], pred[m], labels)
                per_fold[str(g)] = {
                    "n": int(m.sum()),
                    "macro_f1": evg["macro_f1"],
                    "accuracy": evg["accuracy"],
                }
            metrics.setdefault(name, {})[cv_name] = _round(
                {**{k: v for k, v in ev.items() if k not in ("labels",)}, "per_fold": per_fold}
            )
            row = {
                "method": name,
                "cv": cv_name,
                "n": ev["n"],
                "macro_f1": ev["macro_f1"],
                "accuracy": ev["accuracy"],
                "doc_share_mae": ev["doc_share_mae"],
                "doc_share_mae_proba": ev["doc_share_mae_proba"],
                "brier": ev["brier"],
                "ece": ev["ece"],
            }
            for lab in labels:
                row[f"f1_{lab}"] = ev["per_class"][lab]["f1"]
            rows.append(row)
            cm = ev["confusion"]
            for i, t in enumerate(labels):
                for j, q in enumerate(labels):
                    conf_rows.append(
                        {
                            "method": name,
                            "cv": cv_name,
                            "true": t,
                            "pred": q,
                            "count": int(cm[i][j]),
                        }
                    )
            pf = pd.DataFrame(
                {
                    "unit_id": table["unit_id"].astype(str).to_numpy(),
                    "doc_id": docs,
                    "province": prov,
                    "gold": y,
                    "method": name,
                    "cv": cv_name,
                    "pred": pred,
                }
            )
            for j, lab in enumerate(labels):
                pf[f"p_{lab}"] = np.round(p[:, j], 6)
            pred_frames.append(pf)
    tab = pd.DataFrame(rows)
    num = tab.select_dtypes("number").columns.drop("n")
    tab[num] = tab[num].round(4)
    return CVReport(
        metrics=metrics,
        table=tab,
        confusion=pd.DataFrame(conf_rows),
        predictions=pd.concat(pred_frames, ignore_index=True),
        chosen=chosen,
        convergence=convergence,
    )


def _hard(
    name: str, p: np.ndarray, labels: list[str], X: pd.DataFrame, baselines: dict
) -> np.ndarray:
    """Hard labels: argmax of probabilities (the dictionary baseline uses its own rule)."""
    if name == "dictionary":
        return baselines["dictionary"].fit().predict(X)
    return np.asarray(labels, dtype=object)[np.argmax(p, axis=1)]


def select_final(
    table: pd.DataFrame,
    codebook: Any,
    params: dict,
    unlabeled: pd.DataFrame | None = None,
    use_weak: bool = False,
) -> tuple[Candidate, dict[str, tuple[float, float]], float]:
    """Choose the model to save by leave-one-document-out CV over all candidates.

    Returns the candidate, every candidate's (macro-F1, Brier) and the temperature fitted on
    the chosen candidate's out-of-fold probabilities (1.0 when disabled or impossible).
    """
    s = settings_of(params)
    train = s.train
    labels = list(codebook.ids)
    methods = build_methods(codebook, train, s.tokenize.model_dump(), s.seed)
    cands = methods[SELECTED]
    X = table[["text", "heading"]].reset_index(drop=True)
    y = table["label"].astype(str).to_numpy(dtype=object)
    docs = table["group"].astype(str).to_numpy(dtype=object)
    aug = _weak_augment(table, unlabeled, train.weak_label_weight) if use_weak else None
    n_groups = len(set(docs))
    oof: dict[str, np.ndarray] = {}
    scores = (
        inner_scores(cands, X, y, docs, labels, n_groups, aug, oof=oof) if n_groups >= 2 else {}
    )
    if scores:
        best = choose(cands, scores)
    else:  # no groups to select with: the default, the ensemble (or the seeded LR)
        by_family = {c.family: c for c in reversed(cands)}
        best = by_family.get("ensemble") or by_family.get("lr_seeded") or cands[0]
    t = 1.0
    if train.temperature and best.key in oof:
        t = fit_temperature(oof[best.key], y, labels)
    return best, scores, t


def fit_final(
    cand: Candidate, table: pd.DataFrame, aug: Augment | None = None, temperature: float = 1.0
) -> Any:
    """Fit the chosen candidate on all labelled units (plus weak rows if ``aug``), tempered."""
    X = table[["text", "heading"]].reset_index(drop=True)
    y = table["label"].astype(str).to_numpy(dtype=object)
    model = TemperedClassifier(cand.estimator, temperature)
    if aug is None:
        return model.fit(X, y)
    Xa = pd.concat([X, aug.X[["text", "heading"]]], ignore_index=True)
    ya = np.concatenate([y, aug.y])
    w = np.concatenate([np.ones(len(y)), np.full(len(aug.y), aug.weight)])
    return model.fit(Xa, ya, sample_weight=w)


def model_params(model: Any) -> dict[str, Any]:
    """JSON-ready parameters of a fitted model (seed terms summarised, not listed)."""
    if isinstance(model, TemperedClassifier):
        return {**model_params(model.estimator), "temperature": model.temperature}
    if isinstance(model, EnsembleClassifier):
        return {"ensemble": [model_params(m) for m in model.members], "weights": model.weights}
    p = model.get_params()
    out = {k: v for k, v in p.items() if k not in ("seed_terms", "heading_cues", "labels")}
    out["n_seed_terms"] = sum(len(v) for v in (p.get("seed_terms") or {}).values())
    out["params_hash"] = params_hash({k: v for k, v in p.items()})
    return out
