"""Exactly once into a real Tryton through the outbox: Tryton stopped while orders wait, and a
worker process killed with SIGKILL in the middle of its deliveries. Counted in Tryton itself."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from erpbridge.cli import cli
from erpbridge.outbox import enqueue
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker
from erpbridge.records import Order
from erpbridge.store.records import prepare

from test_order_to_cash import order

WORKER = Path(__file__).with_name("worker_process.py")


def place(app, number: str, sku: str) -> int:
    """What the shop API does: the order and its message in one transaction."""
    record = Order.model_validate(order(number, None, [(sku, 1, "9.50")]))
    with app.engine.begin() as conn:
        app.records.write_in(conn, "orders", [prepare(record)])
        return enqueue(conn, channel="erp", operation="send_order", business_key=number,
                       payload=record.model_dump(mode="json"), record_kind="orders", record_key=number)


def item_and_orders(erp, prefix: str, tag: str, name: str, count: int) -> tuple[str, list[str]]:
    """An item with stock in Tryton, and the numbers of ``count`` orders to place for it."""
    sku = f"{prefix}-{tag}"
    erp.receive(erp.product(sku, name, "9.50"), 50)
    return sku, [f"SO-{prefix}-{i}" for i in range(count)]


def messages(app) -> dict[str, dict]:
    with app.engine.connect() as conn:
        return {r.business_key: dict(r._mapping) for r in conn.execute(select(m))}


def drain_until_done(app, worker: Worker, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.drain()
        if all(row["state"] == "done" for row in messages(app).values()):
            return
        time.sleep(0.1)
    raise AssertionError(f"not delivered in {timeout} s: {messages(app)}")


def test_a_user_error_fails_only_its_order_with_trytons_message_in_erpbridge_messages(make_app, erp, prefix):
    app = make_app(outbox={"max_attempts": 1})
    good, old = f"{prefix}-OK", f"{prefix}-OLD"
    erp.receive(erp.product(good, "In range", "9.50"), 5)
    erp.product(old, "Discontinued", "9.50", salable=False)
    place(app, f"SO-{prefix}-BAD", old)
    place(app, f"SO-{prefix}-GOOD", good)

    Worker(app).drain()
    rows = messages(app)
    assert (rows[f"SO-{prefix}-GOOD"]["state"], rows[f"SO-{prefix}-BAD"]["state"]) == ("done", "dead")
    assert (erp.count_sales(f"SO-{prefix}-GOOD"), erp.count_sales(f"SO-{prefix}-BAD")) == (1, 0)
    assert not Semaphore(app.engine, "erp", 1).is_offline()  # a business error is not an outage

    listed = CliRunner().invoke(cli, ["--config", str(app.config.source), "messages", "--state", "dead", "--json"],
                                catch_exceptions=False)
    dead, = [r for r in yaml.safe_load(listed.output) if r["business_key"] == f"SO-{prefix}-BAD"]
    assert "is not valid according to its domain" in dead["last_error"]  # Tryton's own words
    table = CliRunner().invoke(cli, ["--config", str(app.config.source), "messages", "--state", "dead"]).output
    assert f"SO-{prefix}-BAD" in table and "send_order" in table


@pytest.mark.slow
def test_orders_wait_while_tryton_is_down_and_arrive_once(make_app, tryton_server, erp, prefix):
    app = make_app()
    sku, numbers = item_and_orders(erp, prefix, "OUT", "Outage item", 4)

    tryton_server.stop()
    try:
        for number in numbers:
            place(app, number, sku)  # the shop keeps accepting orders
        worker = Worker(app)
        worker.drain()
        assert Semaphore(app.engine, "erp", 1).is_offline()
        assert {row["state"] for row in messages(app).values()} == {"pending"}
    finally:
        tryton_server.start()

    drain_until_done(app, worker)
    assert [erp.count_sales(n) for n in numbers] == [1] * len(numbers)
    assert not Semaphore(app.engine, "erp", 1).is_offline()


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_leaves_every_order_in_tryton_once(make_app, tryton_server, erp, prefix):
    app = make_app()
    sku, numbers = item_and_orders(erp, prefix, "KILL", "Kill item", 6)
    for number in numbers:
        place(app, number, sku)

    process = subprocess.Popen([sys.executable, str(WORKER), str(app.config.source)])
    try:
        # Kill it the moment Tryton holds the third sale: that delivery is still running
        # (quote and confirm follow the create), its message not yet done.
        deadline = time.monotonic() + 60
        while erp.count_sales(numbers[2]) == 0:
            assert time.monotonic() < deadline and process.poll() is None, "the worker never reached the third order"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
    assert messages(app)[numbers[2]]["state"] == "running"

    drain_until_done(app, Worker(app))  # claims the dead worker's message once its lease ran out
    assert [erp.count_sales(n) for n in numbers] == [1] * len(numbers)
    assert messages(app)[numbers[2]]["attempts"] == 2
    assert {erp.sale(n)["state"] for n in numbers} == {"processing"}
