"""`embedhub serve`: the embedding API and the hub on one port. Its flags are the settings'
declarations (config.py), every one also an EMBEDHUB_* variable."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from embedhub.cli.options import add_setting_flags, settings_from_args
from embedhub.config import GROUPS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="run the embedding service and the hub",
        description="Serve embeddings (HF Inference, OpenAI, TEI APIs) and the hub on one "
        "port. Every flag is also an EMBEDHUB_* variable (named in its help); a flag wins "
        "over its variable.",
    )
    add_setting_flags(p, *GROUPS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The bundled model and anything in the HF cache load without the network; only a model
    # that is neither tries to download (when the network and HF_HUB_OFFLINE allow).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    settings = settings_from_args(args)
    from embedhub.models import ModelNotFound
    from embedhub.server import serve

    try:
        serve(settings)
    except ModelNotFound as exc:
        print(f"embedhub serve: {exc}", file=sys.stderr)
        return 2
    return 0
