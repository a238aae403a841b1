"""Generate the README's CLI reference and figure guide from the package itself.

``python -m research.commands._docs README.md`` rewrites the blocks between the
``<!-- cli-reference:start/end -->`` markers (from the CLI's own ``--help`` text) and the
``<!-- figures:start/end -->`` markers (from ``research.report.HOW_TO_READ``, in the order the
report shows them); tests check that the committed README matches, so neither can go stale.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from pathlib import Path

START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"
FIG_START = "<!-- figures:start -->"
FIG_END = "<!-- figures:end -->"


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


def figure_guide() -> str:
    """Markdown: one bullet per figure with the text the report shows beside it."""
    from research.report import HOW_TO_READ

    return "".join(f"- **`{name}`** — {text}\n" for name, text in HOW_TO_READ.items())


def _replace_block(text: str, start: str, end: str, body: str) -> str:
    block = f"{start}\n{body}{end}"
    return re.sub(re.escape(start) + r".*?" + re.escape(end), lambda m: block, text, flags=re.S)


def update_readme(path: str | Path) -> bool:
    """Rewrite the generated blocks in ``path``; return True when it changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    new = _replace_block(text, START, END, cli_reference())
    new = _replace_block(new, FIG_START, FIG_END, figure_guide())
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    changed = update_readme(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    print("updated" if changed else "unchanged")
