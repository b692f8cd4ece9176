"""The ibexa connector passes the conformance suite (erpbridge.connectors.kit.conformance), on both
stores. It delivers and fetches nothing (the shop calls erpbridge), so what the suite checks of it
is that what it declares, an inbound endpoint, it offers; the acceptance run checks the rest."""

from __future__ import annotations

import pytest

from erpbridge.connectors.kit.conformance import ConnectorConformance

from ibexa_hub import RestErp, ibexa_app


class ShopPeer:
    def __init__(self, app):
        self.connector = app.connector("shop")
        self.capabilities = app.capabilities("shop")

    def payload(self, operation, number):
        raise AssertionError(f"the ibexa connector delivers nothing, not {operation}")

    count = refuse = serve = payload

    def go_down(self):
        raise AssertionError("the ibexa connector calls no system")

    come_back = lose_next_answer = go_down


class TestIbexaConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, tmp_path, db_url, monkeypatch):
        erp = RestErp()
        app = ibexa_app(tmp_path, erp, db_url, monkeypatch)
        yield ShopPeer(app)
        app.close()
        erp.stop()


def test_it_declares_an_inbound_endpoint_and_nothing_it_does_not_do(tmp_path, monkeypatch):
    erp = RestErp()
    app = ibexa_app(tmp_path, erp, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch)
    try:
        capabilities = app.capabilities("shop")
        assert capabilities.inbound and not (capabilities.operations or capabilities.fetch or capabilities.intake)
        assert [route.path for route in app.connector("shop").router().routes] == ["", ""]
    finally:
        app.close()
        erp.stop()


def test_the_example_config_loads_as_a_user_runs_it(monkeypatch):
    from erpbridge.config import load_config

    from ibexa_hub import ROOT

    monkeypatch.setenv("TRYTON_PASSWORD", "x")
    monkeypatch.setenv("IBEXA_PASSWORD", "y")
    config = load_config(ROOT / "examples/ibexa/erpbridge.yaml")
    shop = config.systems["shop"]
    assert (shop.connector, config.erp_for("shop"), shop.password.get_secret_value()) == ("ibexa", "erp", "y")
