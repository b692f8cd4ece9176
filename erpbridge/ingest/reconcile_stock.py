"""Stock reconciliation (issue 16): the stock that differs between the ERP and the store.

Delta imports can miss a change (a file that never arrived, an ERP that changed stock without
touching the record's write date, a row edited in the store by hand), and then the shop sells
what the ERP does not have. This check is the safety net, like the orders' (:mod:`erpbridge.
outbox.reconcile`):

* every ERP whose connector can be asked for stock (``fetch("stock")``) is asked for all of it
  (no ``since``); its answer is read a batch at a time (``BATCH`` records) and each batch is
  compared, per SKU and warehouse, with what the store holds, so memory holds one batch plus one
  hash per stock row seen (to find the rows no ERP listed: about 90 bytes per row, measured by
  ``bench/reconcile_stock.py``);
* a store value written in the last ``stock_in_flight_minutes`` is *in flight* (a newer delta
  than the ERP's answer may be, or its push is still on its way): counted, never a difference;
* a stock row the store holds that no ERP listed counts as 0 in the ERP (ERPs leave out what
  they have none of); this is only looked at when every ERP could be asked, since a row may
  belong to an ERP that could not;
* with ``repair``, the ERP's values are written into the store through the one ingest path, as
  deltas, so the push flows send them to every shop that receives stock. The ERP is the source of
  truth; nothing is ever written towards it;
* *oversold* lists the accepted orders (of the last ``control.kpis.window_hours``, placed after
  the store's wrong value was written) with a line for more than the ERP's salable stock of the
  SKU (its sum over warehouses, never below 0) where the store held more: the oversell KPI
  counts each (order, SKU) once (:mod:`erpbridge.control.kpis`).

Then every shop that receives stock and whose connector can read it back is compared
(``read_stock(levels)``: for (SKU, warehouse) rows, the shop's quantity, None where it holds none,
left out where the row is not one it holds; Magento: its MSI source items; Shopify: the
inventory levels of the mapped locations) with the store, a batch of the store's rows at a time,
those the shop's selection takes (its ``receives:``, as the push flow chooses them): a row changed
after the shop's push cursor, or while a stock push to the shop is pending, is in flight; a shop
value that differs from the store's (or that the shop lacks) is a difference, and ``repair`` sends
the store's value to the shop again (a ``push_stock`` message, as the push flow would). Shops whose
connector cannot read stock (oscar, Commerceup, the rest) are named in ``shops_unchecked``.

A run is kept like the orders' reconciliation (flow ``reconcile_stock``, in ``flow_runs``, shown
on the control center's reconciliation page); the lists in its report stop at ``LISTED``
entries, their counts are whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Iterable

import orjson
from sqlalchemy import func, select

from erpbridge.connectors.registry import PUSH_OPERATIONS
from erpbridge.errors import GeneralError
from erpbridge.flows.runs import FlowRuns
from erpbridge.ingest.fetched import Builder, ingest_fetched
from erpbridge.outbox.messages import enqueue_many
from erpbridge.outbox.tables import outbox_messages
from erpbridge.records import StockLevel
from erpbridge.records.base import canonical_decimal, key_of
from erpbridge.store.db import as_utc, write_transaction
from erpbridge.store.records import LOOKUP_CHUNK
from erpbridge.store.tables import orders, stock

FLOW = "reconcile_stock"
#: ERP records compared (and repaired) per batch.
BATCH = 1000
#: Differences, rejections and oversold lines kept in a report (the counts are whole).
LISTED = 200


@dataclass
class StockReconcileReport:
    erps: str
    in_flight_minutes: float
    repair: bool
    #: ERP stock rows compared with the store's (in flight ones included)
    compared: int = 0
    in_flight: int = 0
    #: how many differ; ``differences`` lists the first LISTED: side ("erp": the ERP against the
    #: store; "shop": a shop against the store), system, sku, warehouse, erp, store, shop,
    #: store_age_minutes (erp None on the ERP side: no ERP listed it, counted as 0; store None: the
    #: store has none; shop None on the shop side: the shop has none)
    differing: int = 0
    differences: list[dict] = field(default_factory=list)
    #: rows written into the store by the repair (new or changed)
    repaired: int = 0
    #: shop rows compared, differing (also counted in ``differing``) and sent again by the repair
    shop_compared: int = 0
    shop_differing: int = 0
    resent: int = 0
    #: shops not compared, and why (None: every shop that receives stock was)
    shops_unchecked: str | None = None
    #: ERP records that could not be read, and repairs ingest refused: "system: location: reason"
    rejected: int = 0
    rejections: list[str] = field(default_factory=list)
    #: order lines accepted for more than the ERP's stock: order, sku, quantity, erp, store
    oversold: list[dict] = field(default_factory=list)
    #: ERPs not asked, and why (None: all were)
    unchecked: str | None = None

    @property
    def needs_repair(self) -> bool:
        return bool(self.differing or self.rejected)

    def as_dict(self) -> dict:
        return asdict(self)


def reconcile_stock(app, *, repair: bool = False, in_flight_minutes: float | None = None,
                    offline_is_an_error: bool = False, batch: int = BATCH) -> StockReconcileReport:
    """Compare every askable ERP's stock with the store's (and with ``repair`` write the ERP's
    values in). An ERP that is down is named in ``unchecked``, unless ``offline_is_an_error``
    (the scheduled flow, which runs again later) raises its GeneralError."""
    minutes = app.config.outbox.stock_in_flight_minutes if in_flight_minutes is None else in_flight_minutes
    erps = list(app.config.systems_with("erp"))
    report = StockReconcileReport(erps=", ".join(erps), in_flight_minutes=minutes, repair=repair)
    now = dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(minutes=minutes)
    seen: set[int] = set()
    #: sku -> {"since": its oldest wrong store value, "delta": erp - store, "store_total": before repairs}
    overstated: dict[str, dict] = {}
    unchecked = []
    for system in erps:
        if "stock" not in app.capabilities(system).fetch:
            unchecked.append(f"the {app.system(system).connector} connector of {system} cannot be asked for stock")
            continue
        try:
            _compare(app, system, app.connector(system).fetch("stock", None), report, seen, overstated,
                     cutoff, now, batch)
        except GeneralError as exc:
            if offline_is_an_error:
                raise
            unchecked.append(f"{system} is unavailable: {exc}")
    if unchecked:
        report.unchecked = "; ".join(unchecked)
    else:
        _not_listed(app, report, seen, overstated, cutoff, now, batch)
    _oversold(app, report, overstated, now)
    shops_unchecked = []
    for shop in app.config.systems_with("shop"):
        if "stock" in app.capabilities(shop).push:
            try:
                why = _compare_shop(app, shop, report, cutoff, now, batch)
            except GeneralError as exc:
                why = f"{shop} is unavailable: {exc}"
            if why:
                shops_unchecked.append(why)
    report.shops_unchecked = "; ".join(shops_unchecked) or None
    return report


def recorded(app, *, trigger: str, **options) -> StockReconcileReport:
    """:func:`reconcile_stock`, kept as a run of the ``reconcile_stock`` flow (as the scheduled
    flow's are) for the control center and the oversell KPI."""
    runs = FlowRuns(app.engine)
    run = runs.start(FLOW, trigger=trigger)
    try:
        report = reconcile_stock(app, **options)
    except Exception as exc:
        runs.finish(run.id, "failed", error=str(exc))
        raise
    runs.finish(run.id, "rejected" if report.rejected else "ok", report.as_dict())
    return report


def _compare(app, system: str, items: Iterable, report: StockReconcileReport, seen: set[int],
             overstated: dict, cutoff: dt.datetime, now: dt.datetime, batch: int) -> None:
    builder = Builder(app, system, "stock")
    iterator, position = iter(items), 0
    while chunk := list(islice(iterator, batch)):
        records: dict[str, StockLevel] = {}
        for item in chunk:
            position += 1
            location, record, errors = builder.row(item, position)
            if record is None or not isinstance(record, StockLevel):
                why = "; ".join(f"{e.field}: {e.reason}" for e in errors) or f"not a stock level: {record!r}"
                _reject(report, f"{system}: stock {location}: {why}")
                continue
            records[key_of((record.sku, record.warehouse))] = record  # a later answer for a row wins
        stored = _stored(app, list(records))
        wrong = []
        for key, record in records.items():
            seen.add(hash(key))
            report.compared += 1
            quantity, updated_at = stored.get(key, (None, None))
            if quantity == record.quantity:
                continue
            if updated_at is not None and updated_at >= cutoff:
                report.in_flight += 1
                continue
            _differ(report, overstated, system, record.sku, record.warehouse, record.quantity, quantity,
                    updated_at, now)
            wrong.append(record)
        _store_totals(app, overstated, {r.sku for r in wrong})
        if report.repair and wrong:
            _repair(app, system, wrong, report)


def _not_listed(app, report: StockReconcileReport, seen: set[int], overstated: dict, cutoff: dt.datetime,
                now: dt.datetime, batch: int) -> None:
    """Store rows no ERP listed: 0 in the ERP. Read in key order a batch at a time."""
    zeros: list[StockLevel] = []
    last = ""
    while True:
        with app.engine.connect() as conn:
            rows = conn.execute(select(stock.c.key, stock.c.sku, stock.c.warehouse, stock.c.quantity,
                                       stock.c.updated_at).where(stock.c.key > last)
                                .order_by(stock.c.key).limit(batch)).all()
        if not rows:
            break
        last = rows[-1].key
        for key, sku, warehouse, quantity, updated_at in rows:
            if hash(key) in seen or quantity == 0:
                continue
            if as_utc(updated_at) >= cutoff:
                report.in_flight += 1
                continue
            _differ(report, overstated, None, sku, warehouse, None, quantity, as_utc(updated_at), now)
            zeros.append(StockLevel(sku=sku, warehouse=warehouse, quantity=Decimal(0)))
        _store_totals(app, overstated, {z.sku for z in zeros})
        if report.repair and zeros:  # under the first ERP's name: every ERP was asked, none listed them
            _repair(app, next(iter(app.config.systems_with("erp"))), zeros, report)
            zeros = []


def _listed(report: StockReconcileReport, side: str, system: str | None, sku: str, warehouse: str,
            updated_at: dt.datetime | None, now: dt.datetime, **values: Decimal | None) -> None:
    report.differing += 1
    if len(report.differences) < LISTED:
        shown = {name: values.get(name) for name in ("erp", "store", "shop")}
        report.differences.append({
            "side": side, "system": system, "sku": sku, "warehouse": warehouse,
            **{name: None if value is None else str(canonical_decimal(value)) for name, value in shown.items()},
            "store_age_minutes": None if updated_at is None else round((now - updated_at).total_seconds() / 60, 1)})


def _differ(report: StockReconcileReport, overstated: dict, system: str | None, sku: str, warehouse: str,
            erp: Decimal | None, store: Decimal | None, updated_at: dt.datetime | None, now: dt.datetime) -> None:
    _listed(report, "erp", system, sku, warehouse, updated_at, now, erp=erp, store=store)
    delta = (erp or Decimal(0)) - (store or Decimal(0))
    entry = overstated.setdefault(sku, {"since": updated_at or now, "delta": Decimal(0)})
    entry["delta"] += delta
    if updated_at is not None:
        entry["since"] = min(entry["since"], updated_at)


def _compare_shop(app, shop: str, report: StockReconcileReport, cutoff: dt.datetime, now: dt.datetime,
                  batch: int) -> str | None:
    """Compare one shop's stock with the store's; returns why it was not compared (or None)."""
    from erpbridge.flows.push import Selection, cursor_of, push_messages

    read = getattr(app.connector(shop), "read_stock", None)
    if read is None:
        return f"the {app.system(shop).connector} connector of {shop} cannot read stock back"
    m = outbox_messages
    with app.engine.connect() as conn:
        if conn.execute(select(m.c.id).where(m.c.channel == shop, m.c.operation == PUSH_OPERATIONS["stock"],
                                             m.c.state.in_(("pending", "running"))).limit(1)).first():
            return f"a stock push to {shop} is on its way (compared once it is delivered)"
        pushed = cursor_of(conn, shop, "stock")
    selection, last = Selection(app, shop), ""
    while True:
        with app.engine.connect() as conn:
            rows = conn.execute(select(stock.c.key, stock.c.data, stock.c.updated_at).where(stock.c.key > last)
                                .order_by(stock.c.key).limit(batch)).all()
            if not rows:
                return None
            last = rows[-1].key
            chosen = selection.take(conn, "stock", rows)
        changed = {row.key: as_utc(row.updated_at) for row in rows}
        held = read([(c.record["sku"], c.record["warehouse"]) for c in chosen]) if chosen else {}
        wrong = []
        for c in chosen:
            updated_at, record = changed[c.key], c.record
            level = (record["sku"], record["warehouse"])
            if level not in held:  # not one the shop holds (Shopify: a warehouse mapped to no location)
                continue
            report.shop_compared += 1
            if updated_at >= cutoff or (updated_at, c.key) > pushed:
                report.in_flight += 1
                continue
            value, store = held[level], Decimal(str(record["quantity"]))
            if value == store:
                continue
            report.shop_differing += 1
            _listed(report, "shop", shop, record["sku"], record["warehouse"], updated_at, now, store=store, shop=value)
            wrong.append(c)
        if report.repair and wrong:
            with write_transaction(app.engine) as conn:
                enqueue_many(conn, push_messages(shop, "stock", wrong))
            report.resent += len(wrong)


def _repair(app, system: str, records: list[StockLevel], report: StockReconcileReport) -> None:
    done = ingest_fetched(app, system, "stock", records, flow=FLOW)
    report.repaired += done.new + done.changed
    report.rejected += done.rejected
    report.rejections += [f"repair refused: {r}" for r in done.rejections][:LISTED - len(report.rejections)]


def _reject(report: StockReconcileReport, why: str) -> None:
    report.rejected += 1
    if len(report.rejections) < LISTED:
        report.rejections.append(why)


def _stored(app, keys: list[str]) -> dict[str, tuple[Decimal, dt.datetime]]:
    found = {}
    with app.engine.connect() as conn:
        for start in range(0, len(keys), LOOKUP_CHUNK):
            for key, quantity, updated_at in conn.execute(
                    select(stock.c.key, stock.c.quantity, stock.c.updated_at)
                    .where(stock.c.key.in_(keys[start:start + LOOKUP_CHUNK]))):
                found[key] = (quantity, as_utc(updated_at))
    return found


def _store_totals(app, overstated: dict, skus: set[str]) -> None:
    """The store's total of each SKU that differs, taken once, before a repair changes it."""
    wanted = sorted(sku for sku in skus if "store_total" not in overstated[sku])
    if not wanted:
        return
    with app.engine.connect() as conn:
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start:start + LOOKUP_CHUNK]
            totals = dict(conn.execute(select(stock.c.sku, func.sum(stock.c.quantity))
                                       .where(stock.c.sku.in_(chunk)).group_by(stock.c.sku)).all())
            for sku in chunk:
                overstated[sku]["store_total"] = Decimal(totals.get(sku) or 0)


def _oversold(app, report: StockReconcileReport, overstated: dict, now: dt.datetime) -> None:
    """Accepted order lines for more than the ERP's salable stock of an SKU the store overstated.
    The ERP's total is the store's total plus what differed (in-flight rows count as the store's)."""
    skus = sorted(sku for sku, entry in overstated.items() if entry["delta"] < 0)
    if not skus:
        return
    horizon = now - dt.timedelta(hours=app.config.control.kpis.window_hours)
    since = max(horizon, min(overstated[sku]["since"] for sku in skus))
    last: tuple[dt.datetime, str] | None = None
    while True:  # the window's accepted orders, a batch at a time
        with app.engine.connect() as conn:
            stmt = (select(orders.c.key, orders.c.created_at, orders.c.data)
                    .where(orders.c.state == "accepted", orders.c.created_at >= since)
                    .order_by(orders.c.created_at, orders.c.key).limit(BATCH))
            if last is not None:
                stmt = stmt.where((orders.c.created_at > last[0])
                                  | ((orders.c.created_at == last[0]) & (orders.c.key > last[1])))
            rows = conn.execute(stmt).all()
        if not rows:
            return
        last = (rows[-1].created_at, rows[-1].key)
        for number, created_at, data in rows:
            wanted: dict[str, Decimal] = {}
            for line in orjson.loads(data)["lines"]:
                if line["sku"] in overstated:
                    wanted[line["sku"]] = wanted.get(line["sku"], Decimal(0)) + Decimal(str(line["quantity"]))
            for sku, quantity in wanted.items():
                entry = overstated[sku]
                store = entry["store_total"]
                erp = max(store + entry["delta"], Decimal(0))
                if entry["delta"] < 0 and quantity > erp and as_utc(created_at) >= entry["since"] \
                        and len(report.oversold) < LISTED:
                    report.oversold.append({"order": number, "sku": sku, "quantity": str(canonical_decimal(quantity)),
                                            "erp": str(canonical_decimal(erp)),
                                            "store": str(canonical_decimal(max(store, Decimal(0))))})
