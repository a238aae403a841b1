"""Property-based tests (hypothesis) for normalisation and segmentation.

Bounded example counts and sizes keep the file fast (a few seconds)."""

from __future__ import annotations

import unicodedata
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from research.corpus.normalize import normalize_text
from research.corpus.segment import _SeenIndex, segment, split_items

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SIMPLIFIED = "妇联女性素质提升工作开展巾帼宣讲活动家庭儿童权益组织改革建设服务中心市区县"
TRADITIONAL = "婦聯開展導領黨員權益組織團結發揚會議"
CJK_PUNCT = "，。、；：？！“”‘’（）《》「」『』【】…—"
FULLWIDTH = "０１２３４５６７８９ＡＢＣａｂｃ％．"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u2066\x00\x07\x1b\x7f\x9b"
SEPARATORS = "\r\x0b\x0c\x85\u2028\u2029"
SPACES = " \t\u3000\u00a0\u2003"
OTHER = "abcnglióǐ(),;:!?.-0123456789🎉👩"

any_text = st.text(
    alphabet=st.sampled_from(
        SIMPLIFIED
        + TRADITIONAL
        + CJK_PUNCT
        + FULLWIDTH
        + INVISIBLE
        + SEPARATORS
        + SPACES
        + OTHER
        + "\n"
    ),
    max_size=80,
)


def nonspace(text: str) -> Counter:
    return Counter(c for c in text if not c.isspace())


# ---------------------------------------------------------------- normalisation
@FAST
@given(any_text)
def test_normalize_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


@FAST
@given(any_text)
def test_no_invisible_or_control_characters_survive(text):
    out = normalize_text(text)
    assert all(
        c == "\n" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in out
    ), repr(out)
    assert "\r" not in out and "\t" not in out
    assert all(line == line.strip() for line in out.split("\n"))


@FAST
@given(st.text(alphabet=st.sampled_from(SIMPLIFIED + FULLWIDTH[:10] + "0123456789 "), max_size=60))
def test_fullwidth_digits_become_ascii(text):
    out = normalize_text(text)
    assert not any("０" <= c <= "９" for c in out)
    expected = [str(ord(c) - 0xFF10) if "０" <= c <= "９" else c for c in text if c.isdigit()]
    assert [c for c in out if c.isdigit()] == expected


@FAST
@given(
    st.text(
        alphabet=st.sampled_from(SIMPLIFIED + CJK_PUNCT + SPACES + "\n" + INVISIBLE), max_size=80
    )
)
def test_chinese_punctuation_kept(text):
    # No ASCII letters (so nothing looks like a pinyin annotation): every Chinese
    # punctuation mark survives, in order.
    out = normalize_text(text)
    assert [c for c in out if c in CJK_PUNCT] == [c for c in text if c in CJK_PUNCT]


# ---------------------------------------------------------------- segmentation
FRAGMENTS = [
    "市妇联",
    "开展",
    "巾帼",
    "宣讲活动",
    "等女",
    "性素质提升",
    "组织妇女参加培训",
    "深化改革",
    "一是",
    "二是",
    "三是",
    "(一)",
    "(二)",
    "（三）",
    "第一，",
    "第二，",
    "1、",
    "2、",
    "。",
    "，",
    "；",
    "：",
    "！",
    "？",
    "、",
    "“",
    "”",
    "《",
    "》",
    "（",
    "）",
    "\n",
    "\n",
    "\n\n",
    "\n\n\n",
    " ",
    "本报记者 李娜",
    "分享到:",
    "2024-01-21",
    "联合爱心企业关爱困境儿童。",
    "坚持改革创新",
    "https://example.org/a",
]
documents = st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join)


def check_segmentation(text: str) -> None:
    seg = segment(text)
    doc = seg.text
    covered = [0] * len(doc)
    for u in seg.units:
        assert doc[u.char_start : u.char_end] == u.text
        for k in range(u.char_start, u.char_end):
            covered[k] += 1
    for k, c in enumerate(doc):
        assert c.isspace() or covered[k] == 1, (k, c, covered[k])
    # nothing lost or invented: the repaired text has the same non-space characters
    assert nonspace(doc) == nonspace(text)
    for it in seg.items:
        u = seg.units[it.unit_index]
        assert u.kind == "body"
        assert 0 <= it.start <= it.end <= len(u.text)
    for ui, u in enumerate(seg.units):
        its = [it for it in seg.items if it.unit_index == ui]
        if its:
            assert "".join(u.text[it.start : it.end] for it in its) == u.text
    assert segment(text) == seg  # deterministic


@FAST
@given(documents)
def test_segmentation_provenance_on_generated_documents(text):
    check_segmentation(normalize_text(text))


@FAST
@given(any_text)
def test_segmentation_provenance_on_arbitrary_text(text):
    check_segmentation(normalize_text(text))


@FAST
@given(st.text(alphabet=st.sampled_from("一二三是、(（)）第，。；：1234567"), max_size=40))
def test_items_tile_their_unit(text):
    items = split_items(text)
    assert items[0].start == 0 and items[-1].end == len(text)
    for a, b in zip(items, items[1:]):
        assert a.end == b.start


# ---------------------------------------------------------------- duplicate index
class _AlwaysIndexed(_SeenIndex):
    _INDEX_FROM = 0
    _MAX_MISSES = 3


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="abc", max_size=30), min_size=1, max_size=12),
    st.lists(st.text(alphabet="abc", min_size=0, max_size=16), min_size=1, max_size=12),
    st.integers(min_value=2, max_value=8),
)
def test_seen_index_finds_exactly_what_str_find_finds(keys, queries, min_len):
    for cls in (_SeenIndex, _AlwaysIndexed):
        idx = cls(min_len)
        for n, key in enumerate(keys):
            idx.add(key, n)
        joined = "".join(k + "|" for k in keys)
        for q in queries + [k[1:9] for k in keys]:
            pos = idx.find(q)
            assert pos == joined.find(q), (q, cls.__name__)
            if pos >= 0 and q:
                owner = idx.owner_of(pos)
                assert q in keys[owner]
