"""The semaphore and the channel's limits against a real HTTP ERP that fails for real (refuses
connections, answers 500, hangs, enforces a rate limit), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid

import pytest
from sqlalchemy import text

from erpbridge.connectors.base import DeliveryResult, GeneralError, MessageError
from erpbridge.exchange import ExchangeLog
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.worker import Worker

from .conftest import place_order
from .erp_connector import ErpConnector
from .helpers import message, states

LOCK = 0.6


def worker(app, erp, **kwargs) -> Worker:
    return Worker(app, connectors={"erp": ErpConnector(erp.port, **kwargs)})


def utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


@pytest.mark.parametrize("failure", ["500", "refused", "timeout"])
def test_a_general_error_takes_the_system_offline_and_messages_wait_with_their_attempts(make_app, erp, failure):
    app = make_app(max_lock_time=LOCK, outbox={"channels": {"erp": {"batch_size": 10}}})
    ids = [place_order(app, n) for n in ("1001", "1002", "1003")]
    if failure == "500":
        erp.fail_with = 500
    elif failure == "refused":
        erp.stop()
    else:
        erp.hang.set()  # the ERP takes the first order, then never answers
    w = worker(app, erp, timeout=0.3)
    assert w.drain() == 3
    semaphore = Semaphore(app.engine, "erp", LOCK)
    assert semaphore.is_offline()  # what the shop's real-time requests check to fail fast
    for i in ids:
        row = message(app, i)
        assert (row["state"], row["attempts"]) == ("pending", 0)  # no attempt used up
        assert row["last_error"].startswith("general error")
        assert utc(row["next_run_at"]) < semaphore.state()["tripped_at"]  # still due: the semaphore holds it
    calls = erp.requests
    assert w.drain() == 0 and erp.requests == calls  # offline: the ERP is not hammered

    if failure == "refused":
        erp.start()
    erp.fail_with = None
    erp.hang.clear()
    erp.release.set()
    time.sleep(LOCK + 0.1)
    assert w.run_pass() == (1, None)  # the probe: one message first
    assert not semaphore.is_offline() and semaphore.state()["offline_until"] is None
    assert w.run_pass() == (2, None)
    w.exchange_log.close()  # write its buffered entries before the store goes away
    assert set(states(app).values()) == {"done"}
    assert sorted(erp.orders) == ["1001", "1002", "1003"] and erp.creates == 3


def test_a_failed_probe_takes_the_system_offline_again_after_one_call(make_app, erp):
    app = make_app(max_lock_time=LOCK, outbox={"channels": {"erp": {"batch_size": 10}}})
    for n in ("1001", "1002", "1003"):
        place_order(app, n)
    erp.stop()
    w = worker(app, erp)
    w.drain()
    semaphore = Semaphore(app.engine, "erp", LOCK)
    first_until = semaphore.state()["offline_until"]
    time.sleep(LOCK + 0.1)
    erp.start()
    erp.fail_with = 503
    assert w.run_pass() == (1, None)  # one probe, not the whole batch
    w.exchange_log.close()
    assert erp.requests == 1
    assert semaphore.is_offline() and semaphore.state()["offline_until"] > first_until


def test_a_message_error_fails_only_its_message(make_app, erp):
    app = make_app(max_lock_time=LOCK, outbox={"max_attempts": 1})
    erp.reject["1001"] = -1
    bad, good = place_order(app, "1001"), place_order(app, "1002")
    worker(app, erp).drain()
    assert states(app) == {bad: "dead", good: "done"}
    assert not Semaphore(app.engine, "erp", LOCK).is_offline()


def test_the_semaphore_is_shared_through_the_store(make_app, db_url):
    app = make_app()
    from erpbridge.store import make_engine
    other_process = make_engine(db_url)
    try:
        Semaphore(app.engine, "erp", 60).trip("ERP offline")
        seen = Semaphore(other_process, "erp", 60)
        assert seen.is_offline() and seen.state()["reason"] == "ERP offline"
        seen.reset()
        assert not Semaphore(app.engine, "erp", 60).is_offline()
    finally:
        other_process.dispose()


def run_until_done(app, w: Worker, concurrency: int, timeout: float = 20) -> float:
    stop = threading.Event()
    started = time.monotonic()
    thread = threading.Thread(target=w.run, args=(stop,), kwargs={"concurrency": concurrency})
    thread.start()
    try:
        while set(states(app).values()) != {"done"} and time.monotonic() - started < timeout:
            time.sleep(0.02)
        return time.monotonic() - started
    finally:
        stop.set()
        thread.join(10)


@pytest.mark.parametrize("capacity", [2, None])
def test_channel_capacity_bounds_the_messages_in_flight_across_workers(make_app, erp, capacity):
    app = make_app(outbox={"poll_interval": 0.02, "channels": {"erp": {"capacity": capacity}}})
    erp.latency = 0.1
    for i in range(8):
        place_order(app, f"{1000 + i}")
    run_until_done(app, worker(app, erp), concurrency=4)
    assert len(erp.orders) == 8
    assert erp.max_in_flight == (2 if capacity else 4)


def test_the_rate_limit_keeps_to_the_erps_allowed_rate(make_app, erp):
    erp.rate_limit = 20  # requests per second; an order takes two (look-up, create)
    app = make_app(max_lock_time=5, outbox={"poll_interval": 0.05, "channels": {"erp": {"rate_limit": 8}}})
    for i in range(12):
        place_order(app, f"{1000 + i}")
    elapsed = run_until_done(app, worker(app, erp), concurrency=3)
    assert len(erp.orders) == 12
    assert erp.too_many == 0
    assert elapsed >= 11 / 8 - 0.1


def test_a_batch_claimed_at_once_still_goes_out_at_the_channels_rate(make_app, erp):
    """A claim of five under a rate limit is sent one message per 1/rate s, not as a burst: the
    ERP counts requests per second and would answer 429 (pausing every worker) to a burst."""
    erp.rate_limit = 20  # requests per second; an order takes two (look-up, create)
    app = make_app(max_lock_time=5, outbox={"poll_interval": 0.05,
                                            "channels": {"erp": {"rate_limit": 9, "batch_size": 5}}})
    for i in range(20):
        place_order(app, f"{1000 + i}")
    elapsed = run_until_done(app, worker(app, erp), concurrency=2)
    assert len(erp.orders) == 20
    assert erp.too_many == 0
    assert elapsed < 20 / 9 + 1.5  # at the configured rate, with no pause for a 429


class BatchErp:
    """A connector that takes many messages in one call (like Magento's bulk API)."""

    def __init__(self):
        self.calls: list[int] = []

    def deliver(self, operation, payload, idempotency_key):
        raise AssertionError("a batch connector gets batches")

    def deliver_batch(self, operation, items):
        self.calls.append(len(items))
        return [MessageError("no such SKU") if payload["number"] == "1007" else DeliveryResult(external_id=f"E{payload['number']}")
                for payload, _key in items]


def test_batches_go_in_one_call_and_a_bad_item_fails_alone(make_app):
    app = make_app(outbox={"max_attempts": 1, "channels": {"erp": {"batch_size": 10}}})
    ids = [place_order(app, f"{1000 + i}") for i in range(25)]
    connector = BatchErp()
    assert Worker(app, connectors={"erp": connector}).drain() == 25
    assert connector.calls == [10, 10, 5]
    assert [i for i, s in states(app).items() if s == "dead"] == [ids[7]]
    entries = ExchangeLog(app.engine).query()
    assert len(entries) == 3 and {e["point"] for e in entries} == {"outbox.send_order.batch"}


def test_a_batch_with_a_general_error_waits_whole(make_app):
    app = make_app(max_lock_time=LOCK, outbox={"channels": {"erp": {"batch_size": 10}}})
    ids = [place_order(app, f"{1000 + i}") for i in range(3)]

    class Down(BatchErp):
        def deliver_batch(self, operation, items):
            raise GeneralError("ERP offline")

    Worker(app, connectors={"erp": Down()}).drain()
    assert [(message(app, i)["state"], message(app, i)["attempts"]) for i in ids] == [("pending", 0)] * 3
    assert Semaphore(app.engine, "erp", LOCK).is_offline()


def test_an_idle_worker_wakes_for_a_new_message(make_app, erp, db_url):
    """PostgreSQL: NOTIFY wakes it long before its next poll; SQLite: the poll finds it."""
    postgres = db_url.startswith("postgresql")
    app = make_app(outbox={"poll_interval": 30 if postgres else 0.2})
    stop = threading.Event()
    thread = threading.Thread(target=worker(app, erp).run, args=(stop,))
    thread.start()
    try:
        time.sleep(0.5)  # idle, listening
        started = time.monotonic()
        first = place_order(app, "1001")
        while states(app)[first] != "done" and time.monotonic() - started < 10:
            time.sleep(0.01)
        assert states(app)[first] == "done"
        assert time.monotonic() - started < 2
    finally:
        stop.set()
        thread.join(10)


def test_while_offline_real_time_requests_fail_fast_without_calling_the_erp(make_app, erp):
    from erpbridge.api.config import RealTimeConfig
    from erpbridge.api.realtime import RealTimeGateway

    app = make_app(max_lock_time=1.0)
    place_order(app, "1001")
    erp.fail_with = 500
    w = worker(app, erp)
    w.drain()  # the worker meets the 500 and takes the ERP offline for every process
    erp.fail_with = None
    erp.latency = 2.0  # were it asked, the ERP would now take 2 s to answer
    gateway = RealTimeGateway(ErpConnector(erp.port), Semaphore(app.engine, "erp", 1.0), RealTimeConfig(timeout=5))
    try:
        calls, started = erp.requests, time.monotonic()
        answer = asyncio.run(gateway.customer("C1"))
        assert answer.fallback == "erp_offline"
        assert time.monotonic() - started < 0.5 and erp.requests == calls  # fast, and the ERP was not asked

        erp.latency = 0.0
        time.sleep(1.1)
        assert w.run_pass() == (1, None)  # the probe gets through: the ERP is back
        answer = asyncio.run(gateway.customer("C1"))
        assert answer.from_erp and answer.value["number"] == "C1"
    finally:
        gateway.close()
        w.exchange_log.close()


def test_of_several_workers_exactly_one_sends_the_probe(make_app, erp):
    app = make_app(max_lock_time=LOCK, outbox={"channels": {"erp": {"batch_size": 10}}})
    for n in ("1001", "1002", "1003"):
        place_order(app, n)
    erp.stop()
    workers = [worker(app, erp) for _ in range(4)]
    workers[0].drain()
    time.sleep(LOCK + 0.1)
    erp.start()
    erp.fail_with = 503  # still broken: each probe would show up as one request
    barrier, results = threading.Barrier(len(workers)), []

    def probe(w: Worker) -> None:
        barrier.wait()
        results.append(w.run_pass())

    threads = [threading.Thread(target=probe, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    for w in workers:
        w.exchange_log.close()
    assert sorted(results) == [(0, None)] * 3 + [(1, None)]
    assert erp.requests == 1
    assert Semaphore(app.engine, "erp", LOCK).is_offline()


def test_when_listen_breaks_polling_still_delivers_and_the_listener_comes_back(make_app, erp, db_url):
    """PostgreSQL: the LISTEN connection is killed by the server; a message enqueued while nobody
    listens is found by the poll, and the worker listens again."""
    if not db_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite workers poll (test_an_idle_worker_wakes_for_a_new_message)")
    name = f"erpbridge-test-{uuid.uuid4().hex[:8]}"
    app = make_app(outbox={"poll_interval": 1.0}, url_options=f"application_name={name}")
    listeners = text("SELECT pid FROM pg_stat_activity WHERE application_name = :name AND query LIKE 'LISTEN%'")

    def listening() -> list[int]:
        with app.engine.connect() as conn:
            return list(conn.execute(listeners, {"name": name}).scalars())

    def wait_for(condition, timeout: float) -> float:
        started = time.monotonic()
        while not condition() and time.monotonic() - started < timeout:
            time.sleep(0.01)
        assert condition()
        return time.monotonic() - started

    stop = threading.Event()
    w = worker(app, erp)
    thread = threading.Thread(target=w.run, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: len(listening()) == 1, 5)
        with app.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listening()[0]})
        first = place_order(app, "1001")  # its NOTIFY reaches nobody
        assert wait_for(lambda: states(app)[first] == "done", 5) < 2.5  # the next poll (1 s) finds it
        wait_for(lambda: len(listening()) == 1, 5)  # listening again
        for number in ("1002", "1003", "1004"):  # woken by NOTIFY again, well before a poll
            later = place_order(app, number)
            assert wait_for(lambda: states(app)[later] == "done", 5) < 0.4
    finally:
        stop.set()
        thread.join(10)


def test_too_many_requests_pauses_the_system_for_its_retry_after_not_the_lock_time(make_app, erp):
    erp.rate_limit = 2  # requests per second: the first order's look-up and create, then 429 "Retry-After: 1"
    app = make_app(max_lock_time=60, outbox={"channels": {"erp": {"batch_size": 10}}})
    ids = [place_order(app, n) for n in ("1001", "1002", "1003")]
    w = worker(app, erp)
    started = time.monotonic()
    w.drain()
    semaphore = Semaphore(app.engine, "erp", 60)
    pause = (semaphore.state()["offline_until"] - semaphore.state()["tripped_at"]).total_seconds()
    assert 0.9 < pause < 1.1  # the ERP's Retry-After, not the 60 s of an outage
    assert [message(app, i)["attempts"] for i in ids[1:]] == [0, 0]  # waiting costs no attempt
    deadline = time.monotonic() + 15
    while set(states(app).values()) != {"done"} and time.monotonic() < deadline:
        w.run_pass()
        time.sleep(0.05)
    w.exchange_log.close()
    assert set(states(app).values()) == {"done"} and time.monotonic() - started < 10
    assert sorted(erp.orders) == ["1001", "1002", "1003"] and erp.creates == 3
