"""The conformance suite against the Shopify double (executed on Shopify's official schema)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from erpbridge.connectors.kit.conformance import ConnectorConformance
from erpbridge.connectors.registry import spec
from erpbridge.outbox.binder import bind
from erpbridge.store.db import write_transaction

from shopify_apps import LOCATION, make_app, shopify_system
from shopify_double import ShopifyDouble

#: What the suite delivers: every operation that makes something in Shopify (a list price is set,
#: never made, so redelivering it has nothing to count: the peer holds no push_prices payload).
COUNTED = ("push_products", "push_stock", "send_shipment", "send_invoice", "send_credit_memo", "send_order_status")


class ShopifyPeer:
    def __init__(self, double: ShopifyDouble, app):
        self.double, self.app = double, app
        self.connector = app.connector("shopify")
        declared = spec("shopify").capabilities
        self.capabilities = declared
        self.orders: dict[str, dict] = {}

    def _order(self, number: str, paid: str = "authorized") -> dict:
        order = self.double.add_order(f"O{number}", [("A-1", 2, "10.00")], paid=paid)
        with write_transaction(self.app.engine) as conn:
            bind(conn, [("orders", f"O{number}", "shopify", order["id"])])
        self.orders[number] = order
        return order

    def payload(self, operation: str, number: str) -> dict | None:
        if operation not in COUNTED:
            return None
        if operation == "push_products":
            return {"number": number, "kind": "products", "records": [{"sku": number, "name": "Drill", "enabled": True,
                                                                       "list_price": "19.90"}]}
        if operation == "push_stock":
            self.double.productSet(None, {"title": "Saw", "variants": [{"sku": number, "optionValues": []}]})
            return {"number": number, "kind": "stock",
                    "records": [{"sku": number, "warehouse": "MAIN", "quantity": "7"}]}
        order = self._order(number, paid="sale" if operation == "send_credit_memo" else "authorized")
        name = order["name"].lstrip("#")
        if operation == "send_shipment":
            return {"id": number, "order": name, "tracking_numbers": [f"T-{number}"],
                    "lines": [{"sku": "A-1", "quantity": "1"}]}
        if operation == "send_invoice":
            return {"id": number, "order": name, "issued_at": "2026-12-02", "currency": "EUR", "total": "10.00"}
        if operation == "send_credit_memo":
            return {"id": number, "order": name, "issued_at": "2026-12-02", "currency": "EUR", "total": "10.00",
                    "lines": [{"sku": "A-1", "quantity": "1", "amount": "10.00"}]}
        return {"number": number, "order": name, "status": "cancelled"}

    def count(self, operation: str, number: str) -> int:
        d = self.double
        if operation == "push_products":
            return sum(1 for v in d.variants.values() if v["sku"] == number)
        if operation == "push_stock":
            item = d.by_sku(number)["inventoryItem"]
            return sum(1 for name, data in d.applied if name == "inventorySetQuantities"
                       and any(q["inventoryItemId"] == item for q in data["quantities"]))
        order = self.orders[number]
        return {"send_shipment": len(order["fulfillments"]), "send_invoice": sum(
            1 for t in order["transactions"] if t["kind"] == "CAPTURE"), "send_credit_memo": len(order["refunds"]),
            "send_order_status": order["cancels"]}[operation]

    def go_down(self) -> None:
        self.double.stop()

    def come_back(self) -> None:
        self.double.start()

    def refuse(self, operation: str, number: str) -> dict | None:
        if operation == "push_products":
            return {"number": number, "kind": "products", "records": [{"sku": f"BAD-{number}", "name": "Bad"}]}
        if operation == "send_shipment":
            payload = self.payload(operation, number)
            return {**payload, "lines": [{"sku": "A-1", "quantity": "5"}]}  # 2 were ordered
        return None

    def lose_next_answer(self) -> bool:
        self.double.lose_next = True
        return True

    def serve(self, kind: str, count: int, changed_at: dt.datetime) -> list[str] | None:
        if kind != "orders":
            return None
        stamp = changed_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return [self.double.add_order(f"S{threading.get_ident() % 1000}-{len(self.double.orders)}",
                                      [("A-1", 1, "10.00")], updated_at=stamp)["name"].lstrip("#")
                for _ in range(count)]


class TestShopifyConformance(ConnectorConformance):
    @pytest.fixture
    def peer(self, shopify, tmp_path):
        app = make_app(tmp_path, f"sqlite:///{tmp_path / 'store.db'}",
                       {"erp": {"connector": "testerp"},
                        "shopify": shopify_system(shopify, locations={"MAIN": LOCATION}, order_overlap=0)})
        yield ShopifyPeer(shopify, app)
        app.close()
