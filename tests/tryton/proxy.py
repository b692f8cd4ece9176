"""An HTTP proxy on 127.0.0.1 in front of the test Tryton, that a test can take down (connections
refused, and the connections kept alive cut, as when a server stops) or make lose the next answer (the request reaches Tryton and is processed, the client
gets a broken connection instead of the answer): the two failures the conformance suite needs."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class TrytonProxy:
    def __init__(self, target: str):
        self.target = target.rstrip("/")
        self.forward = httpx.Client(timeout=120)
        self.lose_next = threading.Event()
        self.port = 0
        self.connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed by its client
                pass

    def close(self) -> None:
        self.stop()
        self.forward.close()


def _handler(proxy: TrytonProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            proxy.connections.add(self.connection)

        def finish(self) -> None:
            proxy.connections.discard(self.connection)
            super().finish()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
            answer = proxy.forward.post(proxy.target + self.path, content=body, headers=headers)
            if proxy.lose_next.is_set():
                proxy.lose_next.clear()
                self.close_connection = True  # processed by Tryton; the answer never leaves
                return
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def log_message(self, *args) -> None:
            pass

    return Handler
