"""The params schema: every bad setting is refused before any stage runs, naming key,
value and what is allowed; defaults live in the schema only."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from research.errors import InputError, ResearchError
from research.settings import Settings, load_settings, validate_params

ROOT = Path(__file__).resolve().parent.parent


def _err(data: dict) -> str:
    with pytest.raises(InputError) as exc:
        validate_params(data, "params.yaml")
    return str(exc.value)


def test_repo_params_validate_and_keep_their_values():
    s = load_settings(ROOT / "params.yaml")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    dumped = s.as_params()
    for name, sec in raw.items():
        if isinstance(sec, dict):
            for k, v in sec.items():
                assert dumped[name][k] == v, (name, k)
    assert s.weak_labels.min_score == 2.0


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        (
            {"prepare": {"to_simplified": True}},
            ["prepare.to_simplified", "True", "YAML boolean", "'always'"],
        ),
        ({"prepar": {}}, ["prepar", "unknown section", "did you mean 'prepare'"]),
        (
            {"prepare": {"min_cjk_ration": 0.1}},
            ["prepare.min_cjk_ration", "did you mean 'min_cjk_ratio'"],
        ),
        (
            {"prepare": {"heading_max_chars": -1}},
            ["prepare.heading_max_chars", "-1", "greater than or equal to 1"],
        ),
        ({"topics": {"no_above": -0.5}}, ["topics.no_above", "-0.5", "greater than 0"]),
        ({"topics": {"k": -2}}, ["topics.k", "-2", "greater than or equal to 2"]),
        ({"analyse": {"n_boot": -10}}, ["analyse.n_boot", "-10"]),
        (
            {"train": {"candidates": ["lr_plain", "xgboost"]}},
            ["train.candidates[1]", "'xgboost'", "'lr_seeded'"],
        ),
        ({"analyse": {"estimator": "pac"}}, ["analyse.estimator", "'pac'", "'pacc'"]),
        ({"analyse": {"bases": ["words"]}}, ["analyse.bases[0]", "'words'", "'chars'"]),
        ({"topics": {"backend": "mallet"}}, ["topics.backend", "'gensim'", "'tomotopy'"]),
        ({"prepare": {"join_window": "40"}}, ["prepare.join_window", "'40'", "integer"]),
        ({"tokenize": {"n_jobs": 0}}, ["tokenize.n_jobs", "-1 for all cores"]),
        (
            {"train": {"learning_curve": {"strategies": ["uncertain"]}}},
            ["train.learning_curve.strategies[0]", "'uncertain'", "'uncertainty'"],
        ),
        ({"train": {"gold_weight": 0}}, ["train.gold_weight", "greater than 0"]),
        ({"seed": "x"}, ["seed", "'x'"]),
    ],
)
def test_bad_settings_name_key_value_and_what_is_allowed(data, needles):
    msg = _err(data)
    assert msg.startswith("params.yaml: invalid parameters:")
    for n in needles:
        assert n in msg, (n, msg)


def test_all_problems_reported_together():
    msg = _err({"topics": {"k": -2, "no_above": 2.0}, "prepare": {"to_simplified": "yes"}})
    assert "topics.k" in msg and "topics.no_above" in msg and "prepare.to_simplified" in msg


def test_empty_sections_and_missing_file_sections_take_defaults():
    s = validate_params({"topics": None, "seed": 3})
    assert s.topics.k == 8 and s.seed == 3
    assert Settings().weak_labels.min_score == 2.0


def test_estimator_defaults_come_from_the_schema():
    """The 1.0-vs-2.0 disagreement of weak_labels.min_score cannot come back."""
    from research.classify.baselines import DictionaryBaseline
    from research.labels.weak_labels import DictionaryLabeller, heading_labels

    wl = Settings().weak_labels
    for cls in (DictionaryLabeller, DictionaryBaseline):
        sig = inspect.signature(cls.__init__)
        assert sig.parameters["min_score"].default == wl.min_score
        assert sig.parameters["min_margin"].default == wl.min_margin
    sig = inspect.signature(heading_labels)
    assert sig.parameters["min_score"].default == wl.heading_min_score


def test_section_overrides_are_validated():
    from research.config import section

    assert section({"topics": {"k": 5}}, "topics", k=6)["k"] == 6
    with pytest.raises(ResearchError, match="k = 1"):
        section({}, "topics", k=1)


def _cli(tmp_path: Path, params: dict, *args: str) -> subprocess.CompletedProcess:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "research", "--params", str(p), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )


def test_cli_refuses_bad_params_before_any_stage_runs(tmp_path):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    raw["analyse"]["n_boot"] = -10  # the last stage's key: nothing may run first
    r = _cli(tmp_path, raw, "run")
    assert r.returncode == 2, r.stderr
    assert "analyse.n_boot = -10" in r.stderr
    assert "===" not in r.stdout  # no stage started
    assert not (tmp_path / "data").exists()
    r = _cli(tmp_path, {"prepare": {"to_simplified": True}}, "prepare", str(ROOT / "seeds"))
    assert r.returncode == 2 and "prepare.to_simplified" in r.stderr
    assert not (tmp_path / "data").exists()


def test_codebook_unknown_field_is_refused(tmp_path):
    from research.labels.codebook import BUNDLED, load_codebook

    text = BUNDLED.read_text(encoding="utf-8").replace("heading_cues:", "heading_cue:", 1)
    p = tmp_path / "cb.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(
        InputError, match="unknown field 'heading_cue'; did you mean 'heading_cues'"
    ):
        load_codebook(p)


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/hostname", "sub/../../x.txt"])
def test_manifest_files_leaving_the_corpus_are_refused(tmp_path, bad):
    from research.corpus.ingest import read_manifest

    (tmp_path / "manifest.csv").write_text(f"file,doc_id,title\n{bad},d1,t\n", encoding="utf-8")
    with pytest.raises(InputError, match="leaves the corpus folder"):
        read_manifest(tmp_path)
