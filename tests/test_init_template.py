"""``research init`` from an installed (not editable) package: the params template ships as
package data, equals the repository's params.yaml, and init works with no checkout around."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path

import yaml

from research.commands.init import TEMPLATE, params_text
from research.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def _package_data() -> list[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return meta["tool"]["setuptools"]["package-data"]["research"]


def _install_like_setuptools(site: Path) -> Path:
    """Copy what a wheel of this project holds (the modules and the package-data globs)
    into ``site``, without the checkout around it (no params.yaml, seeds/ or tests/)."""
    src = ROOT / "research"
    shipped = {f for f in src.rglob("*.py") if "__pycache__" not in f.parts}
    shipped |= {f for g in _package_data() for f in src.glob(g)}
    for f in shipped:
        (site / "research" / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, site / "research" / f.relative_to(src))
    return site


def test_shipped_template_is_the_repositorys_params_yaml() -> None:
    shipped = files("research").joinpath(TEMPLATE).read_text(encoding="utf-8")
    assert shipped == (ROOT / "params.yaml").read_text(encoding="utf-8"), (
        "research/resources/params.yaml differs from params.yaml: "
        "cp params.yaml research/resources/params.yaml"
    )
    assert any(fnmatch(TEMPLATE, g) for g in _package_data())  # it is in the wheel


def test_every_package_data_glob_matches_a_file() -> None:
    src = ROOT / "research"
    for g in _package_data():
        assert list(src.glob(g)), f"package-data glob {g!r} matches nothing"


def test_init_template_validates_against_the_schema(tmp_path) -> None:
    paths = {"corpus": "c", "codebook": "codebook.yaml", "annotations": "a.csv"}
    (tmp_path / "params.yaml").write_text(params_text(paths), encoding="utf-8")
    settings = load_settings(tmp_path / "params.yaml")
    assert settings.paths.corpus == "c" and settings.paths.annotations == "a.csv"


def test_init_from_an_installed_package_with_cwd_elsewhere(tmp_path) -> None:
    site = _install_like_setuptools(tmp_path / "site")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "MPLBACKEND": "Agg"}
    where = subprocess.run(
        [sys.executable, "-c", "import research; print(research.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(site)  # the copy, not the checkout
    proc = subprocess.run(
        [sys.executable, "-m", "research", "init", "proj", "--no-dvc"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    proj = elsewhere / "proj"
    params = yaml.safe_load((proj / "params.yaml").read_text(encoding="utf-8"))
    assert params["paths"]["corpus"] == "corpus" and params["train"]
    assert (proj / "codebook.yaml").read_bytes() == (
        ROOT / "research/codebooks/womens_federation.yaml"
    ).read_bytes()
    load_settings(proj / "params.yaml")
