"""Subcommands of `scantrace`; each module has `register(subparsers)`."""
