"""The seed's acceptance run on each webservice example, as the shop and the ERP's people see it, on
SQLite and PostgreSQL: master data into the store as deltas; an order from the shop API into the
ERP exactly once through a stopped ERP and a worker killed with SIGKILL; two part deliveries with
tracking and both invoices back, freight on the first; a cancellation and a return; the invoices
in the customer's order history, served from the ERP in real time."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker

from webservice_fixtures import ADDRESS, order
from hub import Hub, eventually

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"  # Worker.run until nothing is pending
EXAMPLES = {"webservice-rest": "rest_erp", "webservice-soap": "soap_erp"}


def D(value) -> Decimal:
    return Decimal(str(value))


@pytest.fixture(params=sorted(EXAMPLES))
def example(request, example_app, db_url):
    erp = request.getfixturevalue(EXAMPLES[request.param])
    app = example_app(request.param, erp, db_url)
    return app, erp


def messages(app) -> dict[str, dict]:
    with app.engine.connect() as conn:
        return {r.business_key: dict(r._mapping) for r in conn.execute(select(m).where(m.c.operation == "send_order"))}


def test_the_seeds_acceptance_run(example):
    app, erp = example
    erp.add_category("TOOLS", "Tools")
    erp.add_product("A-1", "Drill", "19.90", group="TOOLS", stock={"MAIN": 7, "SOUTH": 2})
    erp.add_product("B-2", "Saw", "9.50", group="TOOLS", stock={"MAIN": 20})
    erp.set_price("A-1", "17.90", min_qty=10)
    hub = Hub(app, worker=False)
    try:
        # Master data into the store, then as deltas: a second run asks only for what changed.
        for flow in ("catalog", "prices", "stock", "customers"):
            hub.run_flow(flow)
        products = {p["sku"]: p for p in hub.http.get("/api/v1/products").json()["items"]}
        assert (products["A-1"]["name"], products["A-1"]["group"], D(products["A-1"]["list_price"])) == \
            ("Drill", "TOOLS", Decimal("19.9"))
        stock = hub.http.get("/api/v1/stock/A-1").json()
        assert {w["warehouse"]: D(w["quantity"]) for w in stock["warehouses"]} == {"MAIN": 7, "SOUTH": 2}
        volume = hub.http.get("/api/v1/prices/A-1", params={"quantity": 12}).json()
        assert D(volume["unit_price"]) == Decimal("17.9")
        erp.set_stock("B-2", "MAIN", 15)
        delta = hub.run_flow("stock")["summary"]
        assert (delta["fetched"], delta["changed"]) == (1, 1), delta
        assert D(hub.http.get("/api/v1/stock/B-2").json()["warehouses"][0]["quantity"]) == 15

        # A new shop customer is created in the ERP and gets the ERP's number.
        hub.start_worker()
        created = hub.http.post("/api/v1/customers", json={"reference": "W-100", "name": "Jane Doe",
                                                           "email": "jane@example.com", "invoice_address": ADDRESS})
        assert created.status_code in (201, 202), created.text
        customer = eventually(lambda: hub.http.get("/api/v1/customer-requests/W-100").json().get("number"),
                              what="the ERP's customer number")
        assert erp.count("customers", "W-100") == 1 and customer in erp.customers
        hub.stop_worker()

        # Orders while the ERP is stopped wait; then a worker killed in the middle of a delivery.
        numbers = [f"SO-{i}" for i in range(4)]
        erp.stop()
        try:
            for number in numbers:
                placed = hub.http.post("/api/v1/orders", json=order(number, customer, [("A-1", 2, "19.90"),
                                                                                       ("B-2", 3, "9.50")]))
                assert placed.status_code == 201, placed.text
            Worker(app).drain()
            assert Semaphore(app.engine, "erp", 1).is_offline(), [(r["state"], r["last_error"]) for r in messages(app).values()]
            assert {row["state"] for row in messages(app).values()} == {"pending"}
        finally:
            erp.start()
        erp.hold_answers = 1.0  # the ERP has the order, its answer not sent yet: then SIGKILL
        process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
        try:
            deadline = time.monotonic() + 60
            while erp.count("orders", numbers[1]) == 0:
                assert time.monotonic() < deadline and process.poll() is None, "the worker never reached the 2nd order"
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            assert process.wait(10) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
        erp.hold_answers = 0
        assert messages(app)[numbers[1]]["state"] == "running"
        hub.start_worker()  # claims the killed worker's message once its lease ran out
        for number in numbers:
            hub.delivered(number, "send_order")
        assert [erp.count("orders", n) for n in numbers] == [1] * len(numbers)
        assert messages(app)[numbers[1]]["attempts"] == 2
        number = numbers[0]
        assert hub.order(number)["erp_id"] == erp.order(number)["order_id"]

        # Two part deliveries, each with its tracking number and invoice; freight on the first.
        erp.ship(number, "TRACK-1", {"A-1": 1, "B-2": 3})
        hub.run_flow("feedback")
        view = hub.order(number)
        assert view["status"] == "partially_shipped" and len(view["shipments"]) == 1
        erp.ship(number, "TRACK-2")
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

        # The invoices are in the customer's order history, and the ERP renders each on demand.
        history = hub.http.get(f"/api/v1/customers/{customer}/documents").json()["items"]
        assert sorted((d["type"], d["number"], d["order"]) for d in history if d["order"] == number) == \
            sorted(("invoice", i["id"], number) for i in invoices)
        document = hub.http.get(f"/api/v1/documents/invoice/{invoices[0]['id']}")
        assert document.status_code == 200 and document.headers["X-Erpbridge-Source"] == "erp"
        assert document.content.startswith(b"%PDF")

        # A return of one drill; once the ERP received it, the credit memo comes back.
        returned = hub.http.post(f"/api/v1/orders/{number}/returns",
                                 json={"id": "RMA-1", "lines": [{"sku": "A-1", "quantity": "1"}]})
        assert returned.status_code == 201, returned.text
        hub.delivered(number, "send_return")
        assert erp.count("returns", "RMA-1") == 1
        erp.receive_return("RMA-1")
        hub.run_flow("feedback")
        memo, = hub.order(number)["credit_memos"]
        assert D(memo["total"]) == Decimal("23.68") and [(l["sku"], D(l["quantity"])) for l in memo["lines"]] == \
            [("A-1", 1)]

        # Another order is cancelled after the ERP took it.
        other = numbers[2]
        cancelled = hub.http.post(f"/api/v1/orders/{other}/cancellations", json={"reason": "changed mind"})
        assert cancelled.status_code == 201, cancelled.text
        hub.delivered(other, "cancel_order")
        assert erp.order(other)["status"] == "CANCELLED"
        hub.run_flow("feedback")
        assert hub.order(other)["status"] == "cancelled"
    finally:
        hub.close()
