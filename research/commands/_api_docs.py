"""Generate docs/api.md, the reference of the public Python API, from its docstrings.

``python -m research.commands._api_docs docs/api.md`` writes it; a test checks that the
committed page matches, so the reference cannot go stale.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

#: (heading, object path) in page order
ENTRIES = (
    ("research.project", "project"),
    ("research.predict", "predict"),
    ("research.shares", "shares"),
    ("research.figure", "figure"),
    ("research.set_style", "set_style"),
    ("research.Project", "Project"),
)


def api_reference() -> str:
    """Markdown: the package docstring, then each public function/class with its signature,
    docstring and (for Project) public methods."""
    import research

    parts = [
        "# Python API",
        "",
        "Generated from the docstrings by `python -m research.commands._api_docs docs/api.md`.",
        "",
        inspect.cleandoc(research.__doc__ or ""),
    ]
    for title, attr in ENTRIES:
        obj = getattr(research, attr)
        parts += ["", f"## `{title}{_sig(obj)}`", "", inspect.cleandoc(obj.__doc__ or "")]
        if inspect.isclass(obj):
            for name, member in vars(obj).items():
                if name.startswith("_"):
                    continue
                fn = member.fget if isinstance(member, property) else getattr(obj, name)
                if not callable(fn) or not fn.__doc__:
                    continue
                sig = "" if isinstance(member, property) else _sig(fn)
                parts += ["", f"### `{attr}.{name}{sig}`", "", inspect.cleandoc(fn.__doc__)]
    return "\n".join(parts) + "\n"


def _sig(obj) -> str:
    """``(a: T = default, ...) -> R`` with the annotations as written (they are strings)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    parts = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        star = "*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else ""
        s = star + p.name + (f": {p.annotation}" if p.annotation is not p.empty else "")
        parts.append(s + (f" = {p.default!r}" if p.default is not p.empty else ""))
    ret = f" -> {sig.return_annotation}" if sig.return_annotation is not sig.empty else ""
    return f"({', '.join(parts)}){ret}"


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/api.md")
    out.write_text(api_reference(), encoding="utf-8")
    print(f"wrote {out}")
