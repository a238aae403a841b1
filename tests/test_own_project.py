"""A user's own project, end to end: `research init`, a generated corpus without gold labels,
`research run` with paths from params (nothing read from seeds/), DVC templating."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from research.pipeline import render, stages

from .conftest import ROOT
from .own_project import audited_run, env, make_project, research, write_corpus

DVC = shutil.which("dvc") or (
    str(Path(sys.executable).parent / "dvc")
    if (Path(sys.executable).parent / "dvc").exists()
    else None
)


@pytest.fixture(scope="session")
def own_project(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess, list[str]]:
    """A generated project where `research run` has run once, with the files it opened."""
    proj = make_project(tmp_path_factory.mktemp("own") / "myproj")
    # --serial: every stage in this process, so the audit hook sees every file opened
    proc, opened = audited_run(proj, ["run", "--serial"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proj, proc, opened


def test_init_scaffolds_a_project(tmp_path):
    proj = tmp_path / "p"
    out = research(["init", str(proj), "--no-dvc"], cwd=tmp_path).stdout
    params = yaml.safe_load((proj / "params.yaml").read_text(encoding="utf-8"))
    assert params["paths"] == {
        "corpus": "corpus",
        "codebook": "codebook.yaml",
        "annotations": "annotations.csv",
        "data": "data",
        "reports": "reports",
        "models": "models",
    }
    assert params["train"] and params["topics"]  # the rest of the defaults come along
    for rel in ("codebook.yaml", "annotations.csv", "dvc.yaml"):
        assert (proj / rel).is_file(), rel
    header = (proj / "corpus" / "manifest.csv").read_text(encoding="utf-8-sig").strip()
    assert header.split(",")[:2] == ["file", "doc_id"]
    doc = (proj / "corpus" / "MANIFEST.md").read_text(encoding="utf-8")
    assert all(f"`{c}`" in doc for c in header.split(","))
    assert "/data/" in (proj / ".gitignore").read_text(encoding="utf-8")
    dvc = (proj / "dvc.yaml").read_text(encoding="utf-8")
    assert "${paths.corpus}" in dvc and "research/classify" not in dvc
    stages_ = yaml.safe_load(dvc)["stages"]
    assert "${paths.codebook}" in stages_["weak_labels"]["deps"]  # the user's codebook is tracked
    assert "${paths.annotations}" in stages_["train"]["deps"]
    # no gold yet: outputs that need gold are not declared (DVC fails on missing outputs)
    assert "classifier_cv.csv" not in dvc and "summary.json" in dvc
    # a second init keeps the user's edits
    (proj / "codebook.yaml").write_text("edited", encoding="utf-8")
    out = research(["init", str(proj), "--no-dvc"], cwd=tmp_path).stdout
    assert "kept" in out and (proj / "codebook.yaml").read_text(encoding="utf-8") == "edited"


@pytest.mark.skipif(DVC is None, reason="DVC not installed")
def test_init_runs_dvc_init_with_analytics_off(tmp_path):
    research(["init", str(tmp_path / "p")], cwd=tmp_path)
    config = (tmp_path / "p" / ".dvc" / "config").read_text(encoding="utf-8")
    assert "analytics = false" in config


def test_dvc_plots_are_static_images():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    assert dvc["plots"] and all(p.endswith(".png") for p in dvc["plots"])
    metrics = [m for st in dvc["stages"].values() for m in st.get("metrics", [])]
    assert [next(iter(m)) for m in metrics] == ["${paths.reports}/metrics/summary.json"]


def test_stage_commands_take_every_path_from_params():
    for st in stages():
        for part in (*st.cmd, *st.deps, *st.outs, *st.metrics):
            assert not part.startswith(("seeds", "data/", "models/", "reports/")), (st.name, part)
    params = {"paths": {"corpus": "mine", "data": "d", "annotations": "gold.csv"}}
    prepare = stages()[0]
    assert [render(a, params) for a in prepare.cmd] == [
        "prepare",
        "mine",
        "--out",
        "d/prepared",
        "--quiet",
    ]
    train = next(s for s in stages() if s.name == "train")
    assert render(" ".join(train.cmd), params).startswith("train gold.csv --units d/prepared")


def test_run_flags(tmp_path):
    proc = research(["run", "--only", "bogus"], cwd=ROOT, check=False)
    assert proc.returncode == 2 and "unknown stage 'bogus'" in proc.stderr
    proc = research(
        ["run", "--params", str(tmp_path / "none.yaml"), "--only", "prepare"],
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and "params file not found" in proc.stderr


def test_run_on_own_corpus_without_gold(own_project):
    proj, proc, opened = own_project
    params = yaml.safe_load((proj / "params.yaml").read_text(encoding="utf-8"))
    for st in stages():
        for path in (*st.outs, *st.metrics):
            assert (proj / render(path, params)).exists(), f"{st.name}: {path} missing"
    # the stages that need gold say in one line why they skipped
    stages_out = proc.stdout.split("=== research run: done", 1)[0]
    skipped = [ln for ln in stages_out.splitlines() if "skipped:" in ln]
    assert [ln.split()[0] for ln in skipped] == ["annotate", "learning-curve"]
    assert all("annotations.csv" in ln for ln in skipped)
    assert "training on the base set alone" in stages_out
    agreement = json.loads((proj / "reports/metrics/agreement.json").read_text(encoding="utf-8"))
    assert agreement["skipped"].startswith("skipped: annotations.csv")
    # the model was trained on the shipped base set and labels this corpus
    card = json.loads((proj / "models/classifier/model_card.json").read_text(encoding="utf-8"))
    assert card["codebook_fingerprint"]
    import pandas as pd

    pred = pd.read_parquet(proj / "data/predictions/units.parquet")
    assert len(pred) > 20 and pred["doc_id"].nunique() == 4
    assert (proj / "reports/figures/domain_shares.png").exists()
    assert "DeprecationWarning" not in proc.stderr + proc.stdout
    # the run ends with the headline results and warnings, and writes its report
    tail = proc.stdout.split("=== research run: done", 1)[1]
    assert "headline results:" in tail and "body_units" in tail and "warnings:" in tail
    summary = json.loads((proj / "reports/metrics/summary.json").read_text(encoding="utf-8"))
    assert 4 <= len(summary) <= 16 and all(isinstance(v, (int, float)) for v in summary.values())
    page = (proj / "reports/index.html").read_text(encoding="utf-8")
    from research.report import HOW_TO_READ

    for png in (proj / "reports/figures").glob("*.png"):
        assert f'src="figures/{png.name}"' in page and f"figures/{png.stem}.csv" in page
        how = HOW_TO_READ[png.stem]  # every figure has its text (test_pipeline)
        assert how.split(":")[0] in page.replace("&#x27;", "'")
    assert "<script" not in page and "http" not in page  # offline
    assert (proj / "reports/tables.xlsx").exists()
    # nothing under seeds/ was opened or listed
    seeds = str(ROOT / "seeds")
    read = [p for p in opened if p.startswith(seeds) or p.startswith("seeds")]
    assert opened and not read, read[:5]


@pytest.mark.slow
@pytest.mark.skipif(DVC is None, reason="DVC not installed")
def test_dvc_follows_params_paths(tmp_path):
    proj = make_project(tmp_path / "p", dvc=True)
    write_corpus(proj / "corpus2", n_docs=3)
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]

    def sh(cmd):
        p = subprocess.run(cmd, cwd=proj, capture_output=True, text=True, env=env())
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        return p.stdout

    sh(git + ["add", "-A"])
    sh(git + ["commit", "-qm", "project"])
    out = sh([DVC, "repro"])  # the whole pipeline, no gold: every declared output is written
    assert "Running stage 'report'" in out
    import pandas as pd

    assert len(pd.read_parquet(proj / "data/prepared/documents.parquet")) == 4
    sh(git + ["add", "-A"])
    sh(git + ["commit", "-qm", "lock"])
    sh([DVC, "exp", "run", "-S", "paths.corpus=corpus2", "prepare"])
    assert len(pd.read_parquet(proj / "data/prepared/documents.parquet")) == 3


NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def execute_notebook(path: Path, project: Path, monkeypatch) -> list[str]:
    """Run a notebook on ``project``; return the text it displayed (errors fail the test)."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("RESEARCH_PROJECT", str(project))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    texts = []
    for c in nb.cells:
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            assert o.get("output_type") != "error", (
                f"{path.name}: {o.get('ename')}: {o.get('evalue')}"
            )
            texts.append(o.get("text", "") + "".join(o.get("data", {}).get("text/markdown", "")))
    return texts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebooks_run_on_a_project_without_gold(path, own_project, monkeypatch):
    proj, _, _ = own_project
    before = sorted(p for p in proj.rglob("*") if p.is_file())
    texts = execute_notebook(path, proj, monkeypatch)
    after = sorted(p for p in proj.rglob("*") if p.is_file())
    assert after == before  # the notebooks never re-run the pipeline
    skipped = [t for t in texts if "Skipped:" in t]
    if path.name.startswith("02"):
        assert any("no gold labels" in t for t in skipped)
        assert any("agreement needs labels from at least two raters" in t for t in skipped)
        assert any(str(proj / "codebook.yaml") in t for t in texts)  # the project's codebook
    if path.name.startswith("05"):
        # everything but the share adjustment (it needs held-out predictions on gold) works
        assert skipped and all("adjusted_eval" in t for t in skipped)


def test_api_reference_is_current():
    from research.commands._api_docs import api_reference

    assert (ROOT / "docs" / "api.md").read_text(encoding="utf-8") == api_reference(), (
        "run: python -m research.commands._api_docs docs/api.md"
    )


def test_public_api_is_lazy_and_leaves_the_backend_alone():
    code = (
        "import sys, research; assert 'matplotlib' not in sys.modules and 'pandas' not in sys.modules;"
        "import matplotlib; matplotlib.use('svg'); import research.viz.style;"
        "research.set_style('zh'); print(matplotlib.get_backend())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env())
    assert out.returncode == 0 and out.stdout.strip() == "svg", out.stderr


def test_public_api_on_own_project(own_project, tmp_path):
    import pandas as pd

    import research

    proj = research.project(own_project[0])
    assert proj.codebook.path == own_project[0] / "codebook.yaml"
    units = proj.table("paragraphs.parquet").query("kind == 'body'")
    pred = research.predict(units, project=proj)
    assert len(pred) == len(units) and {"domain", "p_family"} <= set(pred.columns)
    docs = proj.table("documents.parquet")[["doc_id", "province"]]
    by_prov = research.shares(pred.merge(docs, on="doc_id"), by="province")
    assert set(by_prov["province"]) == {"河南", "四川"}
    sums = by_prov.groupby("province")["share"].sum()
    assert ((sums - 1).abs() < 1e-9).all()
    counted = research.shares(
        pd.DataFrame({"g": ["a", "a", "b"], "domain": ["x", "y", "x"]}), by="g"
    )
    assert counted.set_index(["g", "domain"])["share"].to_dict() == {
        ("a", "x"): 0.5,
        ("a", "y"): 0.5,
        ("b", "x"): 1.0,
        ("b", "y"): 0.0,
    }
    files = research.figure("domain_shares", project=proj, out=tmp_path)
    assert {p.suffix for p in files} >= {".png", ".csv"}
    with pytest.raises(research.MissingOutput, match="not available"):
        proj.table("seeded_eval.json")


def test_xlsx_input_to_predict(own_project, tmp_path):
    import pandas as pd

    proj = own_project[0]
    pd.DataFrame({"text": ["开展寻找最美家庭活动", "深化妇联改革"]}).to_excel(
        tmp_path / "in.xlsx", index=False
    )
    research(["predict", str(tmp_path / "in.xlsx"), "--out", str(tmp_path / "out.csv")], cwd=proj)
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == 2 and "domain" in out
