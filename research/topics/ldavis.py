"""Interactive LDAvis view that opens offline (no CDN).

pyLDAvis's own ``save_html`` writes ``<script src="https://...">`` tags for d3 and the
LDAvis script, so the page is blank without network. Here the data are prepared with
``pyLDAvis.prepare`` (single process, topics kept in the package's order) and written into
a self-contained page that inlines the d3 v5, LDAvis v3 JavaScript and CSS files that
pyLDAvis ships inside its package (``pyLDAvis/js/``). The element id is fixed so the file
is byte-stable.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from research.io import write_text

VIS_ID = "ldavis_research"

#: Start of every offline page (title and the CJK font stack); ``.format(title=...)``.
PAGE_HEAD = """<!DOCTYPE html>
<html lang="zh">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
        "Microsoft YaHei", sans-serif; margin: 1em; background: white; }}
"""

_PAGE = (
    PAGE_HEAD
    + """{css}
</style>
<script type="text/javascript">
{d3}
</script>
<script type="text/javascript">
{ldavis}
</script>
</head>
<body>
<h1 style="font-size:16px">{title}</h1>
<p style="font-size:12px">{note}</p>
<div id="{visid}" style="background-color:white;"></div>
<script type="text/javascript">
var {visid}_data = {data};
// Open on topic 1 at the tables' relevance λ unless the URL already names a state.
if (!location.hash) {{ history.replaceState(null, "", "#topic=1&lambda={lam}&term="); }}
new LDAvis("#{visid}", {visid}_data);
</script>
</body>
</html>
"""
)


def _js_assets() -> tuple[str, str, str]:
    import pyLDAvis.urls as urls

    read = lambda p: Path(p).read_text(encoding="utf-8")  # noqa: E731
    return read(urls.D3_LOCAL), read(urls.LDAVIS_LOCAL), read(urls.LDAVIS_CSS_LOCAL)


def _script_safe(s: str) -> str:
    """Make text safe inside an inline <script> (no premature ``</script>``)."""
    return s.replace("</", "<\\/")


def js_pcoa(distributions: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distances between topics, then classical MDS (PCoA) in 2-D.

    pyLDAvis's own ``js_PCoA`` uses ``np.linalg.eig`` on the (symmetric) double-centred
    matrix, which returns complex numbers when topics are (nearly) identical — e.g. unused
    free topics with few documents — and then fails to serialise. ``eigh`` is the right
    solver for a symmetric matrix; signs are fixed (largest coordinate positive) so the
    layout is the same on every run.
    """
    from pyLDAvis._prepare import _jensen_shannon
    from scipy.spatial.distance import pdist, squareform

    d = squareform(pdist(np.asarray(distributions, dtype=float), metric=_jensen_shannon))
    n = d.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    b = -h @ (d**2) @ h / 2
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    idx = np.argsort(vals)[::-1][:2]
    vals, vecs = np.clip(vals[idx], 0.0, None), vecs[:, idx]
    for j in range(vecs.shape[1]):
        if vecs[np.argmax(np.abs(vecs[:, j])), j] < 0:
            vecs[:, j] = -vecs[:, j]
    coords = vecs * np.sqrt(vals)
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((n, 2 - coords.shape[1]))])
    return coords


def prepare_vis(
    topic_word: np.ndarray,
    theta: np.ndarray,
    doc_lengths: np.ndarray,
    vocab: list[str],
    term_freq: np.ndarray,
    *,
    top_n: int = 30,
    lambda_step: float = 0.01,
):
    """pyLDAvis ``PreparedData`` for a fitted model (topics numbered 1..K in our order)."""
    import pyLDAvis

    theta = np.asarray(theta, dtype=float)
    theta = theta / theta.sum(axis=1, keepdims=True)
    phi = np.asarray(topic_word, dtype=float)
    phi = phi / phi.sum(axis=1, keepdims=True)
    lengths = np.asarray(doc_lengths, dtype=float)
    keep = lengths > 0
    import pyLDAvis._prepare as prep

    slow, prep._find_relevance_chunks = prep._find_relevance_chunks, relevance_chunks
    try:
        return pyLDAvis.prepare(
            topic_term_dists=phi,
            doc_topic_dists=theta[keep],
            doc_lengths=lengths[keep],
            vocab=list(vocab),
            term_frequency=np.asarray(term_freq, dtype=float),
            R=int(top_n),
            lambda_step=lambda_step,
            mds=js_pcoa,
            n_jobs=1,
            sort_topics=False,
            start_index=1,
        )
    finally:
        prep._find_relevance_chunks = slow


def relevance_chunks(log_ttd, log_lift, R: int, lambda_seq) -> pd.DataFrame:
    """pyLDAvis's per-λ top-R relevance terms, in numpy (its pandas loop is ~100x slower).

    Same frame as ``pyLDAvis._prepare._find_relevance_chunks``: for each λ, R rows × one
    column per topic, the term labels by decreasing relevance, ties by term order (as
    ``Series.nlargest``).
    """
    ttd, lift = log_ttd.to_numpy(dtype=float), log_lift.to_numpy(dtype=float)
    n_terms = ttd.shape[1]
    r = min(int(R), n_terms)
    frames = []
    for lam in lambda_seq:
        rel = lam * ttd + (1 - lam) * lift
        kth = np.partition(rel, n_terms - r, axis=1)[:, n_terms - r]
        cols = []
        for k in range(rel.shape[0]):
            row = rel[k]
            above = np.flatnonzero(row > kth[k])
            idx = np.concatenate([above, np.flatnonzero(row == kth[k])[: r - len(above)]])
            cols.append(log_ttd.columns[idx[np.lexsort((idx, -row[idx]))]])
        frames.append(pd.DataFrame(dict(zip(log_ttd.index, cols))))
    return pd.concat(frames)


def write_offline_html(
    prepared, path: str | Path, title: str = "LDA topics", note: str = "", lam: float = 0.6
) -> Path:
    """Write the self-contained LDAvis page (all JS/CSS inline) to ``path``."""
    d3, ldavis, css = _js_assets()
    page = _PAGE.format(
        title=html.escape(title),
        note=html.escape(note),
        css=css,
        d3=_script_safe(d3),
        ldavis=_script_safe(ldavis),
        visid=VIS_ID,
        data=_script_safe(prepared.to_json()),
        lam=f"{float(lam):g}",
    )
    return write_text(page, path)
