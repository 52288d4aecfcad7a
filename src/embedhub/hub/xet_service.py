"""The Xet parts a Hub holds: the store, the token signer and the byte counters for /metrics
(kept apart from `xet_repo` so the Hub can hold them without an import cycle).

Which repo may read a Xet file is decided like for LFS objects, by the hub's per-repo object
links (sha256s; `Hub.object_visible`): a shard uploaded for a repo links its files' sha256s to
it. The store checks each file's bytes against its sha256 before registering it, so every
Xet file with a given sha256 holds the same bytes, and any of them may serve a pointer."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter

from embedhub.hub.paths import RepoId
from embedhub.xet.index import FileRecord
from embedhub.xet.store import XetStore
from embedhub.xet.tokens import Signer

# Where the CAS routes live; the token routes hand this out as `casUrl`.
CAS_PREFIX = "/api/xet"


class XetMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.received = Counter(
            "embedhub_xet_received_bytes", "Xorb and shard bytes clients uploaded", registry=r
        )
        self.served = Counter(
            "embedhub_xet_served_bytes",
            "Bytes sent from the Xet store (xorb ranges and reconstructed files)",
            registry=r,
        )
        self.deduplicated = Counter(
            "embedhub_xet_deduplicated_bytes",
            "Bytes of registered files that were already stored and not sent again",
            registry=r,
        )


class XetService:
    def __init__(self, root: Path, secret: bytes) -> None:
        self.store = XetStore(root)
        self.signer = Signer(secret)
        self.metrics = XetMetrics()

    def use_registry(self, registry: CollectorRegistry) -> None:
        self.metrics = XetMetrics(registry)

    def file_for(self, oid: str, size: int | None = None) -> FileRecord | None:
        """A Xet file with this sha256 (and size), if one is stored. The caller checks that
        the repo asking may read `oid`."""
        for h in self.store.files_with_sha256(oid):
            record = self.store.file(h)
            if record and (size is None or record.size == size):
                return record
        return None

    def has(self, oid: str, size: int) -> bool:
        return self.file_for(oid, size) is not None

    def size_of(self, oid: str) -> int | None:
        record = self.file_for(oid)
        return record.size if record else None


def repo_key(rid: RepoId) -> str:
    """How a Xet access token names its repo."""
    return f"{rid.type}/{rid.namespace}/{rid.name}"
