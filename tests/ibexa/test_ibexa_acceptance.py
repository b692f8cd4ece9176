"""The seed's acceptance run with an Ibexa shop calling erpbridge as its Web.Connector (zeep as the
shop's SOAP client, on the WSDL erpbridge serves), on SQLite and PostgreSQL: customer and prices
from the store, orders accepted at once while the ERP is down and delivered exactly once through
a worker killed with SIGKILL, then everything the shop shows in its order history: status,
part shipments with tracking, invoices (freight on the first) with their PDF, a cancellation,
a return with its credit memo."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker
from erpbridge.store.tables import orders

from erpbridge.connectors.ibexa import ubl

from ibexa_hub import Hub, RestErp, call, ibexa_app, ubl_order, wc_client

WORKER = Path(__file__).parents[1] / "tryton" / "worker_process.py"  # Worker.run until nothing is pending


def texts(root, path: str) -> list[str]:
    """The texts at ``path`` below every match of its first step."""
    first, _, rest = path.partition("/")
    return [ubl.text(node, rest) if rest else (node.text or "") for node in root.iter(first)]


def send_order_states(app) -> dict[str, dict]:
    with app.engine.connect() as conn:
        return {r.business_key: dict(r._mapping) for r in conn.execute(select(m).where(m.c.operation == "send_order"))}


def test_an_ibexa_shop_runs_on_erpbridge_through_an_outage_and_a_killed_worker(tmp_path, db_url, monkeypatch):
    erp = RestErp()
    app = ibexa_app(tmp_path, erp, db_url, monkeypatch)
    erp.add_product("A-1", "Drill", "19.90", stock={"MAIN": 7, "SOUTH": 2})
    erp.add_product("B-2", "Saw", "9.50", stock={"MAIN": 20})
    erp.set_price("A-1", "17.90", min_qty=10)
    customer = erp.add_customer(None, "Jane Doe")
    hub = Hub(app, worker=False)
    try:
        for flow in ("catalog", "prices", "stock", "customers"):
            hub.run_flow(flow)
        client = wc_client(hub)
        selected, code, _ = call(client, "SelectCustomer", f"<Order><BuyerCustomerParty><Party><PartyIdentification>"
                                                           f"<ID>{customer}</ID></PartyIdentification></Party>"
                                                           f"</BuyerCustomerParty></Order>")
        assert code == 0 and ubl.customer_number(selected) == customer
        prices, code, _ = call(client, "CalculateSalesPrice", ubl_order("BASKET-0", customer, [("A-1", 12, "0"),
                                                                                                 ("NOPE", 1, "0")]))
        line, = prices.iter("LineItem")  # an unknown product is left out, as Ibexa allows
        assert code == 0 and Decimal(ubl.text(line, "Price/PriceAmount")) == Decimal("17.9")
        assert (ubl.text(line, "Delivery/MaximumQuantity"), ubl.text(line, "SesExtension/OnStock")) == ("9", "false")

        # The ERP is down: every order is answered at once with erpbridge's id, and waits.
        numbers = [f"BASKET-{i}" for i in range(1, 5)]
        erp.stop()
        try:
            for number in numbers:
                answer, code, _ = call(client, "CreateSalesOrder",
                                       ubl_order(number, customer, [("A-1", 2, "19.90"), ("B-2", 3, "9.50")]))
                assert (code, ubl.text(answer, "SalesOrderID")) == (0, number)
            again, code, status = call(client, "CreateSalesOrder",
                                       ubl_order(numbers[0], customer, [("A-1", 2, "19.90"), ("B-2", 3, "9.50")]))
            assert (code, ubl.text(again, "SesExtension/Replay"), status) == (0, "true", "already accepted")
            Worker(app).drain()
            assert Semaphore(app.engine, "erp", 1).is_offline()
            assert {r["state"] for r in send_order_states(app).values()} == {"pending"}
            listed, code, _ = call(client, "OrderList", f"<OrderListRequest><CustomerID>{customer}</CustomerID>"
                                                        f"</OrderListRequest>")
            assert code == 0 and sorted(texts(listed, "Order/UUID")) == numbers
        finally:
            erp.start()
        with app.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(orders)).scalar_one() == len(numbers)

        # The ERP is back; a worker is killed after the ERP took the 2nd order, before its answer.
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
        number, erp_id = numbers[0], erp.order(numbers[0])["order_id"]
        detail, code, _ = call(client, "OrderDetail", f"<OrderDetailRequest><UUID>{number}</UUID></OrderDetailRequest>")
        assert (code, ubl.text(detail, "SalesOrderID")) == (0, erp_id)  # later lookups see the ERP's id
        again, _, _ = call(client, "CreateSalesOrder", ubl_order(number, customer, [("A-1", 2, "19.90"),
                                                                                     ("B-2", 3, "9.50")]))
        assert ubl.text(again, "SalesOrderID") == erp_id

        # Two part deliveries with tracking and their invoices, as the order history shows them.
        erp.ship(number, "TRACK-1", {"A-1": 1, "B-2": 3})
        erp.ship(number, "TRACK-2")
        hub.run_flow("feedback")
        detail, _, _ = call(client, "OrderDetail", f"<OrderDetailRequest><SalesOrderID>{erp_id}</SalesOrderID>"
                                                   f"</OrderDetailRequest>")
        assert ubl.text(detail, "SesExtension/Status") == "shipped"
        assert [s.findtext("TrackingID") for s in detail.iter("Shipment")] == ["TRACK-1", "TRACK-2"]
        invoice_ids = texts(detail, "InvoiceDocumentReference/ID")
        assert len(invoice_ids) == 2
        listed, _, _ = call(client, "InvoiceList", f"<InvoiceListRequest><CustomerID>{customer}</CustomerID>"
                                                   f"</InvoiceListRequest>")
        assert sorted(texts(listed, "Document/ID")) == sorted(invoice_ids)
        notes, _, _ = call(client, "DeliveryNoteList", f"<DeliveryNoteListRequest><CustomerID>{customer}</CustomerID>"
                                                       f"</DeliveryNoteListRequest>")
        assert len(texts(notes, "Document/ID")) == 2
        freights = []
        for invoice_id in invoice_ids:
            invoice, code, _ = call(client, "InvoiceDetail", f"<InvoiceDetailRequest><InvoiceID>{invoice_id}"
                                                             f"</InvoiceID></InvoiceDetailRequest>")
            pdf = base64.b64decode(ubl.text(invoice, "AdditionalDocumentReference/Attachment/"
                                                     "EmbeddedDocumentBinaryObject"))
            assert code == 0 and pdf.startswith(b"%PDF")  # rendered by the ERP in real time
            freights.append(Decimal(ubl.text(invoice, "LegalMonetaryTotal/ChargeTotalAmount")))
        assert sorted(freights) == [0, Decimal("4.9")]

        # A return (from the back office, through the API) comes back as a credit memo.
        returned = hub.http.post(f"/api/v1/orders/{number}/returns",
                                 json={"id": "RMA-1", "lines": [{"sku": "A-1", "quantity": "1"}]})
        assert returned.status_code == 201, returned.text
        hub.delivered(number, "send_return")
        erp.receive_return("RMA-1")
        hub.run_flow("feedback")
        memos, _, _ = call(client, "CreditMemoList", f"<CreditMemoListRequest><CustomerID>{customer}</CustomerID>"
                                                     f"</CreditMemoListRequest>")
        memo_id, = texts(memos, "Document/ID")
        memo, code, _ = call(client, "CreditMemoDetail", f"<CreditMemoDetailRequest><CreditMemoID>{memo_id}"
                                                         f"</CreditMemoID></CreditMemoDetailRequest>")
        assert code == 0 and Decimal(ubl.text(memo, "LegalMonetaryTotal/PayableAmount")) == Decimal("23.68")

        # Another order is cancelled; the shop sees it cancelled.
        other = numbers[2]
        cancelled = hub.http.post(f"/api/v1/orders/{other}/cancellations", json={"reason": "changed mind"})
        assert cancelled.status_code == 201, cancelled.text
        hub.delivered(other, "cancel_order")
        hub.run_flow("feedback")
        detail, _, _ = call(client, "OrderDetail", f"<OrderDetailRequest><UUID>{other}</UUID></OrderDetailRequest>")
        assert (ubl.text(detail, "SesExtension/State"), ubl.text(detail, "SesExtension/Status")) == \
            ("cancelled", "cancelled")

        # A real-time request while the ERP is offline says so (21) and answers what the store has.
        erp.stop()
        Semaphore(app.engine, "erp", 60).trip("test: the ERP is down")
        invoice, code, status = call(client, "InvoiceDetail", f"<InvoiceDetailRequest><InvoiceID>{invoice_ids[0]}"
                                                              f"</InvoiceID></InvoiceDetailRequest>")
        assert code == 21 and ubl.text(invoice, "ID") == invoice_ids[0], status
    finally:
        hub.close()
        app.close()
        try:
            erp.stop()
        except OSError:
            pass
