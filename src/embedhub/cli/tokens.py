"""`embedhub token create NAME [--write]`: a new token for user NAME (created if missing).
The token is printed once, as the last line of stdout; only its hash is stored."""

from __future__ import annotations

import argparse
import sys

from embedhub.cli.options import add_setting_flags, settings_from_args
from embedhub.db import NameError_


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="manage API tokens")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = tsub.add_parser("create", help="create a token for a user (the user too, if new)")
    create.add_argument("name", help="the user the token acts as")
    create.add_argument(
        "--write",
        action="store_true",
        help="allow writes (hub uploads) as well as reads and inference",
    )
    create.add_argument("--label", default="cli", help="a note to tell tokens apart")
    add_setting_flags(create, "common")
    create.set_defaults(func=create_token)


def create_token(args: argparse.Namespace) -> int:
    from embedhub.server import open_database

    db = open_database(settings_from_args(args))
    try:
        if db.create_user(args.name, exist_ok=True):
            print(f"created user {args.name}", file=sys.stderr)
        token = db.create_token(args.name, write=args.write, name=args.label)
    except NameError_ as exc:
        print(f"embedhub token create: {exc}", file=sys.stderr)
        return 2
    role = "write" if args.write else "read"
    print(
        f"new {role} token for {args.name} (shown once; only its hash is stored):", file=sys.stderr
    )
    print(token)
    return 0
