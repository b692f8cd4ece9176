"""The conformance suite against the real oscar shop: each feedback message and a product push
delivered twice, or after an answer that was not recorded, leaves one shipment, one payment event,
one product in oscar; a stopped shop is a general error; what oscar refuses is a message error in
its words; orders placed since a time, and only those, come in (``poll_overlap: 0`` here: the
overlap reaches back on purpose, and ingest takes an order seen twice in once)."""

from __future__ import annotations

import datetime as dt

import pytest

from erpbridge.connectors.kit.conformance import ConnectorConformance
from erpbridge.connectors.registry import Capabilities

import oscar_shop_people as people

SKU = "CF-1"


class OscarPeer:
    #: what the suite delivers: the product push, and each feedback message (keyed by its document)
    capabilities = Capabilities(deliver=frozenset({"push_products", "send_shipment", "send_invoice",
                                                   "send_credit_memo"}), intake=frozenset({"orders"}))

    def __init__(self, shop, app):
        self.shop, self.app = shop, app
        self.connector = app.connector("shop")
        self.down = False
        self.orders: dict[str, str] = {}  # a document's id -> the oscar order it is about
        people.add_product(shop, SKU)

    def _order_for(self, number: str) -> str:
        if self.down:
            return "100001"  # no order can be placed in a stopped shop; the delivery fails before it matters
        self.orders[number] = people.place_order(self.shop, {SKU: 1})
        return self.orders[number]

    def payload(self, operation: str, number: str) -> dict:
        if operation == "push_products":
            return {"kind": "products", "id": number, "records": [
                {"sku": number, "name": f"Product {number}", "list_price": "9.90", "currency": "EUR",
                 "enabled": False}]}
        order = self._order_for(number)
        today = dt.date.today().isoformat()
        if operation == "send_shipment":
            return {"id": number, "order": order, "carrier": "DHL", "tracking_numbers": [f"T-{number}"],
                    "lines": [{"sku": SKU, "quantity": "1"}]}
        return {"id": number, "order": order, "issued_at": today, "currency": "EUR", "total": "11.90"}

    def count(self, operation: str, number: str) -> int:
        if operation == "push_products":
            return int(people.product(self.shop, number) is not None)
        if operation == "send_shipment":
            return sum(1 for s in people.shipments(self.shop, self.orders[number]) if s["id"] == number)
        kind = "invoiced" if operation == "send_invoice" else "refunded"
        return sum(1 for ref, _ in people.payments(self.shop, self.orders[number], kind) if ref == number)

    def go_down(self) -> None:
        self.down = True
        self.shop.stop()

    def come_back(self) -> None:
        self.shop.start()
        self.down = False

    def refuse(self, operation: str, number: str) -> dict | None:
        if operation != "send_shipment":
            return None
        payload = self.payload(operation, number)
        return {**payload, "lines": [{"sku": "NOT-IN-THE-ORDER", "quantity": "1"}]}

    def lose_next_answer(self) -> bool:
        return False

    def serve(self, kind: str, count: int, changed_at: dt.datetime) -> list[str] | None:
        if kind != "orders":
            return None
        return [people.place_order(self.shop, {SKU: 1}) for _ in range(count)]


class TestOscarConformance(ConnectorConformance):
    @pytest.fixture
    def peer(self, oscar_shop, oscar_app, rest_erp, tmp_path):
        app = oscar_app(oscar_shop, f"sqlite:///{tmp_path / 'store.db'}", rest_erp, shop_settings={"poll_overlap": 0})
        return OscarPeer(oscar_shop, app)
