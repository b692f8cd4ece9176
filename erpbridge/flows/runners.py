"""What each flow does when it runs.

A flow runs for one *system* (its ``system:``, else the one system whose connector offers it;
a connector's default flows name their system themselves, see :func:`flows_of`):

* ``catalog``, ``prices``, ``stock``, ``customers``, ``feedback`` (or any flow with ``kinds:``):
  when the system's connector can be asked for those kinds (``fetch``), fetch them, in
  ``delta`` mode only what changed since the start of the flow's last successful run, and
  take them in through the one ingest path (:mod:`erpbridge.ingest`): mapped, checked, written
  as deltas, a bad record rejected by name and the rest stored.
* when the connector watches something of its own instead (``watch``: the files inbox), the
  flow runs one pass of it now.
* ``reconcile``: find accepted orders that never reached their ERP, and orders an ERP left
  unfinished (if its connector can tell: ``stuck_orders``), and queue them again.
* ``reconcile_stock``: compare every ERP's whole stock with the store's and write the ERP's
  values in where they differ (:mod:`erpbridge.ingest.reconcile_stock`); not scheduled unless
  configured (a full stock fetch: hourly or nightly, not every few minutes).
* ``prune``: remove exchange log entries and flow runs older than ``exchange_log.retention_days``.

A runner gets a :class:`FlowContext` and returns the run's summary (JSON-able counts); a
summary with ``rejected`` > 0 makes the run's outcome ``rejected``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from erpbridge.bootstrap import App
from erpbridge.config import FlowConfig

#: The kinds each pull flow fetches, by flow name (catalog daily, prices hourly, stock often).
FLOW_KINDS: dict[str, tuple[str, ...]] = {
    "catalog": ("product_groups", "products"),
    "prices": ("prices",),
    "stock": ("stock",),
    "customers": ("customers",),
    "feedback": ("order_statuses", "shipments", "invoices", "credit_memos"),
    "orders": ("orders",),
}


class FlowError(Exception):
    """The flow cannot run as configured; the message says why."""


@dataclass
class FlowContext:
    app: App
    name: str
    config: FlowConfig
    #: delta mode: the start of the last successful run (None: fetch everything)
    since: dt.datetime | None = None

    @property
    def system(self) -> str:
        return flow_system(self.app, self.name, self.config)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The flow's kinds that its system deals in (a shop's ``catalog`` flow pushes only what
        its connector pushes)."""
        return tuple(k for k in _wanted(self.name, self.config) if k in _abilities(self.app, self.system))


Runner = Callable[[FlowContext], dict]


def base_name(name: str) -> str:
    """``catalog`` of ``tryton.catalog`` (a connector's default flow, named by its system when
    several systems offer a flow of that name)."""
    return name.rpartition(".")[2]


def _wanted(name: str, config: FlowConfig) -> tuple[str, ...]:
    return tuple(config.kinds or FLOW_KINDS.get(base_name(name), ()))


def _abilities(app: App, system: str) -> set[str]:
    """The kinds a system's flows can move: what an ERP is asked for; what a shop takes in
    and what it is sent."""
    capabilities = app.capabilities(system)
    if app.system(system).role == "shop":
        return set(capabilities.intake | capabilities.push | capabilities.feedback)
    return set(capabilities.fetch)


def flow_system(app: App, name: str, config: FlowConfig) -> str:
    """The system a flow runs for: its own ``system:``, else the one system that can run it."""
    if config.system is not None:
        app.system(config.system)  # a clear error when it names no system
        return config.system
    kinds = set(_wanted(name, config))
    able = [s for s in app.config.systems if kinds and (kinds & _abilities(app, s) or app.capabilities(s).watch)]
    if len(able) != 1:
        why = f"several systems can run it: {', '.join(able)}" if able else "no system's connector can run it"
        raise FlowError(f"flow {name!r}: {why}; name its system: with `system:`")
    return able[0]


def runner_for(app: App, name: str, config: FlowConfig) -> Runner:
    if name in SPECIAL:
        return SPECIAL[name]
    wanted = set(_wanted(name, config))
    if not wanted:
        raise FlowError(f"flow {name!r}: no runner for this name; name it one of "
                        f"{', '.join(sorted(set(FLOW_KINDS) | set(SPECIAL)))} or give it kinds:")
    system = flow_system(app, name, config)
    capabilities = app.capabilities(system)
    kinds = wanted & _abilities(app, system)
    if kinds and kinds <= capabilities.push | capabilities.feedback and app.system(system).role == "shop":
        from erpbridge.flows.push import push_flow

        return push_flow
    if kinds and kinds <= capabilities.fetch | capabilities.intake:
        return pull_flow
    if capabilities.watch:
        return watch_flow
    raise FlowError(f"flow {name!r}: the {app.system(system).connector} connector of system {system!r} cannot "
                    f"move {', '.join(sorted(wanted - kinds)) or ', '.join(sorted(wanted))}")


def waits_for(app: App, name: str, config: FlowConfig) -> str | None:
    """The system a flow asks, whose semaphore it waits for: its system for pull and push flows;
    the ERP for reconciliation when there is one ERP (it asks it about unfinished orders); none
    for a watch pass (the files inbox) and pruning, which only read folders and the store."""
    try:
        runner = runner_for(app, name, config)
    except FlowError:
        return None  # it cannot run at all; its run fails and says why
    if runner is reconcile_flow or runner is reconcile_stock_flow:
        erps = list(app.config.systems_with("erp"))
        return erps[0] if len(erps) == 1 else None
    if runner is watch_flow or runner is prune_flow:
        return None
    return flow_system(app, name, config)


def pull_flow(ctx: FlowContext) -> dict:
    """Fetch the flow's kinds from its system and take them in (see :mod:`erpbridge.ingest`)."""
    from erpbridge.ingest import ingest_fetched

    system = ctx.system
    connector = ctx.app.connector(system)
    summary: dict[str, Any] = {"system": system, "since": ctx.since.isoformat() if ctx.since else None,
                               "fetched": 0, "new": 0, "changed": 0, "unchanged": 0, "rejected": 0, "kinds": {}}
    for kind in ctx.kinds:
        report = ingest_fetched(ctx.app, system, kind, connector.fetch(kind, ctx.since), flow=ctx.name)
        counts = {"fetched": report.read, "new": report.new, "changed": report.changed,
                  "unchanged": report.unchanged, "rejected": report.rejected}
        if report.rejections:
            counts["rejections"] = [str(r) for r in report.rejections[:20]]
        summary["kinds"][kind] = counts
        for key in ("fetched", "new", "changed", "unchanged", "rejected"):
            summary[key] += counts[key]
    return summary


def watch_flow(ctx: FlowContext) -> dict:
    """One pass of what the system's connector watches (the files inbox), now."""
    return {"system": ctx.system, **ctx.app.connector(ctx.system).poll()}


def reconcile_flow(ctx: FlowContext) -> dict:
    """Unfinished orders first: if an ERP is down, the run ends offline before queuing anything,
    and the next run (once the ERP is back) does all of it."""
    from erpbridge.outbox.reconcile import reconcile

    return reconcile(ctx.app, offline_is_an_error=True).as_dict()


def reconcile_stock_flow(ctx: FlowContext) -> dict:
    """A scheduled stock reconciliation repairs what it finds; an ERP that is down makes the run
    offline, and the next one compares again."""
    from erpbridge.ingest.reconcile_stock import reconcile_stock

    return reconcile_stock(ctx.app, repair=True, offline_is_an_error=True).as_dict()


def prune_flow(ctx: FlowContext) -> dict:
    from erpbridge.exchange import ExchangeLog
    from erpbridge.flows.runs import FlowRuns

    days = ctx.app.config.exchange_log.retention_days
    return {"retention_days": days, "exchange_log": ExchangeLog.for_app(ctx.app).prune(days),
            "flow_runs": FlowRuns(ctx.app.engine).prune(days)}


SPECIAL: dict[str, Runner] = {"reconcile": reconcile_flow, "reconcile_stock": reconcile_stock_flow,
                              "prune": prune_flow}
