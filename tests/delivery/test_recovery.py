"""After an outage: the backlog goes out first come, first served; probes back off from a short first
lock; a killed prober does not hold its system; the successful probe resumes every worker at once.
Against the real HTTP ERP of the delivery tests, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from erpbridge.outbox.claims import heartbeat, release_dead
from erpbridge.outbox.owners import is_dead, new_owner
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.outbox.worker import Worker

from .conftest import cancel_order, place_order
from .erp_connector import ErpConnector
from .helpers import states


def lock_of(semaphore: Semaphore) -> float:
    state = semaphore.state()
    return (state["offline_until"] - state["tripped_at"]).total_seconds()


def wait_for(predicate, timeout: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_after_an_outage_the_backlog_goes_out_in_acceptance_order(make_app, erp):
    """The orders in flight when the ERP fell go before those accepted during the outage, and a
    cancellation still after its order."""
    app = make_app(max_lock_time=0.3, outbox={"channels": {"erp": {"batch_size": 3}}})
    w = Worker(app, connectors={"erp": ErpConnector(erp.port)})
    for number in ("1001", "1002", "1003"):
        place_order(app, number)
    erp.stop()
    assert w.run_pass() == (3, None)  # all three met the connection error
    for number in ("1004", "1005"):  # accepted during the outage
        place_order(app, number)
    cancel_order(app, "1002")
    place_order(app, "1006")
    erp.start()
    deadline = time.monotonic() + 15
    while set(states(app).values()) != {"done"} and time.monotonic() < deadline:
        w.run_pass()
        time.sleep(0.05)
    w.exchange_log.close()
    assert erp.events == [("created", "1001"), ("created", "1002"), ("created", "1003"), ("created", "1004"),
                          ("created", "1005"), ("cancelled", "1002"), ("created", "1006")]


def test_probes_back_off_from_a_short_first_lock_up_to_max_lock_time(make_app, erp):
    app = make_app(max_lock_time=1.25)
    place_order(app, "1001")
    erp.stop()
    w = Worker(app, connectors={"erp": ErpConnector(erp.port)})
    w.drain()
    semaphore = app.semaphore("erp")
    assert lock_of(semaphore) == pytest.approx(1.0, abs=0.05)  # not max_lock_time: the outage may be short
    semaphore.trip("ERP offline")  # another worker meets the same outage: the lock does not grow
    assert lock_of(semaphore) == pytest.approx(1.0, abs=0.05)
    locks = []
    for _ in range(3):
        wait_for(lambda: not semaphore.is_offline(), 5)
        assert w.run_pass() == (1, None)  # the probe fails
        locks.append(lock_of(semaphore))
    assert locks == pytest.approx([1.1, 1.21, 1.25], abs=0.03)  # a tenth longer each time, up to the max
    erp.start()
    wait_for(lambda: not semaphore.is_offline(), 5)
    assert w.run_pass() == (1, None)  # the probe gets through: the next outage starts short again
    assert not semaphore.is_tripped()
    w.exchange_log.close()


def test_a_killed_prober_frees_its_system_within_the_probe_window_and_a_live_one_keeps_it(make_app, erp):
    app = make_app(max_lock_time=60, outbox={"lease_seconds": 30, "heartbeat_seconds": 0.3})
    window = app.config.outbox.probe_window
    assert window < 1 < app.config.outbox.lease_seconds
    semaphore = app.semaphore("erp")
    semaphore.trip("ERP offline", seconds=0)
    assert semaphore.try_probe("live", window)
    for _ in range(4):  # a live prober's heartbeat keeps the system to its probe
        time.sleep(window / 2)
        heartbeat(app.engine, "live", 30, window)
        assert semaphore.is_offline() and not semaphore.try_probe("other", window)
    semaphore.trip("ERP offline", seconds=0)
    assert semaphore.try_probe("killed", window)  # won the probe, then killed: no heartbeat any more
    place_order(app, "1001")
    w = Worker(app, connectors={"erp": ErpConnector(erp.port)})
    waited = wait_for(lambda: w.run_pass() == (1, None), 5)
    w.exchange_log.close()
    assert waited < window + 0.5  # not the 60 s lock, not a 30 s lease
    assert not semaphore.is_tripped() and erp.orders == {"1001": "SO00001"}


def test_a_prober_whose_process_is_gone_frees_its_system_at_a_heartbeat_of_the_same_host(make_app, erp):
    app = make_app(max_lock_time=60)
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()  # a worker process of this host, killed and reaped
    dead = f"{socket.gethostname()}:{gone.pid}:{new_owner().split(':')[2]}:0000dead"
    semaphore = app.semaphore("erp")
    semaphore.trip("ERP offline", seconds=0)
    assert semaphore.try_probe(dead, 30)  # its window would hold the system 30 s
    assert release_dead(app.engine, ["erp"], is_dead) == 0  # no messages of its, but the probe is ended
    assert not semaphore.is_offline() and semaphore.try_probe(new_owner(), 30)
    assert not is_dead(new_owner())  # this process's own workers are alive
    assert not is_dead(f"another-host:{gone.pid}:{dead.split(':')[2]}:0000dead")  # another host: its lease decides


def test_the_successful_probe_resumes_every_worker_at_once(make_app, erp, db_url):
    """A worker waiting for the system delivers right after another's probe got through: on
    PostgreSQL woken by NOTIFY (its poll here is 5 s), on SQLite at its next poll."""
    postgres = db_url.startswith("postgresql")
    app = make_app(max_lock_time=60, outbox={"poll_interval": 5 if postgres else 0.1})
    semaphore = app.semaphore("erp")
    semaphore.trip("ERP offline", seconds=60)
    first, later = place_order(app, "1001"), place_order(app, "1002")
    stop = threading.Event()
    waiting = Worker(app, connectors={"erp": ErpConnector(erp.port)})
    thread = threading.Thread(target=waiting.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # the waiting worker has looked, found the system offline and gone back to sleep
        assert set(states(app).values()) == {"pending"}
        semaphore.trip("ERP offline", seconds=0)  # the lock is up
        prober = Worker(app, connectors={"erp": ErpConnector(erp.port)})
        assert prober.deliver_channel("erp") == (1, None)  # the probe: one message, and the system is back
        prober.exchange_log.close()
        assert not semaphore.is_tripped() and states(app)[first] == "done"
        assert wait_for(lambda: states(app)[later] == "done", 5) < (1.0 if postgres else 0.5)
    finally:
        stop.set()
        thread.join(10)
