"""/parquet, /size and /info: facts about a dataset's files, read from the Parquet footers
(row counts, uncompressed sizes) rather than trusted from the card."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow.parquet as pq

from embedhub.search.layout import SplitLayout
from embedhub.search.snapshots import Snapshot
from embedhub.viewer.context import Viewer, no_data
from embedhub.viewer.rows import features_of


def _splits(snap: Snapshot, config: str | None) -> list[SplitLayout]:
    if not snap.splits:
        raise no_data(snap)
    found = [s for s in snap.splits if s.supported and (config is None or s.config == config)]
    if config is not None and config not in snap.configs:
        snap.split(config, "")  # the precise 404 naming the configs
    return found


def resolve_url(base: str, snap: Snapshot, path: str) -> str:
    """A download URL pinned to the snapshot's commit (the data the answer describes)."""
    return f"{base}/datasets/{snap.rid.id}/resolve/{snap.commit}/{quote(path)}"


def parquet_files(
    viewer: Viewer, snap: Snapshot, config: str | None, base: str
) -> list[dict[str, Any]]:
    return [
        {
            "dataset": snap.rid.id,
            "config": s.config,
            "split": s.split,
            "url": resolve_url(base, snap, path),
            "filename": path.rsplit("/", 1)[-1],
            "size": snap.entries[path].real_size,
        }
        for s in _splits(snap, config)
        for path in s.files
    ]


def _split_size(viewer: Viewer, snap: Snapshot, split: SplitLayout) -> dict[str, Any]:
    paths: list[Path] = viewer.paths(snap, split)
    metas = [pq.ParquetFile(p).metadata for p in paths]
    return {
        "dataset": snap.rid.id,
        "config": split.config,
        "split": split.split,
        "num_bytes_parquet_files": sum(snap.entries[f].real_size for f in split.files),
        "num_bytes_memory": sum(
            m.row_group(g).total_byte_size for m in metas for g in range(m.num_row_groups)
        ),
        "num_rows": sum(m.num_rows for m in metas),
        "num_columns": metas[0].num_columns if metas else 0,
    }


def sizes(viewer: Viewer, snap: Snapshot, config: str | None) -> dict[str, Any]:
    splits = [_split_size(viewer, snap, s) for s in _splits(snap, config)]
    configs = []
    for name in dict.fromkeys(s["config"] for s in splits):
        mine = [s for s in splits if s["config"] == name]
        parquet = sum(s["num_bytes_parquet_files"] for s in mine)
        configs.append(
            {
                "dataset": snap.rid.id,
                "config": name,
                "num_bytes_original_files": parquet,  # the originals are the Parquet files
                "num_bytes_parquet_files": parquet,
                "num_bytes_memory": sum(s["num_bytes_memory"] for s in mine),
                "num_rows": sum(s["num_rows"] for s in mine),
                "num_columns": mine[0]["num_columns"],
            }
        )
    if config is not None:
        return {"config": configs[0] if configs else {}, "splits": splits}
    total = {
        "dataset": snap.rid.id,
        **{
            key: sum(c[key] for c in configs)
            for key in (
                "num_bytes_original_files",
                "num_bytes_parquet_files",
                "num_bytes_memory",
                "num_rows",
            )
        },
    }
    return {"dataset": total, "configs": configs, "splits": splits}


def infos(viewer: Viewer, snap: Snapshot, config: str | None) -> dict[str, dict[str, Any]]:
    """DatasetInfo (as `datasets` writes it) per config."""
    splits = _splits(snap, config)
    out: dict[str, dict[str, Any]] = {}
    card = snap.card_data
    for name in dict.fromkeys(s.config for s in splits):
        mine = [s for s in splits if s.config == name]
        sized = {s.split: _split_size(viewer, snap, s) for s in mine}
        schema = pq.read_schema(viewer.paths(snap, mine[0])[0])
        out[name] = {
            "description": "",
            "citation": "",
            "homepage": "",
            "license": _license(card),
            "features": features_of(schema).to_dict(),
            "builder_name": "parquet",
            "dataset_name": snap.rid.name,
            "config_name": name,
            "version": {"version_str": "0.0.0", "major": 0, "minor": 0, "patch": 0},
            "splits": {
                split: {
                    "name": split,
                    "num_bytes": size["num_bytes_memory"],
                    "num_examples": size["num_rows"],
                    "dataset_name": None,
                }
                for split, size in sized.items()
            },
            "download_size": sum(s["num_bytes_parquet_files"] for s in sized.values()),
            "dataset_size": sum(s["num_bytes_memory"] for s in sized.values()),
        }
    return out


def _license(card: dict[str, Any]) -> str:
    value = card.get("license", "")
    return ", ".join(value) if isinstance(value, list) else str(value or "")
