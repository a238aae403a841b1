"""The package changes nothing process-wide: importing any module leaves the umask, the
environment and the warning filters as they were, and every warning filter in the code is
scoped by ``warnings.catch_warnings`` (convergence warnings were once switched off globally)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

IMPORT_ALL = """
import importlib, os, pkgutil, sys, warnings
import sklearn  # sets KMP_* variables itself on import
calls = []
real_umask = os.umask
os.umask = lambda mask: (calls.append(mask), real_umask(mask))[1]
env, filters = dict(os.environ), list(warnings.filters)
import research
names = [m.name for m in pkgutil.walk_packages(research.__path__, "research.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
os.umask = real_umask
assert not calls, f"os.umask called at import: {calls}"
changed = {k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k)}
assert not changed, f"environment changed at import: {sorted(changed)}"
ours = ("builtins", "research", "sklearn")  # requests/urllib3 add filters for their own
added = [f for f in warnings.filters if f not in filters and f[2].__module__.startswith(ours)]
assert not added, f"warning filters added at import: {added}"
print(len(names))
"""


def test_importing_every_module_changes_nothing_process_wide() -> None:
    r = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert int(r.stdout.split()[-1]) > 50  # every module was imported


def _is_catch_warnings(item: ast.withitem) -> bool:
    call = item.context_expr
    return isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "catch_warnings"


def test_warning_filters_are_always_scoped() -> None:
    unscoped = []
    for f in sorted((ROOT / "research").rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        scoped: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.With) and any(_is_catch_warnings(i) for i in node.items):
                scoped |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) in ("simplefilter", "filterwarnings")
                and id(node) not in scoped
            ):
                unscoped.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not unscoped, f"warning filters outside `with warnings.catch_warnings()`: {unscoped}"
