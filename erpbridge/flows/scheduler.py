"""The scheduler: runs each flow at the times its cron expression names, once per slot.

What it is. Flows are configured under ``flows:`` with a cron expression (five fields, or six
with seconds last; times in UTC). Seed 004's rhythm is a good start::

    flows:
      catalog:  {schedule: "0 2,14 * * *", mode: full}
      prices:   {schedule: "5 * * * *"}
      stock:    {schedule: "*/5 * * * *"}
      feedback: {schedule: "*/10 * * * *"}

Two flows are built in (configure a flow of the same name to move or disable them): ``prune``
(03:30 UTC daily) keeps the exchange log and the run history within
``exchange_log.retention_days``; ``reconcile`` (every 5 minutes) re-queues accepted orders that
have no ERP id after ``outbox.reconcile_after_minutes`` and are not queued (seed 003).

How it works. Every process that runs the scheduler (``erpbridge run``) looks, about once a
second, at the latest slot each flow is due for. The process that inserts the run row for
``(flow, slot)`` first runs it; the others see the row and do nothing (see :mod:`.runs`), so a
slot runs once however many processes and hosts share the store. A flow never runs twice at the
same time: while a live run holds it, its due slot waits and runs when the run ends.

Caveats.

* After downtime only the latest due slot runs, once: the slots missed in between are not run
  and get no row; the run that catches up counts them in its summary (``missed_slots``).
* A run whose process was killed stops renewing its heartbeat; after the lease (60 s) it is
  marked ``died`` and the flow's later slots run as usual. Its own slot is not run again.
* A flow that has never run runs at once for its latest past slot, so a new install fills its
  store without waiting for the night.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time

from croniter import croniter

from erpbridge.bootstrap import App
from erpbridge.config import FlowConfig
from erpbridge.connectors import registry
from erpbridge.flows.runners import FlowContext, FlowError, flow_system, runner_for
from erpbridge.flows.runs import FAILED, LEASE, OK, REJECTED, FlowBusy, FlowRun, FlowRuns, Heartbeat, utcnow

logger = logging.getLogger(__name__)

#: Flows every installation has; a flow of the same name under ``flows:`` replaces it (or, with
#: ``enabled: false``, switches it off). Reconciliation is the safety net of seed 003: on by default.
BUILTIN_FLOWS: dict[str, FlowConfig] = {"prune": FlowConfig(schedule="30 3 * * *", mode="full"),
                                        "reconcile": FlowConfig(schedule="*/5 * * * *", mode="full")}
#: Missed slots counted at most (a minutely flow after a month offline).
MAX_COUNTED = 10_000


def flows_of(app: App) -> dict[str, FlowConfig]:
    """Every flow: the built-in ones, each system's connector's default flows (named after the
    flow, or ``<system>.<flow>`` when several systems have a flow of that name), and the
    config's ``flows:``, which replace any of them by name."""
    flows = dict(BUILTIN_FLOWS)
    offers: dict[str, list[tuple[str, dict]]] = {}
    for system_name, system in app.config.systems.items():
        for flow, settings in registry.spec(system.connector).default_flows.items():
            offers.setdefault(flow, []).append((system_name, dict(settings)))
    for flow, systems in offers.items():
        for system_name, settings in systems:
            flows[flow if len(systems) == 1 else f"{system_name}.{flow}"] = FlowConfig(**settings, system=system_name)
    return {**flows, **app.config.flows}


def flow_origin(app: App, name: str) -> str:
    """Where a flow comes from: ``config``, ``built-in`` or ``connector <name>``."""
    if name in app.config.flows:
        return "config"
    if name in BUILTIN_FLOWS:
        return "built-in"
    system = flows_of(app)[name].system
    return f"connector {app.system(system).connector}" if system else "config"


def due_slot(schedule: str, now: dt.datetime) -> dt.datetime:
    """The latest slot at or before ``now``."""
    return croniter(schedule, now + dt.timedelta(microseconds=1)).get_prev(dt.datetime)


def next_slot(schedule: str, now: dt.datetime) -> dt.datetime:
    """The first slot after ``now``."""
    return croniter(schedule, now).get_next(dt.datetime)


def slots_between(schedule: str, after: dt.datetime, before: dt.datetime) -> int:
    """How many slots lie strictly between two slots."""
    it, count = croniter(schedule, after), 0
    while it.get_next(dt.datetime) < before and count < MAX_COUNTED:
        count += 1
    return count


def execute(app: App, runs: FlowRuns, run: FlowRun, config: FlowConfig, *, extra: dict | None = None) -> FlowRun:
    """Do the work of a run that is already recorded as running, and record how it ended."""
    summary, error = None, None
    with Heartbeat(runs, run.id):
        try:
            runner = runner_for(app, run.flow, config)
            last_ok = runs.last(run.flow, OK) if config.mode == "delta" else None
            context = FlowContext(app, run.flow, config, since=last_ok.started_at if last_ok else None)
            summary = {**runner(context), **(extra or {})}
            outcome = REJECTED if summary.get("rejected") else OK
        except Exception as exc:
            logger.exception("flow %s failed", run.flow)
            outcome, error = FAILED, f"{type(exc).__name__}: {exc}"
            summary = extra or None
    runs.finish(run.id, outcome, summary, error)
    logger.info("flow %s: %s %s", run.flow, outcome, summary or "")
    return dataclasses.replace(run, outcome=outcome, summary=summary, error=error, finished_at=utcnow())


def run_flow(app: App, name: str, *, lease: float = LEASE) -> dict:
    """Run a flow now (``erpbridge flows run``); returns the finished run as a dict.

    Raises :class:`FlowError` for an unknown flow and :class:`FlowBusy` when it is running already.
    """
    flows = flows_of(app)
    if name not in flows:
        named = sorted(f for f in flows if f.endswith(f".{name}"))
        if named:
            raise FlowError(f"no flow named {name!r}: several systems have one; run {' or '.join(named)}")
        raise FlowError(f"no flow named {name!r}; configured flows: {', '.join(sorted(flows))}")
    runs = FlowRuns(app.engine, lease=lease)
    now = utcnow()
    runs.reap(name, now=now)
    live = runs.live(name, now=now)
    if live is not None:
        raise FlowBusy(f"flow {name!r} is already running: run {live.id} on {live.owner} "
                       f"since {live.started_at:%Y-%m-%d %H:%M:%S} UTC")
    return execute(app, runs, runs.start(name), flows[name]).as_dict()


class Scheduler:
    def __init__(self, app: App, *, lease: float = LEASE, max_wait: float = 1.0, recheck: float = 5.0):
        self.app = app
        self.runs = FlowRuns(app.engine, lease=lease)
        self.max_wait = max_wait
        self.recheck = recheck  # seconds between looks at a flow another process is running
        self._threads: dict[str, threading.Thread] = {}
        self._settled: dict[str, dt.datetime] = {}  # flow -> its due slot, known to be claimed
        self._blocked: dict[str, tuple[dt.datetime, float]] = {}  # flow -> (slot, when we last looked)

    def scheduled(self) -> dict[str, FlowConfig]:
        return {name: cfg for name, cfg in flows_of(self.app).items() if cfg.enabled and cfg.schedule}

    def tick(self, now: dt.datetime | None = None) -> list[FlowRun]:
        """Start the runs that are due and not claimed yet; returns the runs this process started."""
        now = now or utcnow()
        started = []
        for name, config in self.scheduled().items():
            slot = due_slot(config.schedule, now)
            if self._settled.get(name) == slot:
                continue
            thread = self._threads.get(name)
            if thread is not None and thread.is_alive():
                continue  # our own run goes on; the slot is taken when it ends
            blocked = self._blocked.get(name)
            if blocked and blocked[0] == slot and time.monotonic() - blocked[1] < self.recheck:
                continue
            checked = utcnow()
            self.runs.reap(name, now=checked)
            if self.runs.live(name, now=checked) is not None:
                self._blocked[name] = (slot, time.monotonic())
                continue
            self._blocked.pop(name, None)
            previous = self.runs.last_slot(name)
            run = self.runs.claim_slot(name, slot)
            self._settled[name] = slot
            if run is None:
                continue  # another process took this slot
            missed = slots_between(config.schedule, previous, slot) if previous and previous < slot else 0
            thread = threading.Thread(target=self._execute, args=(run, config, {"missed_slots": missed}),
                                      name=f"flow-{name}", daemon=True)
            self._threads[name] = thread
            thread.start()
            started.append(run)
        return started

    def _execute(self, run: FlowRun, config: FlowConfig, extra: dict) -> None:
        try:
            execute(self.app, self.runs, run, config, extra=extra)
        except Exception:  # recording the end failed (store down); the lease will mark it died
            logger.exception("could not record the end of flow run %s", run.id)

    def wait_time(self, now: dt.datetime | None = None) -> float:
        """Seconds until the next slot of any flow, at most ``max_wait``."""
        now = now or utcnow()
        upcoming = [next_slot(cfg.schedule, now) for cfg in self.scheduled().values()]
        if not upcoming:
            return self.max_wait
        return max(0.01, min(self.max_wait, (min(upcoming) - now).total_seconds()))

    def run(self, stop: threading.Event, grace: float = 10.0) -> None:
        """Run until ``stop`` is set; then give running flows ``grace`` seconds to end."""
        logger.info("scheduler started with flows: %s", ", ".join(self.scheduled()) or "none")
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # the store may be down for a moment: keep the schedule going
                logger.exception("scheduler pass failed")
            stop.wait(self.wait_time())
        self.join(grace)

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


def run_scheduler(app: App, stop_event: threading.Event, **options) -> None:
    """The scheduler loop for ``erpbridge run``: returns promptly (within a second) once ``stop_event`` is set."""
    Scheduler(app, **options).run(stop_event)


def flow_status(app: App, now: dt.datetime | None = None) -> list[dict]:
    """Each flow with its schedule, its last run and its next run (``erpbridge flows``)."""
    now = now or utcnow()
    runs = FlowRuns(app.engine)
    status = []
    for name, config in flows_of(app).items():
        last = runs.last(name)
        next_run = None
        if config.enabled and config.schedule:
            due = due_slot(config.schedule, now)
            last_slot = runs.last_slot(name)
            next_run = due if last_slot is None or last_slot < due else next_slot(config.schedule, now)
        status.append({
            "flow": name, "schedule": config.schedule, "mode": config.mode, "enabled": config.enabled,
            "builtin": name in BUILTIN_FLOWS and name not in app.config.flows, "origin": flow_origin(app, name),
            "system": _system_of(app, name, config),
            "last_run": last.as_dict() if last else None, "next_run": next_run,
            # a past slot nobody has run yet: the next scheduler pass runs it
            "due": next_run is not None and next_run <= now,
        })
    return status


def _system_of(app: App, name: str, config: FlowConfig) -> str | None:
    """The system a flow runs for, or None (the built-in flows; a flow that names none it can run)."""
    if name in BUILTIN_FLOWS and name not in app.config.flows:
        return None
    try:
        return flow_system(app, name, config)
    except FlowError:
        return None


__all__ = ["Scheduler", "run_scheduler", "run_flow", "flow_status", "FlowBusy", "FlowError", "BUILTIN_FLOWS"]
