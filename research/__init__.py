"""Measure the work domains of Chinese Women's Federations (妇联) in their reports.

Stages (each a function here and a ``research`` CLI subcommand):
prepare → annotate/weak-label → train/evaluate → topics → analyse → figures.
"""

__version__ = "0.1.0"
