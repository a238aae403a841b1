"""The numpy relevance ranking of the LDAvis page equals pyLDAvis's pandas one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from research.topics.ldavis import relevance_chunks

prep = pytest.importorskip("pyLDAvis._prepare")


@pytest.mark.parametrize("n_terms, R", [(200, 30), (12, 30)])
def test_relevance_chunks_match_pyldavis(n_terms: int, R: int) -> None:
    rng = np.random.default_rng(0)
    phi = rng.dirichlet(np.full(n_terms, 0.3), size=5)
    phi[:, :4] = phi[:, [0]]  # ties: equal columns must keep term order
    phi /= phi.sum(axis=1, keepdims=True)
    prop = rng.dirichlet(np.ones(n_terms))
    log_ttd = pd.DataFrame(np.log(phi), index=[3, 1, 4, 0, 2])
    log_lift = pd.DataFrame(np.log(phi / prop), index=log_ttd.index)
    lambdas = np.arange(0, 1.01, 0.1)
    want = prep._find_relevance_chunks(log_ttd, log_lift, R, lambdas)
    got = relevance_chunks(log_ttd, log_lift, R, lambdas)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
