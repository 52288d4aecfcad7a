"""What can be wrong with Xet input. The hub maps each to an HTTP status: a malformed object or
a failed check is a 400, an unknown file a 404."""

from __future__ import annotations


class XetError(ValueError):
    """Base class; the message says what was wrong, for a person to act on."""


class FormatError(XetError):
    """A xorb or shard that is not well formed, or whose hashes don't match its content."""


class MissingError(XetError):
    """A shard that names a xorb this server does not have."""


class NotFoundError(XetError):
    """A file (or xorb) that is not here, or not visible to the asking repo."""
