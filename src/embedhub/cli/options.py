"""Command-line flags made from the settings' declarations (config.py): one flag per setting,
its help with the real default and variable, and the values read back into Settings through
the same parsing and checks as the EMBEDHUB_* variables."""

from __future__ import annotations

import argparse
from typing import Any

from embedhub.config import (
    Declaration,
    Settings,
    declarations,
    env_of,
    flag_of,
    parse_value,
    settings_from_env,
)


def add_setting_flags(parser: argparse._ActionsContainer, *groups: str) -> None:
    """A flag for every setting of `groups` ("common", "model", "server")."""
    for name, d in declarations().items():
        if d.group not in groups:
            continue
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": _help(name, d)}
        if _is_switch(name):
            kwargs |= {"action": "store_const", "const": True}
        else:
            choices = "{" + ",".join(d.choices) + "}" if d.choices else None
            kwargs["metavar"] = d.metavar or choices
            if d.repeat:
                kwargs["action"] = "append"
        parser.add_argument(flag_of(name), **kwargs)


def settings_from_args(args: argparse.Namespace, **more: Any) -> Settings:
    """Settings from the flags given (parsed and checked like the variables they beat), then
    the EMBEDHUB_* variables, then the defaults. `more`: values the command sets itself."""
    given: dict[str, Any] = {}
    for name in declarations():
        raw = getattr(args, name, None)
        if raw is None:
            continue
        given[name] = raw if raw is True else parse_value(name, raw, f"{flag_of(name)} {raw!r}")
    return settings_from_env(**given, **more)


def _is_switch(name: str) -> bool:
    return isinstance(_default(name), bool)


def _default(name: str) -> Any:
    return getattr(Settings(), name)


def _help(name: str, d: Declaration) -> str:
    shown = d.shown_default
    if shown is None:
        value = _default(name)
        shown = "off" if value is False else (str(value) if value not in ("", None) else "none")
    return f"{d.help} (default: {shown}; ${env_of(name)})".replace("%", "%%")
