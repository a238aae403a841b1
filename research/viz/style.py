"""One publication style for every figure: fonts, sizes, colours, and deterministic saving.

Why this module exists:
- Every figure in the package (and in the papers that use it) must look the same and stay
  readable at single-column width (``figures.width_in``, 3.5 in by default).
- One fixed, colour-blind-safe colour per codebook category (Okabe & Ito 2008 palette), so a
  domain has the same colour in the stacked bars, the heatmap legend, the trend lines ...
- Chinese labels must render. The CJK font comes from the project's own dependency
  ``mplfonts`` (Noto Sans CJK SC ships inside its wheel). ``mplfonts.use_font()`` alone
  leaves empty boxes, and a stale matplotlib font cache does the same, so we register the
  font *file* with ``fontManager.addfont`` on every call. Nothing is downloaded. Embedding
  a 16 MB CJK font in a PDF (a fontTools subset per file) was a third of the figures
  stage, so a subset of it with the GB2312 characters is cut once per machine and cached;
  characters outside it fall back to the full font, glyph for glyph the same.
- Saved files are byte-stable across runs (fixed SVG hash salt, no dates in metadata) and
  each figure is written beside the tidy table it was drawn from.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib import font_manager

from research.io import atomic_path, round_floats, write_table

# --- colours --------------------------------------------------------------------------
#: Okabe–Ito palette (colour-blind safe), by name.
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}
GREY = "#999999"

#: One fixed colour per category of the bundled codebook, used by every figure.
DOMAIN_COLORS: dict[str, str] = {
    "ideology": OKABE_ITO["vermillion"],
    "employment": OKABE_ITO["blue"],
    "rights": OKABE_ITO["reddish_purple"],
    "family": OKABE_ITO["orange"],
    "organization": OKABE_ITO["bluish_green"],
    "other": GREY,
}

# Colours handed out (in this order) to category ids a user's own codebook introduces.
# Okabe–Ito colours not used above first, then Paul Tol's "muted" scheme (also CVD-safe).
_EXTRA_COLORS: tuple[str, ...] = (
    OKABE_ITO["sky_blue"],
    OKABE_ITO["yellow"],
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
    OKABE_ITO["black"],
)

#: Sequential colour map for heatmaps (perceptually uniform, CVD-friendly).
SEQUENTIAL_CMAP = "cividis"
#: Diverging colour map for signed values (e.g. log-odds z-scores, emphasis - 1).
DIVERGING_CMAP = "PuOr_r"


def domain_colors(ids: Iterable[str], other_id: str | None = "other") -> dict[str, str]:
    """Colours for a list of category ids: fixed ones for known ids, the rest deterministic.

    Known ids (``DOMAIN_COLORS``) always get their fixed colour; the residual category
    (``other_id``) is grey; new ids get the unused palette colours in the order given, so
    the same codebook always gets the same colours. Beyond the palette, a colour is derived
    from a hash of the id (still deterministic, no longer guaranteed CVD-safe).
    """
    ids = list(dict.fromkeys(ids))
    out: dict[str, str] = {}
    used = set()
    for cid in ids:
        if cid in DOMAIN_COLORS:
            out[cid] = DOMAIN_COLORS[cid]
        elif other_id is not None and cid == other_id:
            out[cid] = GREY
        used.add(out.get(cid))
    free = [c for c in _EXTRA_COLORS if c not in used]
    for cid in ids:
        if cid in out:
            continue
        if free:
            out[cid] = free.pop(0)
        else:
            h = hashlib.sha256(cid.encode("utf-8")).hexdigest()
            out[cid] = f"#{h[:6]}"
    return out


# --- fonts ----------------------------------------------------------------------------
CJK_FAMILY = "Noto Sans CJK SC"
LATIN_FAMILY = "DejaVu Sans"
# Preference order of font files inside the installed mplfonts package.
_CJK_FILES = ("NotoSansCJKsc-Regular.otf", "SourceHanSansSC-Regular.otf", "SimHei.ttf")
_registered: dict[str, str] = {}


def cjk_font_path() -> Path:
    """Path of the CJK font file shipped inside the installed ``mplfonts`` package."""
    try:
        import mplfonts
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise RuntimeError("mplfonts is not installed; it provides the CJK font") from exc
    font_dir = Path(mplfonts.__file__).resolve().parent / "fonts"
    for name in _CJK_FILES:
        p = font_dir / name
        if p.exists():
            return p
    found = sorted(font_dir.glob("*CJK*")) + sorted(font_dir.glob("*.tt[fc]"))
    if not found:
        raise RuntimeError(f"no CJK font found in {font_dir}")
    return found[0]


_SUBSET_FAMILY = "Research CJK GB"
_SUBSET_PS_NAME = "ResearchCJKGB-Regular"
_SUBSET_VERSION = "1"  # bump when the character set or the build changes
# ASCII, Latin-1, punctuation, arrows, maths, CJK symbols, fullwidth forms (+ GB2312 below)
_SUBSET_RANGES = ((0x20, 0x7E), (0xA0, 0xFF), (0x2010, 0x206F), (0x2190, 0x22FF),
                  (0x3000, 0x303F), (0xFF00, 0xFFEF))  # fmt: skip


def font_cache_dir() -> Path:
    """Where derived fonts are cached: ``$RESEARCH_CACHE_DIR`` or ``$XDG_CACHE_HOME/research``
    (``~/.cache/research``), like matplotlib's own font cache."""
    root = os.environ.get("RESEARCH_CACHE_DIR")
    if root:
        return Path(root) / "fonts"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "research" / "fonts"


def _gb2312_text() -> str:
    chars = [chr(c) for lo, hi in _SUBSET_RANGES for c in range(lo, hi + 1)]
    for b1 in range(0xA1, 0xF8):
        for b2 in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.append(bytes([b1, b2]).decode("gb2312"))
    return "".join(chars)


def cjk_subset_path(source: Path | None = None) -> Path | None:
    """The cached GB2312 subset of the CJK font (built on first use, ~6 s); None if it
    cannot be built or written (the full font is then used alone)."""
    from fontTools import subset, version
    from fontTools.ttLib import TTFont

    source = source or cjk_font_path()
    st = source.stat()
    key = hashlib.sha1(
        f"{source.name}:{st.st_size}:{version}:{_SUBSET_VERSION}".encode()
    ).hexdigest()[:12]
    path = font_cache_dir() / f"{_SUBSET_PS_NAME}-{key}.otf"
    if path.exists():
        return path
    try:
        opts = subset.Options()
        opts.layout_features = []  # matplotlib does no OpenType shaping
        opts.name_IDs = ["*"]
        opts.notdef_outline = True
        font = TTFont(str(source), lazy=True)
        sub = subset.Subsetter(opts)
        sub.populate(text=_gb2312_text())
        sub.subset(font)
        names = {1: _SUBSET_FAMILY, 4: _SUBSET_FAMILY, 6: _SUBSET_PS_NAME, 16: _SUBSET_FAMILY}
        for rec in font["name"].names:
            if rec.nameID in names:
                rec.string = names[rec.nameID]
        if "CFF " in font:
            font["CFF "].cff.fontNames = [_SUBSET_PS_NAME]
        path.parent.mkdir(parents=True, exist_ok=True)
        # now, not with the stage's outputs: the caller opens it at once, and the cache is
        # the user's, not an output of the stage that happened to build it
        with atomic_path(path, defer=False) as tmp:
            font.save(str(tmp))
    except OSError:
        return None
    return path


def register_cjk_font() -> str:
    """Register the bundled CJK font with matplotlib (every time) and return its family name."""
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    family = font_manager.FontProperties(fname=str(path)).get_name()
    _registered[family] = str(path)
    return family


def cjk_families() -> list[str]:
    """CJK families in fallback order: the GB2312 subset (when it can be cached), the full font."""
    full = register_cjk_font()
    sub = cjk_subset_path(Path(_registered[full]))
    if sub is None:
        return [full]
    font_manager.fontManager.addfont(str(sub))
    family = font_manager.FontProperties(fname=str(sub)).get_name()
    _registered[family] = str(sub)
    return [family, full]


# --- rcParams -------------------------------------------------------------------------
BASE_FONT_SIZE = 8.0


def setup_style(
    language: str = "en", width_in: float = 3.5, font_size: float = BASE_FONT_SIZE
) -> str:
    """Apply the house style to matplotlib's rcParams; return the (full) CJK family registered.

    ``language`` ("en" or "zh") only changes the font order: Latin text is set in DejaVu Sans
    in both, CJK glyphs come from Noto Sans CJK SC (matplotlib's per-glyph font fallback).
    For "zh" the CJK font comes first so Chinese punctuation and digits match the Chinese.
    """
    if language not in {"en", "zh"}:
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    plt.rcdefaults()
    cjk = cjk_families()
    families = [LATIN_FAMILY, *cjk] if language == "en" else [*cjk, LATIN_FAMILY]
    small = font_size - 1
    matplotlib.rcParams.update(
        {
            # Explicit families, not the generic "sans-serif": matplotlib's per-glyph
            # fallback only walks a list of named families (a generic family resolves to one
            # font, and CJK glyphs then come out as empty boxes).
            "font.family": families,
            "font.sans-serif": families,
            "font.size": font_size,
            "axes.titlesize": font_size + 1,
            "axes.labelsize": font_size,
            "xtick.labelsize": small,
            "ytick.labelsize": small,
            "legend.fontsize": small,
            "legend.title_fontsize": font_size,
            "figure.titlesize": font_size + 1,
            "axes.unicode_minus": False,  # CJK fonts lack U+2212 in some versions
            "figure.figsize": (width_in, width_in * 0.75),
            "figure.dpi": 100,
            "figure.constrained_layout.use": True,
            "savefig.dpi": 300,
            "savefig.facecolor": "white",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.linewidth": 0.6,
            "axes.grid": False,
            "grid.linewidth": 0.4,
            "grid.color": "#DDDDDD",
            "xtick.major.width": 0.6,
            "ytick.major.width": 0.6,
            "xtick.major.size": 2.5,
            "ytick.major.size": 2.5,
            "lines.linewidth": 1.2,
            "lines.markersize": 4,
            "patch.linewidth": 0.4,
            "legend.frameon": False,
            "legend.handlelength": 1.2,
            "legend.borderaxespad": 0.3,
            # matplotlib re-exports cycler at runtime; its stubs do not declare it
            "axes.prop_cycle": matplotlib.cycler(  # type: ignore[attr-defined]
                color=list(DOMAIN_COLORS.values())
            ),
            "image.cmap": SEQUENTIAL_CMAP,
            # deterministic, font-embedding output
            "pdf.fonttype": 42,
            "ps.fonttype": 42,
            "svg.fonttype": "path",
            "svg.hashsalt": "research-figures",
            "path.simplify": True,
        }
    )
    return cjk[-1]


# --- labels ---------------------------------------------------------------------------
_LABEL_SEPARATORS = (" / ", "/", "／", ", ", "，", "、", " and ", " & ")


def short_label(label: str, max_chars: int) -> str:
    """Shorten a long category name at its first separator ("Employment and entrepreneurship"
    → "Employment", "就业创业/巾帼建功" → "就业创业") so legends fit a single column."""
    label = label.strip()
    while len(label) > max_chars:
        cut = [label.split(sep)[0].strip() for sep in _LABEL_SEPARATORS if sep in label]
        cut = [c for c in cut if c]
        if not cut:
            break
        best = min(cut, key=len)
        if best == label:
            break
        label = best
    return label


def category_label(cid: str, language: str = "en", codebook: Any = None, short: bool = True) -> str:
    """Label of a category id from the codebook (``name_en``/``name_zh``); the id if unknown.

    ``short`` (default) cuts long names at their first separator for legends and ticks.
    """
    label = cid.replace("_", " ").capitalize()
    if codebook is not None:
        with contextlib.suppress(Exception):
            label = str(codebook.label(cid, lang=language))
    if short:
        label = short_label(label, 22 if language == "en" else 6)
    return label


def load_project_codebook(path: str | Path | None = None) -> Any:
    """The project codebook (params ``paths.codebook``; ``None`` = bundled) for labels.

    A broken or missing user codebook is an error, never a quiet fall-back to other labels.
    """
    from research.labels.codebook import load_codebook, resolve_codebook_path

    return load_codebook(resolve_codebook_path(path))


# --- saving ---------------------------------------------------------------------------
_METADATA: dict[str, dict[str, Any]] = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    "svg": {"Date": None, "Creator": None},
    "png": {"Software": None},
    "eps": {"CreationDate": None},
    "ps": {"CreationDate": None},
}


# PDF + PNG by default; SVG (+23% saving time) only when params figures.formats asks.
DEFAULT_FORMATS: tuple[str, ...] = ("pdf", "png")


def save_with(
    fig: Any, data: pd.DataFrame | None, out_dir: str | Path, name: str, fig_p: Any
) -> list[Path]:
    """:func:`save_figure` with the formats and dpi of the ``figures`` settings ``fig_p``."""
    return save_figure(fig, data, out_dir, name, tuple(fig_p.formats), fig_p.dpi)


def save_figure(
    fig: matplotlib.figure.Figure,
    data: pd.DataFrame | None,
    out_dir: str | Path,
    name: str,
    formats: Sequence[str] = DEFAULT_FORMATS,
    dpi: int = 300,
    close: bool = True,
) -> list[Path]:
    """Write ``name.<fmt>`` for each format and ``name.csv`` (the data behind the figure).

    Writes are atomic (temp file + rename) and deterministic: fixed SVG hash salt, no
    dates or version strings in the metadata, floats in the CSV rounded to 6 decimals.
    Returns the paths written, figure formats first, the CSV last.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with matplotlib.rc_context({"svg.hashsalt": "research-figures"}):
        for fmt in formats:
            fmt = fmt.lower().lstrip(".")
            path = out_dir / f"{name}.{fmt}"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_METADATA.get(fmt))
            written.append(path)
    if data is not None:
        written.append(write_table(round_floats(data), out_dir / f"{name}.csv"))
    if close:
        plt.close(fig)
    return written
