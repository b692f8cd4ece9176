"""The seed's acceptance run with Shopify as the shop, on SQLite and PostgreSQL: the ERP's
catalog, prices and stock go to the Shopify double (which executes every call on Shopify's
official schema) as drafts that keep the status the merchant gives them; orders come in by
webhook and by the poll, through a Shopify outage, and reach the ERP exactly once through a
stopped ERP and a worker killed with SIGKILL; two part deliveries go back as fulfilments with
their tracking numbers and the two invoices as partial captures (freight on the first); a return's
credit memo is refunded and a cancellation cancels the order in Shopify.

The ERP is the REST test ERP of the webservice connector (tests/webservice/rest_erp.py) behind
its example config."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from erpbridge.flows.push import SETTLE
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker

from shopify_apps import LOCATION, make_app, shopify_system

TESTS = Path(__file__).parents[1]
sys.path.insert(0, str(TESTS / "webservice"))
from hub import Hub, eventually  # noqa: E402  (the API in uvicorn, a worker thread, flows on demand)
from rest_erp import RestErp  # noqa: E402

WORKER = TESTS / "tryton" / "worker_process.py"  # Worker.run until nothing is pending
ERP_EXAMPLE = TESTS.parent / "examples" / "webservice-rest" / "erpbridge.yaml"


@pytest.fixture
def erp():
    erp = RestErp()
    yield erp
    try:
        erp.stop()
    except OSError:
        pass


def sent_orders(app) -> dict[str, dict]:
    with app.engine.connect() as conn:
        return {r.business_key: dict(r._mapping) for r in conn.execute(select(m).where(m.c.operation == "send_order"))}


def push(hub, *flows: str) -> None:
    """Run the shop's push flows once the store's change feed has settled, and deliver what they queued."""
    time.sleep(SETTLE + 0.1)
    for flow in flows:
        hub.run_flow(flow)
    Worker(hub.app).drain()


def test_the_seeds_acceptance_run_with_shopify(shopify, erp, tmp_path, db_url, monkeypatch):
    monkeypatch.setenv("ERP_URL", erp.url)
    monkeypatch.setenv("ERP_TOKEN", erp.token)
    erp_system = {**yaml.safe_load(ERP_EXAMPLE.read_text())["systems"]["erp"], "semaphore": {"max_lock_time": 1}}
    app = make_app(tmp_path, db_url, {"erp": erp_system,
                                      "shopify": shopify_system(shopify, locations={"MAIN": LOCATION})},
                   catalog={"new_products_enabled": True})
    erp.add_category("TOOLS", "Tools")
    erp.add_product("A-1", "Drill", "19.90", group="TOOLS", stock={"MAIN": 7, "SOUTH": 2})
    erp.add_product("B-2", "Saw", "9.50", group="TOOLS", stock={"MAIN": 20})
    hub = Hub(app, worker=False)
    try:
        # The catalog out: drafts with their SKU, price and stock at the mapped location.
        for flow in ("erp.catalog", "erp.prices", "erp.stock"):
            hub.run_flow(flow)
        push(hub, "shopify.catalog", "shopify.prices", "shopify.stock")
        drill, saw = shopify.by_sku("A-1"), shopify.by_sku("B-2")
        assert [shopify.products[v["product"]]["status"] for v in (drill, saw)] == ["DRAFT", "DRAFT"]
        assert (shopify.products[drill["product"]]["title"], Decimal(drill["price"])) == ("Drill", Decimal("19.90"))
        assert (shopify.stock("A-1", LOCATION), shopify.stock("B-2", LOCATION)) == (7, 20)

        # The merchant publishes the drill; a price and a stock change later leave that alone.
        shopify.products[drill["product"]]["status"] = "ACTIVE"
        erp.set_price("A-1", "18.90")
        erp.set_stock("B-2", "MAIN", 15)
        hub.run_flow("erp.prices")
        hub.run_flow("erp.stock")
        push(hub, "shopify.catalog", "shopify.prices", "shopify.stock")
        assert (Decimal(shopify.by_sku("A-1")["price"]), shopify.stock("B-2", LOCATION)) == (Decimal("18.90"), 15)
        assert shopify.products[drill["product"]]["status"] == "ACTIVE"

        # Orders in: one by webhook (twice), then a poll through a Shopify outage finds all.
        lines = [("A-1", 2, "19.90"), ("B-2", 3, "9.50")]
        # The test ERP invoices the order's prices as net and adds 19% VAT: the payment authorised that.
        placed = [shopify.add_order(n, lines, tax="11.69", authorized="87.11") for n in ("1001", "1002", "1003")]
        url = f"{hub.api.url}/connectors/shopify/webhooks"
        for attempt in range(2):
            answer = shopify.webhook(url, "orders/create", placed[0], webhook_id="wh-1001")
            assert answer.status_code == 200, answer.text
        shopify.stop()
        try:
            outage = run_flow(app, "orders")
            assert outage["outcome"] != "ok" and "unreachable" in str(outage), outage
        finally:
            shopify.start()
        time.sleep(1.1)  # the semaphore's max_lock_time
        polled = hub.run_flow("orders")["summary"]
        assert (polled["new"], polled["unchanged"], polled["rejected"]) == (2, 1, 0), polled

        # To the ERP exactly once: it is stopped first, then a worker dies in the middle of a delivery.
        numbers = ["1001", "1002", "1003"]
        erp.stop()
        try:
            Worker(app).drain()
            assert Semaphore(app.engine, "erp", 1).is_offline()
            assert {r["state"] for r in sent_orders(app).values()} == {"pending"}
        finally:
            erp.start()
        time.sleep(1.1)
        erp.hold_answers = 1.0
        process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
        try:
            deadline = time.monotonic() + 60
            while erp.count("orders", numbers[1]) == 0:
                assert time.monotonic() < deadline and process.poll() is None, \
                    ("the worker never reached the 2nd order",
                     [(r["state"], r["last_error"]) for r in sent_orders(app).values()])
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            assert process.wait(10) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
        erp.hold_answers = 0
        hub.start_worker()
        for number in numbers:
            hub.delivered(number, "send_order")
        assert [erp.count("orders", n) for n in numbers] == [1, 1, 1]
        assert sent_orders(app)["1002"]["attempts"] == 2
        for held in erp.orders.values():  # the test ERP's invoices name the order's customer; these are guests
            held.setdefault("customer_id", None)

        # Two part deliveries: a fulfilment each with its tracking number, an invoice each as a capture.
        number, order = numbers[0], placed[0]
        erp.ship(number, "TRACK-1", {"A-1": 1, "B-2": 3})
        hub.run_flow("erp.feedback")
        push(hub, "shopify.feedback")
        eventually(lambda: len(order["fulfillments"]) == 1 and len(shopify.captures(number)) == 1 or None,
                   what="the first fulfilment and capture")
        erp.ship(number, "TRACK-2")
        hub.run_flow("erp.feedback")
        push(hub, "shopify.feedback")
        eventually(lambda: len(order["fulfillments"]) == 2 and len(shopify.captures(number)) == 2 or None,
                   what="the second fulfilment and capture")
        assert [[t["number"] for t in f["trackingInfo"]] for f in order["fulfillments"]] == [["TRACK-1"], ["TRACK-2"]]
        assert [{n["lineItem"]["sku"]: n["quantity"] for n in f["fulfillmentLineItems"]["nodes"]}
                for f in order["fulfillments"]] == [{"A-1": 1, "B-2": 3}, {"A-1": 1}]
        assert shopify.captures(number) == [Decimal("63.43"), Decimal("23.68")]  # freight on the first
        assert all(i["remainingQuantity"] == 0 for i in order["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"])

        # A return of one drill: its credit memo is refunded in Shopify, once.
        returned = hub.http.post(f"/api/v1/orders/{number}/returns",
                                 json={"id": "RMA-1", "lines": [{"sku": "A-1", "quantity": "1"}]})
        assert returned.status_code == 201, returned.text
        hub.delivered(number, "send_return")
        erp.receive_return("RMA-1")
        hub.run_flow("erp.feedback")
        push(hub, "shopify.feedback")
        refund, = eventually(lambda: order["refunds"] or None, what="the refund")
        assert [(i["quantity"], i["restockType"]) for i in refund["input"]["refundLineItems"]] == [(1, "RETURN")]
        assert [t["amount"] for t in refund["input"]["transactions"]] == ["23.68"]

        # Another order is cancelled after the ERP took it: Shopify cancels it too.
        other = numbers[2]
        cancelled = hub.http.post(f"/api/v1/orders/{other}/cancellations", json={"reason": "changed mind"})
        assert cancelled.status_code == 201, cancelled.text
        hub.delivered(other, "cancel_order")
        hub.run_flow("erp.feedback")
        push(hub, "shopify.feedback")
        eventually(lambda: placed[2]["cancelledAt"], what="the cancel in Shopify")
        assert placed[2]["cancels"] == 1 and placed[1]["cancelledAt"] is None
    finally:
        hub.close()
