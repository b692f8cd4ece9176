"""shop -> Tryton -> shop: customer, order (idempotent), part deliveries, invoices, cancel, return."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from erpbridge.connectors.base import MessageError
from erpbridge.records import CreditMemo, Document, Invoice, Order, Shipment
from erpbridge.ingest import built

ADDRESS = {"name": "Jane Doe", "street": "Main St 1", "postcode": "10115", "city": "Berlin", "country": "DE"}


def order(number: str, customer: str | None, lines: list[tuple[str, int, str]], shipping: str = "4.90") -> dict:
    rows = [{"sku": sku, "quantity": str(q), "unit_price": price, "total": str(Decimal(price) * q)} for sku, q, price in lines]
    total = sum(Decimal(r["total"]) for r in rows) + Decimal(shipping)
    return {"number": number, "placed_at": dt.datetime.now(dt.timezone.utc).isoformat(), "customer": customer,
            "currency": "EUR", "billing_address": ADDRESS, "shipping_address": {**ADDRESS, "street": "Dock 7"},
            "lines": rows, "shipping_method": "standard", "payment_method": "invoice", "shipping_amount": shipping,
            "grand_total": str(total)}


@pytest.fixture
def catalog(erp, prefix):
    products = {}
    for code, price in (("A", "19.90"), ("B", "9.50")):
        products[code] = erp.product(f"{prefix}-{code}", f"Item {code}", price)
        erp.receive(products[code], 20)
    return products


def test_order_to_cash_with_part_deliveries(app, connector, erp, prefix, catalog):
    customer = connector.deliver("create_customer", {"number": f"W{prefix}", "name": "Jane Doe",
                                                     "email": "jane@example.com", "invoice_address": ADDRESS}, "c")
    number = f"SO-{prefix}"
    message = order(number, customer.external_id, [(f"{prefix}-A", 2, "19.90"), (f"{prefix}-B", 3, "9.50")])

    first = connector.deliver("send_order", message, f"{number}:send_order")
    again = connector.deliver("send_order", message, f"{number}:send_order")  # redelivered
    assert first.external_id == again.external_id
    assert erp.count_sales(number) == 1
    sale = erp.sale(number)
    assert sale["state"] == "processing"
    read, = erp.rpc.model("sale.sale", "read", [erp.sale(number)["id"]], ["payment_term.name", "shipment_address.street",
                                                                            "party.code", "total_amount"])
    assert read["payment_term."]["name"] == "Net 30" and read["shipment_address."]["street"] == "Dock 7"
    assert read["party."]["code"] == customer.external_id
    assert read["total_amount"] == Decimal("87.11")  # 73.20 + 19 % VAT

    erp.ship(number, "TRACK-1", {catalog["A"]: 1})  # one A is not in stock yet: ship the rest first
    erp.post_invoices(number)
    statuses = {s.order: s for s in built(connector.fetch("order_statuses"))}
    assert statuses[number].status == "partially_shipped"
    erp.ship(number, "TRACK-2")
    erp.post_invoices(number)

    shipments = sorted((s for s in built(connector.fetch("shipments")) if s.order == number), key=lambda s: s.tracking_numbers)
    assert [s.tracking_numbers for s in shipments] == [["TRACK-1"], ["TRACK-2"]]
    assert [{l.sku: l.quantity for l in s.lines} for s in shipments] == [
        {f"{prefix}-A": 1, f"{prefix}-B": 3}, {f"{prefix}-A": 1}]
    fetched = [r for r in built(connector.fetch("invoices")) if r.order == number]
    invoices = sorted((i for i in fetched if isinstance(i, Invoice)), key=lambda i: int(i.id))
    assert len(invoices) == 2
    # With each invoice, the document for the customer's order history.
    assert sorted((d.number, d.customer) for d in fetched if isinstance(d, Document)) == \
        sorted((i.id, customer.external_id) for i in invoices)
    assert [i.shipment for i in invoices] == [s.id for s in shipments]
    assert [i.freight_amount for i in invoices] == [Decimal("4.9"), 0]  # freight on the first (seed 002)
    assert [i.total for i in invoices] == [Decimal("63.43"), Decimal("23.68")]
    assert {s.order: s for s in built(connector.fetch("order_statuses"))}[number].status == "shipped"
    app.records.put([*shipments, *invoices])
    assert isinstance(app.records.get("shipments", shipments[0].id), Shipment)

    content, media_type = connector.get_document("invoice", invoices[0].id)
    assert media_type == "application/vnd.oasis.opendocument.text" and content[:2] == b"PK"
    assert connector.get_document("invoice", "NO-SUCH") is None

    # A shipped order can no longer be cancelled: a message error that says so.
    with pytest.raises(MessageError, match="already shipped"):
        connector.deliver("cancel_order", {"id": f"X-{prefix}", "order": number}, "x")

    # Return one A; once Tryton receives it, the credit note comes back.
    ret = {"id": f"RMA-{prefix}", "order": number, "lines": [{"sku": f"{prefix}-A", "quantity": "1"}]}
    connector.deliver("send_return", ret, "r")
    connector.deliver("send_return", ret, "r")
    assert erp.rpc.model("sale.sale", "search_count", [["reference", "=", f"RMA-{prefix}"]], 0, None) == 1
    assert [m for m in built(connector.fetch("credit_memos")) if m.order == number] == []
    erp.receive_return(f"RMA-{prefix}")
    memo, = [m for m in built(connector.fetch("credit_memos")) if m.order == number and isinstance(m, CreditMemo)]
    assert memo.total == Decimal("23.68") and [(l.sku, l.quantity) for l in memo.lines] == [(f"{prefix}-A", 1)]


def test_cancel_before_and_after_processing(connector, erp, prefix, catalog):
    customer = connector.deliver("create_customer", {"number": f"W{prefix}", "name": "Jim Doe",
                                                     "invoice_address": ADDRESS}, "c").external_id
    number = f"SO-{prefix}-C"
    connector.deliver("send_order", order(number, customer, [(f"{prefix}-A", 1, "19.90")]), "o")
    assert erp.sale(number)["state"] == "processing"

    connector.deliver("cancel_order", {"id": f"C-{prefix}", "order": number, "reason": "changed mind"}, "c1")
    connector.deliver("cancel_order", {"id": f"C-{prefix}", "order": number}, "c1")  # redelivered: no error
    sale = erp.sale(number)
    shipments = erp.rpc.model("stock.shipment.out", "read", sale["shipments"], ["state"])
    invoices = erp.rpc.model("account.invoice", "read", sale["invoices"], ["state"])
    assert {s["state"] for s in shipments} == {"cancelled"} and {i["state"] for i in invoices} <= {"cancelled"}
    assert {s.order: s for s in built(connector.fetch("order_statuses"))}[number].status == "cancelled"

    with pytest.raises(MessageError, match="no sale with reference"):
        connector.deliver("cancel_order", {"id": "C-x", "order": f"NOPE-{prefix}"}, "c2")
    with pytest.raises(MessageError, match="cancelling single items is not supported"):
        connector.deliver("cancel_order", {"id": "C-y", "order": number, "lines": [{"sku": f"{prefix}-A", "quantity": 1}]},
                          "c3")

    # A delivery that died after creating the sale left it a draft; quoted in Tryton meanwhile.
    early = f"SO-{prefix}-Q"
    sale_id = connector._create_sale(Order.model_validate(order(early, customer, [(f"{prefix}-B", 1, "9.50")])), "test")
    erp.rpc.model("sale.sale", "quote", [sale_id])
    connector.deliver("cancel_order", {"id": f"CQ-{prefix}", "order": early}, "c4")
    assert erp.sale(early)["state"] == "cancelled"
    with pytest.raises(MessageError, match="is cancelled"):  # the order's own message, redelivered late
        connector.deliver("send_order", order(early, customer, [(f"{prefix}-B", 1, "9.50")]), "o2")
    assert erp.count_sales(early) == 1


def test_an_order_taken_by_phone_is_in_the_customers_documents(connector, erp, prefix, catalog):
    customer = connector.deliver("create_customer", {"number": f"W{prefix}", "name": "Phone Buyer",
                                                     "invoice_address": ADDRESS}, "c").external_id
    sale = erp.phone_sale(customer, catalog["B"], 2, "9.50")
    number, = erp.rpc.model("account.invoice", "read", erp.rpc.model("sale.sale", "read", [sale], ["invoices"])[0]["invoices"],
                            ["number"])
    fetched = [r for r in built(connector.fetch("invoices")) if getattr(r, "customer", None) == customer]
    assert [(type(r).__name__, r.type, r.number, r.order) for r in fetched] == [("Document", "invoice", number["number"], None)]
    content, _ = connector.get_document("invoice", number["number"])
    assert content[:2] == b"PK"


def test_a_coupon_is_spread_over_the_lines(connector, erp, prefix, catalog):
    """An order-level discount lowers the unit prices in proportion, so Tryton bills what the shop charged."""
    number = f"SO-{prefix}-D"
    message = order(number, None, [(f"{prefix}-A", 2, "19.90"), (f"{prefix}-B", 3, "9.50")])
    message.update(discount_amount="10.00", coupon_code="SUMMER10",
                   grand_total=str(Decimal(message["grand_total"]) - Decimal(10)))
    connector.deliver("send_order", message, "d")
    sale, = erp.rpc.model("sale.sale", "read", [erp.sale(number)["id"]], ["untaxed_amount", "description"])
    assert sale["untaxed_amount"] == Decimal("63.20")  # 68.30 of goods - 10.00 + 4.90 freight
    assert sale["description"] == f"Shop order {number}, coupon SUMMER10"


def test_guest_order_and_unmapped_methods(connector, erp, prefix, catalog):
    number = f"SO-{prefix}-G"
    connector.deliver("send_order", order(number, None, [(f"{prefix}-B", 1, "9.50")]), "g")
    connector.deliver("send_order", order(number, None, [(f"{prefix}-B", 1, "9.50")]), "g")
    assert erp.count_sales(number) == 1
    with pytest.raises(MessageError, match="shipping method 'pigeon'"):
        connector.deliver("send_order", {**order(f"{number}-2", None, [(f"{prefix}-B", 1, "9.50")]),
                                         "shipping_method": "pigeon"}, "g2")
    with pytest.raises(MessageError, match=f"unknown product.*{prefix}-ZZZ"):
        connector.deliver("send_order", order(f"{number}-3", None, [(f"{prefix}-ZZZ", 1, "9.50")]), "g3")
