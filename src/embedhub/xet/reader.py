"""File reconstruction (hub-docs `docs/xet/file-reconstruction.md`, `download-protocol.md`):
which chunk ranges of which xorbs make up a byte range of a file, and the file's bytes
themselves, produced chunk by chunk so a file of any size is never whole in memory.

`plan` answers the reconstruction API (terms trimmed to whole chunks around the range, and how
many bytes of the first one to skip); `read` streams the bytes, for the plain-HTTP download of
a file stored through Xet (resolve, and git-lfs); `read_ahead` gives the same bytes of a whole
file while another thread unpacks what comes next (the store hashes files with it)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass

from embedhub.xet.errors import NotFoundError
from embedhub.xet.index import FileRecord
from embedhub.xet.xorb import XorbInfo

XorbLookup = Callable[[bytes], XorbInfo | None]


@dataclass(frozen=True)
class Slice:
    xorb: XorbInfo
    start: int  # first chunk
    end: int  # chunk after the last

    @property
    def unpacked(self) -> int:
        return self.xorb.unpacked_ends[self.end - 1] - self.xorb.unpacked_start(self.start)

    @property
    def byte_range(self) -> tuple[int, int]:
        """Where these chunk records lie in the xorb file, end inclusive (an HTTP Range)."""
        return self.xorb.byte_start(self.start), self.xorb.byte_ends[self.end - 1] - 1


def _xorbs(record: FileRecord, lookup: XorbLookup) -> list[XorbInfo]:
    infos = []
    for xorb, _, _ in record.terms:
        info = lookup(xorb)
        if info is None:  # the index only lists files whose xorbs are all stored
            raise NotFoundError(f"xorb {xorb.hex()} of file {record.hash.hex()} is missing")
        infos.append(info)
    return infos


def plan(record: FileRecord, lookup: XorbLookup, first: int, last: int) -> tuple[list[Slice], int]:
    """The slices covering bytes [first, last] (inclusive, clipped to the file) and the offset
    of `first` in the first slice. The caller checks 0 <= first < record.size."""
    last = min(last, record.size - 1)
    slices: list[Slice] = []
    offset = 0
    pos = 0  # file offset where the current term starts
    for info, (_, start, end) in zip(_xorbs(record, lookup), record.terms, strict=True):
        base = info.unpacked_start(start)
        term_end = pos + info.unpacked_ends[end - 1] - base
        if term_end > first and pos <= last:
            s, e = start, end
            # Drop whole chunks that end before `first` or start after `last`.
            while pos + info.unpacked_ends[s] - base <= first:
                s += 1
            while pos + info.unpacked_start(e - 1) - base > last:
                e -= 1
            if not slices:
                offset = first - (pos + info.unpacked_start(s) - base)
            slices.append(Slice(info, s, e))
        pos = term_end
        if pos > last:
            break
    return slices, offset


def read(
    record: FileRecord,
    lookup: XorbLookup,
    chunks: Callable[[Slice], Iterator[bytes]],
    first: int = 0,
    last: int | None = None,
) -> Iterator[bytes]:
    """Bytes [first, last] of the file (the whole file by default), chunk by chunk;
    `chunks(slice)` yields the unpacked chunks of a slice (the store reads them from disk)."""
    if record.size == 0:
        return
    last = record.size - 1 if last is None else min(last, record.size - 1)
    slices, skip = plan(record, lookup, first, last)
    left = last - first + 1
    for piece in slices:
        for data in chunks(piece):
            if skip:
                data, skip = data[skip:], max(0, skip - len(data))
            if len(data) > left:
                data = data[:left]
            if data:
                left -= len(data)
                yield data
            if left == 0:
                return


def read_ahead(
    record: FileRecord,
    lookup: XorbLookup,
    chunks: Callable[[Slice], Iterator[bytes]],
    pool: Executor,
    *,
    piece: int = 64,
    ahead: int = 4,
) -> Iterator[bytes]:
    """The whole file's bytes in order, as `read` gives them, while `pool` unpacks the next
    `ahead` pieces of up to `piece` chunks (so at most ~(ahead + 1) * piece * 128 KiB are in
    memory). Unpacking (LZ4 and byte regrouping) and what the caller does with the bytes
    (sha256) release the GIL, so the two run on two cores at once."""
    if record.size == 0:
        return
    slices, _ = plan(record, lookup, 0, record.size - 1)
    todo = (
        Slice(s.xorb, start, min(start + piece, s.end))
        for s in slices
        for start in range(s.start, s.end, piece)
    )

    def unpack(part: Slice) -> list[bytes]:
        return list(chunks(part))

    queue: deque[Future[list[bytes]]] = deque()
    try:
        for part in todo:
            queue.append(pool.submit(unpack, part))
            if len(queue) > ahead:
                yield from queue.popleft().result()
        while queue:
            yield from queue.popleft().result()
    finally:
        for waiting in queue:
            waiting.cancel()
