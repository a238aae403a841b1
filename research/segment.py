"""Split a normalised report into typed units, repairing what page layout broke.

Input is the normalised text (see :mod:`research.normalize`); output is the repaired
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

import re
from dataclasses import dataclass, field

from research.normalize import CJK

_CLOSED = re.compile(r"[。！？!?；;…][”’」』）)\]》]*$")
_COMMA_END = re.compile(r"[，、：,:（(“‘《「—-]$")
_META = [
    re.compile(r"^[\(（]?\s*(https?://|www\.)\S+\s*[\)）]?$", re.I),
    re.compile(
        r"^(分享到|分享|打印|关闭窗口|责任编辑|编辑|来源|原标题|发布时间|发布日期|时间|日期|"
        r"浏览次数|点击数|阅读|字号|作者)\s*[:：]"
    ),
    re.compile(r"^\d{4}\s*[-/年.]\s*\d{1,2}\s*[-/月.]\s*\d{1,2}\s*日?(\s*\d{1,2}[:：]\d{2})?\s*$"),
    re.compile(r"^[\(（]\s*(来源|稿件来源|编辑)\s*[:：].{0,30}[\)）]$"),
]
_BYLINE_ROLE = r"(本报记者|本报通讯员|特约记者|通讯员|记者|文|图|摄影|供稿|撰稿)"
_NAME = rf"[{CJK}·]{{2,4}}"
_BYLINE = re.compile(
    rf"^[\(（]?\s*{_BYLINE_ROLE}\s*[:：/]?\s*{_NAME}"
    rf"([\s、，,]+({_BYLINE_ROLE}\s*[:：/]?\s*)?{_NAME})*\s*[\)）]?$"
)
_TRAILING_BYLINE = re.compile(rf"[\(（]\s*{_BYLINE_ROLE}\s*[:：]?\s*{_NAME}(\s+{_NAME})*\s*[\)）]$")
_PARA_START = re.compile(r"^([\(（][一二三四五六七八九十]+[\)）]|[一二三四五六七八九十]+[是、]|第[一二三四五六七八九十]+[，、,])")
_SENT = re.compile(r"[^。！？!?；;]*[。！？!?；;]+[”’」』）)]*|[^。！？!?；;]+$")
_KEY_DROP = re.compile(rf"[^{CJK}A-Za-z0-9]")
_NUMS = "一二三四五六七八九十"
_ITEM_PATTERNS = {
    "shi": re.compile(rf"(?:(?<=^)|(?<=[。；;！？!?：:]))([{_NUMS}]{{1,2}})是"),
    "paren": re.compile(rf"(?:(?<=^)|(?<=[。；;！？!?：:]))[\(（]([{_NUMS}]{{1,2}})[\)）]"),
    "di": re.compile(rf"(?:(?<=^)|(?<=[。；;！？!?：:]))第([{_NUMS}]{{1,2}})[，、,:：]"),
    "arabic": re.compile(r"(?:(?<=^)|(?<=[。；;！？!?：:]))([1-9][0-9]?)[、．]"),
}

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


def is_closed(text: str) -> bool:
    """True when ``text`` ends a sentence (。！？； …, optionally followed by closers)."""
    return bool(_CLOSED.search(text))


def text_key(text: str) -> str:
    """Comparison key: CJK, letters and digits only."""
    return _KEY_DROP.sub("", text)


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
    def from_params(cls, prepare: dict | None) -> "SegmentSettings":
        p = prepare or {}
        return cls(
            heading_max_chars=int(p.get("heading_max_chars", 60)),
            caption_max_chars=int(p.get("caption_max_chars", 40)),
            duplicate_min_chars=int(p.get("duplicate_min_chars", 12)),
            join_window=int(p.get("join_window", 40)),
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
    if any(p.match(text) for p in _META):
        return "meta"
    if len(text) <= 40 and _BYLINE.match(text):
        return "byline"
    if (
        not is_closed(text)
        and len(text) <= s.heading_max_chars
        and balanced(text)
        and not _COMMA_END.search(text)
    ):
        return "heading"
    return "body"


def _is_open(text: str) -> bool:
    return not is_closed(text) and not _TRAILING_BYLINE.search(text)


class _WordJoin:
    """Does a dictionary word span the boundary between two fragments? (jieba, no HMM)."""

    def __init__(self) -> None:
        from research.tokenize import get_tokenizer

        self._jieba = get_tokenizer().jieba

    def __call__(self, tail: str, head: str) -> bool:
        a, b = tail[-5:], head[:5]
        if not a or not b:
            return False
        if not (re.match(f"[{CJK}]", a[-1]) and re.match(f"[{CJK}]", b[0])):
            return False
        pos = 0
        for tok in self._jieba.lcut(a + b, HMM=False):
            if pos < len(a) < pos + len(tok):
                return True
            pos += len(tok)
        return False


_word_join: _WordJoin | None = None


def _spans(tail: str, head: str) -> bool:
    global _word_join
    if _word_join is None:
        _word_join = _WordJoin()
    return _word_join(tail, head)


def _find_continuation(
    blocks: list[Block], i: int, tail: str, consumed: set[int], heads: set[int], s: SegmentSettings
) -> int | None:
    n = len(blocks)
    fwd = [j for j in range(i + 1, min(n, i + 1 + s.join_window)) if j not in consumed]
    body_fwd = [j for j in fwd if blocks[j].kind == "body" and j not in heads]
    for j in body_fwd:
        if _spans(tail, blocks[j].text):
            return j
    back = [
        j for j in range(i - 1, max(-1, i - 1 - s.join_window), -1)
        if j not in consumed and j not in heads and blocks[j].kind == "body"
        and not _PARA_START.match(blocks[j].text)
    ]
    for j in back:
        if _spans(tail, blocks[j].text):
            return j
    dangling = bool(_COMMA_END.search(tail)) or not balanced(tail)
    if dangling:
        for j in body_fwd:
            b = blocks[j]
            if not (_looks_like_caption(b, s) and b.blank_before >= 2 and b.blank_after >= 2):
                return j
    nxt = i + 1
    if (
        nxt < n and nxt in body_fwd and len(tail) > s.heading_max_chars
        and not _PARA_START.match(blocks[nxt].text) and blocks[nxt].blank_before <= 1
    ):
        return nxt
    return None


def _looks_like_caption(b: Block, s: SegmentSettings) -> bool:
    if len(b.text) > s.caption_max_chars or not is_closed(b.text):
        return False
    inner = b.text[:-1]
    return not re.search(r"[。！？!?；;]", inner.rstrip("”’」』）)"))


def segment(text: str, settings: SegmentSettings | None = None) -> Segmentation:
    """Segment normalised ``text`` into units (see module docstring for the rules)."""
    s = settings or SegmentSettings()
    blocks = split_blocks(text)
    for b in blocks:
        b.kind = classify_block(b.text, s)

    # 3. paragraph repair
    consumed: set[int] = set()
    joins: dict[int, list[int]] = {}
    heads: set[int] = set()
    for b in blocks:
        i = b.index
        if i in consumed or b.kind != "body" or not _is_open(b.text):
            continue
        heads.add(i)
        chain: list[int] = []
        tail = b.text
        last = i
        while _is_open(tail):
            j = _find_continuation(blocks, last if not chain else i, tail, consumed | {i}, heads, s)
            if j is None:
                break
            chain.append(j)
            consumed.add(j)
            tail = tail + blocks[j].text
            last = j
        if chain:
            joins[i] = chain
        else:
            heads.discard(i)

    # 4. captions: inside a repaired gap, or isolated by >= 2 blank lines on both sides
    gaps = [(i, j) for i, chain in joins.items() for j in chain if j > i]
    for b in blocks:
        if b.kind != "body" or b.index in consumed or b.index in joins:
            continue
        if not _looks_like_caption(b, s):
            continue
        in_gap = any(i < b.index < j for i, j in gaps)
        isolated = b.blank_before >= 2 and b.blank_after >= 2
        if in_gap or isolated:
            b.kind = "caption"

    # title: first heading before any body, or a heading followed by a byline / ——subtitle
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

    # assemble paragraphs in repaired order
    units: list[Unit] = []
    repairs: list[Repair] = []
    para_groups: list[list[int]] = []  # unit indices per paragraph (contiguous, no separator)
    heading_ctx: list[str] = []
    last_kind = ""
    for b in blocks:
        if b.index in consumed:
            continue
        parts = [b] + [blocks[j] for j in joins.get(b.index, [])]
        ptext = "".join(p.text for p in parts)
        lines = [p.line for p in parts]
        if b.kind == "heading":
            if b.index in titles:
                kind_heading_ctx = False
            else:
                kind_heading_ctx = True
            if kind_heading_ctx:
                heading_ctx = heading_ctx + [ptext] if last_kind == "heading_ctx" else [ptext]
            last_kind = "heading_ctx" if kind_heading_ctx else "title"
        else:
            last_kind = b.kind
        heading = " ".join(heading_ctx) if b.kind == "body" else ""
        group: list[int] = []
        pieces = [(b.kind, ptext)]
        if b.kind == "body":
            m = _TRAILING_BYLINE.search(ptext)
            if m and m.start() > 0:
                pieces = [("body", ptext[: m.start()]), ("byline", ptext[m.start():])]
        for kind, ptxt in pieces:
            units.append(Unit(kind, ptxt, lines, heading if kind == "body" else ""))
            group.append(len(units) - 1)
        para_groups.append(group)
        if len(parts) > 1:
            moved = [p.line for p in parts[1:]]
            repairs.append(
                Repair("join", f"line {b.line} joined with line(s) {', '.join(map(str, moved))}", group[0])
            )
        if b.kind == "caption":
            repairs.append(Repair("caption", f"line {b.line}", group[0]))
        if b.index in titles:
            repairs.append(Repair("title", f"line {b.line}", group[0]))

    # 5. duplicates (paragraph containment, then repeated sentence runs)
    units, para_groups, dup_repairs = _mark_duplicates(units, para_groups, s)
    repairs.extend(dup_repairs)

    # offsets in the repaired text
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
    doc_text = "".join(out)

    items = [it for ui, u in enumerate(units) if u.kind == "body" for it in split_items(u.text, ui)]
    return Segmentation(doc_text, units, items, repairs)


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENT.finditer(text) if m.group(0).strip()]


def _mark_duplicates(
    units: list[Unit], groups: list[list[int]], s: SegmentSettings
) -> tuple[list[Unit], list[list[int]], list[Repair]]:
    seen = ""  # keys of kept body text, separated so matches cannot cross units
    owners: list[tuple[int, int]] = []  # (start offset in seen, new unit index)
    new_units: list[Unit] = []
    new_groups: list[list[int]] = []
    repairs: list[Repair] = []
    old_to_new: dict[int, int] = {}

    def owner_of(pos: int) -> int:
        cand = [u for off, u in owners if off <= pos]
        return cand[-1] if cand else 0

    for group in groups:
        ng: list[int] = []
        for ui in group:
            u = units[ui]
            key = text_key(u.text)
            if u.kind == "body" and len(key) >= s.duplicate_min_chars and key in seen:
                u.kind = "duplicate"
                u.duplicate_of = owner_of(seen.index(key))
                new_units.append(u)
                repairs.append(Repair("duplicate", f"repeats unit {u.duplicate_of}", len(new_units) - 1))
                ng.append(len(new_units) - 1)
                continue
            pieces = [(u.kind, u.text, None)]
            if u.kind == "body":
                pieces = _split_repeated_runs(u.text, seen, s, owner_of)
            for kind, txt, dup_of in pieces:
                nu = Unit(kind, txt, u.lines, u.heading if kind == "body" else "", dup_of)
                new_units.append(nu)
                idx = len(new_units) - 1
                ng.append(idx)
                if kind == "duplicate":
                    repairs.append(Repair("duplicate", f"sentence run repeats unit {dup_of}", idx))
                elif kind == "body":
                    owners.append((len(seen), idx))
                    seen += text_key(txt) + "|"
            old_to_new[ui] = ng[0]
        new_groups.append(ng)
    return new_units, new_groups, repairs


def _split_repeated_runs(text, seen, s, owner_of):
    """Split a body text into body / duplicate pieces where long sentence runs repeat."""
    sents = _sentences(text)
    if len(sents) < 2 or not seen:
        return [("body", text, None)]
    found: list[int] = []  # position in ``seen`` of each repeated sentence, -1 if new
    for a, b in sents:
        k = text_key(text[a:b])
        found.append(seen.find(k) if len(k) >= s.duplicate_min_chars else -1)
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
        ("duplicate", text[a:b], owner_of(f)) if dup else ("body", text[a:b], None)
        for dup, a, b, f in merged
    ]


def split_items(text: str, unit_index: int = 0) -> list[Item]:
    """Enumerated items of a body unit; a unit without a numbered sequence is one item.

    A sequence needs at least two markers of one family numbered 1, 2, … in order, each at
    the start of the text or after sentence punctuation. Text before the first marker is
    item 0 (the lead).
    """
    best: list[tuple[int, int, str]] = []
    for pat in _ITEM_PATTERNS.values():
        seq: list[tuple[int, int, str]] = []
        expect = 1
        for m in pat.finditer(text):
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
