"""The client's side of the upload protocol (hub-docs `docs/xet/upload-protocol.md`), minus
dedup: chunk a file, pack its chunks into xorbs, describe the file and the xorbs in a shard.

The server never runs this; tests and tools do, to send exactly-known (or deliberately wrong)
xorbs and shards to the CAS routes without going through the official client."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from embedhub.xet import chunking, compression, hashes, shard, xorb


@dataclass
class Upload:
    xorbs: list[tuple[bytes, bytes]]  # (xorb hash, serialized xorb)
    entry: shard.FileEntry
    listings: list[shard.XorbEntry]

    @property
    def file_hash(self) -> str:
        return hashes.to_hex(self.entry.hash)

    def shard(self) -> bytes:
        return shard.build([self.entry], self.listings, footer=False)


def prepare(data: bytes, *, chunks_per_xorb: int = 1024, scheme: int = compression.LZ4) -> Upload:
    pieces = chunking.split(data)
    upload = Upload([], shard.FileEntry(b""), [])
    file_chunks: list[hashes.Chunk] = []
    for i in range(0, len(pieces), chunks_per_xorb):
        group = pieces[i : i + chunks_per_xorb]
        blob, info = xorb.serialize(group, scheme, footer=False)
        upload.xorbs.append((info.hash, blob))
        upload.listings.append(shard.listing(info))
        upload.entry.terms.append(
            shard.Term(info.hash, info.unpacked_size, 0, len(group),
                       hashes.range_hash(info.chunk_hashes))
        )  # fmt: skip
        file_chunks += zip(info.chunk_hashes, map(len, group), strict=True)
    upload.entry.hash = hashes.file_hash(file_chunks)
    upload.entry.sha256 = hashes.from_hex(hashlib.sha256(data).hexdigest())
    return upload
