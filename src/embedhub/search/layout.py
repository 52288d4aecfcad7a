"""Which files make which split of which config, decided the way `datasets.load_dataset`
decides it: the card's `configs:` block when there is one, else the library's default file
patterns (data/train-00000-of-00001.parquet, train.parquet, ...). The library's own rules are
used on the repo's file list, so the viewer and `load_dataset` never disagree."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fsspec.utils import glob_translate

DEFAULT_CONFIG = "default"
SUPPORTED_SUFFIX = ".parquet"


class LayoutError(ValueError):
    """The card's `configs:` block can't be used; the message says why."""


@dataclass(frozen=True)
class SplitLayout:
    config: str
    split: str
    files: tuple[str, ...]  # repo paths, in the order their rows are numbered

    @property
    def supported(self) -> bool:
        return bool(self.files) and all(f.endswith(SUPPORTED_SUFFIX) for f in self.files)


def layout(paths: list[str], card_data: dict[str, Any]) -> list[SplitLayout]:
    """Every (config, split) with its data files; the default config first."""
    # `datasets` takes a second or more to import, and every CLI command that builds the
    # routes (for the reserved names) would pay it: imported where a layout is computed.
    from datasets.data_files import _get_data_files_patterns, sanitize_patterns
    from datasets.utils.metadata import MetadataConfigs

    resolver = _Resolver(paths)
    try:
        configs = MetadataConfigs.from_dataset_card_data(card_data)
        default = configs.get_default_config_name() if configs else None
    except (ValueError, TypeError) as exc:
        raise LayoutError(f"The card's `configs:` block is invalid: {exc}") from None
    if not configs:
        try:
            patterns = _get_data_files_patterns(resolver)
        except FileNotFoundError:
            return []
        return _splits(DEFAULT_CONFIG, patterns, resolver)
    out: list[SplitLayout] = []
    names = sorted(configs, key=lambda name: name != default)
    for name in names:
        data_files = configs[name].get("data_files")
        if data_files is None:
            continue
        try:
            patterns = sanitize_patterns(data_files)
        except ValueError as exc:
            raise LayoutError(f"config {name!r}: {exc}") from None
        out.extend(_splits(name, patterns, resolver))
    return out


def _splits(config: str, patterns: dict[str, list[str]], resolver: _Resolver) -> list[SplitLayout]:
    out = []
    for split, split_patterns in patterns.items():
        files: list[str] = []
        for pattern in split_patterns:
            files.extend(f for f in resolver(pattern) if f not in files)
        if files:
            out.append(SplitLayout(config, str(split), tuple(files)))
    return out


class _Resolver:
    """fsspec glob semantics over a fixed list of repo paths (what `datasets` does over the
    Hub's file system), with the same hidden / special-folder / ignored-file rules."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = sorted(paths)

    def __call__(self, pattern: str) -> list[str]:
        from datasets.data_files import (
            FILES_TO_IGNORE,
            _is_inside_unrequested_special_dir,
            _is_unrequested_hidden_file_or_is_inside_unrequested_hidden_dir,
        )

        pattern = pattern.lstrip("/")
        if pattern.startswith(("hf://", "http://", "https://")):
            return []  # data elsewhere: not hosted here
        regex = re.compile(glob_translate(pattern))
        ignored = set(FILES_TO_IGNORE) - {pattern.rsplit("/", 1)[-1]}
        return [
            p
            for p in self.paths
            if regex.match(p)
            and p.rsplit("/", 1)[-1] not in ignored
            and not _is_inside_unrequested_special_dir(p, pattern)
            and not _is_unrequested_hidden_file_or_is_inside_unrequested_hidden_dir(p, pattern)
        ]
