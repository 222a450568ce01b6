"""`scantrace staff`: create the first admin (and other accounts), list and disable accounts.

It speaks to the reporter's API (`/v1/staff`) with an admin token minted from the auth secret,
so an account made here is validated, hashed and published exactly like one made in the console.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from scantrace_cli.commands.registry import base_url
from scantrace_cli.secrets import resolve_auth_secret
from scantrace_common.auth import STAFF_ROLES, mint_staff_token

#: Who the reporter records as the creator of accounts made here.
CLI_SUB = "scantrace-cli"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "staff",
        help="staff accounts: add (the first admin), list, disable",
        description=(
            "Manage staff accounts through the reporter's API (the stack must be running). "
            "Signed with SCANTRACE_AUTH_SECRET, or the local stack's development secret."
        ),
    )
    parser.add_argument(
        "--url",
        default=None,
        help="reporter base URL (default: SCANTRACE_REPORTER_URL or http://127.0.0.1:8002)",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="create an account (asks for the password)",
        description="Create a staff account; the first admin of a new installation is made so.",
    )
    add.add_argument("staff_id", help="the sign-in id, e.g. admin-01 ([A-Za-z0-9_.-], 1-64)")
    add.add_argument("--name", required=True, help="the person's full name")
    add.add_argument("--role", default="admin", choices=sorted(STAFF_ROLES))
    add.add_argument("--units", nargs="*", default=None, help="unit ids an official is limited to")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of asking twice",
    )
    add.set_defaults(func=run_add)
    listing = actions.add_parser("list", help="list the accounts")
    listing.set_defaults(func=run_list)
    disable = actions.add_parser("disable", help="disable an account (its tokens stop working)")
    disable.add_argument("staff_id")
    disable.set_defaults(func=run_disable)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password (at least 12 characters): ")
    if getpass.getpass("again: ") != first:
        print("the two passwords differ", file=sys.stderr)
        return None
    return first


def _call(
    env: Mapping[str, str], url: str | None, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    secret = resolve_auth_secret(env)
    if secret is None:
        raise SystemExit(
            "no auth secret: set SCANTRACE_AUTH_SECRET or start the stack once (`make run`)"
        )
    token = mint_staff_token(secret, CLI_SUB, "admin", ttl_s=300)
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's reporter
        base_url(env, url) + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except urllib.error.URLError as exc:
        raise SystemExit(
            f"the reporter does not answer at {base_url(env, url)} ({exc.reason}): "
            "start the stack first (`make run`)"
        ) from exc


def _report(status: int, body: Any) -> int:
    if status >= 400:
        error = body.get("error") if isinstance(body, dict) else body
        print(f"refused ({status}): {error}", file=sys.stderr)
        return 1
    print(json.dumps(body, ensure_ascii=False, indent=2))
    return 0


def run_add(args: argparse.Namespace) -> int:
    password = _password(args)
    if password is None:
        return 1
    body: dict[str, Any] = {
        "staff_id": args.staff_id,
        "name": args.name,
        "role": args.role,
        "password": password,
    }
    if args.units is not None:
        body["units"] = args.units
    return _report(*_call(os.environ, args.url, "POST", "/v1/staff", body))


def run_list(args: argparse.Namespace) -> int:
    return _report(*_call(os.environ, args.url, "GET", "/v1/staff"))


def run_disable(args: argparse.Namespace) -> int:
    return _report(*_call(os.environ, args.url, "DELETE", f"/v1/staff/{args.staff_id}"))
