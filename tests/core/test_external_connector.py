"""A connector that lives outside erpbridge (tests/connector_package, installed as its own
distribution with an entry point) is configured, delivers, fetches and passes the conformance
suite without a line of erpbridge changed."""

from __future__ import annotations

import datetime as dt

import pytest
from erpbridge_testconnectors import peers

from erpbridge.connectors.kit.conformance import ConnectorConformance
from erpbridge.flows import run_flow
from erpbridge.outbox.worker import Worker
from erpbridge.records import Address, Order, OrderLine, Product


def order(number: str) -> Order:
    address = Address(name="Jane Doe", street="1 Main St", postcode="10115", city="Berlin", country="DE")
    return Order(number=number, placed_at=dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc), currency="EUR",
                 billing_address=address, shipping_address=address, shipping_method="DHL", payment_method="invoice",
                 lines=[OrderLine(sku="SKU-1", quantity=1, unit_price=19, total=19)], grand_total=19)


class ErpPeer:
    """The in-memory ERP of the test connector package, as the conformance suite drives it."""

    def __init__(self, app, name: str = "erp"):
        self.app, self.name = app, name
        self.connector = app.connector(name)
        self.capabilities = app.capabilities(name)
        self.state = peers.peer(name)

    def payload(self, operation, number):
        if operation == "send_order":
            return order(number).model_dump(mode="json")
        return {"id": number, "order": number, "number": number, "name": "x"}

    def count(self, operation, number):
        return self.state.created[(operation, number)]

    def go_down(self):
        self.state.down = True

    def come_back(self):
        self.state.down = False

    def refuse(self, operation, number):
        self.state.reject.add(number)
        return self.payload(operation, number)

    def lose_next_answer(self):
        self.state.lose_answer.set()
        return True

    def serve(self, kind, count, changed_at):
        if kind != "products":
            return None
        skus = [f"P-{changed_at.timestamp():.0f}-{i}" for i in range(count)]
        self.state.serve(kind, *(Product(sku=sku, name=sku) for sku in skus), at=changed_at)
        return skus


@pytest.fixture(autouse=True)
def _fresh_peers():
    peers.reset()
    yield
    peers.reset()


class TestTheExternalConnectorConforms(ConnectorConformance):
    @pytest.fixture
    def peer(self, make_app):
        return ErpPeer(make_app(systems={"erp": {"connector": "testerp"}}))


def test_an_external_connector_is_configured_delivers_and_fetches(make_app):
    app = make_app(systems={"erp": {"connector": "testerp", "prefix": "EXT"}}, flows={"catalog": {}})
    peers.peer("erp").serve("products", Product(sku="X-1", name="Exported"))
    assert run_flow(app, "catalog")["summary"]["new"] == 1
    assert app.records.get("products", "X-1").name == "Exported"

    from erpbridge.services.orders import place_order
    from erpbridge.services.products import set_enabled

    app.records.put([Product(sku="SKU-1", name="Thing")])
    set_enabled(app, enabled=True, skus=["SKU-1"])
    place_order(app, order("1001"))
    assert Worker(app).drain() == 1
    assert list(peers.peer("erp").held["send_order"]) == ["1001"]
    from erpbridge.services.orders import order_view

    assert order_view(app, "1001")["erp_id"] == "EXT-1"  # the package's own config key (prefix) at work
