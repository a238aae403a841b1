"""Character-level normalisation of report text, with a log of everything removed.

Order matters: line separators become ``\n`` and invisible/control characters are dropped
first; full-width letters and digits become half-width *before* pinyin annotations are
removed (so ``字(ｌｉ)`` is caught too), and pinyin is removed *before* traditional→simplified
conversion (OpenCC leaves ``領(lǐng)導(dǎo)`` intact, and left in they split 领导 and put junk
tokens such as ``ng`` and ``li`` into topics). Then whitespace is folded and ASCII
punctuation between Chinese characters becomes Chinese punctuation. Chinese punctuation is
kept. The result is idempotent: ``normalize_text(normalize_text(x)) == normalize_text(x)``
(checked by property tests).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from research.corpus.opencc_skip import changer
from research.settings import PrepareSettings, as_section

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{CJK}]")
_PINYIN_LETTERS = "a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜńňǹḿêếềɑ"
_TONE_MARKS = set("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿếề")
_VOWEL = re.compile(r"[aeiouüvāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ]", re.IGNORECASE)
# Invisible format characters (Unicode category Cf: zero-width spaces and joiners, BOM,
# bidi controls, soft hyphen, tags …), C0/C1 controls except line breaks and tabs, and lone
# surrogates (invalid Unicode that cannot be written to Parquet).
_FORMAT_RANGES = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f"
)
_INVISIBLE = re.compile(f"[{_FORMAT_RANGES}\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ud800-\udfff]")
# Other line and paragraph separators (vertical tab, form feed, file/group/record
# separators, NEL, U+2028/2029) become plain line breaks.
# (``\r\n`` is replaced first, then the rest is one character class: a fast scan.)
_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_FULLWIDTH_ALNUM = {
    **{chr(0xFF10 + i): chr(0x30 + i) for i in range(10)},
    **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
    **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
    "\uff05": "%",
    "\uff0e": ".",
}
_WIDTH_TABLE = str.maketrans(_FULLWIDTH_ALNUM)
# str.translate walks every character in Python-level dict lookups for non-ASCII text; a
# regex scan finds out first whether there is anything to translate.
_FULLWIDTH_RE = re.compile("[" + "".join(_FULLWIDTH_ALNUM) + "]")
_ASCII_TO_CJK_PUNCT = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？"}
# The patterns begin with the mark itself (the look-behind follows it and looks two
# characters back), so the regex engine scans for the mark instead of trying the
# look-behind at every position; the matches are the same.
_PUNCT_BETWEEN = re.compile(
    rf"([,;:!?])(?<=[{CJK}”’）)》」』][,;:!?])(?=[{CJK}“‘（(《「『]|\s*$)", re.M
)
_PUNCT_AFTER_CJK_END = re.compile(rf"([!?;])(?<=[{CJK}][!?;])$", re.M)
_SPACES = re.compile(r"[ \t\u3000\u00a0\u1680\u2000-\u200a\u202f\u205f\x1f]+")
_OTHER_SPACE = re.compile(r"[^\S \n]")  # whitespace other than a space or a line break
_SPACES_BREAK = re.compile(" +\n")
_BREAK_SPACES = re.compile("\n +")
_CJK_PUNCT = "，。、；：？！“”‘’（）《》「」『』【】…—"
# Runs of spaces before or after Chinese punctuation; both branches start with a space
# (the look-behind checks the character before it), for a fast scan.
_SPACE_NEAR_PUNCT = re.compile(rf" (?: *(?=[{_CJK_PUNCT}])|(?<=[{_CJK_PUNCT}] ) *)")


@dataclass
class Removal:
    """One thing normalisation removed, with its position in the input text."""

    kind: str
    text: str
    position: int


@dataclass
class NormalizeResult:
    text: str
    removed: list[Removal] = field(default_factory=list)


def _looks_like_pinyin(s: str) -> bool:
    return bool(_VOWEL.search(s)) and (any(c in _TONE_MARKS for c in s.lower()) or len(s) >= 2)


_PAREN_GROUP = re.compile(rf"[\(（]([{_PINYIN_LETTERS}]{{1,6}}[1-5]?)[\)）]")


def remove_pinyin(text: str) -> tuple[str, list[Removal]]:
    """Drop ``(pinyin)`` annotations after Chinese characters: 領(lǐng)導(dǎo) → 領導.

    One left-to-right pass that looks at the text as already cleaned, so a run of groups
    after one character (``字(zì)(zi4)``) is removed completely and a second pass finds
    nothing more (idempotent).
    """
    removed: list[Removal] = []
    out: list[str] = []
    last = 0
    prev = ""  # last character of the cleaned text so far
    for m in _PAREN_GROUP.finditer(text):
        before = text[last : m.start()]
        if before:
            prev = before[-1]
        if not (prev and _CJK_RE.match(prev) and _looks_like_pinyin(m.group(1))):
            continue
        out.append(before)
        removed.append(Removal("pinyin", m.group(0), m.start()))
        last = m.end()
    out.append(text[last:])
    return "".join(out), removed


@lru_cache(maxsize=4)
def _converter(config: str):
    import opencc

    cfg = config if config.endswith(".json") else f"{config}.json"
    try:
        return opencc.OpenCC(cfg)
    except Exception:
        return opencc.OpenCC(config)


def to_simplified(text: str, config: str = "t2s") -> str:
    """Traditional → simplified with OpenCC (character and phrase tables, offline).

    A text in which no changing dictionary key occurs is returned as it is, unconverted:
    the same result (see :mod:`research.corpus.opencc_skip`), at a fraction of the cost.
    """
    may_change = changer(config)
    if may_change is not None and not may_change(text):
        return text
    return _converter(config).convert(text)


def traditional_ratio(text: str, config: str = "t2s") -> float:
    """Share of CJK characters that OpenCC would change (0 for simplified text)."""
    points = _cjk_points(text)
    if not len(points):
        return 0.0
    cjk = points.tobytes().decode("utf-32-le")
    conv = to_simplified(cjk, config)
    if conv is cjk:  # nothing to convert
        return 0.0
    if len(conv) == len(cjk):  # compare code points in C rather than a Python loop
        b = np.frombuffer(conv.encode("utf-32-le"), dtype=np.uint32)
        return int(np.count_nonzero(points != b)) / len(cjk)
    changed = sum(map(str.__ne__, cjk, conv))
    return changed / len(cjk)


def _cjk_points(text: str) -> np.ndarray:
    """The code points of the CJK ideographs of ``text`` (the ``CJK`` ranges), in order.

    A vectorised scan: a regex substitution with a negated class is ~20x slower on long
    documents.
    """
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    mask = ((cp >= 0x3400) & (cp <= 0x4DBF)) | ((cp >= 0x4E00) & (cp <= 0x9FFF))
    mask |= (cp >= 0xF900) & (cp <= 0xFAFF)
    return cp[mask]


def cjk_count(text: str) -> int:
    """Number of CJK ideographs in ``text``."""
    return len(_cjk_points(text))


def _cjk_punct(m: re.Match) -> str:
    return _ASCII_TO_CJK_PUNCT[m.group(1)]


def normalize_with_log(
    text: str,
    to_simplified_mode: str = "always",
    opencc_config: str = "t2s",
    **_: object,
) -> NormalizeResult:
    """Normalise ``text`` and list what was removed (positions refer to the input text).

    ``to_simplified_mode``: ``always`` (safe for mixed text), ``auto`` (convert when more
    than 1% of CJK characters are traditional) or ``never``.
    """
    text = _LINE_BREAKS.sub("\n", text.replace("\r\n", "\n"))
    removed = [Removal("invisible", repr(m.group(0)), m.start()) for m in _INVISIBLE.finditer(text)]
    if removed:
        text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    if _FULLWIDTH_RE.search(text):
        text = text.translate(_WIDTH_TABLE)
    text, pinyin = remove_pinyin(text)
    removed.extend(pinyin)
    if to_simplified_mode == "always" or (
        to_simplified_mode == "auto" and traditional_ratio(text, opencc_config) > 0.01
    ):
        text = to_simplified(text, opencc_config)
    text = _SPACES.sub(" ", text)
    text = _SPACE_NEAR_PUNCT.sub("", text)
    text = _PUNCT_BETWEEN.sub(_cjk_punct, text)
    text = _PUNCT_AFTER_CJK_END.sub(_cjk_punct, text)
    text = _SPACE_NEAR_PUNCT.sub("", text)
    return NormalizeResult(strip_lines(text), removed)


def strip_lines(text: str) -> str:
    """Every line of ``text`` stripped: ``"\n".join(line.strip() for line in lines)``.

    After the steps above the only whitespace left is spaces and line breaks, so spaces
    next to a line break are removed by two regex scans instead of a Python loop over
    lines; a text with other whitespace takes the loop.
    """
    if _OTHER_SPACE.search(text) is not None:
        return "\n".join(line.strip() for line in text.split("\n"))
    return _BREAK_SPACES.sub("\n", _SPACES_BREAK.sub("\n", text)).strip(" ")


def normalize_text(
    text: str, to_simplified_mode: str = "always", opencc_config: str = "t2s", **kw: object
) -> str:
    """Normalised text only (see :func:`normalize_with_log`); used by ``predict`` on tables."""
    return normalize_with_log(text, to_simplified_mode, opencc_config).text


def normalize_params(prepare: PrepareSettings | dict | None) -> dict:
    """Keyword arguments for :func:`normalize_text` from the params ``prepare`` section."""
    p = as_section(PrepareSettings, prepare)
    return {"to_simplified_mode": p.to_simplified, "opencc_config": p.opencc_config}
