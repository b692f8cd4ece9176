"""Commerceup's open API (the way back: ERP -> Commerceup), as far as its public pages describe it
(help.commerceup.io/api-docs/inventory-apis, .../sales-order-apis), on 127.0.0.1.

``POST /v1/:projecthash/bulkinventory {"inventory": [{sku, quantity}]}`` sets absolute stock and
``POST /v1/:projecthash/orderstatus {orderId, status, items}`` an order's status (one of the
documented values), both with the header ``x-api-key``. What the pages leave open is assumed
and marked so: the answers (``{"success": true}``), and a 400 ``{"message": ...}`` for a SKU
the project does not have (here: SKUs starting with ``NOPE-``) or a status outside the list.
Switches: ``stop``/``start`` (refused connections) and ``lose_next`` (processed, no answer).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "cu-api-key-0123456789"
PROJECT = "p0123abcd"
STATUSES = {"In Process", "Shipped", "Delivered", "Cancelled", "Return Requested", "Return Approved",
            "Return Rejected"}


class CommerceupApi:
    def __init__(self):
        self.inventory: dict[str, int | float] = {}
        self.statuses: dict[str, list[str]] = {}
        self.calls = 0
        self.lose_next = threading.Event()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, path: str, key: str | None, body: dict) -> tuple[int, dict]:
        if key != API_KEY:
            return 401, {"message": "invalid x-api-key"}
        if path == f"/v1/{PROJECT}/bulkinventory":
            items = body.get("inventory") or []
            unknown = [i.get("sku") for i in items if str(i.get("sku", "")).startswith("NOPE-")]
            if unknown:
                return 400, {"message": f"SKU {', '.join(unknown)} not found"}
            for item in items:
                self.inventory[item["sku"]] = item["quantity"]
            return 200, {"success": True}
        if path == f"/v1/{PROJECT}/orderstatus":
            if body.get("status") not in STATUSES:
                return 400, {"message": f"status {body.get('status')!r} is not one of {sorted(STATUSES)}"}
            history = self.statuses.setdefault(body["orderId"], [])
            if not history or history[-1] != body["status"]:
                history.append(body["status"])
            return 200, {"success": True}
        return 404, {"message": f"no route {path}"}


def _handler(api: CommerceupApi):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            api.calls += 1
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            status, answer = api.answer(self.path, self.headers.get("x-api-key"), body)
            if api.lose_next.is_set():
                api.lose_next.clear()
                self.close_connection = True
                self.connection.close()
                return
            content = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

    return Handler
