"""Xet hashes (hub-docs `docs/xet/hashing.md`, and `api.md` "Converting hashes to strings").

Every hash is 32 raw bytes. Chunk hashes are keyed BLAKE3 of the chunk's bytes; xorb hashes are
the root of Xet's aggregated Merkle tree over (chunk hash, chunk size); file hashes are that
root keyed once more with a zero key; term verification hashes are keyed BLAKE3 over the raw
chunk hashes of a chunk range. On the wire a hash is 64 hex digits written as four
little-endian u64s, so each 8-byte group appears byte-reversed."""

from __future__ import annotations

import re
from collections.abc import Sequence

import blake3

DATA_KEY = bytes(
    [102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28,
     157, 228, 33, 16, 155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41]
)  # fmt: skip
INTERNAL_NODE_KEY = bytes(
    [1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230,
     93, 221, 83, 111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63]
)  # fmt: skip
VERIFICATION_KEY = bytes(
    [127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243,
     164, 205, 38, 213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195]
)  # fmt: skip
ZERO_HASH = bytes(32)
# A chunk is worth a global dedup query (and worth indexing for one) when its hash, read as the
# last little-endian u64, is a multiple of this.
DEDUP_MODULUS = 1024
# The Merkle tree cuts a parent after a child whose hash is a multiple of this (at least 2 and
# at most 2 * this + 1 children per parent).
_BRANCHING = 4
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")

Chunk = tuple[bytes, int]  # (chunk hash, chunk length in bytes)


def keyed(data: bytes, key: bytes) -> bytes:
    return blake3.blake3(data, key=key).digest()


def chunk_hash(data: bytes) -> bytes:
    return keyed(data, DATA_KEY)


def to_hex(h: bytes) -> str:
    """The wire form of a hash: each 8-byte group byte-reversed, then hex."""
    return "".join(h[i : i + 8][::-1].hex() for i in range(0, 32, 8))


def from_hex(text: str) -> bytes:
    """Inverse of `to_hex`; ValueError unless `text` is 64 lowercase hex digits."""
    if not isinstance(text, str) or not _HEX_RE.match(text):
        raise ValueError(f"{text!r} is not a hash (64 lowercase hex digits)")
    raw = bytes.fromhex(text)
    return b"".join(raw[i : i + 8][::-1] for i in range(0, 32, 8))


def last_u64(h: bytes) -> int:
    return int.from_bytes(h[24:32], "little")


def dedup_eligible(h: bytes) -> bool:
    return last_u64(h) % DEDUP_MODULUS == 0


def _node(children: Sequence[Chunk]) -> Chunk:
    text = "".join(f"{to_hex(h)} : {size}\n" for h, size in children)
    return keyed(text.encode(), INTERNAL_NODE_KEY), sum(size for _, size in children)


def _group_size(level: Sequence[Chunk], start: int) -> int:
    """How many children the next parent takes, starting at `start`."""
    left = len(level) - start
    if left <= 2:
        return left
    end = min(2 * _BRANCHING + 1, left)
    for i in range(2, end):
        if last_u64(level[start + i][0]) % _BRANCHING == 0:
            return i + 1
    return end


def merkle_root(chunks: Sequence[Chunk]) -> bytes:
    if not chunks:
        return ZERO_HASH
    level = list(chunks)
    while len(level) > 1:
        parents, i = [], 0
        while i < len(level):
            n = _group_size(level, i)
            parents.append(_node(level[i : i + n]))
            i += n
        level = parents
    return level[0][0]


def xorb_hash(chunks: Sequence[Chunk]) -> bytes:
    return merkle_root(chunks)


def file_hash(chunks: Sequence[Chunk]) -> bytes:
    if not chunks:
        return ZERO_HASH
    return keyed(merkle_root(chunks), ZERO_HASH)


def range_hash(chunk_hashes: Sequence[bytes]) -> bytes:
    """The verification hash of a term: its chunks' raw hashes, concatenated, keyed."""
    return keyed(b"".join(chunk_hashes), VERIFICATION_KEY)
