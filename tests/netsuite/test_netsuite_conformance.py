"""The NetSuite connector, configured as examples/netsuite/, passes the conformance suite
(erpbridge.connectors.kit.conformance) against the NetSuite double, signed by token-based
authentication and by OAuth 2, on both stores."""

from __future__ import annotations

import datetime as dt

import pytest
from netsuite_shop import ADDRESS, order

from erpbridge.connectors.kit.conformance import ConnectorConformance


class NetSuitePeer:
    def __init__(self, app, double):
        self.app, self.double = app, double
        self.connector = app.connector("erp")
        self.capabilities = app.capabilities("erp")
        double.add_product("CF-1", "Conformance item", "10.00", stock={1: 100})
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
        what = {"create_customer": "customers", "send_order": "orders", "cancel_order": "closed"}.get(operation,
                                                                                                    "returns")
        return self.double.count(what, number)

    def go_down(self):
        self.double.stop()

    def come_back(self):
        self.double.start()

    def refuse(self, operation, number):
        if operation == "send_order":
            return order(number, None, [("NO-SUCH-SKU", 1, "5.00")])
        if operation == "create_customer":
            return {"number": number, "name": " ", "invoice_address": ADDRESS}  # NetSuite: a company name is required
        return None

    def lose_next_answer(self):
        self.double.lose_next.set()
        return True

    def serve(self, kind, count, changed_at):
        self.n += 1
        stamp = changed_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        if kind == "products":
            skus = [f"S{self.n}-{i}" for i in range(count)]
            for sku in skus:
                self.double.add_product(sku, sku, "1.00", stamp=stamp)
            return skus
        if kind == "customers":
            numbers = [f"C{self.n}-{i}" for i in range(count)]
            for number in numbers:
                self.double.add_customer(number, f"Customer {number}", stamp=stamp)
            return numbers
        return None


class TestNetSuiteConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, auth, netsuite, netsuite_app, db_url):
        return NetSuitePeer(netsuite_app(auth, netsuite, db_url), netsuite)
