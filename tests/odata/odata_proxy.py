"""An HTTP proxy on 127.0.0.1 in front of the CAP test ERP, for the failures a test needs that a
healthy server never shows: an outage (the proxy stops: connections refused, while CAP and its
in-memory data live on), an answer lost after the ERP processed the request (the connection is
closed unanswered), and an answer held back after processing (a worker killed meanwhile).

It also stands where SAP's web dispatcher stands: CAP's V2 adapter writes absolute links
(``__next``, ``__metadata.uri``) to ``http://localhost:<CAP's port>``, SAP to its public host;
the proxy writes its own address into them, as a reverse proxy in front of SAP does."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

#: Headers that are the connection's own (hop-by-hop) or that httpx computes.
_DROP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class ODataProxy:
    def __init__(self, target: str):
        self.target = target.rstrip("/")
        self.inner = b"http://localhost:" + str(httpx.URL(target).port).encode()
        self.forward = httpx.Client(timeout=120)
        self.lose_next = threading.Event()
        self.hold_writes = 0.0  # seconds the answer to a write waits after the ERP processed it
        self.port = 0
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

    def close(self) -> None:
        self.stop()
        self.forward.close()


def _handler(proxy: ODataProxy):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _DROP]
            answer = proxy.forward.request(self.command, proxy.target + self.path, content=body, headers=headers)
            write = self.command not in ("GET", "HEAD")
            if write and proxy.lose_next.is_set():
                proxy.lose_next.clear()
                self.close_connection = True  # processed by the ERP; the answer never leaves
                return
            if write and proxy.hold_writes:
                time.sleep(proxy.hold_writes)
            content = answer.content.replace(proxy.inner, proxy.url.encode())
            self.send_response(answer.status_code)
            for key, value in answer.headers.multi_items():
                if key.lower() not in _DROP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _relay

        def log_message(self, *args) -> None:
            pass

    return Handler
