"""The ``research`` command line: one subcommand per pipeline stage.

Subcommands live in ``research/commands/<name>.py``; each module defines ``ORDER`` (its
place in ``research --help``) and ``register(subparsers)``, which adds a parser whose
``func(args) -> int`` does the work. Errors meant for the user (``ResearchError``) are
printed as one line naming the file and the problem, with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from research import __version__
from research.errors import ResearchError
from research.io import FS_ERRNOS, output_set


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="research",
        description="Measure the work domains of Women's Federation reports: "
        "prepare → annotate → train → predict → topics → analyse → figures (or `run` for all).",
    )
    parser.add_argument("--version", action="version", version=f"research {__version__}")
    parser.add_argument(
        "--params", default=None, help="params.yaml to read (default: ./params.yaml)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import research.commands as pkg

    modules = [
        importlib.import_module(f"research.commands.{m.name}")
        for m in pkgutil.iter_modules(pkg.__path__)
        if not m.name.startswith("_")
    ]
    for mod in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        mod.register(sub)
    _accept_params_anywhere(sub)
    return parser


def _accept_params_anywhere(sub: argparse._SubParsersAction) -> None:
    """Let ``--params`` also follow the subcommand (``research run --params p.yaml``)."""
    for parser in set(sub.choices.values()):
        if "--params" not in parser._option_string_actions:
            parser.add_argument("--params", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_params_anywhere(action)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``research`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        from research.settings import load_settings

        load_settings(args.params)  # the whole params file is checked before any stage runs
        with output_set():  # a stage's outputs are replaced together, or not at all
            return int(args.func(args) or 0)
    except ResearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, read-only, permissions: the stage's outputs are kept
        if exc.errno not in FS_ERRNOS:
            raise
        print(f"error: {exc.filename or ''}: {exc.strerror}; no output replaced", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
