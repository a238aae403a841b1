"""Generate the README's CLI reference from the CLI's own ``--help`` text.

``python -m research.commands._docs README.md`` rewrites the block between the
``<!-- cli-reference:start -->`` and ``<!-- cli-reference:end -->`` markers; a test checks
that the committed README matches, so the reference cannot go stale.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from pathlib import Path

START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _fixed_width(parser: argparse.ArgumentParser, width: int) -> None:
    # argparse formatters take ``width``; typeshed's _FormatterClass protocol declares only prog
    parser.formatter_class = functools.partial(parser.formatter_class, width=width)  # type: ignore[call-arg]
    for sub in _subparsers(parser).values():
        _fixed_width(sub, width)


def cli_reference() -> str:
    """Markdown: ``research --help`` and the help of every subcommand (and sub-subcommand)."""
    from research.cli import build_parser

    parser = build_parser()
    _fixed_width(parser, 98)  # the same text whatever the terminal (no global COLUMNS)
    parts = ["```text", parser.format_help().rstrip(), "```"]
    for name, sub in _subparsers(parser).items():
        parts += ["", f"#### `research {name}`", "", "```text", sub.format_help().rstrip(), "```"]
        for sname, ssub in _subparsers(sub).items():
            parts += [
                "",
                f"#### `research {name} {sname}`",
                "",
                "```text",
                ssub.format_help().rstrip(),
                "```",
            ]
    return "\n".join(parts) + "\n"


def update_readme(path: str | Path) -> bool:
    """Rewrite the CLI reference block in ``path``; return True when it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    block = f"{START}\n{cli_reference()}{END}"
    new = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda m: block, text, flags=re.S)
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    changed = update_readme(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    print("updated" if changed else "unchanged")
