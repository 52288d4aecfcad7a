"""List types for request bodies. pydantic reports every bad element of a list and tries
every member of a union, so 600k strings sent where token ids belong once made 1.2M errors:
15 s of the event loop and 1.5 GB (bench/api_hostile.py). Lists marked here stop at their
first bad element; use them for every list a client sends."""

from __future__ import annotations

from typing import Annotated

from pydantic import FailFast, StrictInt


class _FailFast(FailFast):
    # pydantic's marker is an unhashable dataclass, and typing hashes the arguments of a
    # Union: without this, a fail-fast list can't be one member of a union.
    __hash__ = object.__hash__


FAIL_FAST = _FailFast()

Texts = Annotated[list[str], FAIL_FAST]
# Strict: pydantic's lax mode would take `[true]` or `[1.0]` as token id 1.
TokenIds = Annotated[list[StrictInt], FAIL_FAST]
TokenIdBatches = Annotated[list[TokenIds], FAIL_FAST]
