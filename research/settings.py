"""The typed schema of ``params.yaml``: one model per section, defaults in one place.

``Settings.model_validate(dict)`` checks a whole params file before any stage runs: unknown
sections and keys (with a did-you-mean), YAML booleans where words are expected
(``to_simplified: yes``), numbers out of range and unknown model families or sources are
refused with one message naming the key, the value and what is allowed. Code reads the typed
sections (``settings_of(params).prepare.join_window``); the defaults below are the only ones.

To add a key: add a field to its section with a default and (if it has one) its range.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from research.errors import InputError, ResearchError

# Classifier candidates compared on real gold (research/classify/instrument.py).
CANDIDATES = ("lr_plain", "lr_seeded", "svm_seeded")
# Sources of shares the analysis can use (research/analysis/inputs.py).

_S = TypeVar("_S", bound="_Section")

PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Jobs = Annotated[int, Field(ge=-1)]  # joblib convention: -1 = all cores; 0 is refused below
# typed default lists (a bare list literal in a lambda is list[str] to mypy)
_Strategy = Literal["random", "stratified", "uncertainty"]
_TopicBackend = Literal["gensim", "tomotopy"]
_Basis = Literal["units", "chars"]
_Format = Literal["pdf", "svg", "png"]


class _Section(BaseModel):
    """Strict: no unknown keys, no type coercion (a YAML ``yes`` is not the word "yes")."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _pathlike(v: Any) -> Any:
    return os.fspath(v) if isinstance(v, os.PathLike) else v


class PathsSettings(_Section):
    """Where inputs are read and outputs written (relative to the working directory)."""

    corpus: str = "seeds"
    codebook: str | None = None  # None: the bundled research/codebooks/womens_federation.yaml
    annotations: str = "seeds/annotations.csv"
    data: str = "data"
    reports: str = "reports"
    models: str = "models"

    @field_validator("*", mode="before")
    @classmethod
    def _paths_as_str(cls, v: Any) -> Any:
        return _pathlike(v)


class PrepareSettings(_Section):
    to_simplified: Literal["always", "auto", "never"] = "always"
    opencc_config: str = "t2s"
    heading_max_chars: PosInt = 60
    caption_max_chars: PosInt = 40
    duplicate_min_chars: PosInt = 12
    join_window: NonNegInt = 40
    min_cjk_ratio: Share = 0.05
    chunk_docs: PosInt = 500
    chunk_chars: PosInt = 2_000_000
    n_jobs: Jobs | None = None  # None: tokenize.n_jobs
    extra_levels: list[str] = Field(default_factory=list)  # manifest levels beyond the built-in


class AnnotateSettings(_Section):
    """How ``annotate agreement`` reads raters when no flag says so."""

    agreement_columns: list[str] = Field(default_factory=lambda: ["pass1", "pass2"])
    annotator_column: str = "annotator"
    label_column: str = "label"


class TokenizeSettings(_Section):
    user_dict: str | None = None  # None: the bundled research/resources/userdict.txt
    stopwords: str | None = None  # None: the bundled research/resources/stopwords.txt
    segmenter: Literal["rjieba", "jieba"] | None = None  # None: rjieba if installed, else jieba
    hmm: bool = True
    min_token_chars: PosInt = 1
    keep_numbers: bool = False
    n_jobs: Jobs = 1
    cache: bool = False  # params.yaml turns it on; library calls write no cache unasked

    @field_validator("user_dict", "stopwords", mode="before")
    @classmethod
    def _paths_as_str(cls, v: Any) -> Any:
        return _pathlike(v)


class WeakLabelSettings(_Section):
    min_score: NonNegFloat = 2.0
    min_margin: NonNegFloat = 0.5
    substring_min_chars: PosInt = 3
    heading_min_score: NonNegFloat = 2.0
    heading_min_margin: NonNegFloat = 1.0
    heading_cue_weight: NonNegFloat = 2.0
    precedence: Literal["dict_first", "heading_first"] = "dict_first"


class LearningCurveSettings(_Section):
    """``research learning-curve``: simulated labelling of the user's gold."""

    sizes: list[NonNegInt] = Field(default_factory=lambda: [0, 25, 50], min_length=1)
    repeats: PosInt = 2
    folds: PosInt | None = 3
    strategies: list[Literal["random", "stratified", "uncertainty"]] = Field(
        default_factory=lambda: cast("list[_Strategy]", ["random", "uncertainty"]), min_length=1
    )


class TrainSettings(_Section):
    unit: Literal["paragraph"] = "paragraph"
    text_column: str = "text"
    label_column: str = "gold"
    group_column: str = "doc_id"
    base_set: bool = True
    base_set_path: str | None = None
    base_set_sample: PosInt | None = None
    gold_weight: PosFloat = 3.0
    candidates: list[Literal[CANDIDATES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["svm_seeded"], min_length=1
    )
    select_tol: NonNegFloat = 0.01
    n_boot: PosInt = 1000
    ci: Annotated[float, Field(gt=0, lt=1)] = 0.95
    min_examples_per_class: PosInt = 3
    n_jobs: Jobs = 2  # threads for the evaluation fits
    learning_curve: LearningCurveSettings = Field(default_factory=LearningCurveSettings)

    @field_validator("base_set_path", mode="before")
    @classmethod
    def _path_as_str(cls, v: Any) -> Any:
        return _pathlike(v)


class TopicsSettings(_Section):
    unit: Literal["paragraph", "item", "document"] = "paragraph"
    no_below: PosInt = 2
    no_above: Annotated[float, Field(gt=0, le=1)] = 0.5
    keep_n: PosInt | None = 100_000
    extra_stopwords: list[str] = Field(default_factory=list)
    backend: Literal["gensim", "tomotopy"] = "gensim"
    seeded_backend: Literal["gensim", "tomotopy"] = "gensim"
    passes: PosInt = 20
    iterations: PosInt = 200
    chunksize: PosInt = 2000
    alpha: Literal["symmetric", "asymmetric", "auto"] | PosFloat = "symmetric"
    eta: Literal["symmetric"] | PosFloat | None = None  # None / symmetric: 1/K
    tomotopy_iterations: PosInt = 1000
    tomotopy_burn_in: NonNegInt = 50
    sweep: bool = True
    k_grid: list[Annotated[int, Field(ge=2)]] = Field(
        default_factory=lambda: [4, 6, 8, 10, 12], min_length=1
    )
    k: Annotated[int, Field(ge=2)] | Literal["auto"] = 8  # "auto": the K rule below (params.yaml)
    k_rule_coherence: Literal["c_v", "c_npmi", "u_mass"] = "c_v"
    k_rule_within_sd: NonNegFloat = 1.0
    k_rule_stability: Literal["stability_jaccard", "stability_cosine"] = "stability_jaccard"
    k_rule_min_stability: Share = 0.5
    k_fallback: Annotated[int, Field(ge=2)] = 8  # k auto with the sweep off
    stoplist_manifest: bool = True
    stoplist_codebook: bool = True
    stability_seeds: PosInt = 3
    heldout_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    heldout_by: Literal["unit", "doc"] = "unit"
    coherence_topn: Annotated[int, Field(ge=2)] = 10
    relevance_lambda: Share = 0.6
    frex_weight: Share = 0.5
    top_n: PosInt = 15
    vis_terms: PosInt = 30
    html: bool = True
    seeded_free_topics: NonNegInt = 3
    seeded_weight: NonNegFloat = 3.0
    seeded_init: bool = True
    seeded_min_share: Share = 0.2
    seeded_compare: list[Literal["gensim", "tomotopy"]] = Field(
        default_factory=lambda: cast("list[_TopicBackend]", ["gensim", "tomotopy"])
    )
    seeded_f1_tolerance: NonNegFloat = 0.01
    covariate_model: bool = True
    covariates: list[str] = Field(default_factory=lambda: ["province", "level", "genre"])
    year_degree: NonNegInt = 2
    covariate_replicates: PosInt = 10
    covariate_iterations: PosInt = 300
    ci: Annotated[float, Field(gt=0, lt=1)] = 0.95
    year_points: Annotated[int, Field(ge=2)] = 25
    dynamic_model: bool = True
    dynamic_period_years: PosInt = 1
    dynamic_iterations: PosInt = 300
    dynamic_lr_a: PosFloat = 0.5
    dynamic_lr_c: Annotated[float, Field(gt=0.5, le=1)] = 0.6
    correlated_model: bool = True
    correlated_iterations: PosInt = 300
    n_jobs: Jobs = 1  # threads for the K sweep and covariate refits (gensim only gains)


class AnalyseSettings(_Section):
    n_boot: PosInt = 1000
    ci: Annotated[float, Field(gt=0, lt=1)] = 0.95
    # the first basis is the primary one (regression, multilevel model, figures)
    bases: list[Literal["units", "chars"]] = Field(
        default_factory=lambda: cast("list[_Basis]", ["chars", "units"]), min_length=1
    )
    estimator: Literal["auto", "cc", "pcc", "acc", "pacc", "em", "ppi"] = "auto"
    group_by: list[str] = Field(default_factory=lambda: ["province", "level", "year"])
    min_interval_docs: PosInt = 5
    emphasis_exclude: list[str] = Field(default_factory=lambda: ["other"])
    glm_covariates: list[str] = Field(default_factory=lambda: ["province", "level", "year"])
    glm_cluster: str | None = None
    multilevel_covariates: list[str] = Field(default_factory=lambda: ["level", "genre", "period"])
    multilevel_year_df: PosInt = 4
    min_df: PosInt = 10
    min_docs_per_param: PosInt = 10
    me_replicates: NonNegInt = 20
    distinctive_prior: PosFloat = 0.01
    distinctive_top_n: PosInt = 15
    distinctive_by: list[str] = Field(default_factory=lambda: ["province", "year", "level"])
    distinctive_min_docs: PosInt = 2
    distinctive_n_perm: PosInt = 200
    distinctive_stop_seed_terms: bool = False
    distinctive_min_chars: PosInt = 2
    quote_min_chars: PosInt = 2
    quote_max_chars: PosInt = 20


class FiguresSettings(_Section):
    language: Literal["en", "zh"] = "en"
    formats: list[Literal["pdf", "svg", "png"]] = Field(
        default_factory=lambda: cast("list[_Format]", ["pdf", "png"]),
        min_length=1,  # SVG on request (+23% time)
    )
    dpi: Annotated[int, Field(ge=50, le=2400)] = 300
    width_in: Annotated[float, Field(gt=0, le=40)] = 3.5
    classifier_method: str = "selected"
    distinctive_top_n: PosInt = 10
    campaign_top_n: PosInt = 20
    n_jobs: Jobs = 2  # processes drawing figures (the files do not depend on it)


class Settings(_Section):
    """The whole params file."""

    seed: NonNegInt = 0
    paths: PathsSettings = Field(default_factory=PathsSettings)
    prepare: PrepareSettings = Field(default_factory=PrepareSettings)
    annotate: AnnotateSettings = Field(default_factory=AnnotateSettings)
    tokenize: TokenizeSettings = Field(default_factory=TokenizeSettings)
    weak_labels: WeakLabelSettings = Field(default_factory=WeakLabelSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    topics: TopicsSettings = Field(default_factory=TopicsSettings)
    analyse: AnalyseSettings = Field(default_factory=AnalyseSettings)
    figures: FiguresSettings = Field(default_factory=FiguresSettings)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # an empty section in YAML (`topics:` with nothing under it) reads as None
        if isinstance(data, dict):
            return {k: ({} if v is None and k != "seed" else v) for k, v in data.items()}
        return data

    def as_params(self) -> dict[str, Any]:
        """Plain dict of every key with defaults filled in (what params hashes are taken of)."""
        return self.model_dump(mode="python")


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None) if field else None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
    return model


_UNION_PARTS = ("str", "float", "int", "bool", "none", "list", "dict")


def _key(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], str]:
    # pydantic adds the union member it tried (e.g. 'literal[...]', 'constrained-float')
    loc = tuple(
        p for p in loc if not (isinstance(p, str) and (p in _UNION_PARTS or "[" in p or "-" in p))
    )
    key = ""
    for p in loc:
        key += f"[{p}]" if isinstance(p, int) else (f".{p}" if key else str(p))
    return loc, key or "(top level)"


def _describe(err: dict[str, Any]) -> tuple[str, str]:
    """(key, message) for one pydantic error."""
    loc, key = _key(tuple(err["loc"]))
    value = err.get("input")
    kind = err["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc)
        known = list(model.model_fields) if model else []
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        what = "section" if len(loc) == 1 else "key"
        hint = f"; did you mean {guess[0]!r}?" if guess else f" (known: {', '.join(known)})"
        return key, f": unknown {what}{hint}"
    msg = err["msg"]
    if kind.startswith("literal_error"):
        msg = msg.replace("Input should be", "allowed:")
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        msg = msg.replace("Input should be", "must be")
        if loc and loc[-1] == "n_jobs":
            msg += " (-1 = all cores)"
    elif kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    else:
        msg = msg.replace("Input should be", "expected")
    shown = repr(value)
    if isinstance(value, bool):
        shown = f"{value!r} (a YAML boolean: yes/no/on/off; quote the word if you meant it)"
    return key, f" = {shown}: {msg}"


def _message(exc: ValidationError) -> str:
    by_key: dict[str, list[str]] = {}
    for e in exc.errors():
        key, msg = _describe(dict(e))
        if msg not in by_key.setdefault(key, []):
            by_key[key].append(msg)
    parts = []
    for key, msgs in by_key.items():
        head = msgs[0]
        rest = [m.split(": ", 1)[-1] for m in msgs[1:]]
        parts.append(f"{key}{head}" + "".join(f", or {r}" for r in rest))
    return "; ".join(parts)


def validate_params(data: Mapping[str, Any], source: object = "params") -> Settings:
    """Validate a params mapping; one :class:`InputError` lists every problem found."""
    if isinstance(data, Settings):
        return data
    try:
        s = Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise InputError(source, "invalid parameters: " + _message(exc)) from None
    for name in ("prepare", "tokenize", "train"):
        if getattr(getattr(s, name), "n_jobs", None) == 0:
            raise InputError(
                source, f"invalid parameters: {name}.n_jobs = 0: use 1 or more, or -1 for all cores"
            )
    return s


Params = Settings | Mapping[str, Any]  # what functions taking "params" accept


def settings_of(params: Params | None) -> Settings:
    """Typed settings from a params dict (validated) or a :class:`Settings` (as is)."""
    if isinstance(params, Settings):
        return params
    return validate_params(params or {})


def as_section(cls: type[_S], value: _S | Mapping[str, Any] | None) -> _S:
    """One typed section from a section model (as is) or a section dict (validated)."""
    if isinstance(value, cls):
        return value
    try:
        return cls.model_validate(dict(value or {}))
    except ValidationError as exc:
        raise ResearchError(f"invalid parameters: {_message(exc)}") from None


def with_overrides(section: _Section, **overrides: Any) -> Any:
    """A copy of one section with non-None overrides (e.g. CLI flags), validated again."""
    upd = {k: v for k, v in overrides.items() if v is not None}
    if not upd:
        return section
    try:
        return type(section).model_validate({**section.model_dump(), **upd})
    except ValidationError as exc:
        raise ResearchError(f"invalid option: {_message(exc)}") from None


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate params.yaml (see :func:`research.config.load_params`)."""
    from research.config import find_params, read_params_file

    p = find_params(path)
    data = read_params_file(p) if p is not None else {}
    return validate_params(data, p if p is not None else "params")
