"""The commit body parser on its own: a file's base64 content is decoded from the spooled body
to its staging file a chunk at a time, never held whole (issue 8, D7)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import BinaryIO

import pytest

from embedhub.api.errors import WIRE
from embedhub.errors import EmbedhubError
from embedhub.hub.commitbody import CHUNK, parse_body


def spool(lines: list[bytes]) -> BinaryIO:
    f = tempfile.TemporaryFile()
    f.write(b"\n".join(lines))
    f.seek(0)
    return f


HEADER = b'{"key": "header", "value": {"summary": "s"}}'


def file_line(path: str, data: bytes, *, first: bool = True, escape: bool = False) -> bytes:
    content = base64.b64encode(data)
    if escape:
        content = content.replace(b"/", b"\\/")  # what some JSON encoders write
    path_part = b'"path": ' + json.dumps(path).encode()
    content_part = b'"content": "' + content + b'"'
    parts = [content_part, path_part] if first else [path_part, content_part]
    return b'{"key": "file", "value": {' + b", ".join(parts) + b', "encoding": "base64"}}'


def test_big_file_is_decoded_without_holding_it(tmp_path: Path):
    data = os.urandom(24 * 1024 * 1024)
    body = spool([HEADER, file_line("big.bin", data), file_line("small.txt", b"hi")])
    tracemalloc.start()
    try:
        req = parse_body(body, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The line is 32 MB of base64; the parser holds a few chunks of it at most.
    assert peak < 6 * CHUNK, peak
    big, small = req.files
    assert (big.path, big.size, small.path) == ("big.bin", len(data), "small.txt")
    assert big.tmp.read_bytes() == data and small.tmp.read_bytes() == b"hi"
    assert big.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", [CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 2, 70_000])
@pytest.mark.parametrize("first, escape", [(True, False), (False, True), (True, True)])
def test_every_boundary_and_layout(tmp_path: Path, size: int, first: bool, escape: bool):
    data = os.urandom(size)
    body = spool(
        [
            HEADER,
            file_line("a/b.bin", data, first=first, escape=escape),
            b'{"key": "deletedFile", "value": {"path": "old.txt"}}',
        ]
    )
    req = parse_body(body, tmp_path)
    assert [f.tmp.read_bytes() for f in req.files] == [data]
    assert req.deleted == ["old.txt"]


@pytest.mark.parametrize("damage", [b"!", b"=", b"\\n", b" "])
def test_bad_base64_in_a_long_line_is_400(tmp_path: Path, damage: bytes):
    line = file_line("a.bin", os.urandom(200_000))
    cut = len(line) // 2
    body = spool([HEADER, line[:cut] + damage + line[cut + 1 :]])
    with pytest.raises(EmbedhubError) as info:
        parse_body(body, tmp_path)
    assert WIRE[info.value.kind].status == 400


def test_long_utf8_content_and_long_description(tmp_path: Path):
    text = "\u00e9t\u00e9 " * 30_000
    line = json.dumps(
        {"key": "file", "value": {"content": text, "path": "t.txt", "encoding": "utf-8"}}
    ).encode()
    header = json.dumps(
        {"key": "header", "value": {"summary": "s", "description": "d" * 200_000}}
    ).encode()
    req = parse_body(spool([header, line]), tmp_path)
    assert req.files[0].tmp.read_bytes() == text.encode()
    assert len(req.description) == 200_000


def test_content_named_in_another_string_is_not_taken(tmp_path: Path):
    data = os.urandom(100_000)
    trap = (
        b'{"key": "file", "value": {"path": "\\"content\\": \\"x", "content": "'
        + base64.b64encode(data)
        + b'", "encoding": "base64"}}'
    )
    req = parse_body(spool([HEADER, trap]), tmp_path)
    assert req.files[0].path == '"content": "x' and req.files[0].tmp.read_bytes() == data


def test_unterminated_content_is_400(tmp_path: Path):
    line = file_line("a.bin", os.urandom(100_000))
    with pytest.raises(EmbedhubError, match="not terminated"):
        parse_body(spool([HEADER, line[: len(line) // 2]]), tmp_path)
