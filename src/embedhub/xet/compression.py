"""Chunk records inside a xorb (hub-docs `docs/xet/xorb.md`, "Chunk Format"): an 8-byte header
(version 0, 3-byte little-endian compressed size, scheme, 3-byte uncompressed size) and the
payload, stored as is (scheme 0), as an LZ4 frame (1), or as an LZ4 frame of the bytes regrouped
by their position in each 4-byte group (2, "BG4", which makes float data compress better)."""

from __future__ import annotations

from dataclasses import dataclass

import lz4.frame
import numpy as np

from embedhub.xet.errors import FormatError

NONE, LZ4, BG4_LZ4 = 0, 1, 2
SCHEMES = {NONE: "none", LZ4: "lz4", BG4_LZ4: "bg4-lz4"}
HEADER_SIZE = 8
MAX_CHUNK_SIZE = 128 * 1024
# The reference reader allows a compressed payload of up to twice the largest chunk.
MAX_PAYLOAD = 2 * MAX_CHUNK_SIZE


@dataclass(frozen=True)
class ChunkHeader:
    compressed_size: int
    scheme: int
    size: int  # uncompressed

    def encode(self) -> bytes:
        return (
            b"\x00"
            + self.compressed_size.to_bytes(3, "little")
            + bytes([self.scheme])
            + self.size.to_bytes(3, "little")
        )


def parse_header(raw: bytes, index: int) -> ChunkHeader:
    if len(raw) != HEADER_SIZE:
        raise FormatError(f"chunk {index}: the xorb ends inside a chunk header")
    if raw[0] != 0:
        raise FormatError(f"chunk {index}: unknown chunk header version {raw[0]}")
    header = ChunkHeader(
        int.from_bytes(raw[1:4], "little"), raw[4], int.from_bytes(raw[5:8], "little")
    )
    if header.scheme not in SCHEMES:
        raise FormatError(f"chunk {index}: unknown compression scheme {header.scheme}")
    if header.size > MAX_CHUNK_SIZE or header.compressed_size > MAX_PAYLOAD:
        raise FormatError(
            f"chunk {index}: {header.size} bytes ({header.compressed_size} stored) is over "
            f"the {MAX_CHUNK_SIZE}-byte chunk limit"
        )
    return header


def bg4_split(data: bytes) -> bytes:
    """Byte i of every 4-byte group goes to group i; groups are concatenated in order."""
    arr = np.frombuffer(data, dtype=np.uint8)
    return b"".join(arr[i::4].tobytes() for i in range(4))


def bg4_regroup(grouped: bytes) -> bytes:
    n = len(grouped)
    arr = np.frombuffer(grouped, dtype=np.uint8)
    out = np.empty(n, dtype=np.uint8)
    pos = 0
    for i in range(4):
        # Group i holds bytes i, i+4, ...: the first n % 4 groups have one byte more.
        count = n // 4 + (1 if i < n % 4 else 0)
        out[i::4] = arr[pos : pos + count]
        pos += count
    return out.tobytes()


def _lz4_decompress(payload: bytes, size: int, index: int) -> bytes:
    # max_length: a hostile frame can't make us allocate more than the header announced.
    decompressor = lz4.frame.LZ4FrameDecompressor()
    try:
        out = decompressor.decompress(payload, max_length=size + 1)
    except RuntimeError as exc:
        raise FormatError(f"chunk {index}: bad LZ4 frame ({exc})") from None
    if not decompressor.eof or decompressor.unused_data:
        raise FormatError(f"chunk {index}: the LZ4 frame does not end where the chunk does")
    return out


def decompress(header: ChunkHeader, payload: bytes, index: int = 0) -> bytes:
    if header.scheme == NONE:
        data = payload
    elif header.scheme == LZ4:
        data = _lz4_decompress(payload, header.size, index)
    else:
        data = bg4_regroup(_lz4_decompress(payload, header.size, index))
    if len(data) != header.size:
        raise FormatError(
            f"chunk {index}: decompressed to {len(data)} bytes, the header says {header.size}"
        )
    return data


def compress(data: bytes, scheme: int = LZ4) -> tuple[ChunkHeader, bytes]:
    """A chunk record's header and payload; stored as is when compression does not help."""
    if scheme == LZ4:
        payload = lz4.frame.compress(data, store_size=False)
    elif scheme == BG4_LZ4:
        payload = lz4.frame.compress(bg4_split(data), store_size=False)
    else:
        payload = data
    if len(payload) >= len(data):
        scheme, payload = NONE, data
    return ChunkHeader(len(payload), scheme, len(data)), payload
