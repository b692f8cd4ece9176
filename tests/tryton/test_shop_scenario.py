"""The issue's scenario end to end, as a shop sees it: only HTTP calls to erpbridge's API and signed
webhooks back, with a real Tryton behind it where people ship, invoice and receive returns.

The connector-level details (amounts, freight, idempotent redelivery, error messages) are checked
in test_order_to_cash.py and test_master_data.py; here every step goes through the API, the
outbox workers, the scheduled flows and the webhooks, as in production.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from erpbridge.outbox.semaphore import Semaphore

from tryton_config import system_config
from shop import Shop, eventually
from test_order_to_cash import ADDRESS, order


@pytest.fixture
def shop(tmp_path, tryton_server):
    erp_system = {**system_config(tryton_server).model_dump(mode="json"), "password": tryton_server.password}
    shop = Shop(tmp_path, erp_system)
    yield shop
    shop.close()


def create_customer(shop: Shop, reference: str, name: str) -> str:
    """A new customer through the API; Tryton's party code comes back as the customer number."""
    response = shop.http.post("/api/v1/customers", json={"reference": reference, "name": name,
                                                         "email": "buyer@example.com", "invoice_address": ADDRESS})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "created"
    return body["number"]


def D(value) -> Decimal:
    return Decimal(str(value))


def test_catalog_customer_and_real_time_lookups_through_the_api(shop, erp, prefix, tryton_server):
    sku = f"{prefix}-DRILL"
    tools = erp.category(f"{prefix}-TOOLS", "Tools")
    drill = erp.product(sku, "Drill", "99.00", category=tools, description="Cordless drill\n18 V")
    erp.receive(drill, 7)
    erp.receive(drill, 2, "WH2")

    for flow in ("catalog", "prices", "stock"):
        shop.run_flow(flow)
    api = shop.http
    product = api.get(f"/api/v1/products/{sku}").json()
    assert (product["name"], product["group"], D(product["list_price"]), product["enabled"]) == \
        ("Drill", f"{prefix}-TOOLS", Decimal(99), True)
    price = api.get(f"/api/v1/prices/{sku}").json()
    assert (D(price["unit_price"]), price["kind"], price["source"]) == (Decimal(99), "list", "store")
    stock = api.get(f"/api/v1/stock/{sku}").json()
    assert {w["warehouse"]: D(w["quantity"]) for w in stock["warehouses"]} == {"main": 7, "south": 2}
    assert D(stock["salable"]) == 9

    number = create_customer(shop, f"W{prefix}", "Dealer GmbH")
    party, = erp.rpc.model("party.party", "search", [["code", "=", number]], 0, None, None)

    # At login the customer comes from Tryton itself (renamed there meanwhile) and is stored.
    erp.rpc.model("party.party", "write", [party], {"name": "Dealer GmbH & Co. KG"})
    login = api.get(f"/api/v1/customers/{number}", params={"context": "login"})
    assert (login.json()["name"], login.json()["source"]) == ("Dealer GmbH & Co. KG", "erp")
    assert login.json()["invoice_address"]["city"] == "Berlin"

    # The customer's own price list: Tryton computes the price for customer and quantity.
    price_list, = erp.rpc.model("product.price_list", "create", [{
        "name": f"{prefix} dealers", "price": "list_price",
        "lines": [["create", [{"product": drill, "quantity": 10, "formula": "unit_price * 0.8"},
                               {"formula": "unit_price * 0.9"}]]]}])
    erp.rpc.model("party.party", "write", [party], {"sale_price_list": price_list})

    def customer_price(quantity: int) -> dict:
        response = api.get(f"/api/v1/prices/{sku}", params={"customer": number, "quantity": quantity})
        assert response.status_code == 200, response.text
        return response.json()

    twelve = customer_price(12)
    assert (D(twelve["unit_price"]), D(twelve["total"]), twelve["kind"], twelve["source"]) == \
        (Decimal("79.2"), Decimal("950.4"), "customer", "erp")
    assert D(customer_price(1)["unit_price"]) == Decimal("89.1")

    # Within the cache time the same question is answered without asking Tryton again.
    erp.rpc.model("product.price_list", "write", [price_list], {"name": f"{prefix} dealers (new)"})
    lines = erp.rpc.model("product.price_list", "read", [price_list], ["lines"])[0]["lines"]
    erp.rpc.model("product.price_list.line", "write", lines[:1], {"formula": "unit_price * 0.5"})
    assert D(customer_price(12)["unit_price"]) == Decimal("79.2")
    assert D(customer_price(11)["unit_price"]) == Decimal("49.5")  # a new question: Tryton's new price

    # Tryton down: the first lookup trips the semaphore, the next ones do not even try; the store
    # answers at once, marked as such.
    tryton_server.stop()
    try:
        fallback = customer_price(3)
        assert (D(fallback["unit_price"]), fallback["source"], fallback["fallback"]) == \
            (Decimal(99), "store", "erp_offline")
        assert Semaphore(shop.hub.engine, "erp", 1).is_offline()
        started = time.monotonic()
        stored = api.get(f"/api/v1/customers/{number}", params={"context": "login"}).json()
        assert (stored["name"], stored["source"], stored["fallback"]) == ("Dealer GmbH & Co. KG", "store", "erp_offline")
        assert customer_price(4)["fallback"] == "erp_offline"
        assert time.monotonic() - started < 1
    finally:
        tryton_server.start()
    # Once the lock time is over, Tryton is asked again.
    eventually(lambda: customer_price(5)["source"] == "erp", timeout=30, what="Tryton answering again")


def test_order_to_cash_through_the_api_with_webhooks(shop, erp, prefix):
    a, b = f"{prefix}-A", f"{prefix}-B"
    products = {}
    for sku, price in ((a, "19.90"), (b, "9.50")):
        products[sku] = erp.product(sku, f"Item {sku}", price)
        erp.receive(products[sku], 20)
    shop.run_flow("catalog")
    api = shop.http
    customer = create_customer(shop, f"W{prefix}", "Jane Doe")

    number = f"SO-{prefix}"
    placed = api.post("/api/v1/orders", json=order(number, customer, [(a, 2, "19.90"), (b, 3, "9.50")]))
    assert placed.status_code == 201, placed.text
    view = shop.delivered(number, "send_order")
    sale = erp.sale(number)
    assert view["erp_id"] == sale["number"] and erp.count_sales(number) == 1
    assert erp.rpc.model("sale.sale", "read", [sale["id"]], ["party.code"])[0]["party."]["code"] == customer

    # Part of it ships (one A is missing), then the rest; the people in Tryton post each invoice.
    erp.ship(number, "TRACK-1", {products[a]: 1})
    erp.post_invoices(number)
    shop.run_flow("feedback")
    view = shop.order(number)
    assert view["status"] == "partially_shipped" and len(view["shipments"]) == 1
    erp.ship(number, "TRACK-2")
    erp.post_invoices(number)
    shop.run_flow("feedback")

    view = shop.order(number)
    assert view["status"] == "shipped"
    shipments = view["shipments"]
    assert [s["tracking_numbers"] for s in shipments] == [["TRACK-1"], ["TRACK-2"]]
    assert [{l["sku"]: D(l["quantity"]) for l in s["lines"]} for s in shipments] == [{a: 1, b: 3}, {a: 1}]
    invoices = view["invoices"]
    assert [i["shipment"] for i in invoices] == [s["id"] for s in shipments]
    assert [(D(i["total"]), D(i["freight_amount"])) for i in invoices] == \
        [(Decimal("63.43"), Decimal("4.9")), (Decimal("23.68"), 0)]

    # The invoice for the order history, rendered by Tryton in real time.
    document = api.get(f"/api/v1/documents/invoice/{invoices[0]['id']}")
    assert document.status_code == 200 and document.headers["X-Erpbridge-Source"] == "erp"
    assert document.content[:2] == b"PK"  # Tryton's OpenDocument report

    # The customer's order history lists them (and Tryton renders each on demand).
    history = api.get(f"/api/v1/customers/{customer}/documents").json()["items"]
    assert [(d["type"], d["number"], d["order"]) for d in history] == \
        sorted(("invoice", i["id"], number) for i in invoices)

    # The same news reached the shop's webhook endpoint, signed.
    hooks = shop.receiver
    eventually(lambda: len(hooks.of(number, "order.invoice")) == 2, what="the invoice webhooks")
    assert [e["tracking_numbers"] for e in hooks.of(number, "order.shipment")] == [["TRACK-1"], ["TRACK-2"]]
    assert [e["id"] for e in hooks.of(number, "order.invoice")] == [i["id"] for i in invoices]
    assert [e["status"] for e in hooks.of(number, "order.status")] == ["partially_shipped", "shipped"]
    assert len(hooks.of(number, "order.accepted")) == 1

    # One A comes back; once Tryton received it, the credit note is in the view and announced.
    returned = api.post(f"/api/v1/orders/{number}/returns", json={"id": f"RMA-{prefix}", "lines": [{"sku": a, "quantity": "1"}]})
    assert returned.status_code == 201, returned.text
    shop.delivered(number, "send_return")
    erp.receive_return(f"RMA-{prefix}")
    shop.run_flow("feedback")
    memo, = shop.order(number)["credit_memos"]
    assert D(memo["total"]) == Decimal("23.68") and [(l["sku"], D(l["quantity"])) for l in memo["lines"]] == [(a, 1)]
    assert [e["id"] for e in eventually(lambda: hooks.of(number, "order.credit_memo"), what="the credit memo webhook")] \
        == [memo["id"]]

    # Another order is cancelled after Tryton took it: its shipment and draft invoice go too.
    other = f"SO-{prefix}-X"
    assert api.post("/api/v1/orders", json=order(other, customer, [(b, 1, "9.50")])).status_code == 201
    shop.delivered(other, "send_order")
    cancelled = api.post(f"/api/v1/orders/{other}/cancellations", json={"reason": "changed mind"})
    assert cancelled.status_code == 201 and cancelled.json()["state"] == "cancelled"
    shop.delivered(other, "cancel_order")
    sale = erp.sale(other)
    assert {s["state"] for s in erp.rpc.model("stock.shipment.out", "read", sale["shipments"], ["state"])} == {"cancelled"}
    shop.run_flow("feedback")
    assert shop.order(other)["status"] == "cancelled"
    eventually(lambda: hooks.of(other, "order.status"), what="the cancelled status webhook")
    assert hooks.of(other, "order.status")[-1]["status"] == "cancelled"
    assert len(hooks.of(other, "order.cancelled")) == 1
    assert [e["status"] for e in hooks.of(number, "order.status")] == ["partially_shipped", "shipped"]  # once each
    assert hooks.refused == 0
