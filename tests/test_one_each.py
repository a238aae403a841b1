"""One of each: the helpers the issue found copied are defined once in the package (a copy
under the same or the old name fails here), and the shared ones behave as their users need."""

from __future__ import annotations

import ast
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from research.corpus import prepare, tokenize
from research.corpus.tokenize import balanced_chunks
from research.io import is_blank

ROOT = Path(__file__).resolve().parent.parent
#: each defined exactly once at module level in research/
ONCE = (
    "library_versions",  # provenance: model cards and metrics
    "text_key",  # segment: the text identity of a unit (anchors, duplicates)
    "dictionary_proba",  # matcher: weak labels, the baseline and the classifier's prior
    "TermMatcher",  # matcher: the one seed-term matcher
    "balanced_chunks",  # tokenize: character-balanced work for the workers
    "is_blank",  # io: an empty table cell
    "atomic_path",  # io: temp file + rename
    "confidence_bins",  # evaluation: ECE and the reliability tables
)
#: copies and dead code removed under these names; they must not come back
GONE = (
    "DEFAULT_IDS",
    "ColumnText",
    "decode_bytes",
    "read_jsonl_corpus",
    "CSV_COLUMNS",
    "_blank",
    "_is_blank",
    "_split_by_chars",
    "_balanced_chunks",
)


def _module_level_names() -> Counter[str]:
    names: Counter[str] = Counter()
    for f in (ROOT / "research").rglob("*.py"):
        for node in ast.parse(f.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names[node.name] += 1
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_shared_helpers_are_defined_once_and_copies_are_gone() -> None:
    names = _module_level_names()
    assert {n: names[n] for n in ONCE} == dict.fromkeys(ONCE, 1)
    assert not [n for n in GONE if names[n]]
    assert prepare.balanced_chunks is tokenize.balanced_chunks  # prepare's workers use it


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 7])
def test_balanced_chunks_are_contiguous_complete_and_even(n_chunks) -> None:
    rng = np.random.default_rng(n_chunks)
    texts = ["字" * int(k) for k in rng.integers(1, 200, 60)]
    chunks = balanced_chunks(texts, n_chunks)
    assert [i for c in chunks for i in c] == list(range(len(texts)))
    assert len(chunks) == n_chunks
    sizes = [sum(len(texts[i]) for i in c) for c in chunks]
    assert max(sizes) - min(sizes) <= 2 * max(len(t) for t in texts)


@pytest.mark.parametrize(
    "value, blank",
    [
        (None, True),
        (math.nan, True),
        (pd.NA, True),
        ("  ", True),
        ("", True),
        ("0", False),
        (0, False),
        ("家庭", False),
    ],
)
def test_is_blank(value, blank) -> None:
    assert is_blank(value) is blank


RENAMES = {("os", "replace"), ("os", "rename")}


def test_files_are_renamed_into_place_only_by_io() -> None:
    """Atomic writes have one implementation (research/io.py: temp file + rename)."""
    found = []
    for f in (ROOT / "research").rglob("*.py"):
        if f.name == "io.py" and f.parent.name == "research":
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            fn = node.func if isinstance(node, ast.Call) else None
            if not (isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name)):
                continue
            if fn.value.id == "tempfile" or (fn.value.id, fn.attr) in RENAMES:
                found.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"a second atomic-write implementation: {found}"
