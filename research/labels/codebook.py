"""Load and validate the codebook: the categories every label, model and figure refers to.

The codebook is a YAML file (bundled: ``research/codebooks/womens_federation.yaml``; users
may pass their own via ``paths.codebook`` in params.yaml or ``--codebook``). Loading
validates it and raises :class:`research.errors.InputError` naming the file and the
problem, so a researcher bringing their own codebook sees what to fix.

Validation: top-level mapping with ``name``, ``version``, ``language`` and a non-empty
``categories`` list; every category has ``id`` (lower-case identifier, unique), ``name_zh``,
``name_en``, ``definition``; ``includes``/``excludes``/``rules``/``heading_cues`` are lists
of strings; exactly one category is marked ``residual: true``; every non-residual category
has a non-empty ``seed_terms`` mapping of term → positive number. A term listed under two
categories is an ERROR (not a warning): the dictionary labeller could not attribute it,
and a silent tie would bias the weak labels; leave ambiguous terms out instead. Top-level
``rules`` entries are strings or mappings with ``rule`` and optional ``assign`` (a category
id or ``by_content``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from research.errors import InputError

BUNDLED = Path(__file__).resolve().parent.parent / "codebooks" / "womens_federation.yaml"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_REQUIRED_TOP = ("name", "version", "language", "categories")
_REQUIRED_CAT = ("id", "name_zh", "name_en", "definition")
_LIST_FIELDS = ("includes", "excludes", "rules", "heading_cues")
_KNOWN_TOP = (*_REQUIRED_TOP, "instructions", "rules", "description")
_KNOWN_CAT = (*_REQUIRED_CAT, *_LIST_FIELDS, "department", "seed_terms", "residual")


def _check_keys(raw: dict, known: tuple[str, ...], where: str, p: Path) -> None:
    """Refuse unknown keys (a typo such as ``heading_cue:`` would otherwise be ignored)."""
    import difflib

    for k in raw:
        if k not in known:
            guess = difflib.get_close_matches(str(k), known, n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else f" (known: {', '.join(known)})"
            raise InputError(p, f"{where}unknown field {k!r}{hint}")


@dataclass(frozen=True)
class Category:
    """One codebook category (a work domain or the residual ``other``)."""

    id: str
    name_zh: str
    name_en: str
    department: str
    definition: str
    includes: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    seed_terms: dict[str, float] = field(default_factory=dict)
    heading_cues: list[str] = field(default_factory=list)
    residual: bool = False

    def label(self, lang: str = "en") -> str:
        """Display name in English (``en``) or Chinese (``zh``)."""
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class Rule:
    """A cross-domain decision rule; ``assign`` is a category id or ``by_content``."""

    rule: str
    assign: str = "by_content"


@dataclass(frozen=True)
class Codebook:
    """A validated codebook. Categories keep the file's order."""

    name: str
    version: str
    language: str
    categories: list[Category]
    rules: list[Rule]
    instructions: str
    path: Path

    @property
    def ids(self) -> list[str]:
        """All category ids in file order."""
        return [c.id for c in self.categories]

    @property
    def domain_ids(self) -> list[str]:
        """The ids of the work domains (every category except the residual one)."""
        return [c.id for c in self.categories if not c.residual]

    @property
    def other_id(self) -> str:
        """The id of the residual category."""
        return next(c.id for c in self.categories if c.residual)

    @property
    def seed_terms(self) -> dict[str, dict[str, float]]:
        """Seed terms per domain id: {id: {term: weight}} (residual category excluded)."""
        return {c.id: dict(c.seed_terms) for c in self.categories if not c.residual}

    @property
    def heading_cues(self) -> dict[str, list[str]]:
        """Heading cues per domain id."""
        return {c.id: list(c.heading_cues) for c in self.categories if not c.residual}

    def __getitem__(self, cid: str) -> Category:
        for c in self.categories:
            if c.id == cid:
                return c
        raise KeyError(f"unknown category id {cid!r}; codebook ids: {', '.join(self.ids)}")

    def __contains__(self, cid: object) -> bool:
        return cid in self.ids

    def __len__(self) -> int:
        return len(self.categories)

    def label(self, cid: str, lang: str = "en") -> str:
        """Display name of a category id in English (``en``) or Chinese (``zh``)."""
        return self[cid].label(lang)

    def fingerprint(self) -> str:
        """sha256 hex digest of the codebook file's bytes (recorded in model cards)."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def resolve_codebook_path(path: str | Path | None = None, params: Any = None) -> Path:
    """The codebook to use: explicit path, else ``params.paths.codebook``, else the bundled one.

    Relative paths that do not exist from the working directory are tried from the repo root.
    """
    if path is None and params:
        from research.settings import settings_of

        path = settings_of(params).paths.codebook
    if path is None:
        return BUNDLED
    p = Path(path)
    if not p.exists() and not p.is_absolute():
        from research.config import repo_root

        alt = repo_root() / p
        if alt.exists():
            return alt
    return p


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Read and validate a codebook YAML; ``None`` loads the bundled codebook."""
    p = Path(path) if path is not None else BUNDLED
    if not p.exists():
        raise InputError(p, "codebook file not found")
    if p.is_dir():
        raise InputError(p, "codebook path is a directory, expected a .yaml file")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(p, f"codebook is not UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InputError(p, f"codebook is not valid YAML: {exc}") from exc
    return _parse(raw, p)


def _parse(raw: Any, p: Path) -> Codebook:
    if not isinstance(raw, dict):
        raise InputError(
            p, "codebook must be a YAML mapping with name, version, language, categories"
        )
    _check_keys(raw, _KNOWN_TOP, "", p)
    missing = [k for k in _REQUIRED_TOP if k not in raw or raw[k] in (None, "")]
    if missing:
        raise InputError(p, f"codebook is missing required field(s): {', '.join(missing)}")
    cats_raw = raw["categories"]
    if not isinstance(cats_raw, list) or not cats_raw:
        raise InputError(p, "'categories' must be a non-empty list")
    cats = [_parse_category(c, i, p) for i, c in enumerate(cats_raw)]
    ids = _check_categories(cats, p)
    _check_seed_terms(cats, p)
    rules = [_parse_rule(r, i, p, ids) for i, r in enumerate(raw.get("rules") or [])]
    return Codebook(
        name=str(raw["name"]),
        version=str(raw["version"]),
        language=str(raw["language"]),
        categories=cats,
        rules=rules,
        instructions=str(raw.get("instructions") or ""),
        path=p,
    )


def _check_categories(cats: list[Category], p: Path) -> set[str]:
    """Unique ids, exactly one residual category and at least one domain beside it (every
    share and every classifier assumes this shape); returns the ids."""
    seen: set[str] = set()
    for c in cats:
        if c.id in seen:
            raise InputError(p, f"duplicate category id {c.id!r}")
        seen.add(c.id)
    residual = [c.id for c in cats if c.residual]
    if len(residual) != 1:
        raise InputError(
            p,
            "exactly one category must be marked 'residual: true' "
            f"(found {len(residual)}: {', '.join(residual) or 'none'})",
        )
    if len(cats) < 2:
        raise InputError(p, "a codebook needs at least one domain besides the residual category")
    return seen


def _check_seed_terms(cats: list[Category], p: Path) -> None:
    """Every domain has seed terms and no term belongs to two domains (the dictionary could
    not say which one a match is evidence for)."""
    owner: dict[str, str] = {}
    for c in cats:
        if c.residual:
            continue
        if not c.seed_terms:
            raise InputError(p, f"category {c.id!r}: 'seed_terms' must list at least one term")
        for term in c.seed_terms:
            if term in owner:
                raise InputError(
                    p,
                    f"seed term {term!r} is listed under both {owner[term]!r} and {c.id!r}; "
                    "a term may belong to one category only",
                )
            owner[term] = c.id


def _category_where(c: Any, i: int, p: Path) -> str:
    """How errors name category ``i`` (by id when it has one), after checking its shape,
    keys and required fields."""
    where = f"category #{i + 1}"
    if not isinstance(c, dict):
        raise InputError(p, f"{where} must be a mapping")
    if isinstance(c.get("id"), str):
        where = f"category {c['id']!r}"
    _check_keys(c, _KNOWN_CAT, f"{where}: ", p)
    missing = [k for k in _REQUIRED_CAT if k not in c or c[k] in (None, "")]
    if missing:
        raise InputError(p, f"{where} is missing required field(s): {', '.join(missing)}")
    cid = c["id"]
    if not isinstance(cid, str) or not _ID.match(cid):
        raise InputError(
            p, f"{where}: id must be a lower-case identifier like 'rights', got {cid!r}"
        )
    return where


def _string_lists(c: dict, where: str, p: Path) -> dict[str, list[str]]:
    """The category's list fields (includes, excludes, rules, heading cues) as stripped
    non-empty strings; YAML turns unquoted ``a: b`` items into mappings, hence the hint."""
    lists: dict[str, list[str]] = {}
    for name in _LIST_FIELDS:
        val = c.get(name) or []
        if not isinstance(val, list):
            raise InputError(p, f"{where}: '{name}' must be a list of strings")
        for j, x in enumerate(val):
            if not isinstance(x, str) or not x.strip():
                raise InputError(
                    p,
                    f"{where}: '{name}' item #{j + 1} must be a non-empty string, got {x!r} "
                    "(quote items that contain ': ')",
                )
        lists[name] = [x.strip() for x in val]
    return lists


def _seed_term_weights(c: dict, where: str, p: Path) -> dict[str, float]:
    """The category's ``seed_terms`` as term → positive weight, each term once."""
    terms_raw = c.get("seed_terms") or {}
    if not isinstance(terms_raw, dict):
        raise InputError(p, f"{where}: 'seed_terms' must be a mapping of term: weight")
    terms: dict[str, float] = {}
    for term, w in terms_raw.items():
        t = str(term).strip()
        if not t:
            raise InputError(p, f"{where}: empty seed term")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not w > 0 or w != w:
            raise InputError(
                p, f"{where}: weight of seed term {t!r} must be a positive number, got {w!r}"
            )
        if t in terms:
            raise InputError(p, f"{where}: seed term {t!r} listed twice")
        terms[t] = float(w)
    return terms


def _parse_category(c: Any, i: int, p: Path) -> Category:
    where = _category_where(c, i, p)
    lists = _string_lists(c, where, p)
    terms = _seed_term_weights(c, where, p)
    residual = c.get("residual", False)
    if not isinstance(residual, bool):
        raise InputError(p, f"{where}: 'residual' must be true or false")
    return Category(
        id=c["id"],
        name_zh=str(c["name_zh"]),
        name_en=str(c["name_en"]),
        department=str(c.get("department") or ""),
        definition=" ".join(str(c["definition"]).split()),
        includes=lists["includes"],
        excludes=lists["excludes"],
        rules=lists["rules"],
        seed_terms=terms,
        heading_cues=lists["heading_cues"],
        residual=residual,
    )


def _parse_rule(r: Any, i: int, p: Path, ids: set[str]) -> Rule:
    if isinstance(r, str):
        return Rule(rule=r)
    if not isinstance(r, dict) or not isinstance(r.get("rule"), str):
        raise InputError(p, f"rule #{i + 1} must be a string or a mapping with a 'rule' string")
    assign = str(r.get("assign", "by_content"))
    if assign != "by_content" and assign not in ids:
        raise InputError(
            p, f"rule #{i + 1}: assign {assign!r} is not a category id or 'by_content'"
        )
    return Rule(rule=r["rule"], assign=assign)
