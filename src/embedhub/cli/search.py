"""`embedhub search NS/NAME "query"`: the nearest rows of a hosted embedding dataset, asked of a
running server's /datasets-server/semantic-search. Only wiring and printing."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

DEFAULT_URL = "http://127.0.0.1:8080"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="semantic search over a hosted embedding dataset",
        description="Embed QUERY with the model that made the dataset (on the server) and print "
        "the K nearest rows: score, id, text cut to the terminal width (or JSON).",
    )
    p.add_argument("dataset", metavar="NS/NAME")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10, help="rows to show (1-100, default 10)")
    p.add_argument("--split", help="the split (default: train, or the only one)")
    p.add_argument("--config", help="the config (default: the dataset's default)")
    p.add_argument("--revision", help="branch, tag or commit (default: main)")
    p.add_argument("--where", help='a filter on other columns, e.g. "stars >= 4"')
    p.add_argument(
        "--url",
        default=os.environ.get("EMBEDHUB_URL", DEFAULT_URL),
        help=f"the embedhub server (default: $EMBEDHUB_URL or {DEFAULT_URL})",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("EMBEDHUB_TOKEN") or os.environ.get("HF_TOKEN"),
        help="a token that may read the dataset (default: $EMBEDHUB_TOKEN or $HF_TOKEN)",
    )
    p.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import requests

    params = {"dataset": args.dataset, "query": args.query, "k": args.k}
    for name in ("split", "config", "revision", "where"):
        if getattr(args, name):
            params[name] = getattr(args, name)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    url = f"{args.url.rstrip('/')}/datasets-server/semantic-search"
    try:
        response = requests.get(url, params=params, headers=headers, timeout=300)
    except requests.RequestException as exc:
        print(f"embedhub search: can't reach {args.url}: {exc}", file=sys.stderr)
        return 1
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:500]}
    if response.status_code != 200:
        message = body.get("error", body)
        print(f"embedhub search: {response.status_code}: {message}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body))
    else:
        print(table(body["rows"], shutil.get_terminal_size().columns))
    return 0


def table(rows: list[dict], width: int) -> str:
    """score, id and text of each row, the text cut to fit `width` columns."""
    lines = []
    ids = [str(_id(r)) for r in rows]
    id_width = max([2, *map(len, ids)])
    lines.append(f"{'score':>6}  {'id':<{id_width}}  text")
    room = max(width - 6 - 2 - id_width - 2, 10)
    for r, ident in zip(rows, ids, strict=True):
        text = " ".join(_text(r["row"]).split())
        if len(text) > room:
            text = text[: room - 1] + "…"
        lines.append(f"{r['score']:6.3f}  {ident:<{id_width}}  {text}")
    return "\n".join(lines)


def _id(item: dict) -> object:
    row = item["row"]
    return row["id"] if "id" in row else item["row_idx"]


def _text(row: dict) -> str:
    if isinstance(row.get("text"), str):
        return row["text"]
    for name, value in row.items():
        if name != "id" and isinstance(value, str):
            return value
    return json.dumps({k: v for k, v in row.items() if k != "id"})[:1000]
