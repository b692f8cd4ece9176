"""Pushing the catalog to Magento: list endpoints in batches of at most ``max_list_entries``
(Magento's limit on synchronous requests), a shop outage that delays the push and loses
nothing, a worker killed with SIGKILL while Magento saved a product (the product is found on
the next delivery and updated, never created twice), and large pushes through the asynchronous
bulk API with its status polled and failed products named."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from erpbridge.errors import GeneralError, MessageError
from erpbridge.exchange.tables import exchange_log
from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker
from erpbridge.records import Price, Product, StockLevel
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"


def store(app, *records) -> None:
    with write_transaction(app.engine) as conn:
        for record in records:
            app.records.write_in(conn, record.kind, [prepare(record)])


def states(app) -> list[tuple[str, str, int]]:
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(m.c.operation, m.c.state, m.c.attempts).order_by(m.c.id))]


@pytest.fixture
def app(magento_app, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    return magento_app(shop={"max_list_entries": 20})


def test_prices_and_stock_go_in_batches_of_the_shops_limit(app, magento):
    skus = [f"P-{i:02}" for i in range(45)]
    store(app, *(Product(sku=sku, name=sku) for sku in skus))
    store(app, *(Price(sku=sku, amount="2.50", currency="EUR") for sku in skus),
          *(StockLevel(sku=sku, warehouse="main", quantity=3) for sku in skus))
    for flow in ("catalog", "prices", "stock"):
        assert run_flow(app, flow)["outcome"] == "ok"
    Worker(app).drain()
    assert [c for c in magento.calls if c[0] == "POST" and c[1] != "/V1/products"] == \
        [("POST", "/V1/products/base-prices")] * 3 + [("POST", "/V1/inventory/source-items")] * 3
    assert len(magento.base_prices) == len(magento.source_items) == 45


def test_a_shop_outage_delays_the_catalog_push_and_loses_nothing(app, magento):
    store(app, Product(sku="A-1", name="Drill"), Product(sku="B-2", name="Saw"))
    assert run_flow(app, "catalog")["outcome"] == "ok"
    magento.go_down()
    try:
        Worker(app).drain()
        assert states(app) == [("push_products", "pending", 0)]  # waits for the shop, attempts untouched
    finally:
        magento.come_back()
    time.sleep(1.1)  # max_lock_time
    Worker(app).drain()
    assert states(app) == [("push_products", "done", 1)]
    assert sorted(magento.products) == ["A-1", "B-2"]


def test_a_worker_killed_while_magento_saves_a_product_creates_it_once(app, magento):
    store(app, Product(sku="A-1", name="Drill", list_price="19.90"))
    assert run_flow(app, "catalog")["outcome"] == "ok"
    magento.hold_answers = 1.0
    process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
    try:
        deadline = time.monotonic() + 60
        while "A-1" not in magento.products:
            assert time.monotonic() < deadline and process.poll() is None, "the worker never saved the product"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    magento.hold_answers = 0
    magento.enable("A-1")  # the merchant was quick
    deadline = time.monotonic() + 30
    while states(app) != [("push_products", "done", 2)]:
        assert time.monotonic() < deadline, states(app)
        Worker(app).drain()
        time.sleep(0.2)
    creates = [c for c in magento.calls if c == ("POST", "/V1/products")]
    assert (len(creates), magento.products["A-1"]["status"]) == (1, 1)  # created once, and left enabled
    assert ("PUT", "/V1/products/A-1") in magento.calls


def test_a_large_push_goes_through_one_bulk_request_and_names_what_failed(magento_app, magento, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)
    app = magento_app(shop={"bulk_from": 3})
    store(app, *(Product(sku=f"K-{i}", name=f"Kettle {i}") for i in range(4)))
    assert run_flow(app, "catalog")["outcome"] == "ok"
    Worker(app).drain()
    assert [c for c in magento.calls if c[0] == "POST"] == [("POST", "/async/bulk/V1/products")]
    assert {sku: p["status"] for sku, p in magento.products.items()} == {f"K-{i}": 2 for i in range(4)}
    connector = app.connector("magento")
    with pytest.raises(MessageError) as caught:  # Magento derives URL keys from names: a second "Kettle 1" fails
        connector.deliver("push_products", {"kind": "products", "records": [
            {"sku": "K-1", "name": "Kettle 1"}, {"sku": "K-9", "name": "Kettle 1"},
            {"sku": "K-8", "name": "Pot"}]}, "k")
    assert str(caught.value) == ("magento (magento) refused 1 products: product K-9: URL key for specified store "
                                 "already exists.")
    assert "K-8" in magento.products


def test_a_bulk_magento_does_not_finish_in_time_waits_and_is_delivered_again(magento_app, magento):
    app = magento_app(shop={"bulk_from": 2, "bulk_wait_seconds": 0.5})
    connector = app.connector("magento")
    payload = {"kind": "products", "records": [{"sku": "L-1", "name": "Lamp"}, {"sku": "L-2", "name": "Lid"}]}
    magento.bulk_paused = True  # Magento's consumers are not running
    with pytest.raises(GeneralError) as caught:
        connector.deliver("push_products", payload, "k")
    assert "still open after 0.5 s (are Magento's consumers running?)" in str(caught.value)
    magento.bulk_paused = False
    magento.run_consumers()
    connector.deliver("push_products", payload, "k")  # looked up again: both exist now, updated
    assert sorted(magento.products) == ["L-1", "L-2"] and len(magento.bulks) == 2


def test_the_outbox_logs_a_push_message_as_its_count_and_keys(app, magento):
    """The worker's exchange-log entry of a push message names its records (count, SKUs) instead of
    holding each one: they are in the store, and redacting them all cost a catalog push CPU."""
    store(app, Product(sku="A-1", name="Drill", description="secret@example.com"), Product(sku="B/2", name="Saw"))
    assert run_flow(app, "catalog")["outcome"] == "ok"
    worker = Worker(app)
    worker.drain()
    worker.exchange_log.flush()
    with app.engine.connect() as conn:
        request, = conn.execute(select(exchange_log.c.request).where(
            exchange_log.c.point == "outbox.push_products")).scalars()
    assert orjson.loads(request) == {"kind": "products", "count": 2, "keys": ["A-1", "B/2"]}
