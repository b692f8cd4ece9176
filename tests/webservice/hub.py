"""erpbridge between a shop and a webservice ERP, as in production: the API served by uvicorn, an
outbox worker in a thread, the flows run on demand; the shop drives it only over HTTP."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1] / "tryton"))

from shop import ApiServer, eventually  # noqa: E402  (the Tryton scenario's server and wait)

from erpbridge.api import create_api  # noqa: E402
from erpbridge.api.keys import create_key  # noqa: E402
from erpbridge.flows.scheduler import run_flow  # noqa: E402
from erpbridge.outbox.worker import Worker  # noqa: E402

__all__ = ["Hub", "eventually"]


class Hub:
    def __init__(self, app, *, worker: bool = True):
        self.app = app
        self.api = ApiServer(create_api(app))
        token, _ = create_key(app.engine, ["read:catalog", "read:customers", "write:orders"], name="shop")
        self.http = httpx.Client(base_url=self.api.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        self._stop = threading.Event()
        self._worker = None
        if worker:
            self.start_worker()

    def start_worker(self) -> None:
        self._stop.clear()
        self._worker = threading.Thread(target=Worker(self.app).run, args=(self._stop,), daemon=True)
        self._worker.start()

    def stop_worker(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._worker.join(30)
            self._worker = None

    def run_flow(self, name: str) -> dict:
        run = run_flow(self.app, name)
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
        self.stop_worker()
        self.http.close()
        self.api.close()
