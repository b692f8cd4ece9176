"""The onec connector passes the conformance suite (erpbridge.connectors.kit.conformance), on both
stores. Its peer is 1C's side of sale&query: what 1C would receive is counted in the CommerceML
answer of a real query. Delivery never calls 1C (orders wait in the store until 1C asks), so
there is no 1C to be unreachable or to lose an answer: the suite's outage test is skipped with
that reason, and a redelivery after a lost answer is the plain redelivery."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from erpbridge.connectors.kit.conformance import ConnectorConformance

from onec_hub import api_order, onec_app


class OneCPeer:
    def __init__(self, app):
        self.app = app
        self.connector = app.connector("erp")
        self.capabilities = app.capabilities("erp")
        self.session = self.connector.exchange.open_session()

    def payload(self, operation, number):
        if operation == "send_order":
            return {**api_order(number, [("CF-1", 1, "10.00")]), "grand_total": str(Decimal("310.00"))}
        if operation == "cancel_order":
            order = f"{number}-order"
            self.connector.deliver("send_order", self.payload("send_order", order), f"cf:{order}")
            return {"id": number, "order": order, "reason": "conformance"}
        return None

    def _answered(self) -> list[tuple[str, str]]:
        """(Номер, Отменен) of every Документ a sale&query answers now (the session's success
        never comes, so the next query answers them again)."""
        root = etree.fromstring(self.connector._query(self.session))
        cancelled = "ЗначенияРеквизитов/ЗначениеРеквизита[Наименование='Отменен']/Значение"
        return [(d.findtext("Номер"), d.findtext(cancelled)) for d in root.iterfind("Документ")]

    def count(self, operation, number):
        if operation == "cancel_order":
            return sum(1 for n, cancelled in self._answered() if n == f"{number}-order" and cancelled == "true")
        return sum(1 for n, _ in self._answered() if n == number)

    def refuse(self, operation, number):
        if operation == "cancel_order":  # 1C's exchange cancels whole orders only
            order = f"{number}-order"
            self.connector.deliver("send_order", self.payload("send_order", order), f"cf:{order}")
            return {"id": number, "order": order, "lines": [{"sku": "CF-1", "quantity": "1"}]}
        return None

    def go_down(self):
        pytest.skip("delivery never calls 1C: orders wait in the store for its sale&query, so nothing is unreachable")

    def come_back(self):
        pass

    def lose_next_answer(self):
        return False

    def serve(self, kind, count, changed_at):
        return None


class TestOneCConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, tmp_path, db_url, monkeypatch):
        app = onec_app(tmp_path, db_url, monkeypatch)
        yield OneCPeer(app)
        app.close()


def test_it_declares_orders_cancellations_and_its_endpoint(tmp_path, monkeypatch):
    app = onec_app(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch)
    try:
        capabilities = app.capabilities("erp")
        assert capabilities.inbound and capabilities.operations == {"send_order", "cancel_order"}
        assert not (capabilities.fetch or capabilities.intake or capabilities.push)
    finally:
        app.close()


def test_the_example_config_loads_as_a_user_runs_it(monkeypatch):
    from erpbridge.config import load_config

    from onec_hub import ROOT

    monkeypatch.setenv("ONEC_PASSWORD", "y")
    config = load_config(ROOT / "examples/onec/erpbridge.yaml")
    erp = config.systems["erp"]
    assert erp.connector == "onec" and erp.password.get_secret_value() == "y" and erp.price_type == "Розничная"
    assert config.erp_for(None) == "erp"


def test_redeliveries_after_export_or_cancellation_send_nothing_again(tmp_path, db_url, monkeypatch):
    app = onec_app(tmp_path, db_url, monkeypatch)
    try:
        peer = OneCPeer(app)
        order = peer.payload("send_order", "R-1")
        peer.connector.deliver("send_order", order, "k:1")
        assert peer._answered() == [("R-1", "false")]
        peer.connector._success(peer.session)
        peer.connector.deliver("send_order", order, "k:1")  # the worker crashed before recording its delivery
        assert peer._answered() == []
        peer.connector.deliver("cancel_order", {"id": "R-1-c", "order": "R-1"}, "k:2")
        peer.connector.deliver("send_order", order, "k:1")  # an old message replayed by an operator
        assert peer._answered() == [("R-1", "true")]
        peer.connector._success(peer.session)
        peer.connector.deliver("cancel_order", {"id": "R-1-c", "order": "R-1"}, "k:2")
        assert peer._answered() == []
    finally:
        app.close()
