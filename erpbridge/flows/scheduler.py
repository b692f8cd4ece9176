"""The scheduler: runs each flow at the times its cron expression names, once per slot.

What it is. Flows are configured under ``flows:`` with a cron expression (five fields, or six
with seconds last; times in UTC)::

    flows:
      catalog:  {schedule: "0 2,14 * * *", mode: full}
      stock:    {schedule: "*/10 * * * *"}
      prices:   {enabled: false}

Two flows are built in: ``prune`` (03:30 UTC daily) keeps the exchange log and the run history
within ``exchange_log.retention_days``; ``reconcile`` (every 5 minutes) re-queues accepted orders
that have no ERP id after ``outbox.reconcile_after_minutes`` and are not queued, and those an
ERP left unfinished (seed 003). Each system's connector brings its default flows (its registry
entry's ``default_flows``, see :func:`flows_of`; Tryton's follow seed 004's rhythm: catalog
nightly, prices hourly, stock and feedback every 5 minutes). A flow of the same name under
``flows:`` replaces a built-in or default one, or with ``enabled: false`` switches it off.

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
* A flow that asks a system (:func:`~erpbridge.flows.runners.waits_for`) waits for that system's
  semaphore as its messages do: while the system is offline its due slot is put off, and it runs
  once the system may be tried again, its summary saying how long it waited and why
  (``put_off``). A run that meets a general error (connection refused, timeout, 5xx) ends
  ``offline`` with one log line naming the system and the reason, and trips the semaphore. A
  run started on demand (``erpbridge flows run``) is not put off: it tries the system.
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
from erpbridge.errors import ConnectorError, GeneralError
from erpbridge.flows.runners import FlowContext, FlowError, flow_system, runner_for, waits_for
from erpbridge.flows.runs import (
    FAILED, LEASE, OFFLINE, OK, REJECTED, FlowBusy, FlowRun, FlowRuns, Heartbeat, utcnow,
)

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
    return {**BUILTIN_FLOWS, **default_flows(app), **app.config.flows}


def default_flows(app: App) -> dict[str, FlowConfig]:
    """The flows the systems' connectors bring, each naming its system."""
    offers: dict[str, list[tuple[str, dict]]] = {}
    for system_name, system in app.config.systems.items():
        spec = registry.spec(system.connector)
        for flow, settings in spec.default_flows.items():
            if spec.configured is not None and not FlowContext(app, flow, FlowConfig(**settings, system=system_name)).kinds:
                continue  # its config configures none of the flow's kinds (a webservice system's messages)
            offers.setdefault(flow, []).append((system_name, dict(settings)))
    return {flow if len(systems) == 1 else f"{system_name}.{flow}": FlowConfig(**settings, system=system_name)
            for flow, systems in offers.items() for system_name, settings in systems}


def offline_system(app: App, name: str, config: FlowConfig) -> dict | None:
    """If the system the flow asks is offline now: its name, and its semaphore's state (until when, why)."""
    system = waits_for(app, name, config)
    if system is None:
        return None
    state = app.semaphore(system).state()
    if state["offline_until"] is None or state["offline_until"] <= utcnow():
        return None
    return {"system": system, **state}


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
    system = waits_for(app, run.flow, config)
    with Heartbeat(runs, run.id):
        try:
            runner = runner_for(app, run.flow, config)
            last_ok = runs.last(run.flow, OK) if config.mode == "delta" else None
            context = FlowContext(app, run.flow, config, since=last_ok.started_at if last_ok else None)
            summary = {**runner(context), **(extra or {})}
            outcome = REJECTED if summary.get("rejected") else OK
        except GeneralError as exc:
            # An outage, not a bug: one line, and the system's semaphore tripped, so that its other
            # flows and its messages wait for it instead of meeting the same error.
            if system is not None:
                app.semaphore(system).trip(str(exc), seconds=exc.retry_after)
            logger.warning("flow %s: %s is unavailable: %s", run.flow, system or "its system", exc)
            outcome, error, summary = OFFLINE, f"{system or 'its system'} is unavailable: {exc}", extra or None
        except (ConnectorError, FlowError) as exc:  # a reason named by the connector or the config
            logger.error("flow %s failed: %s", run.flow, exc)
            outcome, error, summary = FAILED, f"{type(exc).__name__}: {exc}", extra or None
        except Exception as exc:  # a bug: its traceback is what the next person needs
            logger.exception("flow %s failed", run.flow)
            outcome, error, summary = FAILED, f"{type(exc).__name__}: {exc}", extra or None
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
        self._put_off: dict[str, PutOff] = {}  # flow -> why its due run waits

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
            if self._waits(name, config):
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
            put_off = self._put_off.pop(name, None)
            if run is None:
                continue  # another process took this slot
            extra: dict = {"missed_slots": slots_between(config.schedule, previous, slot)
                           if previous and previous < slot else 0}
            if put_off is not None:
                extra["put_off"] = put_off.describe(utcnow())
            thread = threading.Thread(target=self._execute, args=(run, config, extra), name=f"flow-{name}", daemon=True)
            self._threads[name] = thread
            thread.start()
            started.append(run)
        return started + self._on_change()

    def _on_change(self) -> list[FlowRun]:
        """Start the ``on_change`` push flows whose shop has a change waiting (a stock level the
        ERP just sent reaches the shop in seconds, not at the next slot). A flow running anywhere
        is left to finish: its run, or the next look after it, takes the change."""
        from erpbridge.flows.push import push_flow, waiting

        started = []
        for name, config in flows_of(self.app).items():
            if not (config.enabled and config.on_change):
                continue
            thread = self._threads.get(name)
            if thread is not None and thread.is_alive():
                continue
            context = FlowContext(self.app, name, config)
            try:
                if runner_for(self.app, name, config) is not push_flow or self._waits(name, config):
                    continue
                if not waiting(self.app, context.system, context.kinds):
                    continue
            except FlowError:
                continue  # cannot run as configured: its scheduled runs say why
            checked = utcnow()
            self.runs.reap(name, now=checked)
            if self.runs.live(name, now=checked) is not None:
                continue
            run = self.runs.start(name, trigger="change")
            thread = threading.Thread(target=self._execute, args=(run, config, {}), name=f"flow-{name}", daemon=True)
            self._threads[name] = thread
            thread.start()
            started.append(run)
        return started

    def _waits(self, name: str, config: FlowConfig) -> bool:
        """Whether the flow's due run must wait for its system, which is offline. The semaphore
        is read again only once the time it gave has passed (it may have been tripped again)."""
        at = utcnow()
        put_off = self._put_off.get(name)
        if put_off is not None and put_off.until > at:
            return True
        offline = offline_system(self.app, name, config)
        if offline is None:
            return False
        if put_off is None:
            logger.info("flow %s put off: %s is offline until %s UTC: %s", name, offline["system"],
                        f"{offline['offline_until']:%H:%M:%S}", offline["reason"])
            self._put_off[name] = PutOff(offline["system"], offline["reason"], since=at, until=offline["offline_until"])
        else:
            put_off.until = offline["offline_until"]
        return True

    def _execute(self, run: FlowRun, config: FlowConfig, extra: dict) -> None:
        try:
            execute(self.app, self.runs, run, config, extra=extra)
        except Exception:  # recording the end failed (store down); the lease will mark it died
            logger.exception("could not record the end of flow run %s", run.id)

    def wait_time(self, now: dt.datetime | None = None) -> float:
        """Seconds until the next slot of any flow, at most ``max_wait``."""
        now = now or utcnow()
        upcoming = [next_slot(cfg.schedule, now) for cfg in self.scheduled().values()]
        if not upcoming or any(cfg.enabled and cfg.on_change for cfg in flows_of(self.app).values()):
            return self.max_wait  # on_change flows are looked at every max_wait (1 s)
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


@dataclasses.dataclass
class PutOff:
    """A due run waiting for its system: since when, until when (for now), and why."""

    system: str
    reason: str | None
    since: dt.datetime
    until: dt.datetime

    def describe(self, at: dt.datetime) -> str:
        return f"waited {(at - self.since).total_seconds():.0f}s for {self.system}, offline: {self.reason}"


def run_scheduler(app: App, stop_event: threading.Event, **options) -> None:
    """The scheduler loop for ``erpbridge run``: returns promptly (within a second) once ``stop_event`` is set."""
    Scheduler(app, **options).run(stop_event)


def flow_status(app: App, now: dt.datetime | None = None) -> list[dict]:
    """Each flow with its schedule, its last run and its next run (``erpbridge flows``); its
    system; where it comes from (``origin``: built-in, the connector that brings it, the config);
    and for a due run waiting for its offline system, ``waits_for`` that system and why."""
    now = now or utcnow()
    runs = FlowRuns(app.engine)
    defaults = default_flows(app)
    status = []
    for name, config in flows_of(app).items():
        last = runs.last(name)
        next_run = None
        if config.enabled and config.schedule:
            due = due_slot(config.schedule, now)
            last_slot = runs.last_slot(name)
            next_run = due if last_slot is None or last_slot < due else next_slot(config.schedule, now)
        # a past slot nobody has run yet: the next scheduler pass runs it, unless its system is offline
        is_due = next_run is not None and next_run <= now
        configured = name in app.config.flows
        default_of = app.system(defaults[name].system).connector if name in defaults and not configured else None
        status.append({
            "flow": name, "schedule": config.schedule, "on_change": config.on_change, "mode": config.mode,
            "enabled": config.enabled,
            "builtin": name in BUILTIN_FLOWS and not configured, "default_of": default_of,
            "origin": "built-in" if name in BUILTIN_FLOWS and not configured else
                      f"{default_of} default" if default_of else "config",
            "system": _system_of(app, name, config),
            "last_run": last.as_dict() if last else None, "next_run": next_run, "due": is_due,
            "waits_for": offline_system(app, name, config) if is_due else None,
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


__all__ = ["Scheduler", "run_scheduler", "run_flow", "flow_status", "default_flows", "FlowBusy", "FlowError",
           "BUILTIN_FLOWS"]
