"""At least once, for real: worker processes killed with SIGKILL before the ERP call, during it
(the ERP hangs) and after the ERP answered; several worker processes sharing one outbox."""

from __future__ import annotations

import signal
import threading
import subprocess
import sys
import time
from pathlib import Path

import pytest

from erpbridge.outbox.claims import claim
from erpbridge.outbox.worker import Worker

from .conftest import place_order
from .erp_connector import ErpConnector
from .helpers import binding, message, states

WORKER = Path(__file__).with_name("worker_process.py")
LEASE = 2.0


def spawn(app, erp, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), str(app.config.source), str(erp.port), *args])


def drain_until(app, erp, predicate, timeout: float = 15.0) -> None:
    worker = Worker(app, connectors={"erp": ErpConnector(erp.port)})
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        worker.drain()
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["before", "during", "after"])
def test_a_killed_worker_leaves_the_order_to_be_delivered_again_and_the_erp_has_it_once(make_app, erp, kill_at):
    app = make_app(outbox={"lease_seconds": LEASE, "heartbeat_seconds": 0.5})
    first = place_order(app, "1001")
    if kill_at == "during":
        erp.hang.set()
        process = spawn(app, erp)
        assert erp.arrived.wait(20), "the worker never called the ERP"
        # The ERP hangs longer than a lease: the live worker's heartbeat keeps the message its own.
        time.sleep(LEASE * 1.5)
        assert claim(app.engine, "erp", "other", limit=1, lease_seconds=LEASE).messages == []
        process.send_signal(signal.SIGKILL)
    else:
        process = spawn(app, erp, "--kill-at", kill_at)
    assert process.wait(30) == -signal.SIGKILL
    erp.hang.clear()
    erp.release.set()

    row = message(app, first)
    assert (row["state"], row["attempts"]) == ("running", 1)  # the dead worker's lease is still on it
    assert claim(app.engine, "erp", "other", limit=1, lease_seconds=LEASE).messages == []

    drain_until(app, erp, lambda: states(app)[first] == "done")
    row = message(app, first)
    assert (row["state"], row["attempts"]) == ("done", 2)
    assert erp.orders == {"1001": "SO00001"} and erp.creates == 1
    assert binding(app, "orders", "1001") == "SO00001"


@pytest.mark.slow
def test_several_worker_processes_share_the_work_and_deliver_each_order_once(make_app, erp):
    app = make_app(outbox={"lease_seconds": 30, "heartbeat_seconds": 5, "poll_interval": 0.05})
    erp.latency = 0.005
    numbers = [f"{1000 + i}" for i in range(60)]
    for number in numbers:
        place_order(app, number)
    processes = [spawn(app, erp, "--run", "--name", f"w{i}", "--concurrency", "2") for i in range(2)]
    for process in processes:
        assert process.wait(60) == 0
    assert set(states(app).values()) == {"done"}
    assert sorted(erp.orders) == numbers and erp.creates == 60
    assert erp.requests == 120  # one look-up and one create per order: nothing delivered twice
    assert set(erp.workers) == {"w0", "w1"}


@pytest.mark.slow
def test_a_worker_on_the_same_host_takes_a_killed_workers_messages_at_once_and_a_live_ones_never(make_app, erp):
    """A lease is what a worker on another host must wait for; on the same host the dead process
    is seen at the next heartbeat, so a killed worker costs about a heartbeat, not a lease."""
    app = make_app(outbox={"lease_seconds": 30, "heartbeat_seconds": 0.3, "poll_interval": 0.05})
    first = place_order(app, "1001")
    erp.hang.set()
    process = spawn(app, erp)
    assert erp.arrived.wait(20), "the worker never called the ERP"
    stop = threading.Event()
    other = Worker(app, connectors={"erp": ErpConnector(erp.port)})
    thread = threading.Thread(target=other.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(1.5)  # five heartbeats of the other worker: the hung one is alive, its message stays its own
        assert (message(app, first)["state"], message(app, first)["attempts"]) == ("running", 1)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
        killed = time.monotonic()
        erp.hang.clear()
        erp.release.set()
        while states(app)[first] != "done":
            assert time.monotonic() - killed < 5, "the killed worker's message waited for its lease"
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(10)
    assert message(app, first)["attempts"] == 2
    assert erp.orders == {"1001": "SO00001"} and erp.creates == 1
