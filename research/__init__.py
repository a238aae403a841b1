"""Measure the work domains of Chinese Women's Federations (妇联) in their reports.

Stages (each a ``research`` CLI subcommand): prepare → annotate/weak-label → train →
predict → topics → analyse → figures (``research run`` for all). The handful of things a
notebook needs are importable from here (imported lazily, so ``import research`` is cheap
and changes no matplotlib backend):

>>> import research
>>> p = research.project("myproj")                     # doctest: +SKIP
>>> units = p.table("paragraphs.parquet")              # doctest: +SKIP
>>> pred = research.predict(units, project=p)          # doctest: +SKIP
>>> research.shares(pred, by="doc_id")                 # doctest: +SKIP
>>> research.set_style("zh"); research.figure("domain_shares", project=p)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["MissingOutput", "Project", "figure", "predict", "project", "set_style", "shares"]

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from research.notebook import MissingOutput, Project


def __getattr__(name: str) -> Any:
    if name in ("Project", "MissingOutput"):
        import research.notebook as nb

        return getattr(nb, name)
    raise AttributeError(f"module 'research' has no attribute {name!r}")


def _project(project: Any) -> Project:
    from research.notebook import Project, project_dir

    if isinstance(project, Project):
        return project
    return Project.open(project_dir() if project is None else project)


def project(path: str | Path | None = None) -> Project:
    """Open a project folder (``$RESEARCH_PROJECT`` or the working directory by default).

    The project resolves ``paths`` and the codebook from its ``params.yaml`` as the CLI
    does; ``.table(name)``, ``.metrics(name)``, ``.figure(name)`` read what the pipeline
    wrote, and ``.section(*names)`` says why a missing input is missing.

    >>> p = research.project("myproj")          # doctest: +SKIP
    >>> p.table("shares.csv")                   # doctest: +SKIP
    """
    return _project(path)


def predict(
    df: pd.DataFrame,
    model: str | Path | None = None,
    text_column: str = "text",
    project: Any = None,
) -> pd.DataFrame:
    """Predict the work domain of every row of ``df`` with the project's classifier.

    Returns ``df`` with ``domain`` (the most probable category) and one ``p_<id>``
    probability column per category. ``model`` defaults to ``<paths.models>/classifier``.

    >>> research.predict(pd.DataFrame({"text": ["开展最美家庭评选活动"]}))  # doctest: +SKIP
       text            domain  p_ideology ...
    """
    import warnings

    from research.classify.persist import load_model
    from research.classify.predict import predict_frame

    p = _project(project)
    cb = p.codebook
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fitted, card = load_model(model or p.model_dir(), cb)
    return predict_frame(
        fitted, df, list(card["labels"]), cb.other_id, text_column=text_column, params=p.params
    ).table


def shares(
    units: pd.DataFrame, by: str | list[str] = "doc_id", basis: str = "units"
) -> pd.DataFrame:
    """Each domain's share of the units, per group ``by`` (one row per group × domain).

    ``units`` needs ``p_<id>`` columns (as :func:`predict` returns) or a ``domain`` column,
    plus the ``by`` columns; ``basis="chars"`` weighs units by their characters.

    >>> research.shares(pred, by=["province", "year"])  # doctest: +SKIP
         province  year  domain  share  n_units
    """
    import pandas as pd

    from research.analysis.shares import document_shares, ids_from_columns, one_hot

    by = [by] if isinstance(by, str) else list(by)
    ids = ids_from_columns(units)
    if not ids:
        if "domain" not in units:
            raise KeyError("units need p_<id> columns or a domain column")
        ids = list(dict.fromkeys(units["domain"].astype(str)))
        units = pd.concat([units, one_hot(units["domain"], ids).set_axis(units.index)], axis=1)
    if "n_chars" not in units and "text" not in units:
        if basis == "chars":
            raise KeyError("basis='chars' needs an n_chars or a text column")
        units = units.assign(n_chars=0)
    keyed = units.assign(_group=units[by].astype(str).agg(" | ".join, axis=1))
    out = document_shares(
        keyed.rename(columns={"doc_id": "_doc"}).rename(columns={"_group": "doc_id"}), ids, basis
    )
    groups = keyed[by + ["_group"]].drop_duplicates("_group").rename(columns={"_group": "_key"})
    out = groups.merge(out.rename(columns={"doc_id": "_key"}), on="_key").drop(columns="_key")
    return out.reset_index(drop=True)


def figure(
    name: str, project: Any = None, language: str | None = None, out: str | Path | None = None
) -> list[Path]:
    """Draw the named figure (``research figures --list``) from the project's tables.

    Writes PDF/SVG/PNG + its CSV to ``out`` (default ``<paths.reports>/figures``) and returns
    the paths; raises :class:`MissingOutput` saying why when its inputs are missing.

    >>> research.figure("domain_shares", language="zh")  # doctest: +SKIP
    """
    from pathlib import Path

    from research.notebook import MissingOutput
    from research.settings import settings_of
    from research.viz.registry import run_figures

    p = _project(project)
    lang = language or settings_of(p.params).figures.language  # default from the schema
    reports = p.paths["reports"]
    import contextlib

    target = Path(out).resolve() if out else reports / "figures"
    with contextlib.chdir(p.root):  # params paths are relative to the project, as for the CLI
        (res,) = run_figures(reports, target, p.params, lang, [name], None)
    if res.skipped or res.error:
        raise MissingOutput(f"figure {name} not drawn: {res.skipped or res.error}")
    return res.paths


def set_style(language: str = "en", width_in: float = 3.5) -> str:
    """Use the package's figure style (CJK font registered, colour-blind-safe colours) for
    your own matplotlib plots; returns the CJK font family. Does not change the backend.

    >>> research.set_style("zh")  # doctest: +SKIP
    'Noto Sans CJK SC'
    """
    from research.viz.style import setup_style

    return setup_style(language, width_in=width_in)
