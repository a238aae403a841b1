"""The bundled codebook loads; every kind of broken user codebook gives a clear InputError."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from research.errors import InputError
from research.labels.codebook import BUNDLED, load_codebook, resolve_codebook_path

IDS = ["ideology", "employment", "rights", "family", "organization", "other"]


def test_bundled_codebook_loads_with_stable_ids():
    cb = load_codebook()
    assert cb.ids == IDS
    assert cb.domain_ids == IDS[:-1]
    assert cb.other_id == "other"
    assert cb.path == BUNDLED
    assert len(cb.fingerprint()) == 64
    for cid in cb.domain_ids:
        cat = cb[cid]
        assert 25 <= len(cat.seed_terms) <= 60, cid
        assert all(1 <= w <= 3 for w in cat.seed_terms.values())
        assert cat.heading_cues and cat.definition and cat.includes and cat.excludes
        assert cat.name_zh and cat.name_en and cat.department
    assert cb.label("rights", "zh") == "维权服务"
    assert cb.label("family") == "Family, family education and family values"
    assert cb.seed_terms["rights"]["两癌"] == 3
    assert "美丽庭院" in cb.seed_terms["family"]
    assert "巧媳妇" in cb.seed_terms["employment"]
    assert len(cb.rules) >= 8
    assert {r.assign for r in cb.rules} >= {
        "rights",
        "family",
        "employment",
        "organization",
        "other",
    }
    assert "rights" in cb and "nope" not in cb
    with pytest.raises(KeyError):
        cb["nope"]


def test_seed_terms_are_unique_across_domains():
    cb = load_codebook()
    terms = [t for d in cb.seed_terms.values() for t in d]
    assert len(terms) == len(set(terms))


def _raw() -> dict:
    return yaml.safe_load(BUNDLED.read_text(encoding="utf-8"))


def _write(tmp_path: Path, data, name: str = "cb.yaml") -> Path:
    p = tmp_path / name
    p.write_text(
        data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True),
        encoding="utf-8",
    )
    return p


def _cat(raw: dict, cid: str) -> dict:
    return next(c for c in raw["categories"] if c["id"] == cid)


def test_user_codebook_round_trips(tmp_path):
    p = _write(tmp_path, _raw())
    cb = load_codebook(p)
    assert cb.ids == IDS and cb.path == p


def _broken_variants():
    def drop_top(raw):
        del raw["version"]

    def dup_id(raw):
        raw["categories"][1]["id"] = "ideology"

    def no_residual(raw):
        del _cat(raw, "other")["residual"]

    def two_residual(raw):
        _cat(raw, "family")["residual"] = True

    def missing_definition(raw):
        del _cat(raw, "rights")["definition"]

    def empty_seeds(raw):
        _cat(raw, "family")["seed_terms"] = {}

    def bad_weight(raw):
        _cat(raw, "family")["seed_terms"]["家风"] = "high"

    def negative_weight(raw):
        _cat(raw, "family")["seed_terms"]["家风"] = -1

    def shared_term(raw):
        _cat(raw, "rights")["seed_terms"]["家风"] = 2

    def bad_id(raw):
        raw["categories"][0]["id"] = "Ideology Domain"

    def bad_list(raw):
        _cat(raw, "rights")["includes"] = [{"policy advocacy": "proposals"}]

    def bad_rule(raw):
        raw["rules"].append({"rule": "x", "assign": "sports"})

    def empty_categories(raw):
        raw["categories"] = []

    return {
        "missing required field(s): version": drop_top,
        "duplicate category id 'ideology'": dup_id,
        "exactly one category must be marked 'residual: true' (found 0": no_residual,
        "(found 2": two_residual,
        "category 'rights' is missing required field(s): definition": missing_definition,
        "category 'family': 'seed_terms' must list at least one term": empty_seeds,
        "weight of seed term '家风' must be a positive number, got 'high'": bad_weight,
        "weight of seed term '家风' must be a positive number, got -1": negative_weight,
        "seed term '家风' is listed under both 'rights' and 'family'": shared_term,
        "id must be a lower-case identifier": bad_id,
        "'includes' item #1 must be a non-empty string": bad_list,
        "assign 'sports' is not a category id": bad_rule,
        "'categories' must be a non-empty list": empty_categories,
    }


@pytest.mark.parametrize("expected", list(_broken_variants()))
def test_broken_codebook_names_file_and_problem(tmp_path, expected):
    raw = _raw()
    _broken_variants()[expected](raw)
    p = _write(tmp_path, raw, "user_codebook.yaml")
    with pytest.raises(InputError) as exc:
        load_codebook(p)
    assert exc.value.path == str(p)
    assert expected in exc.value.problem
    assert "user_codebook.yaml" in str(exc.value)


def test_missing_file_bad_yaml_and_wrong_shape(tmp_path):
    with pytest.raises(InputError, match="codebook file not found") as exc:
        load_codebook(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(exc.value)
    p = _write(tmp_path, "name: x\ncategories: [a, b\n", "bad.yaml")
    with pytest.raises(InputError, match="not valid YAML") as exc:
        load_codebook(p)
    assert exc.value.path == str(p)
    p = _write(tmp_path, "- just\n- a list\n", "list.yaml")
    with pytest.raises(InputError, match="must be a YAML mapping"):
        load_codebook(p)
    with pytest.raises(InputError, match="directory"):
        load_codebook(tmp_path)
    p = tmp_path / "gbk.yaml"
    p.write_bytes("name: 妇联\n".encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_codebook(p)


def test_resolve_codebook_path_prefers_explicit_then_params(tmp_path):
    assert resolve_codebook_path() == BUNDLED
    mine = _write(tmp_path, _raw())
    assert resolve_codebook_path(None, {"paths": {"codebook": str(mine)}}) == mine
    assert resolve_codebook_path(str(mine), {"paths": {"codebook": "other.yaml"}}) == mine
    # relative repo path resolves from the repo root when run from elsewhere
    rel = resolve_codebook_path("research/codebooks/womens_federation.yaml")
    assert rel.exists()
