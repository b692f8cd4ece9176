"""The seed's acceptance run on each OData profile (S/4HANA over OData v2, Business Central), as the
shop and the ERP's people see it, on SQLite and PostgreSQL: master data into the store, then as a
delta; orders from the shop API into the ERP exactly once through a stopped ERP and a worker killed
with SIGKILL while the ERP held its answer; two part deliveries with tracking and both invoices
back, freight on the first; the invoices in the customer's order history, their PDFs from the ERP;
a return and a cancellation into the ERP."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker

from odata_fixtures import order

sys.path.insert(0, str(Path(__file__).parents[1] / "webservice"))

from hub import Hub  # noqa: E402  (the webservice acceptance run's hub: API, worker, flows)

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"  # Worker.run until nothing is pending


def D(value) -> Decimal:
    return Decimal(str(value))


def messages(app) -> dict[str, dict]:
    with app.engine.connect() as conn:
        return {r.business_key: dict(r._mapping) for r in conn.execute(select(m).where(m.c.operation == "send_order"))}


class S4:
    """The S/4 side: materials, partners, sales orders, deliveries and billing documents."""

    customer = "17100001"

    def __init__(self, erp, tag):
        self.erp, self.tag = erp, tag

    def seed(self):
        self.erp.s4_product(f"A-{self.tag}", "Drill", group="TOOLS")
        self.erp.s4_product(f"B-{self.tag}", "Saw", group="TOOLS")
        self.erp.s4_partner(self.customer, "Jane Doe")

    def count(self, number):
        return len(self.erp.s4_orders(number))

    def erp_id(self, number):
        return self.erp.s4_orders(number)[0]["SalesOrder"]

    def returns(self, number):
        return len(self.erp.s4_returns(number))

    def credit(self, number, amounts):
        returned, = self.erp.s4_returns(number)
        self.erp.s4_bill(returned["CustomerReturn"], None, f"7{self.tag}"[:10],
                         {sku: (1, amount) for sku, amount in amounts.items()}, tax=0, doc_type="G2")

    def cancelled(self, number):
        return all(i["SalesDocumentRjcnReason"] for i in self.erp.s4_items(self.erp_id(number)))

    def ship_and_bill(self, number, part, tracking, lines, with_freight):
        sales_order = self.erp_id(number)
        delivery, billing = f"8{part}{self.tag}"[:10], f"9{part}{self.tag}"[:10]
        self.erp.s4_deliver(sales_order, delivery, tracking, lines)
        amounts = {sku: (qty, float(D(price[sku]) * qty)) for sku, qty in lines.items()}
        if with_freight:
            amounts["FREIGHT"] = (1, 4.90)
        net = sum(a for _, a in amounts.values())
        self.erp.s4_bill(sales_order, delivery, billing, amounts, tax=round(net * 0.19, 2))
        return delivery, billing


class BusinessCentral:
    customer = "10000"

    def __init__(self, erp, tag):
        self.erp, self.tag = erp, tag

    def seed(self):
        self.erp.bc_item(f"A-{self.tag}", "Drill", 19.90, 7, group="TOOLS")
        self.ids = {"B": self.erp.bc_item(f"B-{self.tag}", "Saw", 9.50, 20, group="TOOLS")}

    def count(self, number):
        return len(self.erp.bc_orders(number))

    def erp_id(self, number):
        return self.erp.bc_orders(number)[0]["number"]

    def returns(self, number):
        return len(self.erp.bc_credit_memos(number))

    def credit(self, number, amounts):
        self.erp.bc_post_credit_memo(number, amounts)

    def cancelled(self, number):
        return self.count(number) == 0  # BC deletes a cancelled order

    def ship_and_bill(self, number, part, tracking, lines, with_freight):
        shipment, invoice = f"S-SHP{part}{self.tag}", f"S-INV{part}{self.tag}"
        self.erp.bc_ship(number, shipment, tracking, lines)
        rows = [("Item", sku, qty, round(float(D(price[sku.split('-')[0]]) * qty) * 1.19, 2))
                for sku, qty in lines.items()]
        if with_freight:
            rows.append(("Account", "6810", 1, round(4.90 * 1.19, 2)))
        gross = sum(r[3] for r in rows)
        self.erp.bc_invoice(number, invoice, rows, tax=round(gross - gross / 1.19, 2))
        return shipment, invoice


price = {"A": "19.90", "B": "9.50"}


@pytest.mark.parametrize("profile", ["s4-v2", "business_central"])
def test_the_seeds_acceptance_run(profile, odata_app, cap_erp, db_url):
    tag = uuid.uuid4().hex[:6] + "0"
    side = (S4 if profile.startswith("s4") else BusinessCentral)(cap_erp, tag)
    side.seed()
    for sku in (f"A-{tag}", f"B-{tag}"):
        price[sku] = price[sku[0]]
    app = odata_app(profile, db_url)
    hub = Hub(app, worker=False)
    try:
        # Master data into the store; then a delta reads only what changed since the last run.
        flows = ("catalog", "customers") if profile.startswith("s4") else ("catalog", "prices", "stock", "customers")
        for flow in flows:
            hub.run_flow(flow)
        products = {p["sku"]: p for p in hub.http.get("/api/v1/products", params={"limit": 1000}).json()["items"]}
        assert products[f"A-{tag}"]["name"] == "Drill" and products[f"A-{tag}"]["group"] == "TOOLS"
        if isinstance(side, BusinessCentral):
            assert D(products[f"A-{tag}"]["list_price"]) == Decimal("19.9")
            cap_erp.bc_set_inventory(side.ids["B"], 15)
            delta = hub.run_flow("stock")["summary"]
            assert (delta["fetched"], delta["changed"]) == (1, 1), delta
            stock = hub.http.get(f"/api/v1/stock/B-{tag}").json()
            assert D(stock["warehouses"][0]["quantity"]) == 15

        # Orders while the ERP is unreachable wait, the channel offline; none is lost or failed.
        numbers = [f"SO-{tag}-{i}" for i in range(4)]
        cap_erp.go_down()
        try:
            for number in numbers:
                placed = hub.http.post("/api/v1/orders", json=order(number, side.customer, [
                    (f"A-{tag}", 2, "19.90"), (f"B-{tag}", 3, "9.50")]))
                assert placed.status_code == 201, placed.text
            Worker(app).drain()
            assert Semaphore(app.engine, "erp", 1).is_offline()
            assert {row["state"] for row in messages(app).values()} == {"pending"}
        finally:
            cap_erp.come_back()

        # A worker killed after the ERP took an order but before its answer came back.
        cap_erp.proxy.hold_writes = 1.5
        process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
        try:
            deadline = time.monotonic() + 90
            while side.count(numbers[1]) == 0:
                assert time.monotonic() < deadline and process.poll() is None, "the worker never reached the 2nd order"
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            assert process.wait(10) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
            cap_erp.proxy.hold_writes = 0
        assert messages(app)[numbers[1]]["state"] == "running"
        hub.start_worker()  # claims the killed worker's messages once their lease ran out
        for number in numbers:
            hub.delivered(number, "send_order")
        assert [side.count(n) for n in numbers] == [1] * len(numbers)
        assert messages(app)[numbers[1]]["attempts"] == 2
        number = numbers[0]
        assert hub.order(number)["erp_id"] == side.erp_id(number)

        # Two part deliveries with tracking, each invoiced; freight on the first invoice.
        first = side.ship_and_bill(number, 1, "TRACK-1", {f"A-{tag}": 1, f"B-{tag}": 3}, with_freight=True)
        hub.run_flow("feedback")
        view = hub.order(number)
        assert len(view["shipments"]) == 1 and len(view["invoices"]) == 1
        assert view["status"] == "partially_shipped"  # S/4's OverallDeliveryStatus, BC's shipped quantities
        second = side.ship_and_bill(number, 2, "TRACK-2", {f"A-{tag}": 1}, with_freight=False)
        hub.run_flow("feedback")
        view = hub.order(number)
        assert view["status"] == "shipped"
        assert [s["id"] for s in view["shipments"]] == [first[0], second[0]]
        assert [s["tracking_numbers"] for s in view["shipments"]] == [["TRACK-1"], ["TRACK-2"]]
        assert [{l["sku"]: D(l["quantity"]) for l in s["lines"]} for s in view["shipments"]] == \
            [{f"A-{tag}": 1, f"B-{tag}": 3}, {f"A-{tag}": 1}]
        invoices = sorted(view["invoices"], key=lambda i: i["id"])
        assert [i["id"] for i in invoices] == sorted([first[1], second[1]])
        freight = [D(i["freight_amount"]) for i in invoices]
        assert freight[0] > 0 and freight[1] == 0

        # The invoices are in the customer's order history, and the ERP renders each PDF on demand.
        history = hub.http.get(f"/api/v1/customers/{side.customer}/documents").json()["items"]
        assert sorted((d["type"], d["number"]) for d in history if d["order"] == number) == \
            sorted(("invoice", i["id"]) for i in invoices)
        document = hub.http.get(f"/api/v1/documents/invoice/{invoices[0]['id']}")
        assert document.status_code == 200 and document.headers["X-Erpbridge-Source"] == "erp"
        assert document.content.startswith(b"%PDF")

        # A return of one drill (S/4: a customer return order; BC: a credit memo on the invoice), once.
        returned = hub.http.post(f"/api/v1/orders/{number}/returns",
                                 json={"id": f"RMA-{tag}", "lines": [{"sku": f"A-{tag}", "quantity": "1"}]})
        assert returned.status_code == 201, returned.text
        hub.delivered(number, "send_return")
        assert side.returns(f"RMA-{tag}") == 1
        # Once the ERP credited it, the credit memo comes back with the order.
        side.credit(f"RMA-{tag}", {f"A-{tag}": 23.68})
        hub.run_flow("feedback")
        memo, = hub.order(number)["credit_memos"]
        assert D(memo["total"]) == Decimal("23.68") and [(l["sku"], D(l["quantity"])) for l in memo["lines"]] == \
            [(f"A-{tag}", 1)]

        # Another order, not shipped yet, is cancelled after the ERP took it.
        other = numbers[2]
        cancelled = hub.http.post(f"/api/v1/orders/{other}/cancellations", json={"reason": "changed mind"})
        assert cancelled.status_code == 201, cancelled.text
        hub.delivered(other, "cancel_order")
        assert side.cancelled(other)
        if isinstance(side, S4):  # every item rejected: S/4 says cancelled (BC deleted the order: nothing to say)
            hub.run_flow("feedback")
            assert hub.order(other)["status"] == "cancelled"
    finally:
        hub.close()
