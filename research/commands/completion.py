"""``research completion``: a bash completion script for the subcommands and their flags."""

from __future__ import annotations

import argparse

ORDER = 110


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "completion",
        help='print a bash completion script (eval "$(research completion)")',
        description="Print a bash completion script for research's subcommands and flags; "
        'add `eval "$(research completion)"` to ~/.bashrc (zsh: after `autoload bashcompinit; '
        "bashcompinit`).",
    )
    p.set_defaults(func=run)


def bash_script() -> str:
    """The completion script, generated from the parser (so it never goes stale)."""
    from research.cli import build_parser
    from research.commands._docs import _subparsers

    parser = build_parser()
    cases = []
    subs = _subparsers(parser)
    for name, sp in subs.items():
        words = [o for a in sp._actions for o in a.option_strings if o.startswith("--")]
        words += list(_subparsers(sp))
        cases.append(f'        {name}) opts="{" ".join(sorted(set(words)))}" ;;')
    return (
        "_research() {\n"
        '    local cur="${COMP_WORDS[COMP_CWORD]}" opts\n'
        '    if [ "$COMP_CWORD" -eq 1 ]; then\n'
        f'        COMPREPLY=($(compgen -W "{" ".join(subs)} --help --version --params" -- "$cur"))\n'
        "        return\n"
        "    fi\n"
        '    case "${COMP_WORDS[1]}" in\n' + "\n".join(cases) + "\n"
        '        *) opts="" ;;\n'
        "    esac\n"
        '    COMPREPLY=($(compgen -W "$opts" -- "$cur"))\n'
        "}\n"
        "complete -o default -F _research research\n"
    )


def run(args: argparse.Namespace) -> int:
    print(bash_script(), end="")
    return 0
