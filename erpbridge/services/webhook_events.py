"""Webhook events for what changed in the store: order feedback and the catalog.

What it is: the ERP's feedback (statuses, shipments, invoices, credit memos) and master data
(products, prices, stock) reach the store through several paths (pull flows, the file inbox,
the outbox's answers). Rather than hook each of them, :func:`publish_changes` reads what changed
from the store itself and announces it to the webhook subscribers through the outbox
(:func:`erpbridge.connectors.webhooks.publish`), which signs, delivers, retries and logs it.

How it works: every record table has ``updated_at``, set only when a record's content really
changed (hash-based writes). For each kind a cursor ``(updated_at, key)`` in ``webhook_cursors``
says how far events were published. A pass reads the rows after the cursor, up to a horizon of
``settle`` seconds ago (so a transaction still committing rows stamped a moment earlier is not
overtaken), enqueues the events and moves the cursor, all in one write transaction: two
processes running it at once publish each change once.

* order feedback: one event per record (``order.status``, ``order.shipment``, ``order.invoice``,
  ``order.credit_memo``) carrying the record, keyed by the order so a subscriber gets one
  order's events in order;
* catalog: one event per batch of up to ``BATCH`` SKUs (``product.changed``, ``price.changed``,
  ``stock.changed``) with ``data.skus``; a nightly import of a million products makes two
  thousand events per subscriber, not a million, and the shop re-reads what it shows.

Caveats: the first pass for a kind publishes nothing and only sets the cursor to now (a new
subscriber is not sent the whole history); a transaction that commits more than ``settle``
seconds after stamping its rows is missed. `erpbridge run` (with or without the API) and
`erpbridge serve` run a pass every ``scan_interval`` seconds while a webhooks system is
configured; `erpbridge webhooks publish` runs one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from typing import Iterable

import orjson
from sqlalchemy import and_, insert, or_, select, update

from erpbridge.services.tables import webhook_cursors
from erpbridge.connectors.webhooks import publish, webhook_systems
from erpbridge.services.transaction import retrying
from erpbridge.store.db import as_utc
from erpbridge.store.tables import RECORD_TABLES

#: Store kind -> event, for events that carry one record each.
RECORD_EVENTS = {"order_statuses": "order.status", "shipments": "order.shipment", "invoices": "order.invoice",
                 "credit_memos": "order.credit_memo"}
#: Store kind -> (event, column holding the SKU), for events that carry a batch of SKUs.
CATALOG_EVENTS = {"products": ("product.changed", "key"), "prices": ("price.changed", "sku"),
                  "stock": ("stock.changed", "sku")}
#: SKUs per catalog event.
BATCH = 500
#: Rows read per kind and pass; the next pass goes on from there.
ROWS_PER_PASS = 20_000

log = logging.getLogger(__name__)


def _event_id(*parts: object) -> str:
    return "evt_" + hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=12).hexdigest()


def publish_changes(app, *, settle: float | None = None, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass over every kind; returns the number of events enqueued per kind. ``settle``
    defaults to the smallest of the webhooks systems' settings."""
    systems = webhook_systems(app.config)
    if not systems:
        return {}
    settle = min(s.settle for s in systems.values()) if settle is None else settle
    horizon = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(seconds=settle)
    kinds = (*RECORD_EVENTS, *CATALOG_EVENTS)
    # Look first, write only for kinds with news: on SQLite a pass must not take the one write
    # lock seven times every few seconds while flows and orders are writing.
    with app.engine.connect() as conn:
        due = {kind for kind in kinds if _has_news(conn, kind, horizon)}
    return {kind: retrying(app.engine, lambda conn, kind=kind: _publish_kind(conn, app.config, kind, horizon))
            if kind in due else 0 for kind in kinds}


def run_publisher(app, stop: threading.Event) -> None:
    """:func:`publish_changes` every ``scan_interval`` seconds until ``stop`` is set: what
    `erpbridge run --no-api` runs (an API server runs its own, see ``erpbridge.api.app``)."""
    systems = webhook_systems(app.config)
    if not systems:
        return
    interval = min(s.scan_interval for s in systems.values())
    while not stop.is_set():
        try:
            publish_changes(app)
        except Exception:
            log.exception("webhook change publisher: the pass failed; retrying in %s s", interval)
        stop.wait(interval)


def _unpublished(table, cursor, horizon: dt.datetime):
    """Rows after the cursor and not after the horizon."""
    after = as_utc(cursor.updated_at)
    return and_(or_(table.c.updated_at > after, and_(table.c.updated_at == after, table.c.key > cursor.key)),
                table.c.updated_at <= horizon)


def _has_news(conn, kind: str, horizon: dt.datetime) -> bool:
    """Whether the kind has rows to publish (or no cursor yet)."""
    cursor = conn.execute(select(webhook_cursors.c.updated_at, webhook_cursors.c.key)
                          .where(webhook_cursors.c.kind == kind)).first()
    if cursor is None:
        return True
    table = RECORD_TABLES[kind]
    return conn.execute(select(table.c.key).where(_unpublished(table, cursor, horizon)).limit(1)).first() is not None


def _publish_kind(conn, config, kind: str, horizon: dt.datetime) -> int:
    cursors = webhook_cursors
    cursor = conn.execute(select(cursors.c.updated_at, cursors.c.key).where(cursors.c.kind == kind)
                          .with_for_update()).first()
    if cursor is None:
        conn.execute(insert(cursors).values(kind=kind, updated_at=horizon, key=""))
        return 0
    table = RECORD_TABLES[kind]
    columns = [table.c.key, table.c.updated_at, table.c.content_hash, table.c.data]
    if kind in CATALOG_EVENTS:
        columns.append(table.c[CATALOG_EVENTS[kind][1]].label("sku"))
    rows = conn.execute(
        select(*columns)
        .where(_unpublished(table, cursor, horizon))
        .order_by(table.c.updated_at, table.c.key).limit(ROWS_PER_PASS)).all()
    if not rows:
        return 0
    events = _record_events(conn, config, kind, rows) if kind in RECORD_EVENTS else \
        _catalog_events(conn, config, kind, rows)
    last = rows[-1]
    conn.execute(update(cursors).where(cursors.c.kind == kind).values(updated_at=last.updated_at, key=last.key))
    return events


def _record_events(conn, config, kind: str, rows) -> int:
    event = RECORD_EVENTS[kind]
    for row in rows:
        record = orjson.loads(row.data)
        publish(conn, config, event, record["order"], {"kind": kind, "record": record},
                event_id=_event_id(event, row.key, row.content_hash, as_utc(row.updated_at).isoformat()))
    return len(rows)


def _catalog_events(conn, config, kind: str, rows) -> int:
    event = CATALOG_EVENTS[kind][0]
    skus = list(dict.fromkeys(row.sku for row in rows))
    batches = list(_chunks(skus, BATCH))
    first, last = rows[0], rows[-1]
    for i, batch in enumerate(batches):
        publish(conn, config, event, kind, {"skus": batch},
                event_id=_event_id(event, first.key, as_utc(first.updated_at).isoformat(), last.key, i))
    return len(batches)


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
