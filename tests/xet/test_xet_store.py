"""The Xet store on a real directory and SQLite file: xorbs in, shards registered, files read
back whole or by range, and every way a shard can be wrong refused with nothing registered."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from embedhub.xet import compression, hashes, reader, shard, upload, xorb
from embedhub.xet.errors import FormatError, MissingError
from embedhub.xet.store import XetStore


def _data(size: int, seed: int = 0) -> bytes:
    # Low-entropy bytes. LZ4 finds too few repeats in them to shrink them, so their chunks
    # are stored as is; the tests that need real decompression use floats of a few values.
    return np.random.default_rng(seed).integers(0, 16, size, dtype=np.uint8).tobytes()


@pytest.fixture
def store(tmp_path) -> XetStore:
    return XetStore(tmp_path / "xet")


def _put_xorbs(store: XetStore, up: upload.Upload) -> None:
    for h, blob in up.xorbs:
        f, tmp = store.temp_file()
        with f:
            f.write(blob)
        store.add_xorb(tmp, h)


def _upload(store: XetStore, data: bytes, **kw) -> upload.Upload:
    up = upload.prepare(data, **kw)
    _put_xorbs(store, up)
    store.register(shard.parse(up.shard()))
    return up


def test_a_file_reads_back_whole_and_by_range(store):
    data = _data(700_000)
    up = _upload(store, data, chunks_per_xorb=4)  # several xorbs, several terms
    record = store.file(up.entry.hash)
    assert record.size == len(data) and record.sha256 == hashlib.sha256(data).hexdigest()
    assert len(record.terms) > 1
    assert b"".join(store.read(record)) == data
    rng = np.random.default_rng(1)
    for _ in range(25):
        first = int(rng.integers(0, len(data)))
        last = int(rng.integers(first, len(data) + 1000))
        assert b"".join(store.read(record, first, last)) == data[first : last + 1]
        slices, offset = store.plan(record, first, last)
        covered = sum(s.unpacked for s in slices)
        assert offset < covered and covered - offset >= min(last, len(data) - 1) - first + 1


def test_same_xorb_twice_is_stored_once_first_copy_wins(store):
    chunks = [_data(20_000, seed=s) for s in range(3)]
    lz4_blob, info = xorb.serialize(chunks, compression.LZ4)
    raw_blob, raw_info = xorb.serialize(chunks, compression.NONE)
    assert raw_info.hash == info.hash and raw_blob != lz4_blob
    results = []
    for blob in (lz4_blob, raw_blob):
        f, tmp = store.temp_file()
        with f:
            f.write(blob)
        results.append(store.add_xorb(tmp, info.hash))
        assert not tmp.exists()
    assert results == [True, False]
    assert store.xorb_path(info.hash).read_bytes() == lz4_blob
    assert store.index.xorb(info.hash).byte_ends == info.byte_ends


def test_a_bad_xorb_leaves_nothing(store):
    blob, info = xorb.serialize([_data(10_000)], compression.LZ4)
    f, tmp = store.temp_file()
    with f:
        f.write(blob[:-1])
    with pytest.raises(FormatError):
        store.add_xorb(tmp, info.hash)
    assert not tmp.exists() and not store.has_xorb(info.hash)
    assert not store.xorb_path(info.hash).exists()


def test_a_crash_leftover_xorb_file_is_replaced(store):
    blob, info = xorb.serialize([_data(10_000)], compression.LZ4)
    leftover = store.xorb_path(info.hash)
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a xorb")  # renamed into place, then the server died
    f, tmp = store.temp_file()
    with f:
        f.write(blob)
    assert store.add_xorb(tmp, info.hash) is True
    assert leftover.read_bytes() == blob


def _refused(store: XetStore, data: bytes, message: str, error=FormatError) -> None:
    with pytest.raises(error, match=message):
        store.register(shard.parse(data))


@pytest.mark.parametrize("scheme", [compression.LZ4, compression.BG4_LZ4])
def test_bad_shards_register_nothing(store, scheme):
    # Floats of a few values, so that the sha256 check really decompresses (LZ4 or BG4).
    content = np.random.default_rng(0).integers(0, 4, 25_000).astype(np.float32).tobytes()
    up = upload.prepare(content, scheme=scheme)
    assert up.xorbs[0][1][4] == scheme  # the first chunk header's scheme byte
    _refused(store, up.shard(), "never uploaded", MissingError)
    _put_xorbs(store, up)
    entry, listings = up.entry, up.listings

    def variant(**changes) -> bytes:
        fields = {"hash": entry.hash, "terms": entry.terms, "sha256": entry.sha256, **changes}
        return shard.build([shard.FileEntry(**fields)], listings, footer=False)

    term = entry.terms[0]
    wrong = shard.Term(term.xorb, term.unpacked, term.start, term.end, b"\x00" * 32)
    _refused(store, variant(terms=[wrong]), "verification hash")
    past = shard.Term(term.xorb, term.unpacked, term.start, term.end + 5, term.verification)
    _refused(store, variant(terms=[past]), "which has")
    _refused(store, variant(hash=b"\x01" * 32), "hash to")
    _refused(store, variant(sha256=None), "no sha256")
    other = hashes.from_hex(hashlib.sha256(b"other").hexdigest())
    _refused(store, variant(sha256=other), "not the")
    assert store.file(entry.hash) is None
    store.register(shard.parse(up.shard()))
    assert b"".join(store.read(store.file(entry.hash))) == content


def test_files_are_found_by_sha256(store):
    data = _data(50_000)
    up = _upload(store, data)
    assert store.files_with_sha256(hashlib.sha256(data).hexdigest()) == [up.entry.hash]
    assert store.files_with_sha256(hashlib.sha256(b"other").hexdigest()) == []


def test_global_dedup_answers_with_keyed_hashes_of_related_xorbs(store):
    up = _upload(store, _data(400_000), chunks_per_xorb=3)
    first_chunk = store.index.xorb(up.entry.terms[0].xorb).chunk_hashes[0]
    key = os.urandom(32)
    answer = store.dedup_answer(first_chunk, key)
    parsed = shard.parse(answer)
    assert {x.hash for x in parsed.xorbs} == {t.xorb for t in up.entry.terms}
    listed = {c.hash for x in parsed.xorbs for c in x.chunks}
    assert hashes.keyed(first_chunk, key) in listed and first_chunk not in listed
    assert store.dedup_answer(b"\x07" * 32, key) is None


def _floats(n: int, seed: int) -> bytes:
    # Floats of a few values: their chunks really are compressed (LZ4 or BG4).
    return np.random.default_rng(seed).integers(0, 4, n).astype(np.float32).tobytes()


def test_read_ahead_gives_a_file_in_order(store):
    content = _floats(160_000, 0)  # ~10 chunks, 3 to a xorb: several terms
    up = _upload(store, content, chunks_per_xorb=3, scheme=compression.BG4_LZ4)
    record = store.file(up.entry.hash)
    assert len(record.terms) > 2
    with ThreadPoolExecutor(2) as pool:
        for piece, ahead in ((1, 1), (2, 3), (5, 2), (64, 4)):
            parts = reader.read_ahead(
                record, store.index.xorb, store.chunks, pool, piece=piece, ahead=ahead
            )
            assert b"".join(parts) == content, (piece, ahead)


def test_a_shard_of_several_multi_xorb_files_checks_each_sha256(store):
    ups = [upload.prepare(_floats(160_000, seed), chunks_per_xorb=3) for seed in (1, 2, 3)]
    for up in ups:
        _put_xorbs(store, up)
    listings = [x for up in ups for x in up.listings]
    # The third file claims the sha256 of its own bytes with the halves swapped: every byte
    # is there, in the wrong order, which only an in-order hash of the file notices.
    third = _floats(160_000, 3)
    swapped = third[len(third) // 2 :] + third[: len(third) // 2]
    entry = ups[2].entry
    bad = shard.FileEntry(
        entry.hash, entry.terms, hashes.from_hex(hashlib.sha256(swapped).hexdigest())
    )
    _refused(
        store, shard.build([ups[0].entry, ups[1].entry, bad], listings, footer=False), "not the"
    )
    assert all(store.file(up.entry.hash) is None for up in ups)
    store.register(shard.parse(shard.build([up.entry for up in ups], listings, footer=False)))
    for seed, up in zip((1, 2, 3), ups, strict=True):
        assert b"".join(store.read(store.file(up.entry.hash))) == _floats(160_000, seed)
