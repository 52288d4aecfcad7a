"""The Xet store under `DATA_DIR/xet`: xorb files (`xorbs/ab/<hash>`, as the client sent them),
the index (see `index.py`) and a `tmp/` folder for uploads in flight.

A xorb is validated in its temp file, then moved into place and indexed under a lock, first
writer wins: two clients sending the same xorb both succeed and it is stored once (the same
content can be serialized differently, so a later copy must never replace the indexed one).
A shard registers its files only when every xorb it names is stored, every term's
verification hash and the file hash agree with the stored chunk hashes, and the file's bytes
hash to the sha256 it claims (the sha256 is what git LFS pointers and downloads trust)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from embedhub.xet import hashes, reader, xorb
from embedhub.xet.errors import FormatError, MissingError
from embedhub.xet.index import FileRecord, Index
from embedhub.xet.shard import CHUNK_FLAG_GLOBAL_DEDUP, FileEntry, Shard, XorbEntry, listing
from embedhub.xet.shard import build as build_shard

# A global dedup answer lists at most this many xorbs (~50 kB each in the shard).
DEDUP_ANSWER_XORBS = 64
DEDUP_ANSWER_TTL = 24 * 3600
# The sha256 check of a registered file is where the client only waits (15-20% of a Xet
# upload's wall time). One thread unpacks the file's chunks (read, LZ4, BG4) while the
# registering thread hashes them; both release the GIL in their C work, so on an idle second
# core the check takes about the unpacking time instead of the sum. Two unpacking threads were
# no faster on this 2-core box and used more CPU (GIL hand-offs): bench/xet_register.py.
UNPACK_THREADS = 1


@dataclass(frozen=True)
class Registered:
    files: list[FileRecord]
    deduplicated: int  # bytes of these files the client did not have to send in this upload


class XetStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        # Uploads in flight live in tmp/ (xorb-*); the hub's startup sweep removes what a
        # killed server left there.
        self.index = Index(root / "index.sqlite")
        self._unpackers = ThreadPoolExecutor(UNPACK_THREADS, thread_name_prefix="xet-unpack")

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.root / "xorbs.lock", "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    def xorb_path(self, h: bytes) -> Path:
        name = hashes.to_hex(h)
        return self.root / "xorbs" / name[:2] / name

    # --- xorbs -----------------------------------------------------------------------------
    def temp_file(self) -> tuple[BinaryIO, Path]:
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="xorb-")
        return os.fdopen(fd, "wb"), Path(name)

    def has_xorb(self, h: bytes) -> bool:
        return self.index.has_xorb(h)

    def add_xorb(self, tmp: Path, expected: bytes) -> bool:
        """Validate the xorb in `tmp` (written and closed) and store it; False when it was
        already stored. The temp file is consumed either way; FormatError (nothing stored) when
        it is not valid."""
        try:
            if self.index.has_xorb(expected):
                return False
            with open(tmp, "rb") as f:
                info = xorb.validate(f, expected)
                os.fsync(f.fileno())  # on disk before it is renamed into place
            with self._lock():
                if self.index.has_xorb(expected):
                    return False
                dest = self.xorb_path(expected)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, dest)  # may replace a file left by a crash: it had no row
                eligible = [h for h in info.chunk_hashes if hashes.dedup_eligible(h)]
                return self.index.add_xorb(info, eligible)
        finally:
            tmp.unlink(missing_ok=True)

    def chunks(self, piece: reader.Slice) -> Iterator[bytes]:
        with open(self.xorb_path(piece.xorb.hash), "rb") as f:
            yield from xorb.read_chunks(f, piece.xorb, piece.start, piece.end)

    # --- files -----------------------------------------------------------------------------
    def file(self, h: bytes) -> FileRecord | None:
        return self.index.file(h)

    def read(self, record: FileRecord, first: int = 0, last: int | None = None) -> Iterator[bytes]:
        return reader.read(record, self.index.xorb, self.chunks, first, last)

    def ranges(self, record: FileRecord) -> Callable[[int, int], Iterator[bytes]]:
        """`read` for many ranges of one file (a reader seeking through it), its xorbs looked
        up once: per range, the lookups (a query and a list of chunk hashes per xorb of the
        whole file) cost ~1.5 s of CPU when a 1.5 GB split was copied 1 MiB at a time."""
        known: dict[bytes, xorb.XorbInfo | None] = {}

        def lookup(h: bytes) -> xorb.XorbInfo | None:
            if h not in known:
                known[h] = self.index.xorb(h)
            return known[h]

        return lambda first, last: reader.read(record, lookup, self.chunks, first, last)

    def plan(self, record: FileRecord, first: int, last: int) -> tuple[list[reader.Slice], int]:
        return reader.plan(record, self.index.xorb, first, last)

    def register(self, shard: Shard) -> Registered:
        """Check a shard against the stored xorbs and register its files. Which repo may read
        them is the hub's business (it links their sha256s to the uploading repo)."""
        infos = self._xorbs_of(shard)
        for described in shard.xorbs:
            _check_listing(described, infos[described.hash])
        records = [_record(f, infos) for f in shard.files]
        for record in records:
            if self.index.file(record.hash) is None:
                self._check_sha256(record)
        # A client asks the global dedup API about each file's first chunk and about chunks
        # it flags; chunks whose hash makes them eligible were indexed with their xorb.
        dedup = [(infos[x].chunk_hashes[s], x) for r in records for x, s, _ in r.terms[:1]]
        dedup += [
            (c.hash, x.hash)
            for x in shard.xorbs
            for c in x.chunks
            if c.flags & CHUNK_FLAG_GLOBAL_DEDUP
        ]
        self.index.add_files(records, dedup)
        sent = sum(x.unpacked_size for x in shard.xorbs)
        return Registered(records, max(0, sum(r.size for r in records) - sent))

    def _xorbs_of(self, shard: Shard) -> dict[bytes, xorb.XorbInfo]:
        wanted = {t.xorb for f in shard.files for t in f.terms} | {x.hash for x in shard.xorbs}
        infos = {h: self.index.xorb(h) for h in wanted}
        missing = sorted(hashes.to_hex(h) for h, info in infos.items() if info is None)
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise MissingError(
                f"the shard references xorb {missing[0]}{more}, which was never uploaded here; "
                "upload every xorb before the shard that uses it"
            )
        return infos  # type: ignore[return-value]

    def _check_sha256(self, record: FileRecord) -> None:
        digest = hashlib.sha256()
        for data in reader.read_ahead(record, self.index.xorb, self.chunks, self._unpackers):
            digest.update(data)
        if digest.hexdigest() != record.sha256:
            raise FormatError(
                f"file {hashes.to_hex(record.hash)}: its bytes hash to sha256 "
                f"{digest.hexdigest()}, not the {record.sha256} the shard claims"
            )

    # --- lookups ---------------------------------------------------------------------------
    def files_with_sha256(self, sha256: str) -> list[bytes]:
        return self.index.files_with_sha256(sha256)

    # --- global dedup ----------------------------------------------------------------------
    def dedup_answer(self, chunk: bytes, key: bytes) -> bytes | None:
        """A shard listing the xorb that holds `chunk` and its neighbours, chunk hashes keyed
        with `key`; None when no stored xorb is known to hold it."""
        found = self.index.dedup_xorb(chunk)
        if found is None:
            return None
        entries = []
        for h in self.index.related_xorbs(found, DEDUP_ANSWER_XORBS):
            info = self.index.xorb(h)
            if info is not None:
                entries.append(listing(info))
        now = int(time.time())
        return build_shard([], entries, hmac_key=key, now=now, expiry=now + DEDUP_ANSWER_TTL)


def _check_listing(listing: XorbEntry, info: xorb.XorbInfo) -> None:
    name = hashes.to_hex(listing.hash)
    if [c.hash for c in listing.chunks] != info.chunk_hashes:
        raise FormatError(f"the shard's listing of xorb {name} does not match its chunks")
    if [c.size for c in listing.chunks] != info.chunk_sizes():
        raise FormatError(f"the shard's listing of xorb {name} gives wrong chunk sizes")


def _record(entry: FileEntry, infos: dict[bytes, xorb.XorbInfo]) -> FileRecord:
    name = hashes.to_hex(entry.hash)
    if entry.sha256 is None:
        raise FormatError(
            f"file {name} has no sha256 (metadata extension): a hub repo needs it for the "
            "file's git LFS pointer"
        )
    chunks: list[hashes.Chunk] = []
    for i, term in enumerate(entry.terms):
        info = infos[term.xorb]
        where = f"file {name}, term {i}"
        if term.end > info.num_chunks:
            raise FormatError(
                f"{where}: chunks {term.start}-{term.end} of xorb {hashes.to_hex(term.xorb)}, "
                f"which has {info.num_chunks}"
            )
        if term.verification is None:
            raise FormatError(f"{where}: no verification hash; every term needs one")
        if term.verification != hashes.range_hash(info.chunk_hashes[term.start : term.end]):
            raise FormatError(f"{where}: the verification hash does not match the xorb's chunks")
        sizes = info.chunk_sizes()[term.start : term.end]
        if sum(sizes) != term.unpacked:
            raise FormatError(
                f"{where}: {term.unpacked} bytes announced, the chunks hold {sum(sizes)}"
            )
        chunks += zip(info.chunk_hashes[term.start : term.end], sizes, strict=True)
    actual = hashes.file_hash(chunks)
    if actual != entry.hash:
        raise FormatError(f"file {name}: its terms hash to {hashes.to_hex(actual)}")
    terms = [(t.xorb, t.start, t.end) for t in entry.terms]
    # The sha256 is stored like every hash in a shard: four little-endian u64s.
    sha256 = hashes.to_hex(entry.sha256)
    return FileRecord(entry.hash, sum(size for _, size in chunks), sha256, terms)
