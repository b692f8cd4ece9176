"""The Magento connector passes the conformance suite (erpbridge.connectors.kit.conformance)
against the Magento double, on both stores: its feedback documents (shipments, invoices, credit
memos) exactly once under redelivery and lost answers, an unreachable shop a general error, a
refusal in Magento's words, and the order intake by updated_at."""

from __future__ import annotations

import datetime as dt

import pytest

from erpbridge.connectors.kit.conformance import ConnectorConformance
from erpbridge.connectors.registry import Capabilities

KINDS = {"send_shipment": ("shipments", "shipment"), "send_invoice": ("invoices", "invoice"),
         "send_credit_memo": ("creditmemos", "credit memo")}


class MagentoPeer:
    def __init__(self, app, magento):
        self.app, self.magento = app, magento
        self.connector = app.connector("magento")
        # the suite redelivers what a shop is sent as documents (their payloads carry an id)
        self.capabilities = Capabilities(deliver=frozenset(KINDS), intake=app.capabilities("magento").intake)
        self.n = 0

    def payload(self, operation, number, quantity=1):
        order = self.magento.place_order(f"O-{number}", [("CF-1", 1)])
        line = {"sku": "CF-1", "quantity": str(quantity)}
        if operation == "send_shipment":
            return {"id": number, "order": order["increment_id"], "carrier": "DHL", "tracking_numbers": ["T-1"],
                    "lines": [line]}
        document = {"id": number, "order": order["increment_id"], "issued_at": "2026-12-02", "currency": "EUR",
                    "lines": [{**line, "amount": "10.00"}], "total": "14.90"}
        if operation == "send_credit_memo":
            with self.magento.lock:
                self.magento._document(order["entity_id"], "invoice", {"items": [
                    {"order_item_id": order["items"][0]["item_id"], "qty": 1}]})
        return document

    def count(self, operation, number):
        kind, word = KINDS[operation]
        marker = f"erpbridge {word} {number}"
        with self.magento.lock:
            return sum(any(marker in c["comment"] for c in d["comments"]) for d in getattr(self.magento, kind).values())

    def go_down(self):
        self.magento.go_down()

    def come_back(self):
        self.magento.come_back()

    def refuse(self, operation, number):
        return self.payload(operation, number, quantity=5)  # more than was ordered: Magento's validation refuses it

    def lose_next_answer(self):
        self.magento.lose_next.set()
        return True

    def serve(self, kind, count, changed_at):
        if kind != "orders":
            return None
        self.n += 1
        stamp = changed_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return [self.magento.place_order(f"S{self.n}-{i}-{changed_at.timestamp():.0f}", [("CF-1", 2)],
                                         updated_at=stamp)["increment_id"] for i in range(count)]


class TestMagentoConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, magento_app, magento):
        return MagentoPeer(magento_app(), magento)
