"""The seed's acceptance run with a real django-oscar shop, on SQLite and PostgreSQL stores: the
ERP's catalog reaches oscar disabled, the merchant enables it; a shop outage delays a stock push
and loses nothing; oscar's orders reach the ERP exactly once through a worker killed with SIGKILL;
two part deliveries come back as two shipping events with their tracking and two invoices, the
freight (oscar's paid ``standard`` delivery) on the first only, each once however often they are
delivered; price and stock changes reach oscar and the product stays
enabled; an order cancelled in the ERP is cancelled in oscar."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from erpbridge.exchange import ExchangeLog
from erpbridge.flows import push
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m

import oscar_shop_people as people
from hub import Hub, eventually

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"  # Worker.run until nothing is pending


def pending(app, operation: str) -> list[dict]:
    with app.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(m).where(m.c.operation == operation))]


def drained(hub: Hub) -> None:
    """Every message delivered (the hub's worker runs); none failed for good."""
    def done():
        with hub.app.engine.connect() as conn:
            states = [r.state for r in conn.execute(select(m.c.state))]
        assert "dead" not in states, [(r["operation"], r["last_error"]) for op in ("push_products", "push_stock")
                                      for r in pending(hub.app, op)]
        return all(s == "done" for s in states) or None
    eventually(done, what="every message delivered")


def sync(hub: Hub, *flows: str) -> None:
    """The ERP's flows into the store, then the shop's out of it (once the store's change feed has
    settled: it stays SETTLE seconds behind the clock)."""
    for flow in flows:
        hub.run_flow(f"erp.{flow}")
    time.sleep(push.SETTLE + 0.1)
    for flow in flows:
        hub.run_flow(f"shop.{flow}")


def test_the_seeds_acceptance_run_with_a_real_oscar_shop(oscar_shop, oscar_app, rest_erp, db_url, monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0.2)  # the flows here run one after another: nothing is still committing
    shop, erp = oscar_shop, rest_erp
    app = oscar_app(shop, db_url, erp, shop_settings={"receives": {"warehouses": ["MAIN"]}})
    erp.add_category("TOOLS", "Tools")
    erp.add_product("A-1", "Drill", "19.90", group="TOOLS", stock={"MAIN": 7, "SOUTH": 2})
    erp.add_product("B-2", "Saw", "9.50", group="TOOLS", stock={"MAIN": 20})
    hub = Hub(app, worker=False)
    try:
        # The ERP's catalog into the store, then out to oscar: new products disabled, in their category.
        sync(hub, "catalog", "prices", "stock")
        hub.start_worker()
        drained(hub)
        drill = people.product(shop, "A-1")
        assert (drill["title"], drill["is_public"], drill["categories"]) == ("Drill", False, ["Tools"])
        assert (Decimal(drill["stockrecords"][0]["price"]), drill["stockrecords"][0]["num_in_stock"]) == \
            (Decimal("19.90"), 7)  # MAIN only: the shop receives that warehouse
        assert hub.run_flow("shop.catalog")["summary"]["messages"] == 0  # nothing changed: no call
        people.enable(shop, "A-1")
        people.enable(shop, "B-2")

        # The shop is down: the stock push waits (the semaphore takes the shop offline), then arrives.
        shop.stop()
        try:
            erp.set_stock("A-1", "MAIN", 12)
            sync(hub, "stock")
            eventually(lambda: Semaphore(app.engine, "shop", 1).is_offline() or None, what="the shop offline")
            waiting = {r["state"] for r in pending(app, "push_stock")} - {"done"}
            assert waiting and waiting <= {"pending", "running"}, waiting  # waits, never fails for good
        finally:
            shop.start()
        drained(hub)
        assert people.stock_record(shop, "A-1")["num_in_stock"] == 12
        hub.stop_worker()

        # Orders placed in oscar come in once, however often they are polled, and reach the ERP
        # exactly once through a stopped ERP and a worker killed in the middle of a delivery.
        numbers = [people.place_order(shop, {"A-1": 2, "B-2": 1}) for _ in range(3)]
        intake = hub.run_flow("orders")["summary"]
        assert (intake["new"], intake["rejected"]) == (3, 0), intake
        again = hub.run_flow("orders")["summary"]
        assert again["new"] == 0, again  # the poll's overlap reads them again: taken in once
        placed = hub.order(numbers[0])["order"]
        assert (Decimal(placed["grand_total"]), placed["email"], placed["shipping_address"]["city"]) == \
            (Decimal("54.20"), "erika@example.com", "Berlin")  # 49.30 of goods and 4.90 standard delivery
        assert (Decimal(placed["shipping_amount"]), placed["shipping_method"]) == (Decimal("4.90"), "standard")
        assert [(line["sku"], Decimal(line["quantity"])) for line in placed["lines"]] == [("A-1", 2), ("B-2", 1)]
        erp.hold_answers = 1.0  # the ERP has the order, its answer not sent yet: then SIGKILL
        process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
        try:
            deadline = time.monotonic() + 60
            while erp.count("orders", numbers[0]) == 0:
                assert time.monotonic() < deadline and process.poll() is None, "the worker never reached an order"
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

        # Two part deliveries, each with its tracking number and its invoice, back in oscar once each.
        number = numbers[0]
        for n in numbers:  # the REST ERP's double stores a guest's order without the key its invoices read
            erp.order(n).setdefault("customer_id", None)
        erp.ship(number, "TRACK-1", {"A-1": 1, "B-2": 1})
        sync(hub, "feedback")
        drained(hub)
        assert order_status(shop, number) == "processing"
        erp.ship(number, "TRACK-2")
        sync(hub, "feedback")
        drained(hub)
        for kind in ("shipments", "invoices", "order_statuses"):  # delivered again: nothing doubles
            push.push_kind(app, "shop", kind, full=True)
        drained(hub)
        view = people.order(shop, number)
        assert view["status"] == "shipped"
        shipped = people.shipments(shop, number)
        assert [("TRACK-1" in s["notes"], "TRACK-2" in s["notes"]) for s in shipped] == [(True, False), (False, True)]
        assert [{line["sku"]: line["quantity"] for line in s["lines"]} for s in shipped] == \
            [{"A-1": 1, "B-2": 1}, {"A-1": 1}]
        invoices = hub.order(number)["invoices"]
        assert people.payments(shop, number) == [(i["id"], Decimal(i["total"])) for i in invoices]
        # the freight on the first invoice only (seed 001), and in oscar's payment events with it
        assert [Decimal(i["freight_amount"]) for i in invoices] == [Decimal("4.90"), Decimal(0)]

        # The ERP changes price, stock and name: oscar shows them, and the product stays enabled.
        erp.add_product("A-1", "Drill 2000", "18.50", group="TOOLS")  # a new name and list price
        erp.set_stock("A-1", "MAIN", 30)
        sync(hub, "catalog", "prices", "stock")
        drained(hub)
        drill = people.product(shop, "A-1")
        assert (drill["title"], drill["is_public"]) == ("Drill 2000", True)
        assert (Decimal(drill["stockrecords"][0]["price"]), drill["stockrecords"][0]["num_in_stock"]) == \
            (Decimal("18.50"), 30)

        # An order cancelled through the hub is cancelled in the ERP, then in oscar.
        other = numbers[1]
        cancelled = hub.http.post(f"/api/v1/orders/{other}/cancellations", json={"reason": "changed mind"})
        assert cancelled.status_code == 201, cancelled.text
        hub.delivered(other, "cancel_order")
        sync(hub, "feedback")
        drained(hub)
        assert order_status(shop, other) == "cancelled"

        # Every call to the shop is in the exchange log, by measuring point, the outage's as unreachable.
        log = ExchangeLog.for_app(app)
        log.flush()
        points = {e["point"] for e in log.query(system="shop", limit=1000)}
        assert {"oscar.product.create", "oscar.product.update", "oscar.order.changed", "oscar.order.ship",
                "oscar.order.payment", "oscar.order.status"} <= points, points
        assert log.query(system="shop", outcome="general_error", limit=1), "the outage is not in the log"
    finally:
        hub.close()


def order_status(shop, number: str) -> str:
    return people.order(shop, number)["status"]

