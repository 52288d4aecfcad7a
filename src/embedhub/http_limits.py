"""Limits uvicorn's HTTP protocol doesn't have: the size and count of a request's headers, and
how long a client may take to send its request head or to keep its body coming.

Why: uvicorn with httptools accepts a header of any size (a 64 MiB header was read whole into
memory) and waits for a slow client for ever (100 connections sending a byte every few seconds
were held for good). Both are cheap attacks on a public server, so the protocol class that
uvicorn runs is this subclass: it counts the bytes of the request head as they arrive (before
httptools buffers them), and arms a timer for the head and an idle timer for the body."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = 64 * 1024  # the request line and every header together
    max_headers: int = 100
    header_timeout: float = 10.0  # seconds to send the whole request head
    body_timeout: float = 60.0  # seconds without a byte of a request body still expected


def protocol_class(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """uvicorn takes a protocol class (`http=`), not an instance: bind the limits to one."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})


class _Refused(Exception):
    """Raised from a parser callback: httptools stops parsing, uvicorn calls send_400_response,
    which answers with the status and message kept in `_refusal`."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits = HttpLimits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._refusal: tuple[int, str] | None = None
        self._head_bytes = 0  # bytes received while the head is incomplete
        self._parsed_bytes = 0  # the request line and headers as parsed
        self._head_open = True  # no request head complete yet on this connection
        self._header_count = 0
        self._timer: asyncio.TimerHandle | None = None
        self._arm(self.limits.header_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_open:
            self._head_bytes += len(data)
        elif self._timer is not None:  # body bytes: the client is alive, restart the idle timer
            self._arm(self.limits.body_timeout, self._body_too_slow)
        super().data_received(data)
        # httptools keeps a partial head in its own buffers until it is complete, so a head
        # still open after this much data is refused here, before the next read.
        if self._head_open and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, self._too_large_message())

    # --- parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._head_open:  # the next request on a kept-alive connection
            self._head_open = True
            self._head_bytes = 0
            self._parsed_bytes = 0
            self._header_count = 0
            self._arm(self.limits.header_timeout, self._head_too_slow)

    def on_url(self, url: bytes) -> None:
        self._parsed_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed_bytes += len(name) + len(value) + 4  # ": " and CRLF
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = (
                431,
                f"Too many request headers: more than {self.limits.max_headers} (--max-headers)",
            )
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._disarm()
        # A whole head in one read: measured as parsed, since the read may hold body bytes too.
        if self._parsed_bytes > self.limits.max_header_bytes:
            self._refusal = (431, self._too_large_message())
            raise _Refused
        super().on_headers_complete()
        if not self.parser.should_upgrade():
            self._arm(self.limits.body_timeout, self._body_too_slow)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # --- refusing ------------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(*self._refusal)

    def _refuse(self, status: int, message: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        body = orjson.dumps({"error": message})
        head = (
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n"
        )
        self.transport.write(STATUS_LINE[status] + head + body)
        self.transport.close()

    def _too_large_message(self) -> str:
        return (
            f"Request headers too large: more than {self.limits.max_header_bytes} bytes "
            "(--max-header-bytes)"
        )

    # --- timers --------------------------------------------------------------------------------
    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_too_slow(self) -> None:
        self._timer = None
        if self._head_bytes == 0:  # nothing sent at all: just close, like an idle keep-alive
            if not self.transport.is_closing():
                self.transport.close()
            return
        self._refuse(
            408,
            f"The request head took longer than {self.limits.header_timeout:g} s "
            "(--header-timeout)",
        )

    def _body_too_slow(self) -> None:
        self._timer = None
        if self.flow.read_paused:  # we stopped reading (the app is busy), not the client
            self._arm(self.limits.body_timeout, self._body_too_slow)
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # The app is waiting for the body; closing tells it the client is gone.
            if not self.transport.is_closing():
                self.transport.close()
