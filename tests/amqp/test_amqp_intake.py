"""Orders from a queue (a marketplace) go into the store and to the bus's ERP exactly once,
acked only after the store committed; a message that cannot be taken is dead-lettered with
its reason and never blocks the queue. SQLite and PostgreSQL, the real RabbitMQ."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import orjson
from amqp_broker import restart_broker

from erpbridge.connectors.files.inbox import process_inbox
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
