"""Measures of what federations spend their work on, by document, region and year.

One function per measure (each in its own module), all producing tidy tables:

- :mod:`units` — the label source of every unit (gold, else cross-fitted/model prediction);
- :mod:`estimators` — CC, PCC, ACC, PACC, EM, PPI and the replicates carrying classifier error;
- :mod:`documents` — the document table (Wilson / bootstrap intervals) and group means;
- :mod:`multilevel` — province (and level-within-province) random effects, a year smooth,
  report period, Holm-corrected contrasts, year curves;
- :mod:`recovery` — the parameter-recovery generator and scoring (benchmarks/bench_recovery.py);
- :mod:`narrative` — notebooks 05 and 03's text, generated from the run's numbers;
- :mod:`shares` — domain shares of body units / characters per document;
- :mod:`bootstrap` — percentile bootstrap CIs (units within documents; documents for groups);
- :mod:`quantify` — misclassification-adjusted shares (ACC, PACC);
- :mod:`emphasis` — emphasis index, domain ranks, first position in the report;
- :mod:`distinctive` — distinctive terms (log-odds with informative Dirichlet prior);
- :mod:`campaigns` — quoted campaign/brand names with their unit's domain;
- :mod:`regression` — fractional-logit GLM (CR2, t with residual df, nothing below min_df);
- :mod:`pipeline` — ``run_analysis``, used by ``research analyse``.
"""

from research.analysis.bootstrap import bootstrap_document_shares, bootstrap_group_means
from research.analysis.campaigns import campaign_names, extract_quoted, summarise_campaigns
from research.analysis.distinctive import distinctive_terms, log_odds_dirichlet
from research.analysis.emphasis import domain_ranks, emphasis_index, first_positions
from research.analysis.quantify import adjust_shares, evaluate_adjustment, misclassification_matrix
from research.analysis.regression import fractional_logit
from research.analysis.shares import document_shares, one_hot

__all__ = [
    "adjust_shares",
    "bootstrap_document_shares",
    "bootstrap_group_means",
    "campaign_names",
    "distinctive_terms",
    "document_shares",
    "domain_ranks",
    "emphasis_index",
    "evaluate_adjustment",
    "extract_quoted",
    "first_positions",
    "fractional_logit",
    "log_odds_dirichlet",
    "misclassification_matrix",
    "one_hot",
    "summarise_campaigns",
]
