"""`embedhub embed`: bulk-embed files or a saved dataset into a Parquet embedding dataset.
Only wiring: flags are checked here, then one call to embedhub.bulk does the work."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from embedhub.bulk.config import FORMATS, OUTPUT_FORMATS, TEXT_COLUMN, JobConfig
from embedhub.cli.options import add_setting_flags, settings_from_args


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
    text.add_argument("--column", help=f"the text column (default: {TEXT_COLUMN})")
    text.add_argument("--template", help='join columns, e.g. "{title}: {body}"')
    text.add_argument("--id-column", help="a unique, stable row id (default: the row number)")
    text.add_argument(
        "--embedding-column",
        default=_job_default("embedding_column"),
        help="output vector column (default: %(default)s)",
    )
    text.add_argument("--input-format", choices=FORMATS, help="override the file suffix")
    text.add_argument("--split", help="the split of a saved DatasetDict (default: all)")
    how = p.add_argument_group("where vectors come from")
    # --model, --runtime, --threads, ...: the model settings `embedhub serve` takes too.
    add_setting_flags(how, "common", "model")
    how.add_argument("--url", help="an embedhub / HF Inference API server to embed with")
    how.add_argument("--token", default=os.environ.get("EMBEDHUB_TOKEN"), help="its Bearer token")
    how.add_argument(
        "--concurrency",
        type=int,
        default=_job_default("concurrency"),
        help="requests in flight (--url; default: %(default)s)",
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
        default=_job_default("output_format"),
        choices=OUTPUT_FORMATS,
        help="shard format (default: %(default)s)",
    )
    out.add_argument(
        "--batch-rows",
        type=int,
        default=_job_default("batch_rows"),
        help="rows read and embedded at once (default: %(default)s)",
    )
    out.add_argument(
        "--shard-rows",
        type=int,
        default=_job_default("shard_rows"),
        help="rows per shard (default: %(default)s)",
    )
    out.add_argument("--overwrite", action="store_true", help="start the output folder afresh")
    hub = p.add_argument_group("pushing to a hub")
    hub.add_argument("--push", metavar="NS/NAME", help="upload the dataset to this repo")
    hub.add_argument("--endpoint", default=os.environ.get("HF_ENDPOINT"), help="the hub URL")
    hub.add_argument("--hub-token", default=os.environ.get("HF_TOKEN"), help="a write token")
    hub.add_argument("--private", action="store_true", help="make the pushed repo private")
    report = p.add_argument_group("reporting")
    report.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    report.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def _job_default(name: str) -> object:
    """JobConfig's default: the one place a bulk option's default is written."""
    return JobConfig.__dataclass_fields__[name].default


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from embedhub.bulk import BulkError
    from embedhub.bulk import run as run_job

    settings = settings_from_args(args)  # a bad value: one line and exit 2 (cli.main)
    if len(settings.models) != 1:
        ids = [m.model_id for m in settings.models]
        print(f"embedhub embed: error: give one --model, got {ids}", file=sys.stderr)
        return 2
    try:
        cfg = JobConfig(
            inputs=args.inputs,
            output=args.output,
            column=args.column,
            template=args.template,
            id_column=args.id_column,
            embedding_column=args.embedding_column,
            model=settings.models[0],
            settings=settings,
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
