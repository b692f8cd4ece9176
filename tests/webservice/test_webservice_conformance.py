"""The webservice connector, configured as each example (examples/webservice-rest/, -soap/), passes
the conformance suite (erpbridge.connectors.kit.conformance) against its test ERP, on both stores."""

from __future__ import annotations

import pytest

from erpbridge.connectors.kit.conformance import ConnectorConformance
from erpbridge.outbox.binder import bind
from erpbridge.store.db import write_transaction

from webservice_fixtures import ADDRESS, order


class ExamplePeer:
    def __init__(self, app, erp):
        self.app, self.erp = app, erp
        self.connector = app.connector("erp")
        self.capabilities = app.capabilities("erp")
        erp.add_product("CF-1", "Conformance item", "10.00", stock={"MAIN": 100})
        self.n = 0

    def _ordered(self, number: str) -> None:
        """The order in the ERP with its id bound, as its delivered send_order leaves it."""
        result = self.connector.deliver("send_order", order(number, None, [("CF-1", 1, "10.00")]), f"{number}:order")
        with write_transaction(self.app.engine) as conn:
            bind(conn, [("orders", number, "erp", result.external_id)])

    def payload(self, operation, number):
        if operation == "create_customer":
            return {"number": number, "name": "Jane Doe", "invoice_address": ADDRESS}
        if operation == "send_order":
            return order(number, None, [("CF-1", 1, "10.00")])
        self._ordered(number)
        if operation == "cancel_order":
            return {"id": number, "order": number}
        return {"id": number, "order": number, "lines": [{"sku": "CF-1", "quantity": "1"}]}

    def count(self, operation, number):
        what = {"create_customer": "customers", "send_order": "orders", "cancel_order": "cancelled"}.get(operation, "returns")
        return self.erp.count(what, number)

    def go_down(self):
        self.erp.stop()

    def come_back(self):
        self.erp.start()

    def refuse(self, operation, number):
        if operation != "send_order":
            return None
        return order(number, None, [("NO-SUCH-SKU", 1, "5.00")])  # REST: {"status": "failed"} in a 200; SOAP: a fault

    def lose_next_answer(self):
        self.erp.lose_next.set()
        return True

    def serve(self, kind, count, changed_at):
        self.n += 1
        if kind == "products":
            skus = [f"S{self.n}-{i}" for i in range(count)]
            for sku in skus:
                self.erp.add_product(sku, sku, "1.00", stamp=changed_at.isoformat())
            return skus
        if kind == "customers":
            return [self.erp.add_customer(None, f"Customer {self.n}-{i}", stamp=changed_at.isoformat())
                    for i in range(count)]
        return None


class TestTheExamplesConform(ConnectorConformance):
    @pytest.fixture(params=["webservice-rest", "webservice-soap"])
    def peer(self, request, example_app, db_url):
        erp = request.getfixturevalue("rest_erp" if request.param == "webservice-rest" else "soap_erp")
        return ExamplePeer(example_app(request.param, erp, db_url), erp)
