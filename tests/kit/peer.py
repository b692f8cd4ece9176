"""A real HTTP system on 127.0.0.1 for the kit's tests: each test tells it how to answer.

``peer.on("/path", handler)`` makes ``handler(seen) -> Answer`` answer every request to that path
(any method; the query is not part of the path); the peer keeps what it was sent in ``seen``.
:func:`refused_url` and :class:`SilentPort` are the two ways a system fails before answering.
"""

from __future__ import annotations

import json as jsonlib
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    """A request as the peer received it."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # lower-case names
    body: bytes
    url: str  # as the client addressed it

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def json(self) -> Any:
        return jsonlib.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    json: Any = None
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Seen], Answer]
#: The peer reads the request and closes the connection without an answer.
HANG_UP = Answer(status=0)


class Peer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def on(self, path: str, handler: Handler | Answer) -> None:
        self.routes[path] = handler if callable(handler) else (lambda seen, answer=handler: answer)

    def requests(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def answer(self, seen: Seen) -> Answer:
        with self._lock:
            self.seen.append(seen)
        handler = self.routes.get(seen.path)
        return handler(seen) if handler else Answer(404, json={"message": f"no route {seen.path}"})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(peer: Peer):
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # one write per answer (headers and body apart meet the client's delayed ACK: 40 ms)

        def log_message(self, *args):
            pass

        def _any(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                        f"http://{self.headers['Host']}{self.path}")
            answer = peer.answer(seen)
            if answer.status == HANG_UP.status:
                self.close_connection = True
                return
            content = answer.body.encode() if isinstance(answer.body, str) else answer.body
            headers = dict(answer.headers)
            if answer.json is not None:
                content = jsonlib.dumps(answer.json).encode()
                headers.setdefault("Content-Type", "application/json")
            self.send_response_only(answer.status)
            headers.setdefault("Date", self.date_time_string())  # unless the answer brings its own clock
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    return RequestHandler


def refused_url() -> str:
    """A loopback URL where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class SilentPort:
    """A port that accepts connections (the kernel's backlog does) and never answers."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def close(self) -> None:
        self.socket.close()
