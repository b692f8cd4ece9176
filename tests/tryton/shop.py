"""The shop's side of the end-to-end tests: erpbridge's API served by uvicorn, outbox workers in a
thread, and the shop's webhook endpoint, all real HTTP on 127.0.0.1.

:class:`Shop` wires one erpbridge (store on SQLite, the Tryton system, a webhooks system whose one
subscriber is :class:`WebhookReceiver`) the way ``erpbridge run`` does, so the tests drive it only
as a shop would: HTTP calls with an API key, and webhooks received and checked.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import httpx
import uvicorn

from erpbridge.api import create_api
from erpbridge.api.keys import create_key
from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.connectors.webhooks import SIGNATURE_HEADER, verify_signature
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.worker import Worker

WEBHOOK_SECRET = "whsec-test-0123456789"


def eventually(check: Callable[[], Any], timeout: float = 60, what: str = "the condition") -> Any:
    """Poll ``check`` until it answers something truthy; that answer is returned."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s (last: {result!r})")
        time.sleep(0.1)


class WebhookReceiver:
    """The shop's webhook endpoint: accepts an event only when its signature verifies (204),
    refuses it otherwise (401), as a shop must."""

    def __init__(self, secret: str = WEBHOOK_SECRET):
        self.events: list[dict] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if verify_signature(secret, self.headers.get(SIGNATURE_HEADER, ""), body):
                    receiver.events.append(json.loads(body))
                    self.send_response(204)
                else:
                    receiver.refused += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/erpbridge/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of(self, order: str, type: str) -> list[dict]:
        """The records announced by the events of one type about one order, in the order they arrived."""
        found = []
        for event in list(self.events):
            record = event["data"].get("record", event["data"])
            if event["type"] == type and record.get("order") == order:
                found.append(record)
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ApiServer:
    """uvicorn serving the API in a thread, on a port the OS picked."""

    def __init__(self, api):
        self.server = uvicorn.Server(uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Shop:
    """erpbridge between the shop and Tryton: the API, the workers, the flows and the webhooks."""

    def __init__(self, folder: Path, erp_system: dict):
        self.receiver = WebhookReceiver()
        self.config = Config.model_validate({
            "store": {"url": f"sqlite:///{folder / 'store.db'}"},
            "systems": {
                "erp": {**erp_system, "semaphore": {"max_lock_time": 1}},
                # The API server's change publisher announces what the flows stored, every 0.2 s.
                "shop_hooks": {"connector": "webhooks", "scan_interval": 0.2, "settle": 0.2, "subscribers": [
                    {"name": "shop", "url": self.receiver.url, "secret": WEBHOOK_SECRET}],
                               "allow_private_targets": True},  # the receiver is on 127.0.0.1
            },
            "catalog": {"new_products_enabled": True},
            "flows": {"catalog": {"mode": "full"}, "prices": {"mode": "full"}, "stock": {"mode": "full"},
                      "feedback": {"mode": "delta"}},
            "outbox": {"poll_interval": 0.05, "lease_seconds": 60, "heartbeat_seconds": 5, "backoff_base": 0.2,
                       "backoff_max": 1},
            # Real-time lookups ask Tryton; 2 busy cores must not turn a slow answer into a fallback.
            "api": {"realtime": {"timeout": 15, "customer_create_wait": 15}},
        })
        self.hub = bootstrap(self.config)
        self.api = ApiServer(create_api(self.hub))
        token, _ = create_key(self.hub.engine, ["read:catalog", "read:customers", "write:orders"], name="shop")
        self.http = httpx.Client(base_url=self.api.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=Worker(self.hub).run, args=(self._stop,), daemon=True)
        self._worker.start()

    def run_flow(self, name: str) -> dict:
        run = run_flow(self.hub, name)
        assert run["outcome"] == "ok", run
        return run

    def order(self, number: str) -> dict:
        response = self.http.get(f"/api/v1/orders/{number}")
        assert response.status_code == 200, response.text
        return response.json()

    def delivered(self, number: str, operation: str) -> dict:
        """The order view once its last ``operation`` message is done (fails on a dead one)."""
        def done():
            view = self.order(number)
            states = [m["state"] for m in view["messages"] if m["operation"] == operation]
            assert "dead" not in states, view["messages"]
            return view if states and states[-1] == "done" else None
        return eventually(done, what=f"delivery of {operation} for {number}")

    def close(self) -> None:
        self._stop.set()
        self._worker.join(30)
        self.http.close()
        self.api.close()
        self.receiver.close()
        self.hub.close()
