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
    """Read params.yaml into a dict (empty dict when none exists)."""
    p = find_params(path)
    if p is None:
        return {}
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
    """A copy of one params section with non-None overrides applied (e.g. from CLI flags)."""
    out = copy.deepcopy(params.get(name) or {})
    out.update({k: v for k, v in overrides.items() if v is not None})
    return out


def params_hash(params: dict[str, Any]) -> str:
    """Stable hash of a params dict (sorted JSON), recorded in model cards and metrics."""
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


def project_paths(params: dict[str, Any]) -> dict[str, str]:
    """The project's ``paths`` (params.yaml) with defaults filled in — the one place every
    stage reads its folders and files from."""
    given = {k: str(v) for k, v in (params.get("paths") or {}).items() if v is not None}
    return {**PATH_DEFAULTS, **given}
