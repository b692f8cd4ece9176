"""The example config of examples/amqp loads as a user runs it and has the bus's events flow."""

from __future__ import annotations

from pathlib import Path

from erpbridge.bootstrap import bootstrap
from erpbridge.config import load_config
from erpbridge.flows.scheduler import flows_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "amqp" / "erpbridge.yaml"


def test_the_example_loads_with_its_events_flow(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(EXAMPLE)
    bus = config.systems["bus"]
    assert (bus.role, bus.erp, bus.receives.orders, bus.intake["orders"].dead_letters) == (
        "shop", None, "all", "marketplace.orders.dead")
    assert bus.password.get_secret_value() == "guest"
    app = bootstrap(config.model_copy(update={"store": config.store.model_copy(
        update={"url": f"sqlite:///{tmp_path / 'store.db'}"})}))
    try:
        flows = flows_of(app)
        assert flows["events"].system == "bus"
        assert set(flows["events"].kinds) >= {"products", "stock", "orders", "shipments", "invoices"}
    finally:
        app.close()
