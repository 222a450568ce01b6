"""`scantrace token`: mint a staff token for the local stack or a script."""

from __future__ import annotations

import argparse
import os
import sys

from scantrace_cli.secrets import resolve_auth_secret
from scantrace_common.auth import STAFF_ROLES, mint_staff_token


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "token",
        help="mint a staff token (JWT, HS256)",
        description=(
            "Mint a staff token signed with SCANTRACE_AUTH_SECRET, or with the development "
            "secret kept in the local state folder when the variable is unset."
        ),
    )
    parser.add_argument("--role", required=True, choices=sorted(STAFF_ROLES))
    parser.add_argument("--sub", required=True, help="staff id, e.g. epi-01")
    parser.add_argument(
        "--units", nargs="*", default=None, help="unit ids an official is limited to"
    )
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    secret = resolve_auth_secret(os.environ)
    if secret is None:
        print(
            "no auth secret: set SCANTRACE_AUTH_SECRET or start the stack once (`make run`) "
            "so it generates the development secret",
            file=sys.stderr,
        )
        return 2
    print(mint_staff_token(secret, args.sub, args.role, units=args.units, ttl_s=args.ttl))
    return 0
