"""The seed's acceptance run with a Commerceup shop calling erpbridge as its ERP (httpx as
Commerceup, uvicorn on 127.0.0.1), on SQLite and PostgreSQL: a customer created in the ERP (its
number at once, or provisionally the shop's id while the ERP is down, bound later); orders
answered at once while the ERP is down and delivered exactly once through a worker killed with
SIGKILL; then the way back: status, part shipments with tracking, invoices (freight on the
first), a cancellation and a return with its credit memo."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker

from commerceup_hub import Hub, RestErp, commerceup_app, commerceup_client, eventually, order_body

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"


def states(app, operation: str) -> dict[str, str]:
    with app.engine.connect() as conn:
        return {r.business_key: r.state for r in conn.execute(select(m).where(m.c.operation == operation))}


def test_a_commerceup_shop_runs_on_erpbridge_through_an_outage_and_a_killed_worker(tmp_path, db_url, monkeypatch):
    erp = RestErp()
    app = commerceup_app(tmp_path, erp, db_url, monkeypatch)
    erp.add_product("A-1", "Drill", "19.90", stock={"MAIN": 7})
    erp.add_product("B-2", "Saw", "9.50", stock={"MAIN": 20})
    hub = Hub(app, worker=False)
    shop = commerceup_client(hub)
    try:
        for flow in ("catalog", "prices", "stock"):
            hub.run_flow(flow)

        # The ERP answers within customer_wait: Commerceup gets the ERP's number.
        hub.start_worker()
        created = shop.post("/createcustomer", json={"customerId": "CU-1", "firstName": "Jane", "lastName": "Doe",
                                                     "email": "jane@example.com", "address": {
                                                         "street": "Main St 1", "zip": "10115", "city": "Berlin",
                                                         "country": "DE"}})
        assert created.status_code == 200, created.text
        answer = created.json()
        assert answer["success"] and not answer["provisional"] and answer["customerId"] in erp.customers
        customer = answer["customerId"]
        hub.stop_worker()

        # The ERP is down: a new customer gets a provisional id (its own), bound when the ERP is back.
        erp.stop()
        try:
            late = shop.post("/createcustomer", json={"customerId": "CU-2", "name": "John Roe"}).json()
            assert (late["success"], late["provisional"], late["customerId"]) == (True, True, "CU-2")
            numbers = [f"CU-ORD-{i}" for i in range(4)]
            for number in numbers:
                placed = shop.post("/createorder", json=order_body(number, customer, [("A-1", 2, "19.90"),
                                                                                       ("B-2", 3, "9.50")]))
                assert placed.status_code == 201, placed.text
                assert placed.json() == {"success": True, "orderId": number, "erpOrderId": None,
                                         "shopOrderId": number, "status": "accepted"}
            repeat = shop.post("/createorder", json=order_body(numbers[0], customer, [("A-1", 2, "19.90"),
                                                                                       ("B-2", 3, "9.50")]))
            assert (repeat.status_code, repeat.json()["orderId"]) == (200, numbers[0])
            Worker(app).drain()
            assert Semaphore(app.engine, "erp", 1).is_offline()
            assert set(states(app, "send_order").values()) == {"pending"}
            assert shop.get(f"/orders/{numbers[0]}").json()["state"] == "accepted"  # still answered
        finally:
            erp.start()

        erp.hold_answers = 1.0
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
        hub.start_worker()
        for number in numbers:
            hub.delivered(number, "send_order")
        assert [erp.count("orders", n) for n in numbers] == [1] * len(numbers)
        bound = eventually(lambda: shop.get("/customers/CU-2").json().get("provisional") is False
                           and shop.get("/customers/CU-2").json(), what="CU-2's ERP number")
        assert bound["customerId"] in erp.customers and erp.count("customers", "CU-2") == 1

        number = numbers[0]
        erp_id = erp.order(number)["order_id"]
        repeat = shop.post("/createorder", json=order_body(number, customer, [("A-1", 2, "19.90"), ("B-2", 3, "9.50")]))
        assert repeat.json()["orderId"] == erp_id  # the ERP's id once it is known

        # The way back: part shipments with tracking, invoices with freight on the first.
        erp.ship(number, "TRACK-1", {"A-1": 1, "B-2": 3})
        erp.ship(number, "TRACK-2")
        hub.run_flow("feedback")
        view = shop.get(f"/orders/{erp_id}").json()
        assert (view["shopOrderId"], view["status"]) == (number, "shipped")
        assert [s["trackingNumbers"] for s in view["shipments"]] == [["TRACK-1"], ["TRACK-2"]]
        assert [(Decimal(i["freight"]), Decimal(i["total"])) for i in view["invoices"]] == \
            [(Decimal("4.9"), Decimal("63.43")), (0, Decimal("23.68"))]

        returned = shop.post("/returnorder", json={"orderId": erp_id, "returnId": "RMA-1",
                                                   "items": [{"sku": "A-1", "quantity": 1}]})
        assert returned.json() == {"success": True, "orderId": erp_id, "returnId": "RMA-1"}
        hub.delivered(number, "send_return")
        erp.receive_return("RMA-1")
        hub.run_flow("feedback")
        memo, = shop.get(f"/orders/{number}").json()["creditMemos"]
        assert Decimal(memo["total"]) == Decimal("23.68")

        other = numbers[2]
        cancelled = shop.post("/cancelorder", json={"orderId": other, "reason": "changed mind"})
        assert cancelled.status_code == 200 and cancelled.json()["success"] is True, cancelled.text
        hub.delivered(other, "cancel_order")
        assert erp.order(other)["status"] == "CANCELLED"
        hub.run_flow("feedback")
        assert shop.get(f"/orders/{other}").json()["status"] == "cancelled"
    finally:
        shop.close()
        hub.close()
        app.close()
        try:
            erp.stop()
        except OSError:
            pass
