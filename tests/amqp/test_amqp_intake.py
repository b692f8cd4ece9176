"""Orders from a queue (a marketplace) go into the store and to the bus's ERP exactly once,
acked only after the store committed; a message that cannot be taken is dead-lettered with
its reason and never blocks the queue. SQLite and PostgreSQL, the real RabbitMQ."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import orjson
import pytest
from amqp_broker import restart_broker

from erpbridge.connectors.files.inbox import process_inbox
from erpbridge.errors import GeneralError
from erpbridge.outbox.worker import Worker
from erpbridge.services.orders import order_view
from erpbridge.services.products import set_enabled

ADDRESS = {"name": "Jane Doe", "street": "Main St 1", "postcode": "10115", "city": "Berlin", "country": "DE"}


def order(number: str) -> dict:
    return {"number": number, "placed_at": dt.datetime.now(dt.timezone.utc).isoformat(), "currency": "EUR",
            "billing_address": ADDRESS, "shipping_address": ADDRESS, "shipping_method": "standard",
            "payment_method": "invoice", "lines": [{"sku": "P-1", "quantity": "1", "unit_price": "10.00",
                                                    "total": "10.00"}], "shipping_amount": "0", "grand_total": "10.00"}


def catalog(tmp_path, hub) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "products.jsonl").write_text(json.dumps({"sku": "P-1", "name": "Drill"}) + "\n")
    process_inbox(hub, "files")
    set_enabled(hub, enabled=True, skus=["P-1"])


def sent_to_erp(tmp_path) -> list[str]:
    return sorted(json.loads(p.read_text())["payload"]["number"] for p in (tmp_path / "out").glob("*.json"))


def test_orders_from_a_queue_reach_the_erp_once_and_bad_ones_are_dead_lettered(make_hub, broker, tmp_path):
    queue = broker.name("marketplace")
    hub = make_hub(intake={"orders": {"queue": queue}})
    catalog(tmp_path, hub)
    bad = order("MP-BAD")
    del bad["lines"]
    first = orjson.dumps(order("MP-1"))
    broker.send(queue, [first, b"{not json", orjson.dumps(bad), orjson.dumps(order("MP-2")), first],
                ids=["m1", "m2", "m3", "m4", "m5"])
    counts = hub.connector("bus").poll(timeout=1.0)
    assert counts == {"taken": 3, "dead_lettered": 2}
    assert broker.depth(queue) == 0  # every message acked: nothing blocks the queue
    dead = {m["message_id"]: m["headers"]["x-erpbridge-error"] for m in broker.read(f"{queue}.dead")}
    assert sorted(dead) == ["m2", "m3"]
    assert dead["m2"].startswith(f"queue {queue} message m2: not JSON")
    assert f"queue {queue} message m3" in dead["m3"] and "lines" in dead["m3"]
    Worker(hub).drain()
    assert sent_to_erp(tmp_path) == ["MP-1", "MP-2"]  # MP-1 twice on the queue, once in the ERP
    assert order_view(hub, "MP-2")["state"] == "accepted"


def test_the_intake_carries_on_after_a_broker_restart_and_loses_nothing(make_hub, broker, tmp_path):
    queue = broker.name("orders")
    hub = make_hub(intake={"orders": {"queue": queue, "prefetch": 50}})
    catalog(tmp_path, hub)
    broker.send(queue, [orjson.dumps(order(f"MP-{i}")) for i in range(200)])
    stop = threading.Event()
    watch = threading.Thread(target=hub.connector("bus").watch, args=(stop,))
    watch.start()
    try:
        time.sleep(0.3)
        restart_broker()
        broker.send(queue, [orjson.dumps(order(f"MP-{i}")) for i in range(200, 300)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if broker.depth(queue) == 0 and all(order_view(hub, f"MP-{i}") for i in (0, 199, 299)):
                break
            time.sleep(0.5)
    finally:
        stop.set()
        watch.join(30)
    Worker(hub).drain()
    assert sent_to_erp(tmp_path) == sorted(f"MP-{i}" for i in range(300))


def stock_of(hub) -> dict[tuple[str, str], str]:
    return {(s.sku, s.warehouse): str(s.quantity) for s in hub.records.find("stock")}


def test_stock_from_a_wms_queue_is_stored_as_a_delta_and_bad_levels_are_dead_lettered(make_hub, broker, tmp_path):
    queue = broker.name("wms.stock")
    hub = make_hub(intake={"stock": {"queue": queue}})
    catalog(tmp_path, hub)
    hub.connector("bus").poll(timeout=0.1)  # declares the queue (one active consumer) and its dead letters
    levels = [{"sku": "P-1", "warehouse": "MAIN", "quantity": "7"}, {"sku": "P-1", "warehouse": "NORTH", "quantity": "2"},
              {"sku": "P-1", "warehouse": "MAIN", "quantity": "five"}]
    broker.send(queue, [orjson.dumps(level) for level in levels], ids=["s1", "s2", "s3"], declare=False)
    assert hub.connector("bus").poll(timeout=1.0) == {"taken": 2, "dead_lettered": 1}
    assert stock_of(hub) == {("P-1", "MAIN"): "7", ("P-1", "NORTH"): "2"}
    dead, = broker.read(f"{queue}.dead")
    assert dead["message_id"] == "s3"
    assert f"queue {queue} message s3" in dead["headers"]["x-erpbridge-error"]
    assert "quantity" in dead["headers"]["x-erpbridge-error"]
    assert broker.depth(queue) == 0


def test_of_two_hubs_on_one_stock_queue_one_reads_at_a_time_so_the_last_quantity_wins(make_hub, broker, tmp_path):
    """The stock queue is declared with one active consumer: two hubs reading it at once (each
    takes batches of 20) never store an older quantity after a newer one."""
    queue = broker.name("wms.stock")
    hubs = [make_hub(intake={"stock": {"queue": queue, "prefetch": 20}}) for _ in range(2)]
    catalog(tmp_path, hubs[0])
    hubs[0].connector("bus").poll(timeout=0.1)  # declares the queue before anything arrives
    broker.send(queue, [orjson.dumps({"sku": "P-1", "warehouse": "MAIN", "quantity": str(q)}) for q in range(1, 401)],
                declare=False)
    stop = threading.Event()
    watches = [threading.Thread(target=hub.connector("bus").watch, args=(stop,)) for hub in hubs]
    for watch in watches:
        watch.start()
    try:
        deadline = time.monotonic() + 30
        while broker.depth(queue) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # the last batch's commit and acks
    finally:
        stop.set()
        for watch in watches:
            watch.join(30)
    assert broker.depth(queue) == 0
    assert stock_of(hubs[1]) == {("P-1", "MAIN"): "400"}


def test_a_stock_queue_declared_elsewhere_without_one_active_consumer_is_named_with_the_way_out(make_hub, broker):
    queue = broker.name("wms.stock")
    broker.send(queue, [])  # the WMS declared it first, as a plain durable queue
    hub = make_hub(intake={"stock": {"queue": queue}})
    with pytest.raises(GeneralError) as failed:
        hub.connector("bus").poll(timeout=0.1)
    assert f"intake queue {queue!r} (stock)" in str(failed.value)
    assert "single_active_consumer" in str(failed.value)
    hub = make_hub(intake={"stock": {"queue": queue, "single_active_consumer": False}})
    assert hub.connector("bus").poll(timeout=0.1) == {"taken": 0, "dead_lettered": 0}
