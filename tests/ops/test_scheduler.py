"""The scheduler with real time on both databases: a slot runs once however many schedulers
share the store, a missed slot runs once after downtime, a killed run is detected and does not
hold its flow, and the loop stops promptly."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from erpbridge.flows import FlowRuns, Scheduler, flow_status, run_scheduler
from erpbridge.flows.scheduler import due_slot
from erpbridge.outbox.semaphore import Semaphore

from . import fake_erp

TESTS = Path(__file__).resolve().parents[1]


def _runs(app, flow="stock"):
    return list(reversed(FlowRuns(app.engine).history(flow, limit=1000)))


def _stock(started):
    """The stock runs among those a tick started (the built-in prune flow runs on a first tick too)."""
    return [run for run in started if run.flow == "stock"]


def _wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_after_downtime_a_missed_slot_runs_once_not_once_per_missed_slot(make_app):
    app = make_app({"stock": {"schedule": "0 * * * *"}})
    now = dt.datetime.now(dt.timezone.utc)
    due = due_slot("0 * * * *", now)
    runs = FlowRuns(app.engine)
    old = runs.claim_slot("stock", due - dt.timedelta(hours=5))  # the last run before 5 hours offline
    runs.finish(old.id, "ok", {})

    first, other = Scheduler(app), Scheduler(make_app({"stock": {"schedule": "0 * * * *"}}))
    [started] = _stock(first.tick(now))
    assert started.slot == due
    first.join()
    assert first.tick(now) == [] and _stock(other.tick(now)) == []
    latest = runs.last("stock")
    assert latest.outcome == "ok" and latest.summary["missed_slots"] == 4  # not run, counted
    assert len(fake_erp.CALLS) == 1
    assert [r.slot for r in _runs(app)] == [due - dt.timedelta(hours=5), due]


def test_a_flow_running_elsewhere_holds_its_slot_which_runs_once_when_it_ends(make_app):
    app = make_app({"stock": {"schedule": "0 * * * *"}})
    elsewhere = FlowRuns(app.engine, owner="other-host:7").start("stock")
    scheduler = Scheduler(app, recheck=0)
    assert _stock(scheduler.tick()) == []
    FlowRuns(app.engine).finish(elsewhere.id, "ok", {})
    [started] = _stock(scheduler.tick())
    scheduler.join()
    assert scheduler.tick() == [] and len(fake_erp.CALLS) == 1


def test_disabled_and_unscheduled_flows_are_not_scheduled(make_app):
    app = make_app({"stock": {"schedule": "* * * * *", "enabled": False}, "prices": {}})
    assert set(Scheduler(app).scheduled()) == {"prune", "reconcile"}


def test_a_scheduled_run_while_its_system_is_offline_is_put_off_not_failed_and_says_so(make_app):
    """Tryton is down: its flows wait for the semaphore like its messages do, instead of failing
    with the same error once per slot; once the system may be tried again the run goes ahead."""
    app = make_app({"stock": {"schedule": "* * * * *"}})
    Semaphore(app.engine, "erp", 60).trip("Tryton at http://127.0.0.1:9 is unreachable", seconds=1)
    scheduler = Scheduler(app)
    started = scheduler.tick()
    assert "stock" not in {run.flow for run in started} and "prune" in {run.flow for run in started}
    [stock] = [s for s in flow_status(app) if s["flow"] == "stock"]
    assert stock["due"] and stock["last_run"] is None and stock["waits_for"]["system"] == "erp"
    assert "unreachable" in stock["waits_for"]["reason"]

    _wait_for(lambda: _stock(scheduler.tick()) != [], timeout=10)  # the semaphore's time is up
    scheduler.join()
    [run] = _runs(app)
    assert run.outcome == "ok" and fake_erp.CALLS == [("stock", None)]
    assert run.summary["put_off"].startswith("waited ") and run.summary["put_off"].endswith(
        "s for erp, offline: Tryton at http://127.0.0.1:9 is unreachable")


def test_the_scheduler_loop_stops_promptly(make_app):
    app = make_app({"catalog": {"schedule": "0 2 * * *"}})
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(app, stop))
    thread.start()
    time.sleep(0.3)
    began = time.monotonic()
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - began < 2


SCHEDULER_CHILD = """
import sys, threading
sys.path.insert(0, {tests!r})
from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config, FlowConfig, StoreConfig
from erpbridge.flows import run_scheduler
from ops import fake_erp
config = Config(store=StoreConfig(url={url!r}), flows={{"stock": FlowConfig(schedule="* * * * * *")}},
                systems={{"erp": {{"connector": "testerp"}}}})
stop = threading.Event()
threading.Timer({seconds}, stop.set).start()
app = bootstrap(config)
fake_erp.use(app)
run_scheduler(app, stop, max_wait=0.02)
"""


@pytest.mark.slow
def test_each_slot_runs_once_when_three_scheduler_processes_share_the_store(make_app, db_url, tmp_path):
    app = make_app({"stock": {"schedule": "* * * * * *"}})  # migrates the store before the children start
    calls = tmp_path / "calls"
    children = [subprocess.Popen([sys.executable, "-c", SCHEDULER_CHILD.format(tests=str(TESTS), url=db_url, seconds=4)],
                                 env={**os.environ, "FAKE_ERP_CALLS": str(calls)}) for _ in range(3)]
    for child in children:
        assert child.wait(60) == 0
    runs = _runs(app)
    lines = calls.read_text().splitlines()
    assert len(runs) >= 3 and all(run.outcome == "ok" for run in runs)
    assert len(lines) == len(runs)  # one fetch per slot across all processes
    assert len({run.slot for run in runs}) == len(runs)


CHILD = """
import sys
sys.path.insert(0, {tests!r})
from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config, FlowConfig, StoreConfig
from erpbridge.flows import run_flow
from ops import fake_erp
config = Config(store=StoreConfig(url={url!r}), flows={{"stock": FlowConfig(schedule="* * * * * *")}},
                systems={{"erp": {{"connector": "testerp"}}}})
app = bootstrap(config)
fake_erp.use(app)
run_flow(app, "stock", lease=1)
"""


@pytest.mark.slow
def test_a_run_killed_mid_flow_is_marked_died_and_later_slots_run(make_app, db_url, tmp_path):
    app = make_app({"stock": {"schedule": "* * * * * *"}})
    hold = tmp_path / "holding"
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(tests=str(TESTS), url=db_url)],
                             env={**os.environ, "FAKE_ERP_HOLD": str(hold)})
    try:
        _wait_for(hold.exists, timeout=30)
        runs = FlowRuns(app.engine, lease=1)
        killed = runs.live("stock")
        assert killed is not None and killed.owner.endswith(f":{child.pid}")
        time.sleep(1.2)
        assert runs.live("stock") is not None  # its heartbeat keeps it alive past the lease
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    scheduler = Scheduler(app, lease=1)
    _wait_for(lambda: _stock(scheduler.tick()) != [], timeout=5)  # held until the lease runs out, then runs
    scheduler.join()
    died = [r for r in _runs(app) if r.id == killed.id][0]
    assert died.outcome == "died" and "no heartbeat" in died.error and died.finished_at is not None
    assert runs.last("stock").outcome == "ok"
    assert [s["last_run"]["outcome"] for s in flow_status(app) if s["flow"] == "stock"] == ["ok"]
