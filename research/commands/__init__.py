"""CLI subcommands, one module per stage (see research.cli)."""
