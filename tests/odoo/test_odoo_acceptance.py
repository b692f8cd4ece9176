"""The seed's acceptance run against the Odoo double, over each API, on SQLite and PostgreSQL:
master data into the store as deltas; a new customer; an order from the shop API into Odoo
exactly once through a stopped Odoo and a worker killed with SIGKILL; two part deliveries with
tracking and both invoices back, freight on the first; the invoice PDFs in the customer's order
history; a return with its credit note; a cancellation."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from odoo_shop import ADDRESS, order
from sqlalchemy import select

from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker

sys.path.insert(0, str(Path(__file__).parents[1] / "webservice"))
from hub import Hub, eventually  # noqa: E402  (the API, a worker thread and the flows, as in production)

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"  # Worker.run until nothing is pending


def D(value) -> Decimal:
    return Decimal(str(value))


def messages(app) -> dict[str, dict]:
    with app.engine.connect() as conn:
        return {r.business_key: dict(r._mapping) for r in conn.execute(select(m).where(m.c.operation == "send_order"))}


def test_the_seeds_acceptance_run(api, odoo, odoo_app, db_url):
    app = odoo_app(api, odoo, db_url)
    odoo.add_category("Tools")
    odoo.add_product("A-1", "Drill", "19.90", group="Tools", stock={"WH": 7, "WH2": 2})
    odoo.add_product("B-2", "Saw", "9.50", group="Tools", stock={"WH": 20})
    odoo.set_price("A-1", "17.90", min_qty=10)
    time.sleep(1.1)  # Odoo keeps whole seconds: the first runs start a second after these changes
    hub = Hub(app, worker=False)
    try:
        # Master data into the store, then as deltas: a second run asks only for what changed.
        for flow in ("catalog", "prices", "stock", "customers"):
            hub.run_flow(flow)
        products = {p["sku"]: p for p in hub.http.get("/api/v1/products").json()["items"]}
        assert set(products) == {"A-1", "B-2"}  # the freight product is not for the shop
        assert (products["A-1"]["name"], products["A-1"]["group"], D(products["A-1"]["list_price"])) == \
            ("Drill", "Tools", Decimal("19.9"))
        stock = hub.http.get("/api/v1/stock/A-1").json()
        assert {w["warehouse"]: D(w["quantity"]) for w in stock["warehouses"]} == {"main": 7, "south": 2}
        volume = hub.http.get("/api/v1/prices/A-1", params={"quantity": 12}).json()
        assert D(volume["unit_price"]) == Decimal("17.9")
        odoo.set_stock("B-2", "WH", 15)
        delta = hub.run_flow("stock")["summary"]
        assert (delta["fetched"], delta["changed"]) == (1, 1), delta
        assert D(hub.http.get("/api/v1/stock/B-2").json()["warehouses"][0]["quantity"]) == 15

        # A new shop customer becomes an Odoo partner with the shop's number as its reference.
        hub.start_worker()
        created = hub.http.post("/api/v1/customers", json={"reference": "W-100", "name": "Jane Doe",
                                                           "email": "jane@example.com", "invoice_address": ADDRESS})
        assert created.status_code in (201, 202), created.text
        customer = eventually(lambda: hub.http.get("/api/v1/customer-requests/W-100").json().get("number"),
                              what="the ERP's customer number")
        assert odoo.count("customers", customer) == 1
        hub.stop_worker()

        # Orders while Odoo is stopped wait; then a worker killed in the middle of a delivery.
        numbers = [f"SO-{i}" for i in range(4)]
        odoo.stop()
        try:
            for number in numbers:
                placed = hub.http.post("/api/v1/orders", json=order(number, customer, [("A-1", 2, "19.90"),
                                                                                       ("B-2", 3, "9.50")]))
                assert placed.status_code == 201, placed.text
            Worker(app).drain()
            assert Semaphore(app.engine, "erp", 1).is_offline()
            assert {row["state"] for row in messages(app).values()} == {"pending"}
        finally:
            odoo.start()
        odoo.hold_answers = 1.0  # Odoo committed the sale order, its answer not sent yet: then SIGKILL
        process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
        try:
            deadline = time.monotonic() + 60
            while odoo.count("orders", numbers[1]) == 0:
                assert time.monotonic() < deadline and process.poll() is None, "the worker never reached the 2nd order"
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            assert process.wait(10) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
        odoo.hold_answers = 0
        assert messages(app)[numbers[1]]["state"] == "running"
        hub.start_worker()  # claims the killed worker's message once its lease ran out
        for number in numbers:
            hub.delivered(number, "send_order")
        assert [odoo.count("orders", n) for n in numbers] == [1] * len(numbers)
        assert messages(app)[numbers[1]]["attempts"] == 2
        assert {odoo.order(n)["state"] for n in numbers} == {"sale"}  # the killed one confirmed on redelivery
        number = numbers[0]
        assert hub.order(number)["erp_id"] == odoo.order(number)["name"]

        # Two part deliveries, each with its tracking number and invoice; freight on the first.
        odoo.ship(number, "TRACK-1", {"A-1": 1, "B-2": 3})
        hub.run_flow("feedback")
        view = hub.order(number)
        assert view["status"] == "partially_shipped" and len(view["shipments"]) == 1
        odoo.ship(number, "TRACK-2")
        hub.run_flow("feedback")
        view = hub.order(number)
        assert view["status"] == "shipped"
        assert [s["tracking_numbers"] for s in view["shipments"]] == [["TRACK-1"], ["TRACK-2"]]
        assert [{l["sku"]: D(l["quantity"]) for l in s["lines"]} for s in view["shipments"]] == \
            [{"A-1": 1, "B-2": 3}, {"A-1": 1}]
        invoices = view["invoices"]
        assert [i["shipment"] for i in invoices] == [s["id"] for s in view["shipments"]]
        assert [(D(i["freight_amount"]), D(i["total"])) for i in invoices] == \
            [(Decimal("4.9"), Decimal("63.43")), (0, Decimal("23.68"))]

        # The invoices are in the customer's order history, and Odoo's PDF is served on demand.
        history = hub.http.get(f"/api/v1/customers/{customer}/documents").json()["items"]
        mine = sorted((d["type"], d["number"]) for d in history if d["order"] == number)
        assert mine == sorted(("invoice", i["id"]) for i in invoices)
        href = next(d["href"] for d in history if d["number"] == invoices[0]["id"])
        document = hub.http.get(href)
        assert document.status_code == 200 and document.headers["X-Erpbridge-Source"] == "erp"
        assert document.content.startswith(b"%PDF") and invoices[0]["id"].encode() in document.content

        # A return of one drill; once Odoo received it, the credit note comes back.
        returned = hub.http.post(f"/api/v1/orders/{number}/returns",
                                 json={"id": "RMA-1", "lines": [{"sku": "A-1", "quantity": "1"}]})
        assert returned.status_code == 201, returned.text
        hub.delivered(number, "send_return")
        assert odoo.count("returns", "RMA-1") == 1
        odoo.receive_return("RMA-1")
        hub.run_flow("feedback")
        memo, = hub.order(number)["credit_memos"]
        assert D(memo["total"]) == Decimal("23.68") and [(l["sku"], D(l["quantity"])) for l in memo["lines"]] == \
            [("A-1", 1)]
        assert memo["invoice"] == invoices[0]["id"]

        # Another order is cancelled after Odoo took it.
        other = numbers[2]
        cancelled = hub.http.post(f"/api/v1/orders/{other}/cancellations", json={"reason": "changed mind"})
        assert cancelled.status_code == 201, cancelled.text
        hub.delivered(other, "cancel_order")
        assert odoo.order(other)["state"] == "cancel"
        hub.run_flow("feedback")
        assert hub.order(other)["status"] == "cancelled"
    finally:
        hub.close()
