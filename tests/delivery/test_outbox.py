"""The outbox's guarantees against a real HTTP ERP, on SQLite and PostgreSQL: messages commit
with their order, per-key order, retries with backoff, dead letters, replay and discard."""

from __future__ import annotations

import datetime as dt

import pytest

from erpbridge.exchange import ExchangeLog
from erpbridge.outbox import discard, enqueue, replay
from erpbridge.outbox.claims import backoff, claim
from erpbridge.outbox.config import OutboxConfig
from erpbridge.outbox.messages import actions_of
from erpbridge.outbox.tables import outbox_messages
from erpbridge.outbox.worker import Worker
from erpbridge.records import Customer

from .conftest import cancel_order, place_order
from .erp_connector import ErpConnector
from .helpers import binding, message, states


def worker(app, erp, **kwargs) -> Worker:
    return Worker(app, connectors={"erp": ErpConnector(erp.port, **kwargs)})


def test_an_order_is_delivered_once_and_bound_to_its_erp_id(make_app, erp):
    app = make_app()
    first = place_order(app, "1001")
    row = message(app, first)
    assert (row["state"], row["sequence"], row["attempts"]) == ("pending", 1, 0)
    assert row["idempotency_key"] == "erp:send_order:1001:1"

    assert worker(app, erp).drain() == 1
    row = message(app, first)
    assert (row["state"], row["attempts"], row["lease_owner"]) == ("done", 1, None)
    assert row["done_at"] is not None
    assert erp.orders == {"1001": "SO00001"}
    assert binding(app, "orders", "1001") == "SO00001"
    [entry] = ExchangeLog(app.engine).query()
    assert (entry["system"], entry["flow"], entry["point"], entry["outcome"]) == \
        ("erp", "send_order", "outbox.send_order", "ok")
    assert worker(app, erp).drain() == 0  # done stays done


def test_a_message_exists_only_if_its_transaction_commits(make_app):
    app = make_app()
    with pytest.raises(RuntimeError):
        with app.engine.begin() as conn:
            enqueue(conn, channel="erp", operation="send_order", business_key="1001", payload={"number": "1001"})
            raise RuntimeError("the order could not be stored")
    assert states(app) == {}


def test_sequence_counts_per_channel_and_key(make_app):
    app = make_app()
    with app.engine.begin() as conn:
        ids = [enqueue(conn, channel="erp", operation="send_order", business_key="A", payload={}),
               enqueue(conn, channel="erp", operation="cancel_order", business_key="A", payload={}),
               enqueue(conn, channel="erp", operation="send_order", business_key="B", payload={}),
               enqueue(conn, channel="shop", operation="push", business_key="A", payload={}, idempotency_key="mine")]
    assert [(message(app, i)["sequence"], message(app, i)["idempotency_key"]) for i in ids] == [
        (1, "erp:send_order:A:1"), (2, "erp:cancel_order:A:2"), (1, "erp:send_order:B:1"), (1, "mine")]


def test_a_cancellation_never_overtakes_its_order(make_app, erp):
    app = make_app(outbox={"channels": {"erp": {"batch_size": 10}}})
    erp.reject["1001"] = 2  # the order fails twice with a message error before the ERP takes it
    order_id = place_order(app, "1001")
    cancel_id = cancel_order(app, "1001")

    # Claimable now: only the order, never its cancellation, even when a batch has room.
    claimed = claim(app.engine, "erp", "probe", limit=10, lease_seconds=30).messages
    assert [m.id for m in claimed] == [order_id]
    with app.engine.begin() as conn:  # give it back
        conn.execute(outbox_messages.update().where(outbox_messages.c.id == order_id)
                     .values(state="pending", lease_owner=None, attempts=0))

    w = worker(app, erp)
    deadline = dt.datetime.now() + dt.timedelta(seconds=10)
    while states(app) != {order_id: "done", cancel_id: "done"} and dt.datetime.now() < deadline:
        w.drain()
    assert erp.events == [("rejected", "1001"), ("rejected", "1001"), ("created", "1001"), ("cancelled", "1001")]


def test_message_errors_back_off_with_jitter_then_the_message_is_dead(make_app, erp):
    app = make_app(outbox={"max_attempts": 3, "backoff_base": 0.2, "backoff_max": 0.2})
    erp.reject["1001"] = -1
    first = place_order(app, "1001")
    w = worker(app, erp)
    assert w.drain() == 1
    row = message(app, first)
    assert (row["state"], row["attempts"]) == ("pending", 1)
    assert "unknown customer" in row["last_error"]
    wait = (row["next_run_at"].replace(tzinfo=dt.timezone.utc) - row["updated_at"].replace(tzinfo=dt.timezone.utc))
    assert dt.timedelta(seconds=0.1) <= wait <= dt.timedelta(seconds=0.2)
    assert w.drain() == 0  # not due yet: backing off

    deadline = dt.datetime.now() + dt.timedelta(seconds=5)
    while message(app, first)["state"] != "dead" and dt.datetime.now() < deadline:
        w.drain()
    row = message(app, first)
    assert (row["state"], row["attempts"]) == ("dead", 3)
    assert erp.events == [("rejected", "1001")] * 3


def test_backoff_doubles_up_to_the_maximum_with_jitter():
    config = OutboxConfig(backoff_base=1, backoff_max=10)
    for attempts, ceiling in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)):
        waits = {backoff(attempts, config) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered: failing messages do not retry in lockstep


def test_a_dead_message_blocks_its_key_until_replayed(make_app, erp):
    app = make_app(outbox={"max_attempts": 1})
    erp.reject["1001"] = -1
    order_id = place_order(app, "1001")
    cancel_id = cancel_order(app, "1001")
    other = place_order(app, "1002")
    w = worker(app, erp)
    w.drain()
    assert states(app) == {order_id: "dead", cancel_id: "pending", other: "done"}
    w.drain()
    assert states(app)[cancel_id] == "pending"  # waits behind the dead order, not delivered
    assert ("cancel_unknown", "1001") not in erp.events

    erp.reject.clear()  # the customer was fixed in the ERP
    assert replay(app.engine, [order_id], actor="alice", reason="customer created") == [order_id]
    assert message(app, order_id)["attempts"] == 0
    w.drain()
    assert states(app) == {order_id: "done", cancel_id: "done", other: "done"}
    assert erp.events[-2:] == [("created", "1001"), ("cancelled", "1001")]
    [action] = actions_of(app.engine, order_id)
    assert (action["action"], action["actor"], action["reason"]) == ("replay", "alice", "customer created")


def test_bulk_replay_of_dead_messages_by_channel(make_app, erp):
    app = make_app(outbox={"max_attempts": 1})
    erp.reject.update({"1001": 1, "1002": 1})
    ids = [place_order(app, "1001"), place_order(app, "1002")]
    w = worker(app, erp)
    w.drain()
    assert [states(app)[i] for i in ids] == ["dead", "dead"]
    assert replay(app.engine, channel="other", all_dead=True, actor="bob") == []
    assert replay(app.engine, channel="erp", all_dead=True, actor="bob") == ids
    w.drain()
    assert [states(app)[i] for i in ids] == ["done", "done"]
    assert sorted(erp.orders) == ["1001", "1002"]


def test_discard_needs_a_reason_and_unblocks_the_key(make_app, erp):
    app = make_app(outbox={"max_attempts": 1})
    erp.reject["1001"] = -1
    order_id = place_order(app, "1001")
    later = enqueue_on(app, "1001")
    worker(app, erp).drain()
    assert states(app)[order_id] == "dead"
    with pytest.raises(ValueError, match="reason"):
        discard(app.engine, [order_id], actor="alice", reason=" ")
    assert discard(app.engine, [order_id], actor="alice", reason="order was entered by phone") == [order_id]
    assert states(app)[order_id] == "discarded"
    assert [m.id for m in claim(app.engine, "erp", "x", limit=5, lease_seconds=30).messages] == [later]
    [action] = actions_of(app.engine, order_id)
    assert (action["action"], action["actor"], action["reason"]) == ("discard", "alice", "order was entered by phone")


def enqueue_on(app, key: str) -> int:
    with app.engine.begin() as conn:
        return enqueue(conn, channel="erp", operation="cancel_order", business_key=key, payload={"order": key})


def test_records_the_system_answers_are_stored(make_app):
    app = make_app()
    with app.engine.begin() as conn:
        enqueue(conn, channel="erp", operation="create_customer", business_key="web-7", payload={"email": "a@b.de"},
                record_kind="customers", record_key="web-7")

    class CustomerErp:
        def deliver(self, operation, payload, idempotency_key):
            from erpbridge.connectors.base import DeliveryResult
            return DeliveryResult(external_id="C-100", records=(Customer(number="C-100", name="Jane"),))

    assert Worker(app, connectors={"erp": CustomerErp()}).drain() == 1
    assert app.records.get("customers", "C-100").name == "Jane"
    assert binding(app, "customers", "web-7") == "C-100"


def test_a_crashing_connector_fails_the_message_not_the_worker(make_app):
    app = make_app(outbox={"max_attempts": 1})
    first = place_order(app, "1001")

    class Buggy:
        def deliver(self, operation, payload, idempotency_key):
            return {}["missing"]

    assert Worker(app, connectors={"erp": Buggy()}).drain() == 1
    row = message(app, first)
    assert row["state"] == "dead" and row["last_error"].startswith("KeyError")


def test_enqueue_many_continues_each_keys_sequence(make_app):
    from erpbridge.outbox import NewMessage, enqueue_many

    app = make_app()
    first = place_order(app, "1001")
    with app.engine.begin() as conn:
        ids = enqueue_many(conn, [NewMessage("erp", "cancel_order", "1001", {}), NewMessage("erp", "send_order", "1002", {}),
                                  NewMessage("erp", "cancel_order", "1002", {})])
    assert [(message(app, i)["business_key"], message(app, i)["sequence"]) for i in [first, *ids]] == [
        ("1001", 1), ("1001", 2), ("1002", 1), ("1002", 2)]
