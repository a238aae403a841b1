"""Apply a saved classifier to a table of texts or to a corpus folder.

Table input goes through the same normalisation as ``prepare`` (traditional → simplified,
pinyin artefacts, width, whitespace) before the model's tokeniser sees it. Texts that are
empty or contain no Chinese character get the residual category with probability 1 and
are counted (reported as a warning by the CLI), never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from research.classify.data import normalizer, require_columns
from research.classify.features import has_chinese
from research.io import is_blank
from research.settings import Params
from research.workers import in_worker


@dataclass
class Prediction:
    """The input rows with ``domain`` and ``p_<id>`` columns, and what was skipped."""

    table: pd.DataFrame
    n_empty: int
    labels: list[str]


def predict_frame(
    model: Any,
    df: pd.DataFrame,
    labels: list[str],
    other_id: str,
    text_column: str = "text",
    heading_column: str | None = "heading",
    params: Params | None = None,
    normalize: bool = True,
    where: str | Path = "input",
    batch_size: int = 5000,
    n_jobs: int = 1,
) -> Prediction:
    """Predict every row of ``df``: all input columns + ``domain`` + ``p_<id>`` per label.

    ``n_jobs`` > 1 spreads batches over processes (jieba tokenisation is the bottleneck,
    ~150k characters/s per core); results are identical.
    """
    require_columns(df, [text_column], where)
    norm = normalizer(params) if normalize else (lambda s: s)
    raw = df[text_column].tolist()
    texts = ["" if is_blank(t) else norm(str(t)) for t in raw]
    if heading_column and heading_column in df.columns:
        heads = ["" if is_blank(h) else norm(str(h)) for h in df[heading_column].tolist()]
    else:
        heads = [""] * len(texts)
    ok = np.array([has_chinese(t) for t in texts], dtype=bool)
    proba = np.zeros((len(texts), len(labels)))
    idx = np.flatnonzero(ok)
    if n_jobs != 1 and len(idx) > 2 * 500:
        size = max(500, min(batch_size, -(-len(idx) // (4 * max(1, abs(n_jobs))))))
    else:
        size = batch_size
    parts = [idx[i : i + size] for i in range(0, len(idx), size)]
    frames = [
        pd.DataFrame({"text": [texts[i] for i in part], "heading": [heads[i] for i in part]})
        for part in parts
    ]
    if n_jobs != 1 and len(parts) > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, backend="loky")(
            delayed(in_worker(_proba_batch))(model, X, labels) for X in frames
        )
    else:
        results = [_proba_batch(model, X, labels) for X in frames]
    for part, p in zip(parts, results):
        proba[part] = p
    proba[~ok, labels.index(other_id)] = 1.0
    out = df.copy()
    out["domain"] = np.asarray(labels, dtype=object)[np.argmax(proba, axis=1)]
    for j, lab in enumerate(labels):
        out[f"p_{lab}"] = np.round(proba[:, j], 6)
    return Prediction(out, int((~ok).sum()), labels)


def _proba_batch(model: Any, X: pd.DataFrame, labels: list[str]) -> np.ndarray:
    """Probabilities of one batch, columns in ``labels`` order; nothing of the batch is kept
    in the process memos, so memory stays flat in corpus size."""
    from research.classify.models import prediction_mode

    with prediction_mode():
        p = model.predict_proba(X)
    classes = [str(c) for c in model.classes_]
    if classes == labels:
        return p
    col = {c: j for j, c in enumerate(labels)}
    q = np.zeros((len(X), len(labels)))
    for j, c in enumerate(classes):
        q[:, col[c]] = p[:, j]
    return q


def corpus_units(corpus_dir: str | Path, params: Params) -> pd.DataFrame:
    """Prepare a corpus folder (with manifest.csv) and return its body units with metadata."""
    from research.corpus.prepare import prepare_corpus

    prepared = prepare_corpus(corpus_dir, params, progress=False)
    units = prepared.paragraphs
    units = units[units["kind"] == "body"].reset_index(drop=True)
    meta_cols = [
        c
        for c in ("doc_id", "province", "place", "level", "year", "organisation")
        if c in prepared.documents.columns
    ]
    docs = prepared.documents[meta_cols]
    extra = [c for c in meta_cols if c != "doc_id" and c not in units.columns]
    if extra:
        units = units.merge(docs[["doc_id"] + extra], on="doc_id", how="left")
    return units
