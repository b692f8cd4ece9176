"""What each flow does when it runs, by the flow's name.

* ``catalog``, ``prices``, ``stock``, ``customers``, ``feedback`` (or any flow with ``kinds:``):
  with an ERP whose connector can be asked (:class:`~erpbridge.connectors.base.ErpSource`),
  fetch those kinds, in ``delta`` mode only what changed since the start of the flow's last
  successful run, and write them to the store (unchanged records cost nothing there).
* with the files connector, every such flow imports what the ERP dropped into the inbox.
* ``reconcile``: find accepted orders that never reached the ERP, and orders the ERP left
  unfinished (if its connector can tell: ``stuck_orders``), and queue them again (seed 003).
* ``prune``: remove exchange log entries and flow runs older than ``exchange_log.retention_days``.

A runner gets a :class:`FlowContext` and returns the run's summary (JSON-able counts); a
summary with ``rejected`` > 0 makes the run's outcome ``rejected``. A flow that asks the ERP
(:func:`waits_for`) waits for the ERP's semaphore like its messages do (see :mod:`.scheduler`).
"""

from __future__ import annotations

import datetime as dt
import importlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator

from erpbridge.bootstrap import App
from erpbridge.config import FlowConfig
from erpbridge.connectors.base import ErpSource
from erpbridge.outbox.semaphore import Semaphore

#: The kinds each pull flow fetches, by flow name (seed 004: catalog daily, prices hourly, stock often).
FLOW_KINDS: dict[str, tuple[str, ...]] = {
    "catalog": ("product_groups", "products"),
    "prices": ("prices",),
    "stock": ("stock",),
    "customers": ("customers",),
    "feedback": ("order_statuses", "shipments", "invoices", "credit_memos"),
}
#: Records written to the store per transaction.
BATCH = 1000


class FlowError(Exception):
    """The flow cannot run as configured; the message says why."""


def import_connector(name: str) -> ModuleType:
    """The module of a connector: ``erpbridge.connectors.<name>``, offering ``create(app, name, cfg)``."""
    return importlib.import_module(f"erpbridge.connectors.{name}")


@dataclass
class FlowContext:
    app: App
    name: str
    config: FlowConfig
    #: delta mode: the start of the last successful run (None: fetch everything)
    since: dt.datetime | None = None
    load_connector: Callable[[str], ModuleType] = field(default=import_connector)


Runner = Callable[[FlowContext], dict]


def runner_for(app: App, name: str, config: FlowConfig) -> Runner:
    if name in SPECIAL:
        return SPECIAL[name]
    _, system = app.config.erp
    if system.connector == "files":
        return inbox_flow
    if config.kinds or name in FLOW_KINDS:
        return pull_flow
    raise FlowError(f"flow {name!r}: no runner for this name; name it one of "
                    f"{', '.join(sorted(set(FLOW_KINDS) | set(SPECIAL)))} or give it kinds:")


def waits_for(app: App, name: str, config: FlowConfig) -> str | None:
    """The system a flow asks, whose semaphore it waits for: the ERP for pull flows and
    reconciliation (which asks the ERP about unfinished orders); none for the files inbox and
    pruning, which only read folders and the store."""
    try:
        runner = runner_for(app, name, config)
    except FlowError:
        return None  # it cannot run at all; its run fails and says why
    return app.config.erp[0] if runner in (pull_flow, reconcile_flow) else None


def system_semaphore(app: App, system: str) -> Semaphore:
    """The semaphore a configured system's messages and flows wait for."""
    return Semaphore(app.engine, system, app.config.systems[system].semaphore.max_lock_time)


@contextmanager
def erp_connector(app: App, load_connector: Callable[[str], ModuleType] = import_connector) -> Iterator[Any]:
    """The ERP's connector for one run or command, closed at its end."""
    system_name, system = app.config.erp
    connector = load_connector(system.connector).create(app, system_name, system)
    try:
        yield connector
    finally:
        close = getattr(connector, "close", None)
        if callable(close):
            close()


def pull_flow(ctx: FlowContext) -> dict:
    system_name, system = ctx.app.config.erp
    kinds = list(ctx.config.kinds or FLOW_KINDS[ctx.name])
    summary: dict[str, Any] = {"system": system_name, "since": ctx.since.isoformat() if ctx.since else None,
                               "fetched": 0, "new": 0, "changed": 0, "unchanged": 0, "kinds": {}}
    with erp_connector(ctx.app, ctx.load_connector) as connector:
        if not isinstance(connector, ErpSource):
            raise FlowError(f"flow {ctx.name!r}: the {system.connector} connector of system {system_name!r} "
                            f"cannot be asked for records (it has no fetch)")
        for kind in kinds:
            counts = {"fetched": 0, "new": 0, "changed": 0, "unchanged": 0}
            for batch in _batches(connector.fetch(kind, ctx.since), BATCH):
                result = ctx.app.records.put(batch)
                counts["fetched"] += len(batch)
                counts["new"] += result.new
                counts["changed"] += result.changed
                counts["unchanged"] += result.unchanged
            summary["kinds"][kind] = counts
            for key, value in counts.items():
                summary[key] += value
    return summary


def inbox_flow(ctx: FlowContext) -> dict:
    from erpbridge.connectors.files.inbox import process_inbox

    reports = process_inbox(ctx.app)
    summary: dict[str, Any] = {"files": len(reports)}
    for key in ("new", "changed", "unchanged", "rejected"):
        summary[key] = sum(getattr(report, key) for report in reports)
    summary["reports"] = [report.summary() for report in reports[:50]]
    return summary


def reconcile_flow(ctx: FlowContext) -> dict:
    """Unfinished orders first: if the ERP is down, the run ends offline before queuing anything,
    and the next run (once the ERP is back) does all of it."""
    from erpbridge.outbox.reconcile import find_stuck, reconcile

    with erp_connector(ctx.app, ctx.load_connector) as connector:
        stuck = find_stuck(ctx.app, connector)
    return reconcile(ctx.app, stuck=stuck).as_dict()


def prune_flow(ctx: FlowContext) -> dict:
    from erpbridge.exchange import ExchangeLog
    from erpbridge.flows.runs import FlowRuns

    days = ctx.app.config.exchange_log.retention_days
    return {"retention_days": days, "exchange_log": ExchangeLog.for_app(ctx.app).prune(days),
            "flow_runs": FlowRuns(ctx.app.engine).prune(days)}


SPECIAL: dict[str, Runner] = {"reconcile": reconcile_flow, "prune": prune_flow}


def _batches(records: Iterable, size: int) -> Iterable[list]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch
