"""Bulk embedding: dataset in -> embeddings -> Parquet shards out; in-process, remote or Ray."""

from embedhub.bulk.errors import BulkError
from embedhub.bulk.job import JobConfig, Summary, run

__all__ = ["BulkError", "JobConfig", "Summary", "run"]
