"""The `scantrace` command: one entry point, a subcommand per job, `--help` on each."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Subcommand modules, each with `register(subparsers)`; imported lazily so `--help` stays fast.
COMMAND_MODULES = (
    "up",
    "token",
    "staff",
    "topics",
    "registry",
    "tracer",
    "simulate",
    "replay",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scantrace",
        description=(
            "scantrace: QR check-in intake, contact tracing and compliance. "
            "Run `scantrace up` to start the local stack, `scantrace COMMAND --help` for details."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"scantrace_cli.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"scantrace_cli.commands.{name}":
                continue  # not built yet in this checkout
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
