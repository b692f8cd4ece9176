"""The shop API's HTTP server (for `erpbridge run` and `erpbridge serve`): uvicorn, bounded so that
slow or idle clients cannot hold it.

What uvicorn bounds by itself: an idle kept-alive connection is closed after
``timeout_keep_alive`` (``api.keep_alive_timeout``); a request head over 16 KB is refused with
400 (h11's limit); with ``limit_concurrency`` (``api.max_connections``) requests beyond that many
open connections or running requests are answered 503. What it does not bound: how long a client
takes to send its request head. Its keep-alive timer starts only after a first response and stops
at the first byte of the next request, so a connection that opens and sends nothing, or a byte
every few seconds (slowloris), stays open for good, and a few hundred of them fill the connection
cap. :class:`HeadTimeoutProtocol` adds that bound: from connecting, or on a kept-alive connection
from the first byte of the next request, a client has ``api.header_timeout`` seconds to send a
whole head, else it gets 408 (if it had begun one) and the connection is closed. The body is not
timed: how fast it is read depends on the application too (reading pauses while a handler is
busy); its size is bounded by ``api.max_body_bytes``.
"""

from __future__ import annotations

import asyncio

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from erpbridge.api.config import ApiConfig

_TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class HeadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head (``header_timeout`` seconds)."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._watch_head(begun=True)  # a new connection owes its first head at once

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head(begun=True)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # may parse a pipelined request at once
        self._watch_head(begun=bool(self.conn.trailing_data[0]))  # idle until then: the keep-alive timeout's

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def _watch_head(self, begun: bool) -> None:
        """Time the head while one is owed: h11 sees the client IDLE until a whole head arrived."""
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            self._stop_watching()
        elif begun and self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _stop_watching(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self.conn.trailing_data[0]:  # a head was begun: say why it ends (an idle one just closes)
            self.transport.write(_TIMEOUT_ANSWER)
        self.transport.close()


def api_server(asgi_app, config: ApiConfig, *, host: str | None = None, port: int | None = None,
               log_level: str = "info") -> uvicorn.Server:
    """A uvicorn server for ``asgi_app`` with the ``api:`` section's address, timeouts and limits."""
    protocol = type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"header_timeout": config.header_timeout})
    return uvicorn.Server(uvicorn.Config(
        asgi_app, host=host or config.host, port=port or config.port, log_level=log_level, proxy_headers=False,
        server_header=False, http=protocol, timeout_keep_alive=config.keep_alive_timeout,  # type: ignore[arg-type]
        limit_concurrency=config.max_connections))
