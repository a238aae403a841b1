"""Publication figures: one house style (:mod:`research.viz.style`) and a registry of figure
functions (:mod:`research.viz.registry`) that ``research figures`` calls.

Figure modules live beside these (``analysis.py`` for the distribution/emphasis figures,
others for the classifier and topic figures) and register themselves with
``@register_figure``.
"""

from research.viz.registry import FIGURES, SkipFigure, discover, register_figure, run_figures
from research.viz.style import (
    DOMAIN_COLORS,
    category_label,
    domain_colors,
    save_figure,
    setup_style,
)

__all__ = [
    "DOMAIN_COLORS",
    "FIGURES",
    "SkipFigure",
    "category_label",
    "discover",
    "domain_colors",
    "register_figure",
    "run_figures",
    "save_figure",
    "setup_style",
]
