"""``/metrics`` in the Prometheus text format (prometheus-client), for the company's monitoring.

Most figures are read from the store when scraped (:class:`StoreCollector`): the store is what
every process shares, so one scrape of any API process is right however many workers, API
processes and hosts run. Labels are bounded: systems, channels, states, flows, outcomes and
directions, never an order number or a SKU.

* ``erpbridge_outbox_messages{channel,state}``, ``erpbridge_outbox_oldest_pending_age_seconds{channel}``,
  ``erpbridge_outbox_attempts{channel,state}`` (delivery attempts of the messages kept);
* ``erpbridge_system_offline{system}`` (1 while its semaphore holds it offline);
* ``erpbridge_flow_last_success_timestamp_seconds{flow}``, ``erpbridge_flow_runs{flow,outcome}``;
* ``erpbridge_exchange_log_entries{system,direction,outcome}`` (entries kept; pruned after the
  retention, so a gauge) and ``erpbridge_exchange_duration_seconds{system}``, a histogram of the
  last hour's exchanges;
* the KPIs: ``erpbridge_kpi_order_export_latency_seconds{quantile}``,
  ``erpbridge_kpi_inventory_sync_latency_seconds{quantile}``, ``erpbridge_kpi_errors_per_1000{flow}``,
  ``erpbridge_kpi_oversell_incidents``; ``erpbridge_alerts_open{rule}``;
* ``erpbridge_build_info{version}``; per process: ``erpbridge_api_request_duration_seconds
  {method,route,status}`` and the process and Python collectors of prometheus-client. With several
  uvicorn workers in one process tree set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
  multi-process mode) and these are summed over the workers.

The endpoint needs an API key with the scope ``read:metrics`` (or ``admin``).
"""

from __future__ import annotations

import datetime as dt
import os
import time

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.platform_collector import PlatformCollector
from sqlalchemy import case, func, select

from erpbridge import __version__
from erpbridge.api.auth import require
from erpbridge.control import kpis
from erpbridge.control.tables import control_alerts
from erpbridge.exchange.tables import exchange_log
from erpbridge.flows.tables import flow_runs
from erpbridge.outbox.tables import outbox_messages, semaphores
from erpbridge.store.db import as_utc

#: Seconds; the research notes' buckets for calls to peers (10 ms ... 30 s).
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
m = outbox_messages
x = exchange_log


class StoreCollector:
    """Reads the figures every process shares from the store, at each scrape."""

    def __init__(self, hub):
        self.hub = hub

    def collect(self):
        now = dt.datetime.now(dt.timezone.utc)
        info = InfoMetricFamily("erpbridge_build", "the running erpbridge")
        info.add_metric([], {"version": __version__})
        yield info
        with self.hub.engine.connect() as conn:
            yield from self._outbox(conn, now)
            yield from self._systems(conn, now)
            yield from self._flows(conn)
            yield from self._exchanges(conn, now)
            alerts = GaugeMetricFamily("erpbridge_alerts_open", "open alert incidents", labels=["rule"])
            for rule, n in conn.execute(select(control_alerts.c.rule, func.count())
                                        .where(control_alerts.c.open_key.is_not(None)).group_by(control_alerts.c.rule)):
                alerts.add_metric([rule], n)
            yield alerts
        yield from self._kpis()

    def _outbox(self, conn, now):
        messages = GaugeMetricFamily("erpbridge_outbox_messages", "outbox messages", labels=["channel", "state"])
        attempts = GaugeMetricFamily("erpbridge_outbox_attempts", "delivery attempts of the outbox's messages",
                                     labels=["channel", "state"])
        for channel, state, n, tries in conn.execute(
                select(m.c.channel, m.c.state, func.count(), func.sum(m.c.attempts)).group_by(m.c.channel, m.c.state)):
            messages.add_metric([channel, state], n)
            attempts.add_metric([channel, state], tries or 0)
        oldest = GaugeMetricFamily("erpbridge_outbox_oldest_pending_age_seconds", "age of the oldest pending message",
                                   labels=["channel"])
        for channel, created in conn.execute(select(m.c.channel, func.min(m.c.created_at))
                                             .where(m.c.state == "pending").group_by(m.c.channel)):
            oldest.add_metric([channel], (now - as_utc(created)).total_seconds())
        yield from (messages, attempts, oldest)

    def _systems(self, conn, now):
        offline = GaugeMetricFamily("erpbridge_system_offline", "1 while the system's semaphore holds it offline",
                                    labels=["system"])
        held = {s: as_utc(u) for s, u in conn.execute(select(semaphores.c.system, semaphores.c.offline_until))}
        for system in sorted(set(self.hub.config.systems) | set(held)):
            until = held.get(system)
            offline.add_metric([system], 1 if until is not None and until > now else 0)
        yield offline

    def _flows(self, conn):
        success = GaugeMetricFamily("erpbridge_flow_last_success_timestamp_seconds",
                                    "when the flow's last successful run ended", labels=["flow"])
        for flow, at in conn.execute(select(flow_runs.c.flow, func.max(flow_runs.c.finished_at))
                                     .where(flow_runs.c.outcome == "ok").group_by(flow_runs.c.flow)):
            success.add_metric([flow], as_utc(at).timestamp())
        runs = GaugeMetricFamily("erpbridge_flow_runs", "flow runs kept, by outcome", labels=["flow", "outcome"])
        for flow, outcome, n in conn.execute(select(flow_runs.c.flow, flow_runs.c.outcome, func.count())
                                             .group_by(flow_runs.c.flow, flow_runs.c.outcome)):
            runs.add_metric([flow, outcome], n)
        yield from (success, runs)

    def _exchanges(self, conn, now):
        entries = GaugeMetricFamily("erpbridge_exchange_log_entries", "exchanges kept in the exchange log",
                                    labels=["system", "direction", "outcome"])
        for system, direction, outcome, n in conn.execute(
                select(x.c.system, x.c.direction, x.c.outcome, func.count())
                .group_by(x.c.system, x.c.direction, x.c.outcome)):
            entries.add_metric([system, direction, outcome], n)
        durations = HistogramMetricFamily("erpbridge_exchange_duration_seconds",
                                          "durations of the last hour's exchanges", labels=["system"])
        columns = [func.sum(case((x.c.duration_ms <= b * 1000, 1), else_=0)) for b in BUCKETS]
        for system, total, seconds, *counts in conn.execute(
                select(x.c.system, func.count(), func.sum(x.c.duration_ms) / 1000, *columns)
                .where(x.c.at >= now - dt.timedelta(hours=1)).group_by(x.c.system)):
            durations.add_metric([system], [(str(b), c or 0) for b, c in zip(BUCKETS, counts)] + [("+Inf", total)],
                                 sum_value=float(seconds or 0))
        yield from (entries, durations)

    def _kpis(self):
        found = kpis.cached(self.hub)
        for name, key in (("order_export_latency", "order_export_latency"),
                          ("inventory_sync_latency", "inventory_sync_latency")):
            gauge = GaugeMetricFamily(f"erpbridge_kpi_{name}_seconds", f"{name.replace('_', ' ')} over the KPI window",
                                      labels=["quantile"])
            for quantile in ("p50", "p95"):
                value = found[key].get(f"{quantile}_seconds")
                if value is not None:
                    gauge.add_metric([f"0.{quantile[1:]}"], value)
            yield gauge
        errors = GaugeMetricFamily("erpbridge_kpi_errors_per_1000", "failed exchanges per 1,000", labels=["flow"])
        for flow, rate in found["error_rate"]["per_1000_by_flow"].items():
            errors.add_metric([flow], rate)
        yield errors
        yield GaugeMetricFamily("erpbridge_kpi_oversell_incidents",
                                "ERP refusals for stock and order lines over the ERP's stock found by stock "
                                "reconciliation, over the KPI window", value=found["oversell"]["incidents"])


def _registry(hub) -> tuple[CollectorRegistry, Histogram]:
    registry = store_registry(hub)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
        # registered nowhere: in multi-process mode its values go to the shared files the collector reads
        requests = Histogram("erpbridge_api_request_duration_seconds", "API request durations",
                             ["method", "route", "status"], buckets=BUCKETS, registry=None)
    else:
        requests = Histogram("erpbridge_api_request_duration_seconds", "API request durations",
                             ["method", "route", "status"], buckets=BUCKETS, registry=registry)
    return registry, requests


def store_registry(hub) -> CollectorRegistry:
    """The figures of the store, and of this process unless in multi-process mode (there the
    shared files' collector reports each process): what a worker-only process serves too."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(hub))
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
    return registry


def install(api, hub) -> None:
    """Add ``/metrics`` (scope ``read:metrics``) and the request timer to the API app."""
    registry, requests = _registry(hub)
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics", dependencies=[Depends(require("read:metrics"))])
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    api.include_router(router)
    api.add_middleware(RequestTimer, histogram=requests)


class RequestTimer:
    """Times each HTTP request by its route's template ("/orders/{number}", never the path
    itself: labels stay bounded). Plain ASGI: no per-request task, the shop's hot path pays little."""

    def __init__(self, app, histogram: Histogram):
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None)
            label = scope.get("root_path", "") + route if route is not None else "other"
            self.histogram.labels(scope["method"], label, str(status)).observe(time.perf_counter() - started)
