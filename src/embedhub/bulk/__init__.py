"""Bulk embedding: dataset in -> embeddings -> Parquet shards out; in-process, remote or Ray.

`run` and `Summary` load on first use (they load pyarrow and the embedders): the CLI reads
JobConfig's defaults from here to build its parser, for every command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from embedhub.bulk.config import JobConfig
from embedhub.bulk.errors import BulkError

if TYPE_CHECKING:
    from embedhub.bulk.job import Summary, run

__all__ = ["BulkError", "JobConfig", "Summary", "run"]


def __getattr__(name: str) -> Any:
    if name in ("Summary", "run"):
        from embedhub.bulk import job

        return getattr(job, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
