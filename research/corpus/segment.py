"""Split a normalised report into typed units, repairing what page layout broke.

Input is the normalised text (see :mod:`research.corpus.normalize`); output is the repaired
document text and its units, each with character offsets into that text. The rules, in
order:

1. **Blocks**: every non-empty line is a block; the number of blank lines around it is kept.
2. **Kinds**: ``meta`` (datelines, sources, ``分享到:``, URLs), ``byline`` (``本报记者 李娜``),
   ``heading`` (short lines without closing punctuation, balanced quotes), else ``body``.
3. **Paragraph repair**: a body block that ends mid-sentence (no closing punctuation, a
   trailing comma, or an open quote) is joined with its continuation: the first body block
   whose first characters form a dictionary word with its last ones (``等女``+``性素质`` →
   女性), searched forward and then backward (layout can move a paragraph's tail above it),
   else — after a comma or open quote, or when the very next block is body — the next body
   block. The continuation moves to its head in the repaired text; the move is logged.
4. **Captions**: short single-sentence blocks lying inside a repaired gap, or isolated by
   two or more blank lines on both sides.
5. **Duplicates**: a body unit contained in earlier body text of the same document, or a
   long run of repeated sentences inside one, becomes a ``duplicate`` unit (one copy kept).
6. **Items**: body units are split into enumerated items (一是…二是…, (一)…(二)…, 第一…).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from research.corpus.normalize import CJK
from research.settings import PrepareSettings, as_section

_CLOSED = re.compile(r"[。！？!?；;…][”’」』）)\]》]*$")
_META = [
    re.compile(r"^[\(（]?\s*(https?://|www\.)\S+\s*[\)）]?$", re.I),
    re.compile(
        r"^(分享到|分享|打印|关闭窗口|责任编辑|编辑|来源|原标题|发布时间|发布日期|时间|日期|"
        r"浏览次数|点击数|阅读|字号|作者)\s*[:：]"
    ),
    re.compile(r"^\d{4}\s*[-/年.]\s*\d{1,2}\s*[-/月.]\s*\d{1,2}\s*日?(\s*\d{1,2}[:：]\d{2})?\s*$"),
    re.compile(r"^[\(（]\s*(来源|稿件来源|编辑)\s*[:：].{0,30}[\)）]$"),
]
# The four ``_META`` patterns as one alternation: one regex call per block instead of four.
_META_ANY = re.compile(
    "|".join(f"(?:{p.pattern})" for p in _META[1:]) + f"|(?i:{_META[0].pattern})"
)
_BYLINE_ROLE = r"(本报记者|本报通讯员|特约记者|通讯员|记者|文|图|摄影|供稿|撰稿)"
_NAME = rf"[{CJK}·]{{2,4}}"
_BYLINE = re.compile(
    rf"^[\(（]?\s*{_BYLINE_ROLE}\s*[:：/]?\s*{_NAME}"
    rf"([\s、，,]+({_BYLINE_ROLE}\s*[:：/]?\s*)?{_NAME})*\s*[\)）]?$"
)
_TRAILING_BYLINE = re.compile(rf"[\(（]\s*{_BYLINE_ROLE}\s*[:：]?\s*{_NAME}(\s+{_NAME})*\s*[\)）]$")
_BYLINE_ENDS = (")", "）", ")\n", "）\n")  # how a text with a trailing byline ends
_PARA_START = re.compile(
    r"^([\(（][一二三四五六七八九十]+[\)）]|[一二三四五六七八九十]+[是、]|第[一二三四五六七八九十]+[，、,])"
)
_SENT = re.compile(r"[^。！？!?；;]*[。！？!?；;]+[”’」』）)]*|[^。！？!?；;]+$")
_KEY_DROP = re.compile(rf"[^{CJK}A-Za-z0-9]")
# ``text_key`` with the sentence enders of ``_SENT`` kept: split on runs of enders, it gives
# the keys of a text's sentences in one regex pass (see :func:`sentence_keys`).
_SENT_ENDS = "。！？!?；;"
_KEY_DROP_KEEP_ENDS = re.compile(rf"[^{CJK}A-Za-z0-9{_SENT_ENDS}]+")
_END_RUNS = re.compile(f"[{_SENT_ENDS}]+")
_NUMS = "一二三四五六七八九十"
# Enumerated item markers. A marker counts only at the start of the text or after one of
# ``_ITEM_START`` (checked in :func:`split_items`; a look-behind at the start of the pattern
# would make the regex engine try every position instead of scanning for the marker).
_ITEM_START = frozenset("。；;！？!?：:")
_ITEM_PATTERNS = {
    "shi": re.compile(rf"([{_NUMS}]{{1,2}})是"),
    "paren": re.compile(rf"[\(（]([{_NUMS}]{{1,2}})[\)）]"),
    "di": re.compile(rf"第([{_NUMS}]{{1,2}})[，、,:：]"),
    "arabic": re.compile(r"([1-9][0-9]?)[、．]"),
}

# A marker family can only match when one of its characters occurs in the text.
_ITEM_CUES = {"shi": "是", "paren": "(（", "di": "第", "arabic": "、．"}
# Every marker of every family contains a match of this (a numeral, maybe a second digit,
# then 是, a closing bracket or a comma/colon mark); it starts with a character class, so
# the regex engine scans for it, and one scan rules most body units out.
_ANY_ITEM = re.compile(rf"[{_NUMS}1-9][{_NUMS}0-9]?[是)）、．，,:：]")

PAIRS = [("“", "”"), ("‘", "’"), ("（", "）"), ("(", ")"), ("《", "》"), ("「", "」"), ("『", "』")]


def cn_number(s: str) -> int:
    """Chinese numeral 一…九十九 (or Arabic digits) → int."""
    if s.isdigit():
        return int(s)
    vals = {c: i + 1 for i, c in enumerate(_NUMS[:9])}
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + vals.get(s[1], 0)
    if len(s) == 2 and s[1] == "十":
        return vals[s[0]] * 10
    if len(s) == 3 and s[1] == "十":
        return vals[s[0]] * 10 + vals[s[2]]
    return vals.get(s, 0)


def balanced(text: str) -> bool:
    """True when every opening quote/bracket in ``text`` is closed."""
    return all(text.count(a) == text.count(b) for a, b in PAIRS)


_CLOSERS = "”’」』）)]》"
_ENDERS = frozenset("。！？!?；;…")
_COMMA_CHARS = frozenset("，、：,:（(“‘《「—-")
_BYLINE_WINDOW = 256  # a trailing byline is looked for in the last this-many characters


def is_closed(text: str) -> bool:
    """True when ``text`` ends a sentence (。！？； …, optionally followed by closers).

    Same answer as ``_CLOSED.search(text)`` but it only looks at the end of the text, so
    repeated calls on a growing paragraph stay linear.
    """
    stripped = text.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _ENDERS


def _comma_end(text: str) -> bool:
    """True when ``text`` ends on a comma, colon, open bracket/quote or dash."""
    return bool(text) and text[-1] in _COMMA_CHARS


def text_key(text: str) -> str:
    """Comparison key: CJK, letters and digits only."""
    return _KEY_DROP.sub("", text)


def sentence_keys(text: str) -> list[str]:
    """``text_key`` of each sentence of ``text`` (``_SENT``'s), from one regex pass.

    Sentences end at runs of 。！？!?；; which ``text_key`` drops, so splitting the key with
    the enders kept on those runs gives the sentence keys in order (a last empty key when
    the text ends with a sentence end); ``"".join`` of them is ``text_key(text)``.
    """
    return _END_RUNS.split(_KEY_DROP_KEEP_ENDS.sub("", text))


@dataclass
class Block:
    index: int
    line: int  # 1-based line in the normalised text
    text: str
    blank_before: int
    blank_after: int
    kind: str = "body"


@dataclass
class Unit:
    kind: str
    text: str
    lines: list[int]
    heading: str = ""
    duplicate_of: int | None = None  # index into the unit list
    char_start: int = 0
    char_end: int = 0


@dataclass
class Item:
    unit_index: int
    item_no: int
    marker: str
    start: int  # offset inside the unit text
    end: int


@dataclass
class Repair:
    kind: str  # join | caption | duplicate | title
    detail: str
    unit_index: int


@dataclass
class Segmentation:
    """Repaired document text plus its units, items and the repairs made."""

    text: str
    units: list[Unit]
    items: list[Item] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)


@dataclass
class SegmentSettings:
    heading_max_chars: int = 60
    caption_max_chars: int = 40
    duplicate_min_chars: int = 12
    join_window: int = 40

    @classmethod
    def from_params(cls, prepare: PrepareSettings | dict | None) -> SegmentSettings:
        p = as_section(PrepareSettings, prepare)
        return cls(
            heading_max_chars=p.heading_max_chars,
            caption_max_chars=p.caption_max_chars,
            duplicate_min_chars=p.duplicate_min_chars,
            join_window=p.join_window,
        )


def split_blocks(text: str) -> list[Block]:
    """Non-empty lines with the count of blank lines before/after (document edges count 9)."""
    lines = text.split("\n")
    blocks: list[Block] = []
    blank = 9
    for no, line in enumerate(lines, 1):
        if line.strip():
            if blocks:
                blocks[-1].blank_after = blank
            blocks.append(Block(len(blocks), no, line.strip(), blank, 9))
            blank = 0
        else:
            blank += 1
    return blocks


def classify_block(text: str, s: SegmentSettings) -> str:
    """Initial kind of a block from its own text."""
    if _META_ANY.match(text):
        return "meta"
    if len(text) <= 40 and _BYLINE.match(text):
        return "byline"
    if (
        len(text) <= s.heading_max_chars
        and not is_closed(text)
        and balanced(text)
        and not _comma_end(text)
    ):
        return "heading"
    return "body"


def _is_open(text: str) -> bool:
    return not is_closed(text) and not _TRAILING_BYLINE.search(text[-_BYLINE_WINDOW:])


_CJK_CHAR = re.compile(f"[{CJK}]")


class _WordJoin:
    """Does a dictionary word span the boundary between two fragments? (segmenter, no HMM)."""

    def __init__(self) -> None:
        from research.corpus.tokenize import get_tokenizer

        self._tok = get_tokenizer()
        # jieba's prefix table lets most boundaries skip segmenting; rjieba needs no shortcut.
        self._freq = getattr(self._tok.jieba, "FREQ", None)
        self._memo: dict[tuple[str, str], bool] = {}

    def __call__(self, tail: str, head: str) -> bool:
        a, b = tail[-5:], head[:5]
        if not a or not b:
            return False
        if not (_CJK_CHAR.match(a[-1]) and _CJK_CHAR.match(b[0])):
            return False
        # A token crossing the boundary is a dictionary word starting inside ``a``, so some
        # ``a[k:] + b[0]`` is in jieba's prefix dictionary; without one, skip segmenting.
        freq = self._freq
        if freq is not None and not any(a[k:] + b[0] in freq for k in range(len(a))):
            return False
        key = (a, b)
        hit = self._memo.get(key)
        if hit is None:
            hit = False
            pos = 0
            for tok in self._tok.cut(a + b, hmm=False):
                if pos < len(a) < pos + len(tok):
                    hit = True
                    break
                pos += len(tok)
            if len(self._memo) > 100_000:
                self._memo.clear()
            self._memo[key] = hit
        return hit


_word_join: _WordJoin | None = None


def _spans(tail: str, head: str) -> bool:
    global _word_join
    if _word_join is None:
        _word_join = _WordJoin()
    return _word_join(tail, head)


class _Tail:
    """The growing text of a paragraph being repaired, kept cheap to query.

    Only its end (for word joins, closing punctuation and trailing bylines), its length and
    whether its quotes/brackets balance are needed, so long chains stay linear.
    """

    __slots__ = ("end", "length", "open_pairs")

    def __init__(self, text: str) -> None:
        self.end = text[-_BYLINE_WINDOW:]
        self.length = len(text)
        self.open_pairs = [text.count(a) - text.count(b) for a, b in PAIRS]

    def append(self, text: str) -> None:
        self.end = (self.end + text)[-_BYLINE_WINDOW:]
        self.length += len(text)
        for k, (a, b) in enumerate(PAIRS):
            self.open_pairs[k] += text.count(a) - text.count(b)

    def balanced(self) -> bool:
        return not any(self.open_pairs)

    def is_open(self) -> bool:
        return _is_open(self.end)


@dataclass
class _RepairState:
    """Blocks already joined into a paragraph (``consumed``) and the paragraphs being
    repaired (``heads``), shared by the continuation search of one document."""

    consumed: set[int] = field(default_factory=set)
    heads: set[int] = field(default_factory=set)
    joins: dict[int, list[int]] = field(default_factory=dict)


def _body_forward(blocks: list[Block], i: int, st: _RepairState, window: int) -> list[int]:
    """Free body blocks after block ``i`` within the join window (candidate continuations)."""
    end = min(len(blocks), i + 1 + window)
    return [
        j
        for j in range(i + 1, end)
        if j not in st.consumed and blocks[j].kind == "body" and j not in st.heads
    ]


def _body_backward(blocks: list[Block], i: int, st: _RepairState, window: int) -> list[int]:
    """Free body blocks before block ``i`` within the join window, nearest first, that do not
    open an enumerated paragraph (a paragraph's tail moved above it by the layout)."""
    return [
        j
        for j in range(i - 1, max(-1, i - 1 - window), -1)
        if j not in st.consumed
        and j not in st.heads
        and blocks[j].kind == "body"
        and not _PARA_START.match(blocks[j].text)
    ]


def _word_join_in(blocks: list[Block], candidates: list[int], tail: _Tail) -> int | None:
    """The first candidate whose start forms a dictionary word with the tail's end."""
    return next((j for j in candidates if _spans(tail.end, blocks[j].text)), None)


def _dangling_continuation(
    blocks: list[Block], body_fwd: list[int], tail: _Tail, s: SegmentSettings
) -> int | None:
    """After a comma, colon or open quote: the next body block that is not an isolated
    caption."""
    if not (_comma_end(tail.end) or not tail.balanced()):
        return None
    for j in body_fwd:
        b = blocks[j]
        if not (_looks_like_caption(b, s) and b.blank_before >= 2 and b.blank_after >= 2):
            return j
    return None


def _next_block_continuation(
    blocks: list[Block], i: int, body_fwd: list[int], tail: _Tail, s: SegmentSettings
) -> int | None:
    """A long open paragraph continues in the very next block when that is body text, not
    an enumerated start, and not separated by a blank line."""
    nxt = i + 1
    if (
        nxt in body_fwd
        and tail.length > s.heading_max_chars
        and not _PARA_START.match(blocks[nxt].text)
        and blocks[nxt].blank_before <= 1
    ):
        return nxt
    return None


def _find_continuation(
    blocks: list[Block], i: int, tail: _Tail, st: _RepairState, s: SegmentSettings
) -> int | None:
    """The block continuing the open paragraph that starts at block ``i``, if any: a word
    join forward, then backward, then a dangling or next-block continuation (the window
    stays around ``i`` however long the chain grows)."""
    body_fwd = _body_forward(blocks, i, st, s.join_window)
    j = _word_join_in(blocks, body_fwd, tail)
    if j is None:
        j = _word_join_in(blocks, _body_backward(blocks, i, st, s.join_window), tail)
    if j is None:
        j = _dangling_continuation(blocks, body_fwd, tail, s)
    if j is None:
        j = _next_block_continuation(blocks, i, body_fwd, tail, s)
    return j


def _looks_like_caption(b: Block, s: SegmentSettings) -> bool:
    """A short single statement ending in 。 — not an enumerated section lead such as
    （一）…。 and not a salutation or slogan ending in ！ (both occur in reports)."""
    if len(b.text) > s.caption_max_chars or not is_closed(b.text):
        return False
    if _PARA_START.match(b.text) or b.text.rstrip("”’」』）)")[-1:] not in ("。", "."):
        return False
    inner = b.text[:-1]
    return not re.search(r"[。！？!?；;]", inner.rstrip("”’」』）)"))


def segment(text: str, settings: SegmentSettings | None = None) -> Segmentation:
    """Segment normalised ``text`` into units (see module docstring for the rules)."""
    s = settings or SegmentSettings()
    blocks = split_blocks(text)
    for b in blocks:
        b.kind = classify_block(b.text, s)
    st = _repair_paragraphs(blocks, s)
    _mark_captions(blocks, st, s)
    units, para_groups, repairs = _assemble_units(blocks, st, _find_titles(blocks))
    units, para_groups, dup_repairs = _mark_duplicates(units, para_groups, s)
    repairs.extend(dup_repairs)
    doc_text = _set_offsets(units, para_groups)
    items = [it for ui, u in enumerate(units) if u.kind == "body" for it in split_items(u.text, ui)]
    return Segmentation(doc_text, units, items, repairs)


def _repair_paragraphs(blocks: list[Block], s: SegmentSettings) -> _RepairState:
    """Rule 3: join every open body block with its continuation blocks, in order."""
    st = _RepairState()
    for b in blocks:
        i = b.index
        if i in st.consumed or b.kind != "body" or not _is_open(b.text):
            continue
        st.heads.add(i)
        chain: list[int] = []
        tail = _Tail(b.text)
        while tail.is_open():
            j = _find_continuation(blocks, i, tail, st, s)
            if j is None:
                break
            chain.append(j)
            st.consumed.add(j)
            tail.append(blocks[j].text)
        if chain:
            st.joins[i] = chain
        else:
            st.heads.discard(i)
    return st


def _mark_captions(blocks: list[Block], st: _RepairState, s: SegmentSettings) -> None:
    """Rule 4: caption-like body blocks inside a repaired gap, or isolated by two or more
    blank lines on both sides, become captions."""
    depth = [0] * (len(blocks) + 1)  # how many repaired gaps (i, j) lie around each block
    for i, chain in st.joins.items():
        for j in chain:
            if j > i + 1:
                depth[i + 1] += 1
                depth[j] -= 1
    for k in range(1, len(depth)):
        depth[k] += depth[k - 1]
    for b in blocks:
        if b.kind != "body" or b.index in st.consumed or b.index in st.joins:
            continue
        if not _looks_like_caption(b, s):
            continue
        isolated = b.blank_before >= 2 and b.blank_after >= 2
        if depth[b.index] > 0 or isolated:
            b.kind = "caption"


def _find_titles(blocks: list[Block]) -> set[int]:
    """The title: the first heading before any body, or a heading followed by a byline or a
    ——subtitle (which belongs to the title too)."""
    titles: set[int] = set()
    first_body = next((b.index for b in blocks if b.kind == "body"), len(blocks))
    for b in blocks:
        if b.kind != "heading":
            continue
        nxt = blocks[b.index + 1] if b.index + 1 < len(blocks) else None
        if (b.index < first_body and not titles) or (
            nxt is not None and (nxt.kind == "byline" or nxt.text.startswith("——"))
        ):
            titles.add(b.index)
        if nxt is not None and b.index in titles and nxt.text.startswith("——"):
            titles.add(nxt.index)
    return titles


class _HeadingContext:
    """The section headings above the current block (consecutive headings stack)."""

    def __init__(self) -> None:
        self.headings: list[str] = []
        self.joined = ""  # " ".join(self.headings), kept in step with it
        self.last_kind = ""

    def update(self, b: Block, ptext: str, is_title: bool) -> str:
        """Take block ``b`` (paragraph text ``ptext``) in; the heading of a body unit."""
        if b.kind == "heading" and not is_title:
            stacked = self.last_kind == "heading_ctx"
            self.headings = self.headings + [ptext] if stacked else [ptext]
            self.joined = " ".join(self.headings)
            self.last_kind = "heading_ctx"
        else:
            self.last_kind = "title" if b.kind == "heading" else b.kind
        return self.joined if b.kind == "body" else ""


def _pieces(kind: str, ptext: str) -> list[tuple[str, str]]:
    """A paragraph as (kind, text) units: a body paragraph ending in a byline is split."""
    if kind == "body" and ptext.endswith(_BYLINE_ENDS):  # the pattern ends [\)）]$
        m = _TRAILING_BYLINE.search(ptext)
        if m and m.start() > 0:
            return [("body", ptext[: m.start()]), ("byline", ptext[m.start() :])]
    return [(kind, ptext)]


def _assemble_units(
    blocks: list[Block], st: _RepairState, titles: set[int]
) -> tuple[list[Unit], list[list[int]], list[Repair]]:
    """Paragraphs in repaired order as units (with their heading context), the unit indices
    of each paragraph, and the join / caption / title repairs."""
    units: list[Unit] = []
    repairs: list[Repair] = []
    para_groups: list[list[int]] = []  # unit indices per paragraph (contiguous, no separator)
    ctx = _HeadingContext()
    for b in blocks:
        if b.index in st.consumed:
            continue
        chain = st.joins.get(b.index)
        parts = [b, *(blocks[j] for j in chain)] if chain else [b]
        ptext = "".join([p.text for p in parts]) if chain else b.text
        lines = [p.line for p in parts]
        heading = ctx.update(b, ptext, b.index in titles)
        group: list[int] = []
        for kind, ptxt in _pieces(b.kind, ptext):
            units.append(Unit(kind, ptxt, lines, heading if kind == "body" else ""))
            group.append(len(units) - 1)
        para_groups.append(group)
        if len(parts) > 1:
            moved = ", ".join(str(p.line) for p in parts[1:])
            repairs.append(Repair("join", f"line {b.line} joined with line(s) {moved}", group[0]))
        if b.kind == "caption":
            repairs.append(Repair("caption", f"line {b.line}", group[0]))
        if b.index in titles:
            repairs.append(Repair("title", f"line {b.line}", group[0]))
    return units, para_groups, repairs


def _set_offsets(units: list[Unit], para_groups: list[list[int]]) -> str:
    """The repaired text (paragraphs separated by a blank line); sets each unit's offsets."""
    out: list[str] = []
    pos = 0
    for g, group in enumerate(para_groups):
        if g:
            out.append("\n\n")
            pos += 2
        for ui in group:
            u = units[ui]
            u.char_start, u.char_end = pos, pos + len(u.text)
            out.append(u.text)
            pos = u.char_end
    return "".join(out)


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENT.finditer(text) if m.group(0).strip()]


class _SeenIndex:
    """Exact substring search over the keys of the body text kept so far in a document.

    Equivalent to ``"|".join(keys).find(k)``; keys hold no ``|`` (they are ``text_key``
    output), so matches never cross units. While the kept text is short a plain
    ``str.find`` on the joined keys is used (fast in C). Beyond ``_INDEX_FROM`` characters
    every window of ``min_len`` characters inside a key is indexed as it is added
    (appended, never rebuilt), and a query is checked against the occurrences of its
    rarest window only, so checking every paragraph and sentence against all earlier text
    stays linear in the document length. Queries shorter than ``min_len``, and the rare
    queries whose windows all occur in many places without the query (adversarial
    repetition), use ``str.find`` on a joined copy that is rebuilt only when the text has
    doubled since the last build (amortised linear).

    ``ops`` counts characters indexed, compared and scanned: tests check its growth
    instead of wall-clock time.
    """

    _INDEX_FROM = 65_536
    _MAX_MISSES = 64

    def __init__(self, min_len: int) -> None:
        self.min_len = max(2, int(min_len))
        self.keys: list[str] = []
        self.offsets: list[int] = []  # start of each key in the joined string
        self.owners: list[int] = []
        self.windows: dict[str, list[int]] | None = None  # window -> start offsets, in order
        self.total = 0
        self.ops = 0
        self._joined = ""  # "".join(k + "|" for k in keys[:_n_joined])
        self._n_joined = 0

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, key: str, owner: int) -> None:
        self.keys.append(key)
        self.offsets.append(self.total)
        self.owners.append(owner)
        self.total += len(key) + 1
        if self.windows is None:
            if self.total < self._INDEX_FROM:
                self._joined += key + "|"
                self._n_joined += 1
                return
            self.windows = {}
            for idx in range(len(self.keys) - 1):
                self._index(idx)
        self._index(len(self.keys) - 1)

    def _index(self, idx: int) -> None:
        key, w, windows, base = self.keys[idx], self.min_len, self.windows, self.offsets[idx]
        assert windows is not None
        self.ops += len(key)
        for p in range(len(key) - w + 1):
            lst = windows.get(key[p : p + w])
            if lst is None:
                windows[key[p : p + w]] = [base + p]
            else:
                lst.append(base + p)

    def _plain_find(self, k: str) -> int:
        if self._n_joined < len(self.keys):
            if self.total >= 2 * len(self._joined) or not self._joined:
                self._joined = "".join(key + "|" for key in self.keys)
                self._n_joined = len(self.keys)
                self.ops += self.total
            else:  # search the joined part, then the keys added since
                self.ops += len(self._joined)
                pos = self._joined.find(k)
                if pos >= 0:
                    return pos
                tail = "".join(key + "|" for key in self.keys[self._n_joined :])
                self.ops += len(tail)
                pos = tail.find(k)
                return pos + len(self._joined) if pos >= 0 else -1
        self.ops += len(self._joined)
        return self._joined.find(k)

    def find(self, k: str) -> int:
        """Offset of the first occurrence of ``k`` in the joined keys, or -1."""
        w, windows = self.min_len, self.windows
        if windows is None or len(k) < w:
            return self._plain_find(k)
        self.ops += len(k)
        anchor, cands = 0, None
        for a in range(len(k) - w + 1):
            lst = windows.get(k[a : a + w])
            if lst is None:
                return -1
            if cands is None or len(lst) < len(cands):
                anchor, cands = a, lst
        assert cands is not None
        for misses, start in enumerate(cands):  # in text order: the first hit is the first
            if misses >= self._MAX_MISSES:
                return self._plain_find(k)
            pos = start - anchor
            idx = bisect.bisect_right(self.offsets, pos) - 1
            self.ops += len(k)
            if idx >= 0 and self.keys[idx].startswith(k, pos - self.offsets[idx]):
                return pos
        return -1

    def find_any(self, keys: list[str], min_len: int) -> bool:
        """Whether any of ``keys`` at least ``min_len`` long occurs (``find(k) >= 0``).

        While the kept text is short this is one ``in`` per key on the joined keys (the
        same scan, and the same op count, as :meth:`find` without its per-call overhead).
        """
        queries = [k for k in keys if len(k) >= min_len]
        if self.windows is None and self._n_joined == len(self.keys):
            joined = self._joined
            self.ops += len(joined) * len(queries)
            return any(k in joined for k in queries)
        return any(self.find(k) >= 0 for k in queries)

    def owner_of(self, pos: int) -> int:
        """Unit owning joined-string offset ``pos`` (0 when there is none)."""
        k = bisect.bisect_right(self.offsets, pos) - 1
        return self.owners[k] if k >= 0 else 0


def _mark_duplicates(
    units: list[Unit], groups: list[list[int]], s: SegmentSettings
) -> tuple[list[Unit], list[list[int]], list[Repair]]:
    seen = _SeenIndex(s.duplicate_min_chars)  # keys of kept body text
    new_units: list[Unit] = []
    new_groups: list[list[int]] = []
    repairs: list[Repair] = []

    for group in groups:
        ng: list[int] = []
        for ui in group:
            u = units[ui]
            sent_keys = sentence_keys(u.text) if u.kind == "body" else []
            key = "".join(sent_keys)
            pos = seen.find(key) if len(key) >= s.duplicate_min_chars else -1
            if pos >= 0:
                u.kind = "duplicate"
                u.duplicate_of = seen.owner_of(pos)
                new_units.append(u)
                repairs.append(
                    Repair("duplicate", f"repeats unit {u.duplicate_of}", len(new_units) - 1)
                )
                ng.append(len(new_units) - 1)
                continue
            pieces: list[tuple[str, str, int | None]] = [(u.kind, u.text, None)]
            if u.kind == "body":
                pieces = _split_repeated_runs(u.text, key, seen, s, sent_keys)
            for kind, txt, dup_of in pieces:
                if len(pieces) == 1 and kind == u.kind:  # kept whole: the unit itself
                    new_units.append(u)
                else:
                    heading = u.heading if kind == "body" else ""
                    new_units.append(Unit(kind, txt, u.lines, heading, dup_of))
                idx = len(new_units) - 1
                ng.append(idx)
                if kind == "duplicate":
                    repairs.append(Repair("duplicate", f"sentence run repeats unit {dup_of}", idx))
                elif kind == "body":
                    seen.add(key if txt is u.text else text_key(txt), idx)
        new_groups.append(ng)
    return new_units, new_groups, repairs


def _split_repeated_runs(
    text: str,
    key: str,
    seen: _SeenIndex,
    s: SegmentSettings,
    sent_keys: list[str] | None = None,
) -> list[tuple[str, str, int | None]]:
    """Split a body text (comparison key ``key``) into body / duplicate pieces where long
    sentence runs repeat. A text whose key is shorter than a long run stays whole, and so
    does one none of whose sentence keys (``sentence_keys(text)``) was seen before: that
    check needs no sentence offsets, which are found only for the rare text that repeats."""
    if len(key) < 2 * s.duplicate_min_chars or not seen:
        return [("body", text, None)]
    if sent_keys is None:
        sent_keys = sentence_keys(text)
    if not seen.find_any(sent_keys, s.duplicate_min_chars):
        return [("body", text, None)]
    sents = _sentences(text)
    if len(sents) < 2:
        return [("body", text, None)]
    found: list[int] = []  # position in ``seen`` of each repeated sentence, -1 if new
    for a, b in sents:
        key = text_key(text[a:b])
        found.append(seen.find(key) if len(key) >= s.duplicate_min_chars else -1)
    if all(f < 0 for f in found):
        return [("body", text, None)]
    # runs of consecutive sentences with the same repeated/new flag
    runs: list[list] = []  # [dup, start, end, first_found]
    for (a, b), f in zip(sents, found):
        dup = f >= 0
        if runs and runs[-1][0] == dup:
            runs[-1][2] = b
        else:
            runs.append([dup, a, b, f])
    runs[0][1] = 0
    runs[-1][2] = len(text)
    for k in range(1, len(runs)):
        runs[k][1] = runs[k - 1][2]
    # only long repeated runs become separate units
    merged: list[list] = []
    for dup, a, b, f in runs:
        if dup and len(text_key(text[a:b])) < 2 * s.duplicate_min_chars:
            dup = False
        if merged and merged[-1][0] == dup:
            merged[-1][2] = b
        else:
            merged.append([dup, a, b, f])
    return [
        ("duplicate", text[a:b], seen.owner_of(f)) if dup else ("body", text[a:b], None)
        for dup, a, b, f in merged
    ]


def split_items(text: str, unit_index: int = 0) -> list[Item]:
    """Enumerated items of a body unit; a unit without a numbered sequence is one item.

    A sequence needs at least two markers of one family numbered 1, 2, … in order, each at
    the start of the text or after sentence punctuation. Text before the first marker is
    item 0 (the lead).
    """
    best: list[tuple[int, int, str]] = []
    if _ANY_ITEM.search(text) is None:
        return [Item(unit_index, 1, "", 0, len(text))]
    for name, pat in _ITEM_PATTERNS.items():
        if not any(map(text.__contains__, _ITEM_CUES[name])):
            continue
        seq: list[tuple[int, int, str]] = []
        expect = 1
        for m in pat.finditer(text):
            start = m.start()
            if start and text[start - 1] not in _ITEM_START:
                continue
            n = cn_number(m.group(1))
            if n == expect:
                seq.append((m.start(), n, m.group(0)))
                expect += 1
        if len(seq) >= 2 and len(seq) > len(best):
            best = seq
    if not best:
        return [Item(unit_index, 1, "", 0, len(text))]
    items = []
    if best[0][0] > 0:
        items.append(Item(unit_index, 0, "", 0, best[0][0]))
    for k, (start, n, marker) in enumerate(best):
        end = best[k + 1][0] if k + 1 < len(best) else len(text)
        items.append(Item(unit_index, n, marker, start, end))
    return items
