"""Figure style, saving and the registered analysis figures (fast, on synthetic tables)."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib import font_manager
from PIL import Image

from research.viz.registry import FIGURES, discover, run_figures
from research.viz.style import (
    CJK_FAMILY,
    DOMAIN_COLORS,
    category_label,
    cjk_font_path,
    domain_colors,
    save_figure,
    setup_style,
    short_label,
)


def test_cjk_font_comes_from_mplfonts_and_is_registered():
    path = cjk_font_path()
    assert "mplfonts" in str(path) and path.exists()
    fam = setup_style("zh")
    assert fam == CJK_FAMILY
    found = font_manager.findfont(
        font_manager.FontProperties(family=CJK_FAMILY), fallback_to_default=False
    )
    assert Path(found) == path and "DejaVu" not in found
    assert matplotlib.rcParams["pdf.fonttype"] == 42


@pytest.mark.parametrize("language", ["en", "zh"])
def test_chinese_label_renders_and_pdf_embeds_noto(tmp_path, language):
    setup_style(language)
    fig, ax = plt.subplots()
    ax.set_title("妇联工作领域 Work domains")
    ax.set_xticks([0, 1], ["思想引领", "家庭家教家风"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = save_figure(fig, None, tmp_path, "cjk", formats=("pdf", "png"))
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not missing, missing  # a missing glyph is an empty box
    pdf = paths[0].read_bytes()
    # embedded (Type 42 / CID): common characters from the cached GB2312 subset
    assert b"ResearchCJKGB" in pdf and b"FontFile2" in pdf
    assert b"NotoSansCJK" not in pdf  # nothing here needs the 16 MB font


def test_characters_outside_the_subset_fall_back_to_the_full_font_and_look_the_same(tmp_path):
    from fontTools.pens.recordingPen import RecordingPen
    from fontTools.ttLib import TTFont

    from research.viz.style import cjk_subset_path

    sub_path = cjk_subset_path()
    assert sub_path is not None and sub_path.stat().st_size < cjk_font_path().stat().st_size / 4
    full, sub = TTFont(str(cjk_font_path()), lazy=True), TTFont(str(sub_path), lazy=True)
    rare = "㙟"  # CJK Extension A: a place-name character outside GB2312
    assert ord(rare) not in sub.getBestCmap() and ord(rare) in full.getBestCmap()
    for ch in "妇联维权家风":  # the subset's glyphs are the full font's, outline for outline
        pens = []
        for font in (full, sub):
            pen = RecordingPen()
            font.getGlyphSet()[font.getBestCmap()[ord(ch)]].draw(pen)
            pens.append(pen.value)
        assert pens[0] == pens[1], ch
    setup_style("en")
    fig, ax = plt.subplots()
    ax.set_title("妇联 " + rare)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (pdf,) = save_figure(fig, None, tmp_path, "rare", formats=("pdf",))
    assert not [w for w in caught if "missing from font" in str(w.message)]
    data = pdf.read_bytes()
    assert b"ResearchCJKGB" in data and b"NotoSansCJK" in data


def test_first_figure_on_a_new_machine_builds_the_subset_font_inside_a_stage(tmp_path):
    """The per-user font cache empty (a new machine, CI): the subset font is built and used
    inside a stage's output set. It used to be renamed into place only when the stage
    ended, so `research figures` failed with FileNotFoundError on its first run. (A child
    process: matplotlib's font list must not keep a font of this test's folder.)"""
    import os
    import subprocess
    import sys

    script = """if True:
        import matplotlib; matplotlib.use("Agg")
        import matplotlib.pyplot as plt, sys
        from pathlib import Path
        from research.io import output_set
        from research.viz.style import cjk_families, cjk_subset_path, save_figure, setup_style
        out = Path(sys.argv[1])
        with output_set():
            assert cjk_families()[0] == "Research CJK GB"
            path = cjk_subset_path()
            assert path is not None and path.is_file() and path.is_relative_to(out), path
            setup_style("en")
            fig, ax = plt.subplots()
            ax.set_title("妇联")
            (pdf,) = save_figure(fig, None, out / "figures", "first", formats=("pdf",))
        assert b"ResearchCJKGB" in pdf.read_bytes()
    """
    env = {**os.environ, "RESEARCH_CACHE_DIR": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list((tmp_path / "cache" / "fonts").glob("*.otf"))


def test_save_figure_formats_dpi_data_and_determinism(tmp_path):
    def draw(out):
        setup_style("en")
        fig, ax = plt.subplots()
        ax.bar(["a", "b"], [1, 2], color=[DOMAIN_COLORS["family"], DOMAIN_COLORS["rights"]])
        return save_figure(fig, pd.DataFrame({"x": ["a", "b"], "y": [1 / 3, 2.0]}), out, "demo")

    p1 = draw(tmp_path / "one")
    p2 = draw(tmp_path / "two")
    assert [p.name for p in p1] == ["demo.pdf", "demo.png", "demo.csv"]
    dpi = Image.open(tmp_path / "one" / "demo.png").info["dpi"]
    assert round(dpi[0]) == 300 and round(dpi[1]) == 300
    assert pd.read_csv(p1[-1])["y"].tolist() == [0.333333, 2.0]
    for a, b in zip(p1, p2):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest(), (
            a.name
        )
    assert b"CreationDate" not in p1[0].read_bytes()


def test_domain_colours_fixed_distinct_and_deterministic():
    ids = ["ideology", "employment", "rights", "family", "organization", "other"]
    c = domain_colors(ids)
    assert c == {i: DOMAIN_COLORS[i] for i in ids} and len(set(c.values())) == 6
    user = domain_colors(["health", "family", "education", "misc"], other_id="misc")
    assert user["family"] == DOMAIN_COLORS["family"] and user["misc"] == "#999999"
    assert user == domain_colors(["health", "family", "education", "misc"], other_id="misc")
    assert len(set(user.values())) == 4
    many = domain_colors([f"c{i}" for i in range(30)])
    assert len(set(many.values())) == 30


def test_labels_english_and_chinese():
    class CB:
        def label(self, cid, lang="en"):
            return {"en": "Employment and entrepreneurship", "zh": "就业创业/巾帼建功"}[lang]

    assert category_label("employment", "en", CB()) == "Employment"
    assert category_label("employment", "zh", CB()) == "就业创业"
    assert (
        category_label("employment", "en", CB(), short=False) == "Employment and entrepreneurship"
    )
    assert category_label("new_id") == "New id"
    assert short_label("Family, family education and family values", 22) == "Family"


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Tables from `run_analysis` on the small synthetic project of test_analysis."""
    from research.analysis.pipeline import run_analysis
    from tests.test_analysis import _synthetic_project

    root = tmp_path_factory.mktemp("proj")
    params = _synthetic_project(root)
    params["analyse"]["n_boot"] = 40
    run_analysis(params, echo=None)
    return root, params


@pytest.mark.parametrize("language", ["en", "zh"])
def test_registered_analysis_figures(analysed, language):
    root, params = analysed
    mine = [
        "domain_shares",
        "province_heatmap",
        "year_trends",
        "province_trends",
        "province_tiles",
        "emphasis",
        "distinctive_terms",
        "share_adjustment",
        "campaign_names",
    ]
    assert set(mine) <= set(discover())
    out = root / f"fig-{language}"
    formats = ("pdf", "svg", "png") if language == "en" else ("png",)  # zh: PNG only, for speed
    params = {**params, "figures": {"formats": list(formats)}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_figures(root / "reports", out, params, language, names=mine, echo=None)
    assert not [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert all(not r.error and not r.skipped for r in res), [
        (r.name, r.error, r.skipped) for r in res
    ]
    for name in mine:
        for ext in (*formats, "csv"):
            assert (out / f"{name}.{ext}").stat().st_size > 0, (name, ext)
    shares = pd.read_csv(out / "domain_shares.csv")
    assert set(shares["source"]) == {"gold"} and set(shares["basis"]) == {"chars"}


def test_province_trends_never_join_different_places(analysed, tmp_path, monkeypatch):
    """One panel per province with reports in ≥ 2 years; a line only joins one place's
    reports over time (Zhengzhou 2017 → 2023), never Zhengzhou with Kaifeng."""
    import research.viz.analysis as va

    root, params = analysed
    docs = pd.read_csv(root / "reports/tables/documents.csv")
    extra = docs[docs["place"] == "郑州"].assign(doc_id="zz-2023", year=2023)
    (tmp_path / "tables").mkdir()
    pd.concat([docs, extra]).to_csv(tmp_path / "tables/documents.csv", index=False)
    figs = []
    monkeypatch.setattr(va, "_save", lambda fig, data, *a: figs.append((fig, data)) or [])
    va.province_trends(tmp_path, tmp_path, params, "en")
    fig, data = figs[0]
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible() and ax.get_title()}
    assert sorted(panels) == ["Henan (n=3)", "Shandong (n=2)"]
    lines = [ln for ln in panels["Henan (n=3)"].get_lines() if ln.get_linestyle() == "-"]
    n_domains = docs["domain"].nunique()
    assert len(lines) == n_domains and all(list(ln.get_xdata()) == [2017, 2023] for ln in lines)
    assert not [ln for ln in panels["Shandong (n=2)"].get_lines() if ln.get_linestyle() == "-"]
    assert set(data["province"]) == {"河南", "山东"}


def test_figures_skip_when_inputs_missing(tmp_path, capsys):
    discover()
    res = run_figures(tmp_path / "reports", tmp_path / "figs", {}, "en")
    assert res and all(r.skipped and not r.paths for r in res if r.name in FIGURES)
    assert "skip domain_shares" in capsys.readouterr().out
    assert not (tmp_path / "figs").exists() or not any((tmp_path / "figs").iterdir())


def test_figures_are_the_same_bytes_in_process_forked_and_in_loky_workers(
    analysed, tmp_path, monkeypatch
):
    import hashlib

    from research import workers

    root, params = analysed
    names = ["domain_shares", "emphasis", "province_heatmap"]

    def draw(tag: str, n_jobs: int, fork: bool) -> dict[str, str]:
        monkeypatch.setattr(workers, "can_fork", lambda: fork)
        p = {**params, "figures": {"formats": ["pdf", "png"], "n_jobs": n_jobs}}
        res = run_figures(root / "reports", tmp_path / tag, p, "en", names=names, echo=None)
        assert [r.name for r in res] == names and all(r.paths for r in res)
        return {
            f.name: hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted((tmp_path / tag).iterdir())
        }

    here = draw("here", 1, False)
    assert len(here) == 3 * len(names)
    assert draw("loky", 2, False) == here
    assert draw("forked", 2, True) == here
