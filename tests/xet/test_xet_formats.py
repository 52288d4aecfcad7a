"""The Xet formats on their own: hashes against the reference vectors published with xet-core,
chunking against a byte-by-byte reading of the spec, chunk compression, xorbs and shards."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from embedhub.xet import chunking, compression, hashes, shard, xorb
from embedhub.xet.errors import FormatError
from embedhub.xet.gear_table import TABLE

# (chunk hash, size) lists with their xorb hash and file hash, from xet-core's
# aggregated-hash correctness test.
H1 = "cfc5d07f6f03c29bbf424132963fe08d19a37d5757aaf520bf08119f05cd56d6"
H2 = "c3e67584b5c4fc2a89837ec39e40f2c8a6bb0b2987ac94cd4b31e5fbdd210a72"
H3 = "0d2beb91b9196929a5ddec9f6e306924ddf4a24268e3e59fd8464738d525af37"
H4 = "adf8773496a9b7319b2e50dc98093f344053b17d8ad37100b9c07d9805988784"
REFERENCE = [
    ([(H1, 100)], H1, "8e16257caa3fe079d484d872a8975264b2ff683b0d6db9028cc7c0f968a45661"),
    (
        [(H1, 100), (H2, 200), (H3, 300)],
        "71ec1275fca074724e2dd666921b3277c7cee603e4d025bcab2d4050015be2bc",
        "54e55dccc6653c612bdb5576c5d3cb34bb31bc4e100248abccf4c908b3ef7715",
    ),
    (
        [(H1, 100)] * 4,
        "89f2ada89ff8c96763c6b25010e6dd76a4c05b1466207633ea559acf2093211b",
        "2cdba690d0e09563596e0cda626d43eb4c96ef1e994fe72d9b2f5a83cfcd36dd",
    ),
    (
        [(H1, 100), (H2, 200), (H1, 100), (H2, 200), (H3, 300), (H4, 400)],
        "52c826f99507aa05d0b45e9837fa1709e0485425cfbcb1e80db3905cf98b3ee9",
        "91d21684db364c8883ab8209fa5eb2e781cf07f37e1fa43e731c30839afe422f",
    ),
]


@pytest.mark.parametrize(("chunks", "xorb_hex", "file_hex"), REFERENCE)
def test_merkle_hashes_match_the_reference(chunks, xorb_hex, file_hex):
    parsed = [(hashes.from_hex(h), size) for h, size in chunks]
    assert hashes.to_hex(hashes.xorb_hash(parsed)) == xorb_hex
    assert hashes.to_hex(hashes.file_hash(parsed)) == file_hex


def test_hash_strings_reverse_each_8_byte_group():
    raw = bytes(range(32))
    text = hashes.to_hex(raw)
    assert text.startswith("0706050403020100")
    assert hashes.from_hex(text) == raw
    for bad in ("ab", "G" * 64, "A" * 64):
        with pytest.raises(ValueError):
            hashes.from_hex(bad)


def _chunk_by_the_book(data: bytes) -> list[int]:
    """chunking.md's pseudocode, one byte at a time."""
    table = [int(v) for v in TABLE]
    h, start, ends = 0, 0, []
    for i, b in enumerate(data):
        h = ((h << 1) + table[b]) & (2**64 - 1)
        size = i + 1 - start
        if size >= chunking.MIN_CHUNK and (size >= chunking.MAX_CHUNK or h >> 48 == 0):
            ends.append(i + 1)
            start, h = i + 1, 0
    return ends + ([len(data)] if start < len(data) else [])


@pytest.mark.parametrize("block", [chunking.BLOCK, 100_000])
def test_chunker_finds_the_spec_boundaries(monkeypatch, block):
    monkeypatch.setattr(chunking, "BLOCK", block)
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, 900_000, dtype=np.uint8).tobytes()
    low_entropy = bytes(300_000) + data[:50_000]
    for sample in (data, low_entropy, data[:5000], b""):
        assert chunking.boundaries(sample) == _chunk_by_the_book(sample)
    sizes = np.diff([0, *chunking.boundaries(data)])
    assert sizes[:-1].min() >= chunking.MIN_CHUNK and sizes.max() <= chunking.MAX_CHUNK


@pytest.mark.parametrize("size", [0, 1, 5, 4096, 65_537])
@pytest.mark.parametrize("scheme", [compression.NONE, compression.LZ4, compression.BG4_LZ4])
def test_chunk_compression_round_trips(scheme, size):
    data = (np.arange(size, dtype=np.uint32) % 251).astype(np.uint8).tobytes()
    assert compression.bg4_regroup(compression.bg4_split(data)) == data
    header, payload = compression.compress(data, scheme)
    parsed = compression.parse_header(header.encode(), 0)
    assert parsed == header and compression.decompress(parsed, payload) == data


def test_bg4_groups_bytes_by_position():
    assert compression.bg4_split(bytes([1, 2, 3, 4, 5, 6, 7, 8, 9])) == bytes(
        [1, 5, 9, 2, 6, 3, 7, 4, 8]
    )


def test_chunk_headers_are_checked():
    good = compression.ChunkHeader(10, compression.NONE, 10).encode()
    with pytest.raises(FormatError, match="version"):
        compression.parse_header(b"\x01" + good[1:], 3)
    with pytest.raises(FormatError, match="scheme"):
        compression.parse_header(good[:4] + b"\x07" + good[5:], 3)
    with pytest.raises(FormatError, match="chunk limit"):
        compression.parse_header(compression.ChunkHeader(10, 0, 200_000).encode(), 3)
    header = compression.ChunkHeader(10, compression.LZ4, 10)
    with pytest.raises(FormatError, match="LZ4"):
        compression.decompress(header, b"not an lz4 frame", 3)


def _chunks(n: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 40, 9000 + 100 * i, dtype=np.uint8).tobytes() for i in range(n)]


@pytest.mark.parametrize(
    "footer, scheme",
    [(True, compression.LZ4), (False, compression.LZ4), (True, compression.BG4_LZ4),
     (True, compression.NONE)],
)  # fmt: skip
def test_xorb_round_trip_and_validation(footer, scheme):
    # Floats of a few values, so that LZ4 and BG4 really compress them (the bytes of
    # `_chunks` are stored as is whatever the scheme asked).
    rng = np.random.default_rng(0)
    chunks = [rng.integers(0, 4, 2250 + 25 * i).astype(np.float32).tobytes() for i in range(5)]
    blob, info = xorb.serialize(chunks, scheme, footer=footer)
    assert blob[4] == scheme  # the first chunk header's scheme byte
    checked = xorb.validate(io.BytesIO(blob), info.hash)
    assert checked.chunk_hashes == [hashes.chunk_hash(c) for c in chunks]
    assert checked.byte_ends == info.byte_ends and checked.size == len(blob)
    got = list(xorb.read_chunks(io.BytesIO(blob), checked, 1, 4))
    assert got == chunks[1:4]


def test_old_v0_footer_is_accepted():
    blob, info = xorb.serialize(_chunks(2), compression.NONE, footer=False)
    blob += xorb.build_footer(info, version=0)
    assert xorb.validate(io.BytesIO(blob), info.hash).num_chunks == 2


def test_bad_xorbs_are_refused_with_the_reason():
    blob, info = xorb.serialize(_chunks(3), compression.LZ4)
    other = xorb.serialize(_chunks(3, seed=1), compression.LZ4)[1].hash
    cases = {
        "hash to": (blob, other),
        "ends inside": (blob[: info.byte_ends[1] + 20], info.hash),
        "no chunks": (b"", info.hash),
    }
    no_footer = blob[: info.byte_ends[-1]]
    tampered = bytearray(blob)
    tampered[-30] ^= 0xFF  # inside the footer's boundary section
    cases["footer"] = (bytes(tampered), info.hash)
    footer = xorb.build_footer(info)
    cases["footer's length"] = (no_footer + footer[:-4] + struct.pack("<I", 7), info.hash)
    for message, (data, expected) in cases.items():
        with pytest.raises(FormatError, match=message):
            xorb.validate(io.BytesIO(data), expected)


def _sample_shard() -> tuple[bytes, shard.Shard]:
    blob, info = xorb.serialize(_chunks(3), compression.LZ4)
    sizes = info.chunk_sizes()
    term = shard.Term(info.hash, sum(sizes[:2]), 0, 2, hashes.range_hash(info.chunk_hashes[:2]))
    file_hash = hashes.file_hash(list(zip(info.chunk_hashes[:2], sizes[:2], strict=True)))
    entry = shard.FileEntry(file_hash, [term], bytes(range(32)))
    parsed = shard.Shard([entry], [shard.listing(info)])
    return shard.build(parsed.files, parsed.xorbs, footer=False), parsed


def test_shard_round_trip():
    data, expected = _sample_shard()
    assert shard.parse(data) == expected
    with_footer = shard.build(expected.files, expected.xorbs, hmac_key=b"\x01" * 32)
    parsed = shard.parse(with_footer)
    assert parsed.files == expected.files
    assert [c.hash for c in parsed.xorbs[0].chunks] == [
        hashes.keyed(c.hash, b"\x01" * 32) for c in expected.xorbs[0].chunks
    ]


def test_shard_footer_points_at_sorted_lookup_tables():
    _, expected = _sample_shard()
    data = shard.build([], expected.xorbs)
    footer = data[-shard.FOOTER_SIZE :]
    fields = struct.unpack("<9Q", footer[:72])
    chunk_at, chunk_n = fields[7], fields[8]
    assert chunk_n == len(expected.xorbs[0].chunks)
    keys = [struct.unpack_from("<QII", data, chunk_at + 16 * i) for i in range(chunk_n)]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    assert struct.unpack("<Q", footer[-8:])[0] == len(data) - shard.FOOTER_SIZE


def test_bad_shards_are_refused_with_the_reason():
    data, _ = _sample_shard()
    with pytest.raises(FormatError, match="truncated"):
        shard.parse(data[:-10])
    with pytest.raises(FormatError, match="not a shard"):
        shard.parse(b"x" * 100)
    with pytest.raises(FormatError, match="shorter"):
        shard.parse(b"HF")
    with pytest.raises(FormatError, match="unexpected bytes"):
        shard.parse(data + b"\x00" * 48)
    lying = bytearray(data)
    struct.pack_into("<I", lying, 48 + 36, 10_000)  # file 0 claims 10,000 terms
    with pytest.raises(FormatError, match="truncated"):
        shard.parse(bytes(lying))
