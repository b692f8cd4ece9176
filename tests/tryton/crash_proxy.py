"""A proxy on 127.0.0.1 in front of a test Tryton that stops it at a chosen moment: once Tryton
has answered a chosen JSON-RPC method, so that its transaction is committed, and before the
answer reaches the client. The client then sees what a server stopped in the middle of a
request looks like: its connection closed without an answer.

Each client connection carries one request (both sides are told ``Connection: close``); while
Tryton is down, a request gets its connection closed at once, as a refused one would.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from typing import Callable


class CrashProxy:
    def __init__(self, upstream_port: int, crash: Callable[[], None]):
        self.upstream_port = upstream_port
        self.crash = crash
        self.armed: str | None = None
        self.fired = threading.Event()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                proxy._forward(self.rfile, self.wfile)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="crash-proxy", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def arm(self, method: str) -> None:
        """Crash Tryton once it has answered ``method`` (e.g. ``model.sale.sale.confirm``) next."""
        self.fired.clear()
        self.armed = method

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _forward(self, rfile, wfile) -> None:
        head, body = _read(rfile)
        if head is None:
            return
        try:
            method = json.loads(body).get("method") if body else None
        except ValueError:
            method = None
        try:
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120) as upstream:
                upstream.sendall(_closing(head) + body)
                with upstream.makefile("rb") as answer:
                    response = answer.read()  # until Tryton closes: Connection: close
        except OSError:
            return  # Tryton is down: close the client's connection unanswered
        if method is not None and method == self.armed:
            self.armed = None
            self.crash()
            self.fired.set()
            return  # committed in Tryton, never answered
        wfile.write(response)


def _read(rfile) -> tuple[bytes | None, bytes]:
    """One HTTP request: its head and its body (by Content-Length)."""
    lines = []
    while True:
        line = rfile.readline()
        if not line:
            return None, b""
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
    length = next((int(l.split(b":", 1)[1]) for l in lines if l.lower().startswith(b"content-length:")), 0)
    return b"".join(lines), rfile.read(length)


def _closing(head: bytes) -> bytes:
    """The request head with ``Connection: close``, so the server ends the response by closing."""
    lines = [l for l in head.split(b"\r\n") if l and not l.lower().startswith(b"connection:")]
    return b"\r\n".join(lines + [b"Connection: close", b"", b""])
