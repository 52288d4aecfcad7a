"""MDB shards (hub-docs `docs/xet/shard.md`): the binary format a client uploads to register
files (file info section: each file's terms, verification hashes and sha256) and new xorbs
(CAS info section: each xorb's chunk list), and that the global dedup query answers with.

`parse` reads an upload shard with bounds checks on every count, so a truncated or lying shard
is a FormatError naming the part that is wrong. `build` writes a complete shard (lookup tables
and footer included), which is what the client's dedup cache loads; with an HMAC key the chunk
hashes in it are keyed, so the answer proves nothing about chunks the asker doesn't hold."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from embedhub.xet import hashes
from embedhub.xet.errors import FormatError
from embedhub.xet.xorb import XorbInfo

HEADER_TAG = b"HFRepoMetaData\x00" + bytes(
    [85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169]
)
HEADER = struct.Struct("<32sQQ")
ENTRY = struct.Struct("<32sIIII")  # every section entry is 48 bytes, laid out like this
FOOTER_SIZE = 200
FLAG_VERIFICATION = 1 << 31
FLAG_METADATA_EXT = 1 << 30
CHUNK_FLAG_GLOBAL_DEDUP = 1 << 31
BOOKEND_HASH = b"\xff" * 32


@dataclass
class Term:
    xorb: bytes
    unpacked: int
    start: int
    end: int  # exclusive
    verification: bytes | None = None


@dataclass
class FileEntry:
    hash: bytes
    terms: list[Term] = field(default_factory=list)
    sha256: bytes | None = None


@dataclass
class XorbChunk:
    hash: bytes
    unpacked_start: int
    size: int
    flags: int = 0


@dataclass
class XorbEntry:
    hash: bytes
    unpacked_size: int
    size_on_disk: int
    chunks: list[XorbChunk] = field(default_factory=list)


@dataclass
class Shard:
    files: list[FileEntry] = field(default_factory=list)
    xorbs: list[XorbEntry] = field(default_factory=list)


def listing(info: XorbInfo) -> XorbEntry:
    """How a shard's CAS info section describes a stored xorb."""
    sizes = info.chunk_sizes()
    chunks = [
        XorbChunk(h, info.unpacked_start(i), sizes[i]) for i, h in enumerate(info.chunk_hashes)
    ]
    return XorbEntry(info.hash, info.unpacked_size, info.size, chunks)


class _Reader:
    def __init__(self, data: bytes, end: int) -> None:
        self.data, self.pos, self.end = data, HEADER.size, end

    def entry(self, what: str) -> tuple[bytes, int, int, int, int]:
        if self.pos + ENTRY.size > self.end:
            raise FormatError(f"the shard is truncated: it ends inside {what}")
        fields = ENTRY.unpack_from(self.data, self.pos)
        self.pos += ENTRY.size
        return fields

    def room_for(self, count: int, what: str) -> None:
        """Refuse a count the rest of the shard can't hold, before looping over it."""
        room = (self.end - self.pos) // ENTRY.size
        if count > room:
            raise FormatError(
                f"the shard is truncated: {what} has {count} entries, room for {room}"
            )


def parse(data: bytes) -> Shard:
    if len(data) < HEADER.size:
        raise FormatError(f"the shard is {len(data)} bytes, shorter than its 48-byte header")
    tag, version, footer_size = HEADER.unpack_from(data)
    if tag != HEADER_TAG:
        raise FormatError("this is not a shard: its first 32 bytes are not the shard tag")
    if version != 2:
        raise FormatError(f"unsupported shard header version {version} (expected 2)")
    if footer_size not in (0, FOOTER_SIZE) or footer_size > len(data) - HEADER.size:
        raise FormatError(f"the shard header gives an impossible footer size {footer_size}")
    reader = _Reader(data, len(data) - footer_size)
    shard = Shard(_parse_files(reader), _parse_xorbs(reader))
    if footer_size == 0 and reader.pos != len(data):
        raise FormatError(f"{len(data) - reader.pos} unexpected bytes after the shard's sections")
    return shard


def _parse_files(reader: _Reader) -> list[FileEntry]:
    files: list[FileEntry] = []
    while True:
        where = f"the header of file {len(files)}"
        file_hash, flags, count, _, _ = reader.entry(where)
        if file_hash == BOOKEND_HASH:
            return files
        entry = FileEntry(file_hash)
        reader.room_for(count, f"file {len(files)}")
        for i in range(count):
            xorb, _flags, unpacked, start, end = reader.entry(f"term {i} of file {len(files)}")
            if end <= start:
                raise FormatError(f"term {i} of file {len(files)} has an empty chunk range")
            entry.terms.append(Term(xorb, unpacked, start, end))
        if flags & FLAG_VERIFICATION:
            for i, term in enumerate(entry.terms):
                term.verification = reader.entry(f"verification {i} of file {len(files)}")[0]
        if flags & FLAG_METADATA_EXT:
            entry.sha256 = reader.entry(f"the sha256 of file {len(files)}")[0]
        files.append(entry)


def _parse_xorbs(reader: _Reader) -> list[XorbEntry]:
    xorbs: list[XorbEntry] = []
    while True:
        xorb_hash, _flags, count, unpacked, on_disk = reader.entry(f"xorb listing {len(xorbs)}")
        if xorb_hash == BOOKEND_HASH:
            return xorbs
        entry = XorbEntry(xorb_hash, unpacked, on_disk)
        reader.room_for(count, f"xorb listing {len(xorbs)}")
        for i in range(count):
            chunk, start, size, flags, _ = reader.entry(f"chunk {i} of xorb listing {len(xorbs)}")
            entry.chunks.append(XorbChunk(chunk, start, size, flags))
        xorbs.append(entry)


def _entry(h: bytes, a: int = 0, b: int = 0, c: int = 0, d: int = 0) -> bytes:
    return ENTRY.pack(h, a, b, c, d)


_BOOKEND = _entry(BOOKEND_HASH)


def _file_section(files: list[FileEntry]) -> bytes:
    out = []
    for f in files:
        flags = FLAG_VERIFICATION if all(t.verification for t in f.terms) and f.terms else 0
        flags |= FLAG_METADATA_EXT if f.sha256 is not None else 0
        out.append(_entry(f.hash, flags, len(f.terms)))
        out += [_entry(t.xorb, 0, t.unpacked, t.start, t.end) for t in f.terms]
        if flags & FLAG_VERIFICATION:
            out += [_entry(t.verification or b"") for t in f.terms]
        if f.sha256 is not None:
            out.append(_entry(f.sha256))
    return b"".join(out) + _BOOKEND


def _sort_key(h: bytes) -> tuple[int, ...]:
    # The reference orders hashes as four little-endian u64s; lookups binary-search that order.
    return struct.unpack("<4Q", h)


def build(files: list[FileEntry], xorbs: list[XorbEntry], *, hmac_key: bytes | None = None,
          footer: bool = True, expiry: int = 2**64 - 1, now: int = 0) -> bytes:  # fmt: skip
    """A shard; upload shards go without the footer (footer=False), answers with it."""
    key = hmac_key if hmac_key and hmac_key != hashes.ZERO_HASH else None
    xorbs = sorted(xorbs, key=lambda x: _sort_key(x.hash))
    file_section = _file_section(files)
    cas, xorb_lookup, chunk_lookup, index = [], [], [], 0
    for x in xorbs:
        xorb_lookup.append((_sort_key(x.hash)[0], index))
        cas.append(_entry(x.hash, 0, len(x.chunks), x.unpacked_size, x.size_on_disk))
        for i, c in enumerate(x.chunks):
            h = hashes.keyed(c.hash, key) if key else c.hash
            cas.append(_entry(h, c.unpacked_start, c.size, c.flags))
            chunk_lookup.append((_sort_key(h)[0], index, i))
        index += 1 + len(x.chunks)
    body = file_section + b"".join(cas) + _BOOKEND
    if not footer:
        return HEADER.pack(HEADER_TAG, 2, 0) + body
    file_info = HEADER.size
    xorb_info = file_info + len(file_section)
    lookups_at = HEADER.size + len(body)
    xorb_table = b"".join(struct.pack("<QI", k, i) for k, i in sorted(xorb_lookup))
    chunk_table = b"".join(struct.pack("<QII", *e) for e in sorted(chunk_lookup))
    footer_at = lookups_at + len(xorb_table) + len(chunk_table)
    tail = struct.pack(
        "<9Q32sQQ6QQQQQ",
        1, file_info, xorb_info,
        lookups_at, 0,  # no file lookup table
        lookups_at, len(xorb_lookup),
        lookups_at + len(xorb_table), len(chunk_lookup),
        key or hashes.ZERO_HASH, now, expiry, *([0] * 6),
        sum(x.size_on_disk for x in xorbs), sum(x.unpacked_size for x in xorbs),
        sum(x.unpacked_size for x in xorbs), footer_at,
    )  # fmt: skip
    return HEADER.pack(HEADER_TAG, 2, FOOTER_SIZE) + body + xorb_table + chunk_table + tail
