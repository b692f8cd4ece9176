"""Seed 004's KPIs, worked out from what the store records (``erpbridge kpis``, the overview).

* order export latency p50/p95: from an order's acceptance (its ``send_order`` message is written
  in the same transaction) to its ERP id (the message is done when the ERP answered with it);
* inventory sync latency p95: from a stock change queued for a system (a message whose operation
  names stock) until it was delivered, per channel and overall;
* error rate per flow: exchanges with another outcome than ``ok`` per 1,000 exchanges;
* oversell incidents: the ERP's refusals for stock (message errors whose text speaks of stock),
  and the accepted order lines the stock reconciliation found for more than the ERP had (a stock
  difference the store overstated: :mod:`erpbridge.ingest.reconcile_stock`), each (order, SKU)
  once however many runs found it;
* backlog per channel against its normal: pending now against the median of what was pending at
  the same time of day on each of the 7 days before (worked out from the messages' created and
  done times, so it needs no samples).

All look back ``control.kpis.window_hours`` (24 by default).
"""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time

import orjson
from sqlalchemy import Float, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from erpbridge.control.tables import control_kpi_samples
from erpbridge.exchange.tables import exchange_log
from erpbridge.flows.tables import flow_runs
from erpbridge.ingest.reconcile_stock import FLOW as STOCK_RECONCILIATION
from erpbridge.outbox.tables import outbox_messages
from erpbridge.store.db import as_utc

m = outbox_messages
x = exchange_log
#: At most this many latencies are read per KPI (the newest): enough for a p95 (500 above it),
#: bounded on a big store (reading 50,000 took 50 ms of the page's 200).
SAMPLE = 10_000
STOCK_WORDS = ("stock", "inventory", "insufficient", "not available", "unavailable")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def percentile(values: list[float], p: float) -> float | None:
    """The nearest-rank ``p`` percentile (0-100), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))]


class seconds_between(FunctionElement):
    """``end - start`` in seconds, worked out by the database: a day's latencies are tens of
    thousands of rows, and turning each one's two timestamps into datetimes in Python took
    longer than the page may (100 ms of the KPIs' 300 ms at 1,000,000 messages)."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between)
def _seconds(element, compiler, **kw):  # PostgreSQL
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def _latencies(conn, since: dt.datetime, *where) -> list[tuple[str, float]]:
    return [(c, round(float(s), 3)) for c, s in conn.execute(
        select(m.c.channel, seconds_between(m.c.created_at, m.c.done_at))
        .where(m.c.state == "done", m.c.done_at >= since, *where).order_by(m.c.id.desc()).limit(SAMPLE))]


#: A message counts towards a past moment's backlog if it was created at most this long before it
#: (older ones are dead or stuck, and alerted on as such): the look-up reads one day of messages
#: (with an index on (channel, created_at) on the outbox branch, not the whole table).
BACKLOG_HORIZON = dt.timedelta(days=1)
_cache_lock = threading.Lock()


#: The normal is worked out at this resolution (seconds): within one such step of the day every
#: caller of a process reuses it (seven counts over a day of messages each: 55 ms at 1,000,000).
NORMAL_STEP = 300
_normals: dict[tuple[int, str, int], float] = {}


def backlog(conn, channel: str, now: dt.datetime) -> tuple[int, float]:
    """Pending (and running) messages of ``channel`` now, and its normal."""
    def at(moment: dt.datetime) -> int:
        return conn.execute(select(func.count()).select_from(m).where(
            m.c.channel == channel, m.c.created_at <= moment, m.c.created_at > moment - BACKLOG_HORIZON,
            or_(m.c.done_at.is_(None), m.c.done_at > moment), m.c.state != "dead")).scalar_one()
    current = conn.execute(select(func.count()).select_from(m).where(
        m.c.channel == channel, m.c.state.in_(("pending", "running")))).scalar_one()
    key = (id(conn.engine), channel, int(now.timestamp() // NORMAL_STEP))
    with _cache_lock:
        normal = _normals.get(key)
    if normal is None:
        normal = statistics.median(at(now - dt.timedelta(days=d)) for d in range(1, 8))
        with _cache_lock:
            for old in [k for k in _normals if k[2] != key[2]]:
                del _normals[old]
            _normals[key] = normal
    return current, normal


def _oversold(conn, since: dt.datetime) -> int:
    """The (order, SKU) pairs the stock reconciliation runs of the window found oversold (a run
    lists at most a few hundred; runs are hourly or nightly, so this reads a few dozen summaries)."""
    pairs = set()
    for summary in conn.execute(select(flow_runs.c.summary).where(
            flow_runs.c.flow == STOCK_RECONCILIATION, flow_runs.c.started_at >= since,
            flow_runs.c.summary.is_not(None))).scalars():
        pairs.update((line["order"], line["sku"]) for line in orjson.loads(summary).get("oversold") or [])
    return len(pairs)


def compute(hub, now: dt.datetime | None = None) -> dict:
    """The KPIs with their targets and whether each is met (``ok``)."""
    now = now or _now()
    targets = hub.config.control.kpis
    since = now - dt.timedelta(hours=targets.window_hours)
    with hub.engine.connect() as conn:
        orders = [s for _, s in _latencies(conn, since, m.c.operation == "send_order")]
        stock = _latencies(conn, since, m.c.operation.contains("stock"))
        flows = conn.execute(select(x.c.flow, func.count(), func.count().filter(x.c.outcome != "ok"))
                             .where(x.c.at >= since).group_by(x.c.flow)).all()
        refusals = conn.execute(select(func.count()).select_from(x).where(
            x.c.at >= since, x.c.outcome == "message_error",
            or_(*[func.lower(x.c.error).contains(w) for w in STOCK_WORDS]))).scalar_one()
        oversold = _oversold(conn, since)
        channels = sorted(set(hub.config.systems) | set(conn.execute(
            select(m.c.channel).distinct()).scalars()))
        backlogs = {c: backlog(conn, c, now) for c in channels}
    order_p95 = percentile(orders, 95)
    stock_p95 = percentile([s for _, s in stock], 95)
    error_rates = {flow: round(errors * 1000 / total, 2) for flow, total, errors in flows if total}
    return {
        "at": now, "window_hours": targets.window_hours,
        "order_export_latency": {"p50_seconds": percentile(orders, 50), "p95_seconds": order_p95, "count": len(orders),
                                 "target_p95_seconds": targets.order_export_p95_seconds,
                                 "ok": order_p95 is None or order_p95 < targets.order_export_p95_seconds},
        "inventory_sync_latency": {
            "p95_seconds": stock_p95, "count": len(stock), "target_p95_seconds": targets.inventory_sync_p95_seconds,
            "per_channel": {c: percentile([s for ch, s in stock if ch == c], 95)
                            for c in sorted({c for c, _ in stock})},
            "ok": stock_p95 is None or stock_p95 < targets.inventory_sync_p95_seconds},
        "error_rate": {"per_1000_by_flow": error_rates, "target_per_1000": targets.errors_per_1000,
                       "ok": all(rate < targets.errors_per_1000 for rate in error_rates.values())},
        "oversell": {"incidents": refusals + oversold, "erp_refusals": refusals, "found_by_reconciliation": oversold,
                     "target": targets.oversell_incidents, "ok": refusals + oversold <= targets.oversell_incidents},
        "backlog": {c: {"pending": cur, "normal": normal} for c, (cur, normal) in backlogs.items()},
    }


_cache: dict[int, tuple[float, dict]] = {}
#: The pages and /metrics reuse the KPIs worked out in the last this many seconds: a scrape or a
#: reload each second must not redo a day's percentiles each time.
CACHE_SECONDS = 15.0


def cached(hub) -> dict:
    """:func:`compute`, reused for ``CACHE_SECONDS`` within this process."""
    key = id(hub.engine)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    found = compute(hub)
    with _cache_lock:
        _cache[key] = (time.monotonic(), found)
    return found


def failing(kpis: dict) -> dict[str, str]:
    """The KPIs past their target, each with a sentence saying by how much."""
    found = {}
    o, s, e, v = kpis["order_export_latency"], kpis["inventory_sync_latency"], kpis["error_rate"], kpis["oversell"]
    if not o["ok"]:
        found["order_export_latency"] = f"order export latency p95 {o['p95_seconds']:.0f} s (target < " \
                                        f"{o['target_p95_seconds']:.0f} s)"
    if not s["ok"]:
        found["inventory_sync_latency"] = f"inventory sync latency p95 {s['p95_seconds']:.0f} s (target < " \
                                          f"{s['target_p95_seconds']:.0f} s)"
    for flow, rate in e["per_1000_by_flow"].items():
        if rate >= e["target_per_1000"]:
            found[f"error_rate {flow}"] = f"flow {flow}: {rate:g} errors per 1,000 exchanges (target < " \
                                          f"{e['target_per_1000']:g})"
    if not v["ok"]:
        found["oversell"] = (f"{v['incidents']} oversell incident(s): {v['erp_refusals']} ERP refusal(s) for stock, "
                             f"{v['found_by_reconciliation']} order line(s) over the ERP's stock found by stock "
                             f"reconciliation (target {v['target']})")
    return found




#: The KPIs over time: a sample every this many seconds (by the alert checks), kept this many days.
SAMPLE_STEP = 300
SAMPLE_DAYS = 8
#: What is sampled: name -> (label, unit, the figure in compute()'s result, its target).
CHARTED = {
    "order_export_p95": ("Order export latency p95", "s", lambda k: k["order_export_latency"]["p95_seconds"],
                         lambda k: k["order_export_latency"]["target_p95_seconds"]),
    "inventory_sync_p95": ("Inventory sync latency p95", "s", lambda k: k["inventory_sync_latency"]["p95_seconds"],
                           lambda k: k["inventory_sync_latency"]["target_p95_seconds"]),
    "errors_per_1000": ("Errors per 1,000 exchanges (worst flow)", "",
                        lambda k: max(k["error_rate"]["per_1000_by_flow"].values(), default=None),
                        lambda k: k["error_rate"]["target_per_1000"]),
    "oversell": ("Oversell incidents", "", lambda k: k["oversell"]["incidents"], lambda k: k["oversell"]["target"]),
    "backlog": ("Messages pending (all channels)", "", lambda k: sum(b["pending"] for b in k["backlog"].values()),
                lambda k: None),
}


def record_sample(hub, figures: dict) -> bool:
    """Keep ``figures`` (from :func:`compute`) as this step's sample, unless another process did;
    drop the samples older than ``SAMPLE_DAYS``. True if this call wrote them."""
    at = figures["at"]
    step = dt.datetime.fromtimestamp(at.timestamp() // SAMPLE_STEP * SAMPLE_STEP, dt.timezone.utc)
    rows = [{"at": step, "kpi": name, "value": value(figures)} for name, (_, _, value, _) in CHARTED.items()]
    s = control_kpi_samples
    try:
        with hub.engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(s).where(s.c.at == step)).scalar_one():
                return False
            conn.execute(insert(s), rows)
            conn.execute(delete(s).where(s.c.at < at - dt.timedelta(days=SAMPLE_DAYS)))
    except IntegrityError:  # another process wrote this step's samples meanwhile
        return False
    return True


def history(hub, hours: float, now: dt.datetime | None = None) -> dict[str, list[tuple[dt.datetime, float | None]]]:
    """Each charted KPI's samples of the last ``hours``, oldest first."""
    s = control_kpi_samples
    since = (now or _now()) - dt.timedelta(hours=hours)
    found: dict[str, list] = {name: [] for name in CHARTED}
    with hub.engine.connect() as conn:
        for at, kpi, value in conn.execute(select(s.c.at, s.c.kpi, s.c.value).where(s.c.at >= since)
                                           .order_by(s.c.at)):
            if kpi in found:
                found[kpi].append((as_utc(at), value))
    return found


__all__ = ["compute", "failing", "history", "percentile", "record_sample"]
