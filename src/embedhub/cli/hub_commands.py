"""Hub commands: `embedhub user create`, `embedhub org create`, `embedhub push`, `embedhub pull`.

user/org work on the local database (run them on the server's machine); push/pull talk to any
Hub-compatible endpoint through huggingface_hub."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from embedhub.cli.options import add_setting_flags

if TYPE_CHECKING:
    from embedhub.db import Database


def add_parser(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="manage hub users").add_subparsers(
        dest="user_command", required=True, metavar="ACTION"
    )
    p = user.add_parser("create", help="create a user (a namespace that owns repos)")
    p.add_argument("name")
    add_setting_flags(p, "common")
    p.set_defaults(func=create_user)

    org = sub.add_parser("org", help="manage organisations").add_subparsers(
        dest="org_command", required=True, metavar="ACTION"
    )
    p = org.add_parser("create", help="create an organisation (or add members to one)")
    p.add_argument("name")
    p.add_argument(
        "--member",
        action="append",
        default=[],
        metavar="USER",
        help="a user who may write to the organisation's repos (repeatable)",
    )
    add_setting_flags(p, "common")
    p.set_defaults(func=create_org)

    p = sub.add_parser("push", help="upload a folder to a hub repo (created if missing)")
    p.add_argument("folder", metavar="DIR")
    p.add_argument("repo_id", metavar="NS/NAME")
    p.add_argument("--private", action="store_true", help="make the repo private")
    _remote_flags(p)
    p.add_argument("-m", "--message", help="commit message")
    p.set_defaults(func=push)

    p = sub.add_parser("pull", help="download a hub repo into a folder")
    p.add_argument("repo_id", metavar="NS/NAME")
    p.add_argument("folder", metavar="DIR")
    _remote_flags(p)
    p.set_defaults(func=pull)


def _remote_flags(p: argparse.ArgumentParser) -> None:
    # No --data-dir: push and pull keep nothing of embedhub's; they talk to a hub over HTTP,
    # and huggingface_hub keeps its login and caches under HF_HOME.
    p.add_argument("--endpoint", help="hub URL (default: $HF_ENDPOINT, else huggingface.co)")
    p.add_argument("--token", help="access token (default: $HF_TOKEN or the saved HF login)")
    p.add_argument(
        "--type",
        dest="repo_type",
        choices=("dataset", "model"),
        default="dataset",
        help="repo type (default: dataset)",
    )


def _db(args: argparse.Namespace) -> Database:
    from embedhub.cli.options import settings_from_args
    from embedhub.server import open_database

    return open_database(settings_from_args(args))


def create_user(args: argparse.Namespace) -> int:
    from embedhub.db import NameError_

    try:
        _db(args).create_user(args.name)
    except NameError_ as exc:
        print(f"embedhub user create: {exc}", file=sys.stderr)
        return 2
    print(f"created user {args.name}")
    return 0


def create_org(args: argparse.Namespace) -> int:
    from embedhub.db import NameError_

    try:
        _db(args).create_org(args.name, args.member)
    except NameError_ as exc:
        print(f"embedhub org create: {exc}", file=sys.stderr)
        return 2
    members = ", ".join(args.member) or "no members"
    print(f"organisation {args.name}: {members}")
    return 0


def _check_repo_id(repo_id: str, command: str) -> bool:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts):
        print(f"embedhub {command}: expected NS/NAME, got {repo_id!r}", file=sys.stderr)
        return False
    return True


def push(args: argparse.Namespace) -> int:
    from huggingface_hub.errors import HfHubHTTPError

    from embedhub.hub.client import push_folder

    if not _check_repo_id(args.repo_id, "push"):
        return 2
    try:
        sha = push_folder(
            args.folder,
            args.repo_id,
            endpoint=args.endpoint,
            token=args.token,
            private=args.private,
            repo_type=args.repo_type,
            commit_message=args.message,
        )
    except (HfHubHTTPError, FileNotFoundError, ValueError) as exc:
        print(f"embedhub push: {exc}", file=sys.stderr)
        return 1
    print(sha)
    return 0


def pull(args: argparse.Namespace) -> int:
    from huggingface_hub.errors import HfHubHTTPError

    from embedhub.hub.client import pull as pull_repo

    if not _check_repo_id(args.repo_id, "pull"):
        return 2
    try:
        path = pull_repo(
            args.repo_id,
            args.folder,
            endpoint=args.endpoint,
            token=args.token,
            repo_type=args.repo_type,
        )
    except (HfHubHTTPError, ValueError) as exc:
        print(f"embedhub pull: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
