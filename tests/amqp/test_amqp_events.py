"""What the hub stores reaches the event bus: one persistent event per record, confirmed by
the broker before its message is done, in order per key, and nothing when nothing changed; on
SQLite and PostgreSQL against the real RabbitMQ."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from amqp_broker import restart_broker
from sqlalchemy import func, select

from erpbridge.connectors.files.inbox import process_inbox
from erpbridge.flows import push, run_flow
from erpbridge.outbox.tables import outbox_messages
from erpbridge.outbox.worker import Worker
from erpbridge.records import Order
from erpbridge.services.orders import place_order
from erpbridge.services.products import set_enabled

ADDRESS = {"name": "Jane Doe", "street": "Main St 1", "postcode": "10115", "city": "Berlin", "country": "DE"}


@pytest.fixture(autouse=True)
def no_settle(monkeypatch):
    monkeypatch.setattr(push, "SETTLE", 0)  # one thread writes here: nothing is still committing


def drop(tmp_path, app, **files: list[dict]) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir(parents=True, exist_ok=True)
    for kind, rows in files.items():
        (inbox / f"{kind}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    process_inbox(app, "files")


def states(app) -> dict[str, int]:
    with app.engine.connect() as conn:
        return dict(conn.execute(select(outbox_messages.c.state, func.count()).where(outbox_messages.c.channel == "bus")
                                 .group_by(outbox_messages.c.state)).all())


def test_every_change_reaches_the_bus_once_as_a_confirmed_event(make_hub, broker, tmp_path):
    hub = make_hub()
    queue = broker.name("wms")
    broker.bind(queue)
    drop(tmp_path, hub, product_groups=[{"code": "G1", "name": "Tools"}],
         products=[{"sku": f"P-{i}", "name": f"Drill {i}", "group": "G1"} for i in range(3)],
         stock=[{"sku": "P-0", "warehouse": "MAIN", "quantity": 5}])
    summary = run_flow(hub, "events")
    assert summary["outcome"] == "ok", summary
    Worker(hub).drain()
    events = broker.read(queue)
    assert sorted((e["routing_key"], e["body"]["key"]) for e in events) == [
        ("product_groups", "G1"), ("products", "P-0"), ("products", "P-1"), ("products", "P-2"), ("stock", "P-0\x1fMAIN")]
    product = next(e for e in events if e["body"]["key"] == "P-1")
    assert product["body"]["record"]["name"] == "Drill 1" and product["body"]["record"]["enabled"] is False
    assert product["persistent"] and product["type"] == "products"
    assert product["headers"] == {"erpbridge-kind": "products", "erpbridge-key": "P-1"}
    assert len({e["message_id"] for e in events}) == len(events)
    assert states(hub) == {"done": 3}

    assert run_flow(hub, "events")["summary"]["messages"] == 0  # nothing changed: no event
    drop(tmp_path, hub, stock=[{"sku": "P-0", "warehouse": "MAIN", "quantity": 4}])
    run_flow(hub, "events")
    Worker(hub).drain()
    assert [(e["body"]["key"], e["body"]["record"]["quantity"]) for e in broker.read(queue)] == [("P-0\x1fMAIN", "4")]


def test_every_order_and_its_feedback_reach_the_bus(make_hub, broker, tmp_path):
    """The bus is sent all orders (receives.orders: all), with the hub's state, and their
    shipments: a shop is sent only its own."""
    hub = make_hub()
    queue = broker.name("crm")
    broker.bind(queue, "orders")
    broker.bind(queue, "shipments")
    drop(tmp_path, hub, products=[{"sku": "P-1", "name": "Drill"}])
    set_enabled(hub, enabled=True, skus=["P-1"])
    order = Order.model_validate({
        "number": "SO-1", "placed_at": dt.datetime.now(dt.timezone.utc).isoformat(), "currency": "EUR",
        "billing_address": ADDRESS, "shipping_address": ADDRESS, "shipping_method": "standard",
        "payment_method": "invoice", "lines": [{"sku": "P-1", "quantity": "2", "unit_price": "10.00", "total": "20.00"}],
        "shipping_amount": "0", "grand_total": "20.00"})
    place_order(hub, order)
    drop(tmp_path, hub, shipments=[{"id": "SH-1", "order": "SO-1", "shipped_at": dt.datetime.now(dt.timezone.utc)
                                    .isoformat(), "tracking_numbers": ["TRK1"], "lines": [{"sku": "P-1", "quantity": 2}]}])
    run_flow(hub, "events")
    Worker(hub).drain()
    events = {e["routing_key"]: e["body"] for e in broker.read(queue)}
    assert events["orders"]["key"] == "SO-1" and events["orders"]["record"]["state"] == "accepted"
    assert events["shipments"]["record"]["tracking_numbers"] == ["TRK1"]


def test_an_event_no_queue_is_bound_for_waits_instead_of_being_lost(make_hub, broker, tmp_path):
    hub = make_hub()
    drop(tmp_path, hub, products=[{"sku": "P-1", "name": "Drill"}])
    run_flow(hub, "events")
    Worker(hub).drain()
    with hub.engine.connect() as conn:
        state, error = conn.execute(select(outbox_messages.c.state, outbox_messages.c.last_error)
                                    .where(outbox_messages.c.channel == "bus")).one()
    assert state != "done" and "no queue is bound for routing key 'products'" in error
    queue = broker.name("late")
    broker.bind(queue)
    deadline = time.monotonic() + 15
    while states(hub).get("done") != 1 and time.monotonic() < deadline:
        Worker(hub).drain()
        time.sleep(0.2)
    assert [e["body"]["key"] for e in broker.read(queue)] == ["P-1"]


@pytest.mark.slow
def test_ten_thousand_events_through_a_broker_restart_none_lost_none_reordered(make_hub, broker, tmp_path):
    """10 rounds of 1,000 stock levels (10,000 events, 10 per key) while the broker restarts:
    every event arrives, and each key's quantities arrive in the order they were stored."""
    hub = make_hub()
    queue = broker.name("dwh")
    broker.bind(queue, "stock")
    broker.bind(broker.name("catalog"), "products")
    drop(tmp_path, hub, products=[{"sku": f"S-{i}", "name": f"Screw {i}"} for i in range(1000)])
    stop = threading.Event()
    worker = threading.Thread(target=Worker(hub).run, args=(stop,))
    worker.start()
    try:
        for round_ in range(10):
            drop(tmp_path, hub, stock=[{"sku": f"S-{i}", "warehouse": "MAIN", "quantity": round_} for i in range(1000)])
            assert run_flow(hub, "events")["summary"]["kinds"]["stock"]["sent"] == 1000
            if round_ == 4:
                restart_broker()
        deadline = time.monotonic() + 180
        while states(hub).get("done") != 110 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        worker.join(30)
    assert states(hub) == {"done": 110}  # 10 of products, 100 of stock
    events = broker.read(queue, wait=1.0)
    first: dict[str, dict] = {}
    for event in events:
        first.setdefault(event["message_id"], event)
    assert len(first) == 10_000, f"{10_000 - len(first)} events lost"
    seen: dict[str, list[int]] = {}
    for event in first.values():
        seen.setdefault(event["body"]["key"], []).append(int(event["body"]["record"]["quantity"]))
    assert all(quantities == list(range(10)) for quantities in seen.values())
