"""A small real HTTP ERP on 127.0.0.1 for the delivery tests: it keeps orders by the shop's
order number, and can be told to refuse connections, hang, answer 500, reject an order, enforce
a rate limit, or answer slowly. It counts what it was asked.

Wire protocol (what :mod:`.erp_connector` speaks):
``GET /orders/<number>`` -> 200 {"id"} or 404; ``POST /orders`` {"number", ...} -> 201 {"id"};
``POST /cancellations`` {"order"} -> 201, or 422 when the order does not exist;
``GET /customers/<number>`` -> 200 {"number", "name"} (a real-time lookup).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class TestErp:
    def __init__(self, *, rate_limit: int | None = None, latency: float = 0.0):
        self.rate_limit = rate_limit
        self.latency = latency
        self.orders: dict[str, str] = {}
        self.creates = 0
        self.events: list[tuple[str, str]] = []  # (what, order number), in the order the ERP saw them
        self.requests = 0
        self.too_many = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.workers: dict[str, int] = {}
        self.reject: dict[str, int] = {}  # order number -> how many more times to answer 422 (-1: always)
        self.fail_with: int | None = None  # answer every request with this status (e.g. 500)
        self.hang = threading.Event()  # set: POSTs are processed, then their answer waits for `release`
        self.release = threading.Event()
        self.arrived = threading.Event()  # set when any request arrived
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
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
        """Close the port: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _admit(self, worker: str | None) -> int | None:
        """Count the request; the status to answer at once instead of handling it, if any."""
        with self._lock:
            self.requests += 1
            if worker:
                self.workers[worker] = self.workers.get(worker, 0) + 1
            if self.fail_with is not None:
                return self.fail_with
            if self.rate_limit is not None:
                at = time.monotonic()
                while self._recent and self._recent[0] <= at - 1.0:
                    self._recent.popleft()
                if len(self._recent) >= self.rate_limit:
                    self.too_many += 1
                    return 429
                self._recent.append(at)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return None

    def handle(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        if self.latency:
            time.sleep(self.latency)
        status, answer = self._answer(method, path, body)
        if method == "POST":
            self.arrived.set()
            if self.hang.is_set():  # the ERP did the work, and its answer never comes
                self.release.wait(30)
        return status, answer

    def _answer(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        with self._lock:
            if method == "GET" and path.startswith("/orders/"):
                number = path.removeprefix("/orders/")
                return (200, {"id": self.orders[number]}) if number in self.orders else (404, {})
            if method == "GET" and path.startswith("/customers/"):
                return 200, {"number": path.removeprefix("/customers/"), "name": "Jane Doe"}
            if method == "POST" and path == "/orders":
                number = body["number"]
                left = self.reject.get(number, 0)
                if left:
                    self.reject[number] = left - 1 if left > 0 else left
                    self.events.append(("rejected", number))
                    return 422, {"error": f"order {number}: unknown customer"}
                if number not in self.orders:
                    self.creates += 1
                    self.orders[number] = f"SO{len(self.orders) + 1:05d}"
                    self.events.append(("created", number))
                return 201, {"id": self.orders[number]}
            if method == "POST" and path == "/cancellations":
                number = body["order"]
                if number not in self.orders:
                    self.events.append(("cancel_unknown", number))
                    return 422, {"error": f"order {number} does not exist"}
                self.events.append(("cancelled", number))
                return 201, {"id": f"C-{number}"}
        return 404, {"error": "no such endpoint"}


def _handler(erp: TestErp):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output clean
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status = erp._admit(self.headers.get("X-Worker"))
            if status is None:
                try:
                    status, answer = erp.handle(method, self.path, body)
                finally:
                    with erp._lock:
                        erp.in_flight -= 1
            else:
                answer = {"error": f"status {status}"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if status == 429:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

    return Handler
