"""`embedhub` command: each command group lives in its own module and adds its own sub-parser."""

from __future__ import annotations

import argparse
import importlib
import sys

from embedhub import __version__

# Module names under embedhub.cli; each defines add_parser(subparsers).
COMMAND_MODULES = ("serve", "tokens", "hub_commands", "embed", "search")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="embedhub",
        description="Self-hosted embeddings as a service, bulk embedding, and a dataset hub.",
    )
    parser.add_argument("--version", action="version", version=f"embedhub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"embedhub.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from embedhub.backends import RuntimeSettingError
    from embedhub.config import SettingsError
    from embedhub.memory import arrow_on_glibc

    arrow_on_glibc()  # before any command loads pyarrow (Arrow reads the choice on import)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (SettingsError, RuntimeSettingError) as exc:  # a setting that can't be used
        print(f"embedhub {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
