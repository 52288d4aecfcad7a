"""`embedhub embed`: bulk-embed files or a saved dataset into a Parquet embedding dataset.
Only wiring: flags are checked here, then one call to embedhub.bulk does the work."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from embedhub.backends import DEFAULT_RUNTIME, PRECISIONS, RUNTIMES
from embedhub.cli.main import add_data_dir
from embedhub.config import DEFAULT_MODEL_ID, parse_model


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed",
        help="embed a whole dataset into Parquet embedding shards",
        description="Embed every row of CSV, TSV, JSON, JSON Lines, Parquet, text (each may be "
        ".gz) or a datasets save_to_disk folder into OUTPUT/data/train-*.parquet plus a "
        "README.md card. Re-running resumes, and embeds only new or changed rows.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or glob patterns")
    p.add_argument("--output", "-o", required=True, type=Path, help="the dataset folder to write")
    text = p.add_argument_group("what to embed")
    text.add_argument("--column", help="the text column (default: text)")
    text.add_argument("--template", help='join columns, e.g. "{title}: {body}"')
    text.add_argument("--id-column", help="a unique, stable row id (default: the row number)")
    text.add_argument("--embedding-column", default="embedding", help="output vector column")
    text.add_argument("--input-format", choices=_formats(), help="override the file suffix")
    text.add_argument("--split", help="the split of a saved DatasetDict (default: all)")
    how = p.add_argument_group("where vectors come from")
    how.add_argument("--model", default=DEFAULT_MODEL_ID, metavar="ID[=PATH]", help="the model")
    how.add_argument("--url", help="an embedhub / HF Inference API server to embed with")
    how.add_argument("--token", default=os.environ.get("EMBEDHUB_TOKEN"), help="its Bearer token")
    how.add_argument("--concurrency", type=int, default=4, help="requests in flight (--url)")
    how.add_argument("--threads", type=int, default=0, help="model threads (0 = all cores)")
    how.add_argument(
        "--runtime",
        choices=tuple(RUNTIMES),
        help=f"in-process model runtime (default {DEFAULT_RUNTIME}, as for serve)",
    )
    how.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        help="fp32 (default; exact) or int8 (openvino; refused below --min-quality)",
    )
    how.add_argument("--calibration", metavar="FILE", help="int8: calibration texts, one a line")
    how.add_argument(
        "--min-quality", metavar="COS,TOP10", help="int8: the quality gate (0.995,0.95)"
    )
    how.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        metavar="ADDRESS",
        help="run on Ray: auto (attach to a local cluster or start one) or an address",
    )
    how.add_argument("--ray-cpus", type=int, help="CPUs for a Ray started here (default: all)")
    how.add_argument("--actors", type=int, help="embedding actors on Ray (default: CPUs / 2)")
    out = p.add_argument_group("output")
    out.add_argument(
        "--format",
        dest="output_format",
        default="parquet",
        choices=("parquet", "jsonl.gz"),
        help="shard format",
    )
    out.add_argument("--batch-rows", type=int, default=1024, help="rows read and embedded at once")
    out.add_argument("--shard-rows", type=int, default=50_000, help="rows per shard")
    out.add_argument("--overwrite", action="store_true", help="start the output folder afresh")
    hub = p.add_argument_group("pushing to a hub")
    hub.add_argument("--push", metavar="NS/NAME", help="upload the dataset to this repo")
    hub.add_argument("--endpoint", default=os.environ.get("HF_ENDPOINT"), help="the hub URL")
    hub.add_argument("--hub-token", default=os.environ.get("HF_TOKEN"), help="a write token")
    hub.add_argument("--private", action="store_true", help="make the pushed repo private")
    report = p.add_argument_group("reporting")
    report.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    report.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    add_data_dir(p)
    p.set_defaults(func=run)


def _formats() -> tuple[str, ...]:
    from embedhub.bulk.inputs import FORMATS

    return FORMATS


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from embedhub.bulk import BulkError, JobConfig
    from embedhub.bulk import run as run_job

    try:
        model = parse_model(args.model)
    except ValueError as exc:
        print(f"embedhub embed: error: {exc}", file=sys.stderr)
        return 2
    runtime = _runtime_choice(args)
    try:
        cfg = JobConfig(
            inputs=args.inputs,
            output=args.output,
            column=args.column,
            template=args.template,
            id_column=args.id_column,
            embedding_column=args.embedding_column,
            model=model,
            url=args.url,
            token=args.token,
            ray=args.ray,
            ray_cpus=args.ray_cpus,
            actors=args.actors,
            input_format=args.input_format,
            split=args.split,
            output_format=args.output_format,
            batch_rows=args.batch_rows,
            shard_rows=args.shard_rows,
            threads=args.threads,
            runtime=runtime,
            concurrency=args.concurrency,
            overwrite=args.overwrite,
            quiet=args.quiet,
            command=shlex.join(["embedhub", *sys.argv[1:]]),
        )
        summary = run_job(cfg)
        if args.push:
            summary.pushed_to = _push(args, summary.output)
    except BulkError as exc:
        print(f"embedhub embed: error: {exc}", file=sys.stderr)
        return 2
    _report(summary, as_json=args.json)
    return 0


def _runtime_choice(args: argparse.Namespace):  # -> RuntimeChoice
    """The same runtime settings, defaults and checks as `embedhub serve` (flags, then the
    EMBEDHUB_* variables); graphs are cached in the data dir, shared with the server."""
    from embedhub.bulk.embedders import RuntimeChoice
    from embedhub.config import settings_from_env

    s = settings_from_env(
        data_dir=args.data_dir,
        runtime=args.runtime,
        precision=args.precision,
        calibration=args.calibration,
        min_quality=args.min_quality,
    )
    return RuntimeChoice(s.runtime, s.precision, s.calibration, s.quality_gate, s.onnx_cache)


def _push(args: argparse.Namespace, folder: str) -> str:
    from embedhub.bulk.push import push

    return push(
        Path(folder),
        args.push,
        endpoint=args.endpoint,
        token=args.hub_token,
        private=args.private,
    )


def _report(summary, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.as_dict()))
        return
    s = summary
    print(
        f"embedded {s.embedded:,} rows ({s.duplicates:,} duplicate texts embedded once), "
        f"{s.unchanged:,} unchanged, {s.skipped:,} skipped without text, {s.removed:,} removed; "
        f"{s.total_rows:,} rows in {s.shards} shard(s) at {s.output} "
        f"in {s.seconds:.1f}s ({s.rows_per_second:,.0f} rows/s)",
        file=sys.stderr,
    )
    if s.skipped:
        print(f"skipped rows (no text), first ids: {', '.join(s.skipped_ids)}", file=sys.stderr)
    if s.pushed_to:
        print(f"pushed to {s.pushed_to}", file=sys.stderr)
