"""The way back to Commerceup (its open API, tests/commerceup/commerceup_api_double.py): the
connector passes the conformance suite for what it delivers (push_stock, send_order_status) on
both stores, and the flows push the store's salable stock and the ERP's order statuses."""

from __future__ import annotations

import dataclasses

import pytest

from erpbridge.connectors.kit.conformance import ConnectorConformance
from erpbridge.outbox.worker import Worker

from commerceup_api_double import API_KEY, PROJECT, CommerceupApi
from commerceup_hub import Hub, RestErp, commerceup_app, commerceup_client, eventually, order_body

PUSHING = {"api_url": None, "project_hash": PROJECT, "api_key": "${COMMERCEUP_API_KEY}"}


def pushing_app(tmp_path, erp, api, db_url, monkeypatch):
    monkeypatch.setenv("COMMERCEUP_API_KEY", API_KEY)
    return commerceup_app(tmp_path, erp, db_url, monkeypatch, shop={**PUSHING, "api_url": api.url, "timeout": 5,
                                                                    "semaphore": {"max_lock_time": 1}})


class CommerceupPeer:
    def __init__(self, app, api: CommerceupApi):
        self.app, self.api = app, api
        self.connector = app.connector("shop")
        # The suite's delivery tests take the operations in ``deliver``; a shop connector's
        # deliveries are those of what it pushes and the feedback it sends.
        capabilities = app.capabilities("shop")
        self.capabilities = dataclasses.replace(capabilities, deliver=capabilities.operations)

    def payload(self, operation, number):
        if operation == "push_stock":
            return {"kind": "stock", "number": number, "records": [{"sku": number, "warehouse": "MAIN",
                                                                    "quantity": "3"}]}
        return {"number": number, "order": number, "status": "shipped"}

    def count(self, operation, number):
        held = self.api.inventory if operation == "push_stock" else self.api.statuses
        return 1 if number in held else 0  # both set a state: a redelivery sets the same one

    def go_down(self):
        self.api.stop()

    def come_back(self):
        self.api.start()

    def refuse(self, operation, number):
        if operation == "push_stock":
            return self.payload(operation, f"NOPE-{number}")
        return {"number": number, "order": number, "status": "on hold"}  # not one of erpbridge's statuses

    def lose_next_answer(self):
        self.api.lose_next.set()
        return True

    def serve(self, kind, count, changed_at):
        return None


@pytest.fixture
def api():
    api = CommerceupApi()
    yield api
    try:
        api.stop()
    except OSError:
        pass


class TestCommerceupConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, tmp_path, db_url, monkeypatch, api):
        erp = RestErp()
        app = pushing_app(tmp_path, erp, api, db_url, monkeypatch)
        yield CommerceupPeer(app, api)
        app.close()
        erp.stop()


def test_without_an_api_key_it_only_serves_its_endpoints(tmp_path, monkeypatch):
    erp = RestErp()
    app = commerceup_app(tmp_path, erp, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch)
    try:
        capabilities = app.capabilities("shop")
        assert capabilities.inbound and not capabilities.operations
    finally:
        app.close()
        erp.stop()


def test_stock_and_order_statuses_reach_commerceup(tmp_path, monkeypatch, api):
    erp = RestErp()
    app = pushing_app(tmp_path, erp, api, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch)
    erp.add_product("A-1", "Drill", "19.90", stock={"MAIN": 7, "SOUTH": 2})
    erp.add_product("B-2", "Saw", "9.50", stock={"MAIN": 20})
    customer = erp.add_customer(None, "Jane Doe")
    hub = Hub(app, worker=False)
    shop = commerceup_client(hub)
    try:
        for flow in ("catalog", "erp.stock", "customers"):
            hub.run_flow(flow)
        def pushed(flow: str, check) -> None:
            """Run the shop's push flow and deliver until ``check`` holds (a push flow leaves the
            last 2 s of changes to its next run: a transaction may still be committing)."""
            def attempt():
                hub.run_flow(flow)
                Worker(app).drain()
                return check()
            eventually(attempt, timeout=20, what=f"{flow} at Commerceup")

        pushed("shop.stock", lambda: api.inventory == {"A-1": 9, "B-2": 20})  # the salable total
        erp.set_stock("A-1", "SOUTH", 0)
        hub.run_flow("erp.stock")
        pushed("shop.stock", lambda: api.inventory["A-1"] == 7)

        placed = shop.post("/createorder", json=order_body("CU-9", customer, [("A-1", 1, "19.90")]))
        assert placed.status_code == 201, placed.text
        Worker(app).drain()
        erp.ship("CU-9", "TRACK-9")
        hub.run_flow("erp.feedback")
        pushed("shop.feedback", lambda: api.statuses.get("CU-9", [None])[-1] == "Shipped")
    finally:
        shop.close()
        hub.close()
        app.close()
        erp.stop()


def test_the_example_config_loads_and_pushes_with_its_api_key(monkeypatch):
    from erpbridge.config import load_config
    from erpbridge.connectors import registry

    from ibexa_hub import ROOT

    for variable in ("TRYTON_PASSWORD", "COMMERCEUP_PASSWORD", "COMMERCEUP_API_KEY"):
        monkeypatch.setenv(variable, "x")
    config = load_config(ROOT / "examples/commerceup/erpbridge.yaml")
    capabilities = registry.spec("commerceup").capabilities_of(config.systems["shop"])
    assert capabilities.inbound and capabilities.operations == {"push_stock", "send_order_status"}
