"""`embedhub serve`: the embedding API and the hub on one port."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from embedhub.backends import DEFAULT_RUNTIME, PRECISIONS, RUNTIMES
from embedhub.cli.main import add_data_dir
from embedhub.config import parse_model, settings_from_env


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the embedding service and the hub",
        description="Serve embeddings (HF Inference, OpenAI, TEI APIs) and the "
        "hub on one port. Every flag is also an EMBEDHUB_<FLAG> variable.",
    )
    add_data_dir(p)
    p.add_argument(
        "--host",
        help="address to bind (default 127.0.0.1; any other address makes tokens mandatory)",
    )
    p.add_argument("--port", type=int, help="port (default 8080)")
    p.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="ID[=PATH]",
        help="a model to serve (repeatable): an id (bundled default, HF cache or "
        "download) or ID=PATH for a local sentence-transformers folder; the first "
        "is the default",
    )
    p.add_argument("--max-batch-tokens", type=int, help="padded tokens per forward pass (8192)")
    p.add_argument(
        "--max-concurrent-requests",
        type=int,
        help="requests admitted at once; the next gets 429 (512)",
    )
    p.add_argument("--max-client-batch-size", type=int, help="inputs per request (2048)")
    p.add_argument("--payload-limit", type=int, help="bytes per embedding request (2000000)")
    p.add_argument(
        "--require-token",
        action="store_const",
        const=True,
        help="require a token for inference even on loopback",
    )
    p.add_argument("--cache-size", type=int, help="embeddings kept in the LRU cache; 0 = off")
    p.add_argument("--threads", type=int, help="model runtime threads in all (0 = one per core)")
    p.add_argument(
        "--workers",
        type=int,
        help="forward passes run at once per model, sharing --threads (0 = two)",
    )
    p.add_argument(
        "--runtime",
        choices=tuple(RUNTIMES),
        help=f"model runtime: {', '.join(RUNTIMES)} (default {DEFAULT_RUNTIME}); a graph "
        "runtime gives the same vectors with less overhead per batch (converted on first "
        "start, cached in the data dir); torch is sentence-transformers as is",
    )
    p.add_argument(
        "--precision",
        choices=tuple(PRECISIONS),
        help="fp32 (default; exact) or int8 (openvino: quantized once, served only if its "
        "quality report on held-out texts passes --min-quality)",
    )
    p.add_argument(
        "--calibration",
        metavar="FILE",
        help="int8: calibration texts, one per line (default: the shipped corpus)",
    )
    p.add_argument(
        "--min-quality",
        metavar="COS,TOP10",
        help="int8: least mean cosine to fp32 and top-10 neighbour agreement (0.995,0.95)",
    )
    p.add_argument(
        "--onnx-cache-dir", help="where exported ONNX graphs are kept (default DATA_DIR/onnx)"
    )
    p.add_argument("--public-url", help="URL clients reach this server at (for hub links)")
    p.add_argument(
        "--hub-payload-limit",
        type=int,
        help="bytes per hub commit body or git push (2147483648)",
    )
    p.add_argument("--hub-json-limit", type=int, help="bytes per hub JSON body (4194304)")
    p.add_argument("--hub-lfs-object-limit", type=int, help="bytes per LFS object (53687091200)")
    p.add_argument(
        "--search-approx-threshold",
        type=int,
        help="rows from which a dataset split gets an approximate search index (200000)",
    )
    p.add_argument(
        "--search-index-grace",
        type=float,
        help="seconds a superseded search index is kept after its last use (60)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The bundled model and anything in the HF cache load without the network; only a model
    # that is neither tries to download (when the network and HF_HUB_OFFLINE allow).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    models = tuple(parse_model(m) for m in args.models) if args.models else None
    settings = settings_from_env(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        models=models,
        max_batch_tokens=args.max_batch_tokens,
        max_concurrent_requests=args.max_concurrent_requests,
        max_client_batch_size=args.max_client_batch_size,
        payload_limit=args.payload_limit,
        require_token=args.require_token,
        cache_size=args.cache_size,
        threads=args.threads,
        workers=args.workers,
        public_url=args.public_url,
        runtime=args.runtime,
        onnx_cache_dir=args.onnx_cache_dir,
        hub_payload_limit=args.hub_payload_limit,
        hub_json_limit=args.hub_json_limit,
        hub_lfs_object_limit=args.hub_lfs_object_limit,
        search_approx_threshold=args.search_approx_threshold,
        search_index_grace=args.search_index_grace,
        precision=args.precision,
        calibration=args.calibration,
        min_quality=args.min_quality,
    )
    from embedhub.models import ModelNotFound
    from embedhub.server import serve

    try:
        serve(settings)
    except ModelNotFound as exc:
        print(f"embedhub serve: {exc}", file=sys.stderr)
        return 2
    return 0
