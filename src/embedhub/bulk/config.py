"""What one `embedhub embed` run is asked to do, and the names of the formats it reads and
writes: kept apart from the readers and writers (which load pyarrow), so that the CLI builds
its parser from them without loading pyarrow or the bulk machinery."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from embedhub.config import DEFAULT_MODEL_ID, Settings
from embedhub.types import ModelSpec

FORMATS = ("csv", "tsv", "json", "jsonl", "parquet", "text", "arrow")  # input formats
TEXT_COLUMN = "text"  # the one column plain-text input has
# Output format -> the shards' file extension. The one list of formats `embed --format` takes.
EXTENSIONS = {"parquet": "parquet", "jsonl.gz": "jsonl.gz"}
OUTPUT_FORMATS = tuple(EXTENSIONS)


@dataclass
class JobConfig:
    inputs: list[str]
    output: Path
    column: str | None = None
    template: str | None = None
    id_column: str | None = None
    embedding_column: str = "embedding"
    model: ModelSpec = field(default_factory=lambda: ModelSpec(DEFAULT_MODEL_ID))
    url: str | None = None  # remote mode
    token: str | None = None
    ray: str | None = None  # Ray mode: "auto" or a cluster address
    ray_cpus: int | None = None
    actors: int | None = None
    input_format: str | None = None
    split: str | None = None
    output_format: str = OUTPUT_FORMATS[0]
    batch_rows: int = 1024
    shard_rows: int = 50_000
    # The model's runtime, precision, threads and caches, as `embedhub serve` takes them
    # (None: from the EMBEDHUB_* variables).
    settings: Settings | None = None
    concurrency: int = 4
    overwrite: bool = False
    quiet: bool = False
    command: str = ""
