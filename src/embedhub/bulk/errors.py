"""The one failure bulk embedding reports: a message that names the file (or flag) and the
problem, shown to the user as is. The CLI turns it into a non-zero exit."""

from __future__ import annotations


class BulkError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
