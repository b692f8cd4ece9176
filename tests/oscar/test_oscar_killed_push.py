"""A worker killed with SIGKILL in the middle of a catalog push to oscar loses nothing and creates
no product twice: the message it held is delivered again once its lease ran out, and its upserts
by UPC find what the killed worker created."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from erpbridge.flows import push
from erpbridge.outbox.worker import Worker
from erpbridge.records.catalog import Product

import oscar_shop_people as people

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"  # Worker.run until nothing is pending
COUNT = 15  # three push messages of 5 (a smaller push.BATCH: the same path, faster)


def test_a_worker_killed_during_a_catalog_push_loses_nothing_and_doubles_nothing(
        oscar_shop, oscar_app, rest_erp, tmp_path, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    monkeypatch.setattr(push, "BATCH", 5)
    app = oscar_app(oscar_shop, f"sqlite:///{tmp_path / 'store.db'}", rest_erp)
    app.records.put([Product(sku=f"K-{i:03}", name=f"Product {i}", list_price="5.00", currency="EUR")
                     for i in range(COUNT)])
    assert push.push_kind(app, "shop", "products")["messages"] == 3
    process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
    try:
        deadline = time.monotonic() + 60
        while people.product(oscar_shop, "K-002") is None:
            assert time.monotonic() < deadline and process.poll() is None, "the worker never pushed a product"
            time.sleep(0.3)  # the shop serves one call at a time: do not crowd out the worker
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    assert people.product(oscar_shop, f"K-{COUNT - 1:03}") is None  # it died before the end
    time.sleep(3.2)  # the killed worker's lease (outbox.lease_seconds) runs out
    Worker(app).drain()
    upcs = Counter(p["upc"] for p in oscar_shop.http.get("/api/admin/products/").json())
    assert sorted(upcs) == [f"K-{i:03}" for i in range(COUNT)] and set(upcs.values()) == {1}
