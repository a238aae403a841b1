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

from research.io import write_text

VIS_ID = "ldavis_research"

_PAGE = """<!DOCTYPE html>
<html lang="zh">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
        "Microsoft YaHei", sans-serif; margin: 1em; background: white; }}
{css}
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


def _js_assets() -> tuple[str, str, str]:
    import pyLDAvis.urls as urls

    read = lambda p: Path(p).read_text(encoding="utf-8")  # noqa: E731
    return read(urls.D3_LOCAL), read(urls.LDAVIS_LOCAL), read(urls.LDAVIS_CSS_LOCAL)


def _script_safe(s: str) -> str:
    """Make text safe inside an inline <script> (no premature ``</script>``)."""
    return s.replace("</", "<\\/")


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
    return pyLDAvis.prepare(
        topic_term_dists=phi,
        doc_topic_dists=theta[keep],
        doc_lengths=lengths[keep],
        vocab=list(vocab),
        term_frequency=np.asarray(term_freq, dtype=float),
        R=int(top_n),
        lambda_step=lambda_step,
        mds="pcoa",
        n_jobs=1,
        sort_topics=False,
        start_index=1,
    )


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
    out = write_text(page, path)
    out.chmod(0o644)  # a page meant to be opened and shared (temp files are created 0600)
    return out
