"""The prepare stage's fast paths match the plain definitions they replace (no timing).

Regexes were rewritten to start with a literal or a character class (so the regex engine
scans for it), counts moved from regex scans to ``str.split`` and numpy; each is compared
here with the straightforward form on generated text.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from research.corpus import normalize as nz
from research.corpus import segment as sg
from research.corpus import tokenize as tk
from research.corpus.prepare import _nonspace

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CJK = nz.CJK
text = st.text(
    alphabet=st.sampled_from(
        "妇联女性工作婦聯一二三十是第、．。；;！？!?：:，,（）()“”《》「」 \t\u3000\r\n\x0b\x85"
        "abcZ019.-/%@[`{~\u3400\u4dbf\u9fff\uf900\ufaff\U00020000\u200b"
    ),
    max_size=60,
)

# The definitions before the rewrite.
PUNCT_BETWEEN = re.compile(rf"(?<=[{CJK}”’）)》」』])([,;:!?])(?=[{CJK}“‘（(《「『]|\s*$)", re.M)
PUNCT_AFTER_CJK_END = re.compile(rf"(?<=[{CJK}])([!?;])$", re.M)
SPACE_NEAR_PUNCT = re.compile(rf" +(?=[{nz._CJK_PUNCT}])|(?<=[{nz._CJK_PUNCT}]) +")
LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
ASCII_MARK = re.compile(r"[A-Za-z0-9][!-/:-@\[-`{-~]|[!-/:-@\[-`{-~][A-Za-z0-9]")
_AFTER = r"(?:(?<=^)|(?<=[。；;！？!?：:]))"
ITEM_PATTERNS = {
    "shi": re.compile(rf"{_AFTER}([{sg._NUMS}]{{1,2}})是"),
    "paren": re.compile(rf"{_AFTER}[\(（]([{sg._NUMS}]{{1,2}})[\)）]"),
    "di": re.compile(rf"{_AFTER}第([{sg._NUMS}]{{1,2}})[，、,:：]"),
    "arabic": re.compile(rf"{_AFTER}([1-9][0-9]?)[、．]"),
}


def _sub(pattern: re.Pattern, s: str) -> str:
    return pattern.sub(lambda m: nz._ASCII_TO_CJK_PUNCT.get(m.group(1) or "", ""), s)


@settings(parent=FAST)
@given(text)
def test_rewritten_normalisation_regexes_match_the_originals(s: str) -> None:
    assert _sub(nz._PUNCT_BETWEEN, s) == _sub(PUNCT_BETWEEN, s)
    assert _sub(nz._PUNCT_AFTER_CJK_END, s) == _sub(PUNCT_AFTER_CJK_END, s)
    spaced = s.replace("\t", " ").replace("\u3000", "  ")
    assert nz._SPACE_NEAR_PUNCT.sub("", spaced) == SPACE_NEAR_PUNCT.sub("", spaced)
    assert nz._LINE_BREAKS.sub("\n", s.replace("\r\n", "\n")) == LINE_BREAKS.sub("\n", s)
    assert bool(tk._ASCII_MARK.search(s)) == bool(ASCII_MARK.search(s))


@settings(parent=FAST)
@given(text)
def test_counts_match_their_regex_definitions(s: str) -> None:
    assert nz.cjk_count(s) == len(re.sub(f"[^{CJK}]+", "", s))
    assert _nonspace(s) == len(re.sub(r"\s+", "", s))


def _items_with(patterns: dict, s: str) -> list[tuple[int, int, str]]:
    """The marker sequence split_items picks, with look-behind patterns (the old form)."""
    best: list[tuple[int, int, str]] = []
    for pat in patterns.values():
        seq, expect = [], 1
        for m in pat.finditer(s):
            n = sg.cn_number(m.group(1))
            if n == expect:
                seq.append((m.start(), n, m.group(0)))
                expect += 1
        if len(seq) >= 2 and len(seq) > len(best):
            best = seq
    return best


@settings(parent=FAST)
@given(st.text(alphabet=st.sampled_from("一二三四五十是第、．。；：:，,（）()12文"), max_size=40))
def test_item_markers_without_look_behind_match_the_originals(s: str) -> None:
    expected = _items_with(ITEM_PATTERNS, s)
    items = sg.split_items(s)
    got = [(it.start, it.item_no, it.marker) for it in items if it.marker]
    assert got == expected


def test_rjieba_is_used_without_its_default_segmenter() -> None:
    """Tokenising does not import the rjieba package (whose import loads a dictionary)."""
    code = (
        "import sys; from research.corpus.tokenize import Tokenizer, TokenizerSettings;"
        "t = Tokenizer(TokenizerSettings(segmenter='rjieba'));"
        "print(t.raw_tokens('妇联组织开展巾帼建功活动'), 'rjieba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("]")[-1].strip() == "False"
    assert "巾帼建功" in out.stdout


# ---------------------------------------------------------------- segmentation shortcuts
sentences = st.text(
    alphabet=st.sampled_from("妇联女性工作一二三是第、。；;！？!?：:，,（）()”’」』 ab1…—"),
    max_size=60,
)


@settings(parent=FAST)
@given(sentences)
def test_sentence_keys_are_the_keys_of_the_sentences(s: str) -> None:
    keys = sg.sentence_keys(s)
    assert "".join(keys) == sg.text_key(s)
    by_sentence = [sg.text_key(s[a:b]) for a, b in sg._sentences(s)]
    assert [k for k in keys if k] == [k for k in by_sentence if k]


@settings(parent=FAST)
@given(
    st.text(
        alphabet=st.sampled_from(
            "分享到来源编辑作者:：2024年-/.月日 0123（）()HhTtPpSsWw:/.a文记者李娜"
        ),
        max_size=30,
    )
)
def test_one_meta_regex_matches_like_the_four(s: str) -> None:
    assert bool(sg._META_ANY.match(s)) == any(p.match(s) for p in sg._META)


@settings(parent=FAST)
@given(st.text(alphabet=st.sampled_from("一二三十是第、．。；：:，,（）()12文"), max_size=40))
def test_item_prefilter_misses_no_marker(s: str) -> None:
    if sg._ANY_ITEM.search(s) is None:
        assert not any(p.search(s) for p in sg._ITEM_PATTERNS.values())


@settings(parent=FAST)
@given(st.text(alphabet=st.sampled_from("（(记者本报通讯员李娜王芳 :：)）\n。文"), max_size=30))
def test_trailing_byline_needs_a_closing_bracket_at_the_end(s: str) -> None:
    if not s.endswith(sg._BYLINE_ENDS):
        assert sg._TRAILING_BYLINE.search(s) is None


@settings(parent=FAST)
@given(
    st.lists(st.text(alphabet="abc", max_size=20), min_size=1, max_size=8),
    st.lists(st.text(alphabet="abc", max_size=12), max_size=8),
    st.integers(min_value=2, max_value=6),
)
def test_find_any_is_any_find(keys: list[str], queries: list[str], min_len: int) -> None:
    idx = sg._SeenIndex(min_len)
    for n, key in enumerate(keys):
        idx.add(key, n)
    expected = any(idx.find(q) >= 0 for q in queries if len(q) >= min_len)
    assert idx.find_any(queries, min_len) == expected


def test_joined_tokens_are_the_joined_token_lists() -> None:
    texts = [
        "妇联组织开展巾帼建功活动。",
        "",
        "2024-01-21 www.a.com 的，",
        "妇联组织开展巾帼建功活动。",
    ]
    settings = tk.TokenizerSettings.from_params({})
    expected = [" ".join(t) for t in tk.tokenize_many(texts, settings)]
    assert tk.tokenize_joined(texts, settings) == expected


# ---------------------------------------------------------------- OpenCC only where it changes text
def test_shipped_opencc_table_is_the_installed_dictionaries() -> None:
    from research.corpus import opencc_skip

    base = opencc_skip.opencc_dir()
    if base is None or not (base / "bin" / "opencc_dict").exists():
        pytest.skip("OpenCC's opencc_dict is not installed")
    assert opencc_skip.TABLE.read_text(encoding="utf-8") == opencc_skip.build_table()
    assert opencc_skip.changer("t2s") is not None  # so the skip is in use here


_phrases = ["深沈", "回覆", "一目瞭然", "沈阳", "覆盖", "瞭望", "什么", "什麼", "乾隆", "乾燥"]


@settings(parent=FAST)
@given(
    st.lists(
        st.sampled_from([*_phrases, *"妇联工作婦聯發展沈覆瞭么坏藉，。 a1\n\U00020000\uf900"]),
        max_size=20,
    )
)
def test_skipping_opencc_gives_what_opencc_gives(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert nz.to_simplified(text) == nz._converter("t2s").convert(text)
    assert nz.traditional_ratio(text) == _plain_ratio(text)


def _plain_ratio(text: str) -> float:
    cjk = re.sub(f"[^{CJK}]+", "", text)
    conv = nz._converter("t2s").convert(cjk)
    return sum(map(str.__ne__, cjk, conv)) / len(cjk) if cjk else 0.0


def test_opencc_is_always_run_when_the_table_does_not_fit(tmp_path, monkeypatch) -> None:
    from research.corpus import opencc_skip

    stale = tmp_path / "table.txt"
    stale.write_text("file t2s.json 0000\nchars 婦\n", encoding="utf-8")
    monkeypatch.setattr(opencc_skip, "TABLE", stale)
    opencc_skip.changer.cache_clear()
    try:
        assert opencc_skip.changer("t2s") is None  # the hashes do not match
        assert opencc_skip.changer("s2t") is None  # another configuration
        assert nz.to_simplified("深沈") == "深沉"
    finally:
        opencc_skip.changer.cache_clear()


@settings(parent=FAST)
@given(st.text(alphabet=st.sampled_from("  \n\n\t\u3000妇联a。"), max_size=40))
def test_lines_stripped_by_regex_as_by_the_loop(s: str) -> None:
    assert nz.strip_lines(s) == "\n".join(line.strip() for line in s.split("\n"))
