"""Load ``params.yaml`` — the one source of parameters for the CLI and DVC."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from research.errors import InputError

DEFAULT_PARAMS = Path("params.yaml")


def find_params(path: str | Path | None = None) -> Path | None:
    """Return the params file to use: the given path, ./params.yaml, or the repo's own."""
    if path is not None:
        return Path(path)
    if DEFAULT_PARAMS.exists():
        return DEFAULT_PARAMS
    bundled = Path(__file__).resolve().parent.parent / "params.yaml"
    return bundled if bundled.exists() else None


def load_params(path: str | Path | None = None) -> dict[str, Any]:
    """Read and validate params.yaml; every key with its default filled in.

    Validation (:mod:`research.settings`) happens here, before any stage runs; typed code
    reads :func:`research.settings.load_settings` or ``settings_of(params)``.
    """
    from research.settings import load_settings

    return load_settings(path).as_params()


def read_params_file(p: Path) -> dict[str, Any]:
    """The raw mapping in a params file (not yet validated)."""
    if not p.exists():
        raise InputError(p, "params file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(p, f"not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(p, "params file must be a mapping at the top level")
    return data


def section(params: dict[str, Any], name: str, **overrides: Any) -> dict[str, Any]:
    """One params section as a dict, defaults filled in and non-None overrides applied.

    Validated by the schema (:mod:`research.settings`), so callers index keys directly.
    """
    from research.settings import settings_of, with_overrides

    sec = with_overrides(getattr(settings_of(params), name), **overrides)
    return copy.deepcopy(sec.model_dump())


def params_hash(params: Any) -> str:
    """Stable hash of a params dict or settings (sorted JSON), in model cards and metrics."""
    if hasattr(params, "model_dump"):
        params = params.model_dump(mode="python")
    blob = json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def repo_root() -> Path:
    """The project root (where params.yaml and seeds/ live in a checkout)."""
    return Path(__file__).resolve().parent.parent


#: ``paths`` keys and their defaults (relative to the project folder, i.e. the working directory)
PATH_DEFAULTS: dict[str, str] = {
    "corpus": "seeds",
    "codebook": "research/codebooks/womens_federation.yaml",
    "annotations": "seeds/annotations.csv",
    "data": "data",
    "reports": "reports",
    "models": "models",
}


def project_paths(params: Any) -> dict[str, str]:
    """The project's ``paths`` (params.yaml, as a dict or typed settings) with defaults
    filled in, as strings — what ``${paths.*}`` in the pipeline's commands stand for."""
    raw = params.paths.model_dump() if hasattr(params, "paths") else params.get("paths") or {}
    given = {k: str(v) for k, v in raw.items() if v is not None}
    return {**PATH_DEFAULTS, **given}
