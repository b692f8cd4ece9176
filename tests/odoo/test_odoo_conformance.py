"""The Odoo connector, configured as examples/odoo/, passes the conformance suite
(erpbridge.connectors.kit.conformance) against the Odoo double over both APIs, on both stores."""

from __future__ import annotations

import datetime as dt

import pytest
from odoo_shop import ADDRESS, order

from erpbridge.connectors.kit.conformance import ConnectorConformance


class OdooPeer:
    def __init__(self, app, odoo):
        self.app, self.odoo = app, odoo
        self.connector = app.connector("erp")
        self.capabilities = app.capabilities("erp")
        odoo.add_product("CF-1", "Conformance item", "10.00", stock={"WH": 100})
        self.n = 0

    def payload(self, operation, number):
        if operation == "create_customer":
            return {"number": number, "name": "Jane Doe", "invoice_address": ADDRESS}
        if operation == "send_order":
            return order(number, None, [("CF-1", 1, "10.00")])
        self.connector.deliver("send_order", order(number, None, [("CF-1", 1, "10.00")]), f"{number}:order")
        if operation == "cancel_order":
            return {"id": number, "order": number}
        return {"id": number, "order": number, "lines": [{"sku": "CF-1", "quantity": "1"}]}

    def count(self, operation, number):
        what = {"create_customer": "customers", "send_order": "orders", "cancel_order": "cancelled"}.get(operation,
                                                                                                        "returns")
        return self.odoo.count(what, number)

    def go_down(self):
        self.odoo.stop()

    def come_back(self):
        self.odoo.start()

    def refuse(self, operation, number):
        if operation == "send_order":
            return order(number, None, [("NO-SUCH-SKU", 1, "5.00")])
        if operation == "cancel_order":
            self.connector.deliver("send_order", order(number, None, [("CF-1", 1, "10.00")]), f"{number}:order")
            self.odoo.ship(number, "TRACK-CF")
            return {"id": number, "order": number}  # shipped: Odoo's goods have left
        return None

    def lose_next_answer(self):
        self.odoo.lose_next.set()
        return True

    def serve(self, kind, count, changed_at):
        self.n += 1
        stamp = changed_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        if kind == "products":
            skus = [f"S{self.n}-{i}" for i in range(count)]
            for sku in skus:
                self.odoo.add_product(sku, sku, "1.00", stamp=stamp)
            return skus
        if kind == "customers":
            refs = [f"C{self.n}-{i}" for i in range(count)]
            for ref in refs:
                self.odoo.add_customer(ref, f"Customer {ref}", stamp=stamp)
            return refs
        return None


class TestOdooConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, api, odoo, odoo_app, db_url):
        return OdooPeer(odoo_app(api, odoo, db_url), odoo)
