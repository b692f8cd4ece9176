"""The Tryton connector passes the conformance suite (erpbridge.connectors.kit.conformance)
against the real Tryton, through a proxy that can refuse connections or lose an answer."""

from __future__ import annotations

import pytest

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.connectors.kit.conformance import ConnectorConformance
from erpbridge.connectors.tryton import mapper

from tryton_config import system_config
from proxy import TrytonProxy
from test_order_to_cash import ADDRESS, order


class TrytonPeer:
    def __init__(self, app, erp, proxy: TrytonProxy, prefix: str):
        self.connector = app.connector("erp")
        self.capabilities = app.capabilities("erp")
        self.erp, self.proxy, self.prefix = erp, proxy, prefix
        self.sku = f"{prefix}-CF"
        erp.receive(erp.product(self.sku, "Conformance item", "10.00"), 1000)
        erp.product(f"{prefix}-NOSALE", "Not for sale", "5.00", salable=False)
        self.n = 0

    def payload(self, operation, number):
        if operation == "create_customer":
            return {"number": number, "name": "Jane Doe", "invoice_address": ADDRESS}
        if operation == "send_order":
            return order(number, None, [(self.sku, 1, "10.00")])
        self.connector.deliver("send_order", order(number, None, [(self.sku, 1, "10.00")]), f"{number}:order")
        if operation == "cancel_order":
            return {"id": number, "order": number}
        return {"id": number, "order": number, "lines": [{"sku": self.sku, "quantity": "1"}]}

    def count(self, operation, number):
        rpc = self.erp.rpc
        if operation == "create_customer":
            return rpc.model("party.identifier", "search_count", [["code", "=", f"shop:{number}"]], 0, None)
        if operation == "send_order":
            return self.erp.count_sales(number)
        if operation == "cancel_order":  # one sale, cancelled (or ended with its shipments cancelled)
            sales = rpc.model("sale.sale", "search_read", [["reference", "=", number], ["origin", "=", None]], 0, None,
                              None, ["state", "shipment_state"])
            return sum(1 for sale in sales if mapper.is_cancelled(sale))
        return rpc.model("sale.sale", "search_count", [["reference", "=", number], ["origin", "!=", None]], 0, None)

    def go_down(self):
        self.proxy.stop()

    def come_back(self):
        self.proxy.start()

    def refuse(self, operation, number):
        if operation != "send_order":
            return None
        return order(number, None, [(f"{self.prefix}-NOSALE", 1, "5.00")])  # Tryton's domain refuses it

    def lose_next_answer(self):
        self.proxy.lose_next.set()
        return True

    def serve(self, kind, count, changed_at):
        if kind != "products":
            return None  # Tryton stamps its own write dates; products show it for all
        self.n += 1
        codes = [f"{self.prefix}-S{self.n}-{i}" for i in range(count)]
        for code in codes:
            self.erp.product(code, code, "1.00")
        return codes


class TestTheTrytonConnectorConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, tryton_server, erp, tmp_path, prefix):
        proxy = TrytonProxy(tryton_server.url)
        config = Config(store={"url": f"sqlite:///{tmp_path / 'store.db'}"},
                        systems={"erp": system_config(tryton_server, url=proxy.url, timeout=20)})
        app = bootstrap(config)
        yield TrytonPeer(app, erp, proxy, prefix)
        app.close()
        proxy.close()
