"""The seed's acceptance run (seeds 001 and 004) against the Magento double, on SQLite and
PostgreSQL, with the test ERP (``testerp``) as the master of the data:

* the catalog out: product groups as categories, new products created disabled; the merchant
  enables one; the ERP's later changes of name, price and stock reach Magento and it stays
  enabled; a run with nothing changed sends nothing;
* orders in exactly once, through a shop outage and repeated intake runs (the overlap window
  reads orders again), the PayPal order only once Magento says it is paid;
* two part deliveries with tracking and an invoice each (Magento books the freight on the
  first) through a worker killed with SIGKILL while Magento was creating the first shipment;
* a cancellation and a credit memo back to Magento.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from erpbridge_testconnectors import peers
from sqlalchemy import func, select

from erpbridge.exchange import ExchangeLog
from erpbridge.exchange.tables import exchange_log
from erpbridge.flows import push
from erpbridge.flows.scheduler import run_flow
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker
from erpbridge.records import (CreditMemo, Invoice, OrderStatusUpdate, Price, Product, ProductGroup, Shipment,
                               StockLevel)

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"  # Worker.run until nothing is pending
ERP_FLOWS = {f"erp.{name}": {"system": "erp"} for name in ("catalog", "prices", "stock", "feedback")}


def ok(app, name: str) -> dict:
    run = run_flow(app, name)
    assert run["outcome"] == "ok", run
    return run["summary"]


def settle(app, seconds: float = 30) -> None:
    """Deliver until no message is pending or running (a killed worker's lease runs out first)."""
    deadline = time.monotonic() + seconds
    while True:
        Worker(app).drain()
        with app.engine.connect() as conn:
            left = conn.execute(select(m.c.state, m.c.last_error).where(m.c.state.in_(("pending", "running", "dead"))))
            left = left.all()
        assert not [r for r in left if r.state == "dead"], left
        if not left:
            return
        assert time.monotonic() < deadline, left
        time.sleep(0.2)


def served(kind: str, *records) -> None:
    peers.peer("erp").serve(kind, *records)


@pytest.fixture
def app(magento_app, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)  # one thread writes here: nothing is still committing
    return magento_app(flows=ERP_FLOWS)


def test_the_seeds_acceptance_run(app, magento):
    erp = peers.peer("erp")
    # The catalog out: groups as categories, products disabled, prices and stock per source.
    served("product_groups", ProductGroup(code="TOOLS", name="Tools"),
           ProductGroup(code="DRILLS", name="Drills", parent="TOOLS"))
    served("products", Product(sku="A-1", name="Drill", group="DRILLS", list_price="19.90", short_description="Strong"),
           Product(sku="B/2", name="Saw", group="TOOLS", list_price="9.50", ean="4006381333931"))
    served("prices", Price(sku="A-1", amount="19.90", currency="EUR"), Price(sku="B/2", amount="9.50", currency="EUR"),
           Price(sku="A-1", amount="17.90", currency="EUR", min_quantity=10))
    served("stock", StockLevel(sku="A-1", warehouse="main", quantity=7), StockLevel(sku="B/2", warehouse="south",
                                                                                    quantity=20))
    for flow in ("erp.catalog", "erp.prices", "erp.stock", "catalog", "prices", "stock"):
        ok(app, flow)
    settle(app)
    drills = next(c for c in magento.categories.values() if c["name"] == "Drills")
    tools = next(c for c in magento.categories.values() if c["name"] == "Tools")
    assert (tools["parent_id"], drills["parent_id"]) == (2, tools["id"])
    drill, saw = magento.products["A-1"], magento.products["B/2"]
    assert (drill["status"], saw["status"], drill["name"]) == (2, 2, "Drill")  # disabled until the merchant enables
    assert drill["extension_attributes"]["category_links"] == [{"position": 0, "category_id": str(drills["id"])}]
    assert {"attribute_code": "ean", "value": "4006381333931"} in saw["custom_attributes"]
    assert magento.base_prices == {"A-1": 19.9, "B/2": 9.5}
    assert [(t["sku"], t["quantity"], t["price"]) for t in magento.tier_prices.values()] == [("A-1", 10, 17.9)]
    assert {k: v["quantity"] for k, v in magento.source_items.items()} == {("A-1", "default"): 7, ("B/2", "south"): 20}

    # The merchant enables the drill; the ERP's changes reach Magento and leave it enabled.
    magento.enable("A-1")
    served("products", Product(sku="A-1", name="Drill 2000", group="DRILLS", list_price="21.50"))
    served("prices", Price(sku="A-1", amount="21.50", currency="EUR"))
    served("stock", StockLevel(sku="A-1", warehouse="main", quantity=5))
    for flow in ("erp.catalog", "erp.prices", "erp.stock"):
        ok(app, flow)
    pushed = {flow: ok(app, flow)["sent"] for flow in ("catalog", "prices", "stock")}
    assert pushed == {"catalog": 1, "prices": 1, "stock": 1}  # only what changed
    settle(app)
    assert (magento.products["A-1"]["status"], magento.products["A-1"]["name"]) == (1, "Drill 2000")
    assert (magento.base_prices["A-1"], magento.source_items[("A-1", "default")]["quantity"]) == (21.5, 5)
    assert {flow: ok(app, flow)["sent"] for flow in ("catalog", "prices", "stock")} == dict.fromkeys(pushed, 0)

    # Orders in: not while the shop is down, then each once, the PayPal one once it is paid.
    magento.place_order("100000001", [("A-1", 2), ("B/2", 3)], customer_id=7)
    magento.place_order("100000002", [("A-1", 1)], payment="paypal_express", state="pending_payment")
    magento.place_order("100000003", [("B/2", 1)], method="tablerate_bestway")
    magento.go_down()
    try:
        assert run_flow(app, "orders")["outcome"] != "ok"
    finally:
        magento.come_back()
    assert app.semaphore("magento").is_offline()
    time.sleep(1.1)  # max_lock_time
    assert ok(app, "orders")["new"] == 3
    assert ok(app, "orders")["new"] == 0  # read again through the overlap window: the same orders
    settle(app)
    sent = {payload["number"]: payload for operation, _, payload in erp.deliveries if operation == "send_order"}
    assert sorted(sent) == ["100000001", "100000003"]
    assert (sent["100000001"]["shipping_method"], sent["100000001"]["payment_method"],
            sent["100000003"]["shipping_method"]) == ("standard", "invoice", "express")
    assert sent["100000001"]["grand_total"] == "76.4" and sent["100000001"]["shipping_address"]["street"] == "Dock 7"
    assert sent["100000001"]["customer"] is None  # its customer is new to the ERP: created there once
    customer, = [p for op, _, p in erp.deliveries if op == "create_customer"]
    assert (customer["number"], customer["email"], customer["delivery_addresses"][0]["street"]) == \
        ("magento-7", "jane@example.com", "Dock 7")
    magento.pay("100000002")
    magento.place_order("100000004", [("B/2", 1)], customer_id=7)  # the customer's next order: the ERP's number
    ok(app, "orders")
    settle(app)
    assert [n for op, _, p in erp.deliveries if op == "send_order" for n in [p["number"]]] == \
        ["100000001", "100000003", "100000002", "100000004"]
    assert [p["customer"] for op, _, p in erp.deliveries if op == "send_order"][-1] == "TE-1"
    assert len([op for op, _, _ in erp.deliveries if op == "create_customer"]) == 1
    assert all(count == 1 for (op, _), count in erp.created.items() if op == "send_order")

    # Two part deliveries with tracking, an invoice each; the worker is killed in the first ship.
    number = "100000001"
    served("order_statuses", OrderStatusUpdate(order=number, status="partially_shipped"))
    served("shipments", Shipment(id="SH-1", order=number, carrier="DHL", tracking_numbers=["TRACK-1"],
                                 lines=[{"sku": "A-1", "quantity": 1}, {"sku": "B/2", "quantity": 3}]),
           Shipment(id="SH-2", order=number, carrier="UPS", tracking_numbers=["TRACK-2", "TRACK-3"],
                    lines=[{"sku": "A-1", "quantity": 1}]))
    served("invoices", Invoice(id="INV-1", order=number, shipment="SH-1", issued_at=dt.date.today(), currency="EUR",
                               lines=[{"sku": "A-1", "quantity": 1, "amount": "21.50"},
                                      {"sku": "B/2", "quantity": 3, "amount": "28.50"},
                                      {"description": "Freight", "amount": "4.90"}],
                               freight_amount="4.90", total="54.90"),
           Invoice(id="INV-2", order=number, shipment="SH-2", issued_at=dt.date.today(), currency="EUR",
                   lines=[{"sku": "A-1", "quantity": 1, "amount": "21.50"}], total="21.50"))
    ok(app, "erp.feedback")
    assert ok(app, "feedback")["sent"] == 5
    magento.hold_answers = 1.0  # Magento has made the shipment, its answer not sent yet: then SIGKILL
    process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
    try:
        deadline = time.monotonic() + 60
        while not magento.shipments:
            assert time.monotonic() < deadline and process.poll() is None, "the worker never reached the shipment"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    magento.hold_answers = 0
    with app.engine.connect() as conn:
        killed = conn.execute(select(m.c.state).where(m.c.operation == "send_shipment", m.c.record_key == "SH-1"))
        assert killed.scalar_one() == "running"  # claimed by the killed worker, its lease not run out yet
    settle(app)
    with app.engine.connect() as conn:
        attempts = conn.execute(select(m.c.attempts).where(m.c.operation == "send_shipment", m.c.record_key == "SH-1"))
        assert attempts.scalar_one() == 2  # delivered again: Magento's shipment was found, not made twice
    shipments = magento.documents("shipments", number)
    assert [[(t["track_number"], t["carrier_code"]) for t in s["tracks"]] for s in shipments] == \
        [[("TRACK-1", "dhl")], [("TRACK-2", "ups"), ("TRACK-3", "ups")]]
    assert [{i["sku"]: i["qty"] for i in s["items"]} for s in shipments] == [{"A-1": 1, "B/2": 3}, {"A-1": 1}]
    invoices = magento.documents("invoices", number)
    assert [(i["shipping_amount"], i["grand_total"]) for i in invoices] == [(4.9, 54.9), (0, 21.5)]
    comments = [h["comment"] for h in magento.order(number)["status_histories"]]
    assert comments.count("erpbridge status partially_shipped") == 1

    # The ERP cancels an order and refunds a returned drill: both reach Magento once.
    served("order_statuses", OrderStatusUpdate(order="100000003", status="cancelled"))
    served("credit_memos", CreditMemo(id="CM-1", order=number, invoice="INV-1", issued_at=dt.date.today(),
                                      currency="EUR", lines=[{"sku": "A-1", "quantity": 1, "amount": "21.50"}],
                                      total="21.50"))
    ok(app, "erp.feedback")
    ok(app, "feedback")
    settle(app)
    assert magento.order("100000003")["state"] == "canceled"
    memo, = magento.documents("creditmemos", number)
    assert [(i["sku"], i["qty"]) for i in memo["items"]] == [("A-1", 1)]
    with app.engine.connect() as conn:  # every feedback message delivered once, none left over
        assert conn.execute(select(func.count()).where(m.c.channel == "magento", m.c.state != "done")).scalar_one() == 0

    # Every call is in the exchange log under its flow and measuring point.
    log = ExchangeLog.for_app(app)
    log.flush()
    with app.engine.connect() as conn:
        points = set(conn.execute(select(exchange_log.c.flow, exchange_log.c.point)
                                  .where(exchange_log.c.system == "magento")).all())
    assert {("shop.catalog_push", "magento.product.create"), ("shop.catalog_push", "magento.source_items.save"),
            ("shop.order_intake", "magento.order.search"), ("shop.feedback", "magento.shipment.create"),
            ("shop.feedback", "magento.invoice.create"), ("shop.feedback", "magento.creditmemo.create")} <= points
