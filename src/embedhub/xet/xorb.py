"""Xorbs (hub-docs `docs/xet/xorb.md`): a sequence of chunk records, optionally followed by the
`XorbObjectInfo` footer and its 4-byte length.

`validate` reads an uploaded xorb once, front to back, with one chunk in memory at a time: it
decompresses every chunk, hashes it, rebuilds the xorb hash and, when a footer was sent,
checks every field of it against what the chunks say. The result (`XorbInfo`) is what the
store keeps about a xorb: chunk hashes, where each chunk's record ends in the file and where
its bytes end once unpacked."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from embedhub.xet import hashes
from embedhub.xet.compression import HEADER_SIZE, compress, decompress, parse_header
from embedhub.xet.errors import FormatError

# The spec caps a xorb at 64 MiB, and the reference client fills xorbs up to 64 MiB of chunk
# data: their 8-byte headers (at most 8192 chunks) come on top. A footer adds ~40 bytes a chunk.
MAX_XORB_BYTES = 64 * 1024 * 1024 + 8 * 8192
IDENT = b"XETBLOB"
IDENT_HASHES = b"XBLBHSH"
IDENT_BOUNDARIES = b"XBLBBND"
NONCE_BUFFER = 16


@dataclass
class XorbInfo:
    hash: bytes
    chunk_hashes: list[bytes]
    byte_ends: list[int]  # end of each chunk record in the xorb file (headers included)
    unpacked_ends: list[int]  # end of each chunk's bytes once unpacked and concatenated
    size: int  # bytes of the whole stored xorb (footer included when one was sent)

    @property
    def num_chunks(self) -> int:
        return len(self.chunk_hashes)

    @property
    def unpacked_size(self) -> int:
        return self.unpacked_ends[-1] if self.unpacked_ends else 0

    def byte_start(self, index: int) -> int:
        return self.byte_ends[index - 1] if index else 0

    def unpacked_start(self, index: int) -> int:
        return self.unpacked_ends[index - 1] if index else 0

    def chunk_sizes(self) -> list[int]:
        return [self.unpacked_ends[i] - self.unpacked_start(i) for i in range(self.num_chunks)]


def _read_exact(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise FormatError(f"the xorb ends inside {what}")
    return data


def validate(f: BinaryIO, expected: bytes) -> XorbInfo:
    """Check a xorb read from `f` (positioned at its start) against its claimed hash."""
    info = XorbInfo(expected, [], [], [], 0)
    sizes: list[int] = []
    pos = unpacked = 0
    footer: bytes | None = None
    while True:
        head = f.read(HEADER_SIZE)
        if not head:
            break
        if head.startswith(IDENT):
            footer = head + f.read()
            break
        header = parse_header(head, len(sizes))
        payload = _read_exact(f, header.compressed_size, f"chunk {len(sizes)}")
        data = decompress(header, payload, len(sizes))
        pos += HEADER_SIZE + header.compressed_size
        unpacked += header.size
        if pos > MAX_XORB_BYTES:
            raise FormatError(f"the xorb's chunks take more than {MAX_XORB_BYTES} bytes")
        info.chunk_hashes.append(hashes.chunk_hash(data))
        info.byte_ends.append(pos)
        info.unpacked_ends.append(unpacked)
        sizes.append(header.size)
    if not sizes:
        raise FormatError("the xorb has no chunks")
    actual = hashes.xorb_hash(list(zip(info.chunk_hashes, sizes, strict=True)))
    if actual != expected:
        raise FormatError(
            f"the xorb's chunks hash to {hashes.to_hex(actual)}, not {hashes.to_hex(expected)}"
        )
    if footer is not None:
        _check_footer(footer, info)
    info.size = pos + (len(footer) if footer is not None else 0)
    return info


def _check_footer(footer: bytes, info: XorbInfo) -> None:
    if len(footer) < 4 or int.from_bytes(footer[-4:], "little") != len(footer) - 4:
        raise FormatError("the xorb footer's length field does not match its size")
    if footer != build_footer(info, version=footer[7], nonce=_nonce(footer)):
        raise FormatError(
            "the xorb footer does not describe the chunks before it (hash, chunk hashes, "
            "offsets or section lengths differ)"
        )


def _nonce(footer: bytes) -> bytes:
    return footer[-4 - NONCE_BUFFER : -4] if len(footer) >= 4 + NONCE_BUFFER else b""


def build_footer(info: XorbInfo, *, version: int = 1, nonce: bytes = bytes(NONCE_BUFFER)) -> bytes:
    """The XorbObjectInfo (V1, or the older V0) for `info`, with its trailing length."""
    n = info.num_chunks
    hashes_blob = b"".join(info.chunk_hashes)
    if version == 0:
        body = (
            IDENT + b"\x00" + info.hash + struct.pack("<I", n)
            + struct.pack(f"<{n}I", *info.byte_ends) + hashes_blob + nonce
        )  # fmt: skip
        return body + struct.pack("<I", len(body))
    if version != 1:
        raise FormatError(f"unknown xorb footer version {version}")
    boundaries = (
        IDENT_BOUNDARIES + b"\x01" + struct.pack("<I", n)
        + struct.pack(f"<{n}I", *info.byte_ends) + struct.pack(f"<{n}I", *info.unpacked_ends)
    )  # fmt: skip
    tail_len = 4 * 3 + len(nonce)
    boundary_from_end = len(boundaries) + tail_len
    hashes_section = IDENT_HASHES + b"\x00" + struct.pack("<I", n) + hashes_blob
    hashes_from_end = len(hashes_section) + boundary_from_end
    body = (
        IDENT + b"\x01" + info.hash + hashes_section + boundaries
        + struct.pack("<III", n, hashes_from_end, boundary_from_end) + nonce
    )  # fmt: skip
    return body + struct.pack("<I", len(body))


def serialize(chunks: list[bytes], scheme: int, *, footer: bool = True) -> tuple[bytes, XorbInfo]:
    """A xorb holding `chunks` in order (for tests and tools; the server never builds one)."""
    parts, info, pos, unpacked = [], XorbInfo(b"", [], [], [], 0), 0, 0
    for data in chunks:
        header, payload = compress(data, scheme)
        parts += [header.encode(), payload]
        pos += HEADER_SIZE + len(payload)
        unpacked += len(data)
        info.chunk_hashes.append(hashes.chunk_hash(data))
        info.byte_ends.append(pos)
        info.unpacked_ends.append(unpacked)
    info.hash = hashes.xorb_hash(list(zip(info.chunk_hashes, map(len, chunks), strict=True)))
    if footer:
        parts.append(build_footer(info))
    blob = b"".join(parts)
    info.size = len(blob)
    return blob, info


def read_chunks(f: BinaryIO, info: XorbInfo, start: int, end: int) -> Iterator[bytes]:
    """The unpacked bytes of chunks [start, end) of a stored (already validated) xorb."""
    f.seek(info.byte_start(start))
    for index in range(start, end):
        header = parse_header(f.read(HEADER_SIZE), index)
        yield decompress(header, f.read(header.compressed_size), index)
