"""What bounds the work one request can make the hub do: body sizes per route family, LFS
objects per batch and bytes per object. Each limit names the setting that raises it, so a
413 tells the person what to change."""

from __future__ import annotations

from dataclasses import dataclass

from embedhub.config import Settings
from embedhub.errors import EmbedhubError, Kind, too_large_message

# git-lfs asks for 100 objects per batch, huggingface_hub for 256; 1000 leaves room for other
# clients while one batch stays a few hundred kB of JSON and milliseconds of work.
LFS_BATCH_MAX_OBJECTS = 1000


@dataclass(frozen=True)
class BodyLimit:
    """How many bytes one kind of request body may have, and what to tell a client that sends
    more: the setting that raises it and what to do instead."""

    size: int
    setting: str
    advice: str

    def refuse(self, length: int | None) -> EmbedhubError:
        # Connection: close, since the unread rest of the body must not be taken for the
        # next request on this connection.
        return EmbedhubError(
            Kind.TOO_LARGE,
            too_large_message(length, self.size, self.setting, self.advice),
            code="PayloadTooLarge",
            headers={"Connection": "close"},
        )

    def check_declared(self, content_length: str | None) -> None:
        """Refuse at once, before reading anything, a body announced over the limit."""
        if content_length and content_length.isdigit() and int(content_length) > self.size:
            raise self.refuse(int(content_length))


@dataclass(frozen=True)
class Limits:
    json: BodyLimit  # the JSON API, LFS batch and verify
    commit: BodyLimit  # the commit API (ndjson, files inline as base64)
    git: BodyLimit  # git smart HTTP (a push's pack, a fetch's negotiation)
    lfs_object: int  # bytes of one LFS object (its PUT is bounded by the size it announced)

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            json=BodyLimit(
                settings.hub_json_limit,
                "--hub-json-limit, EMBEDHUB_HUB_JSON_LIMIT",
                "send fewer paths or objects per request",
            ),
            commit=BodyLimit(
                settings.hub_payload_limit,
                "--hub-payload-limit, EMBEDHUB_HUB_PAYLOAD_LIMIT",
                "split the upload into several commits, or upload big files through LFS",
            ),
            git=BodyLimit(
                settings.hub_payload_limit,
                "--hub-payload-limit, EMBEDHUB_HUB_PAYLOAD_LIMIT",
                "push fewer commits at a time, and track big files with git lfs",
            ),
            lfs_object=settings.hub_lfs_object_limit,
        )
