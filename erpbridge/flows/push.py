"""Push flows: master data and feedback from the store to a shop platform.

What it is. A shop system whose connector pushes master data (``push``: products, product
groups, prices, stock) or sends feedback (``feedback``: order statuses, shipments, invoices,
credit memos) gets them through flows of its own (``catalog``, ``prices``, ``stock``,
``feedback``, named ``<shop>.<flow>`` when an ERP has a flow of the same name). A run reads what
changed in the store since the flow's cursor, keeps what the shop receives, and enqueues it as
outbox messages to the shop's channel; the outbox delivers them with retries, rate limits and
the shop's semaphore, like any message.

* master data: the records of the shop's selection (``receives:``: product groups with their
  subgroups, SKU patterns, one currency, some warehouses; prices and stock only of selected
  products), :data:`BATCH` records per ``push_<kind>`` message (or the system's ``push_batch``,
  up to :data:`ROWS_PER_PASS`), products with the store's
  ``enabled`` switch. A kind's messages are delivered in order (one business key per kind).
* feedback: each record of an order that came from this shop, one ``send_<kind>`` message per
  record, keyed by its order, so an order's shipment never overtakes its status.
* an event bus (``receives: {orders: all}``) is sent the feedback of every order, and the
  orders themselves (``push_orders``: each order as accepted, with the hub's ``state``).

How it works. The store stamps ``updated_at`` only when a record's content changed, so the
change feed (rows after the cursor ``(updated_at, key)``, up to :data:`SETTLE` seconds ago so
that a transaction still committing is not overtaken) holds exactly the deltas: an unchanged
record costs no message. Messages and the moved cursor commit in one transaction: a run that
dies has sent nothing, and the next one sends it once. ``mode: full`` sends the whole selection
again (a resync), then goes on from there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, insert, or_, select, update

from erpbridge.connectors.registry import FEEDBACK_OPERATIONS, PUSH_OPERATIONS
from erpbridge.flows.tables import flow_cursors
from erpbridge.outbox.messages import NewMessage, enqueue_many
from erpbridge.store.db import as_utc, write_transaction
from erpbridge.store.records import LOOKUP_CHUNK
from erpbridge.store.groups import with_subgroups
from erpbridge.store.tables import RECORD_TABLES, orders, products

#: Records per push message (a shop's bulk endpoints take 20-5,000; the outbox's batch_size can group more).
BATCH = 100
#: Rows read per transaction; a run goes on until the feed is drained.
ROWS_PER_PASS = 5_000
#: Seconds the feed stays behind the clock (a transaction may still commit rows stamped earlier).
SETTLE = 2.0
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def push_flow(ctx) -> dict:
    """What a push flow run does: every kind of the flow that the shop takes, in turn."""
    summary: dict[str, Any] = {"system": ctx.system, "mode": ctx.config.mode, "sent": 0, "messages": 0, "kinds": {}}
    for kind in ctx.kinds:
        counts = push_kind(ctx.app, ctx.system, kind, full=ctx.config.mode == "full")
        summary["kinds"][kind] = counts
        summary["sent"] += counts["sent"]
        summary["messages"] += counts["messages"]
    return summary


def push_kind(app, system: str, kind: str, *, full: bool = False, now: dt.datetime | None = None) -> dict[str, int]:
    """Send what changed of ``kind`` (everything, with ``full``) to shop ``system``."""
    horizon = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(seconds=SETTLE)
    counts = {"changed": 0, "sent": 0, "not_selected": 0, "messages": 0}
    selection = Selection(app, system)
    # A shop whose API takes large batches (Shopify's bulk operations) says how many in ``push_batch``.
    batch = getattr(app.config.systems[system], "push_batch", None) or BATCH
    start = (_EPOCH, "") if full else None
    while True:
        with write_transaction(app.engine) as conn:
            cursor = cursor_of(conn, system, kind, lock=True) if start is None else start
            start = None
            rows = _changed(conn, kind, cursor, horizon)
            if not rows:
                _move(conn, system, kind, cursor)
                return counts
            chosen = selection.take(conn, kind, rows)
            messages = push_messages(system, kind, chosen, batch)
            enqueue_many(conn, messages)
            _move(conn, system, kind, (as_utc(rows[-1].updated_at), rows[-1].key))
        counts["changed"] += len(rows)
        counts["sent"] += len(chosen)
        counts["not_selected"] += len(rows) - len(chosen)
        counts["messages"] += len(messages)
        if len(rows) < ROWS_PER_PASS:
            return counts


def waiting(app, system: str, kinds, *, now: dt.datetime | None = None) -> bool:
    """Whether the change feed holds, for shop ``system``, a change of one of ``kinds`` that a run
    would read now (an ``on_change`` flow's trigger): one indexed look per kind, no rows read. A
    change the shop does not receive also counts; the run then moves the cursor past it."""
    horizon = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(seconds=SETTLE)
    with app.engine.connect() as conn:
        for kind in kinds:
            table = RECORD_TABLES[kind]
            after, key = cursor_of(conn, system, kind)
            if conn.execute(select(table.c.key).where(
                    or_(table.c.updated_at > after, and_(table.c.updated_at == after, table.c.key > key)),
                    table.c.updated_at <= horizon).limit(1)).first() is not None:
                return True
    return False


def cursor_of(conn, system: str, kind: str, *, lock: bool = False) -> tuple[dt.datetime, str]:
    """The kind's cursor for ``system``; ``lock``: held for the transaction (on PostgreSQL), so
    that two runs at once (a change-triggered one and a scheduled or manual one, in two
    processes) read the same changes one after the other, never both."""
    c = flow_cursors
    stmt = select(c.c.updated_at, c.c.key).where(c.c.system == system, c.c.kind == kind)
    if lock and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    return (as_utc(row.updated_at), row.key) if row else (_EPOCH, "")


def _move(conn, system: str, kind: str, cursor: tuple[dt.datetime, str]) -> None:
    c = flow_cursors
    values = {"updated_at": cursor[0], "key": cursor[1]}
    if not conn.execute(update(c).where(c.c.system == system, c.c.kind == kind).values(values)).rowcount:
        conn.execute(insert(c).values(system=system, kind=kind, **values))


def _changed(conn, kind: str, cursor: tuple[dt.datetime, str], horizon: dt.datetime) -> list:
    table = RECORD_TABLES[kind]
    after, key = cursor
    columns = [table.c.key, table.c.updated_at, table.c.data]
    if kind == "products":
        columns.append(table.c.enabled)
    if kind == "orders":
        columns.append(table.c.state)
    return conn.execute(select(*columns).where(
        or_(table.c.updated_at > after, and_(table.c.updated_at == after, table.c.key > key)),
        table.c.updated_at <= horizon).order_by(table.c.updated_at, table.c.key).limit(ROWS_PER_PASS)).all()


@dataclass
class _Chosen:
    key: str
    record: dict


class Selection:
    """What shop ``system`` receives (its ``receives:``), applied to rows of the change feed."""

    def __init__(self, app, system: str):
        self.system = system
        self.receives = app.system(system).receives
        self._groups: set[str] | None = None

    def take(self, conn, kind: str, rows: list) -> list[_Chosen]:
        records = [(row.key, orjson.loads(row.data), row) for row in rows]
        if kind == "orders":
            ours = self._orders_sent(conn, [key for key, _, _ in records])
            return [_Chosen(key, {**r, "state": row.state}) for key, r, row in records if ours is None or key in ours]
        if kind in FEEDBACK_OPERATIONS:
            ours = self._orders_sent(conn, [r.get("order") or key for key, r, _ in records])
            return [_Chosen(key, r) for key, r, _ in records if ours is None or (r.get("order") or key) in ours]
        if kind == "products":
            return [_Chosen(key, {**r, "enabled": bool(row.enabled)}) for key, r, row in records
                    if self._takes(conn, r["sku"], r.get("group"))]
        if kind == "product_groups":
            groups = self._wanted_groups(conn)
            return [_Chosen(key, r) for key, r, _ in records if groups is None or r["code"] in groups]
        groups_of = self._groups_of(conn, sorted({r["sku"] for _, r, _ in records}))
        chosen = []
        for key, r, _ in records:
            if kind == "prices" and self.receives.currency and r["currency"] != self.receives.currency:
                continue
            if kind == "stock" and self.receives.warehouses is not None and r["warehouse"] not in self.receives.warehouses:
                continue
            if r["sku"] in groups_of and self._takes(conn, r["sku"], groups_of[r["sku"]]):
                chosen.append(_Chosen(key, r))
        return chosen

    def _takes(self, conn, sku: str, group: str | None) -> bool:
        groups = self._wanted_groups(conn)
        return self.receives.takes_sku(sku) and (groups is None or group in groups)

    def _wanted_groups(self, conn) -> set[str] | None:
        """The selected groups with all their subgroups (None: every group)."""
        if self.receives.groups is None:
            return None
        if self._groups is None:
            self._groups = with_subgroups(conn, self.receives.groups)
        return self._groups

    @staticmethod
    def _groups_of(conn, skus: list[str]) -> dict[str, str | None]:
        """The group of each SKU the store has a product for (prices and stock of others are not sent)."""
        found: dict[str, str | None] = {}
        for start in range(0, len(skus), LOOKUP_CHUNK):
            found.update(conn.execute(select(products.c.key, products.c.group)
                                      .where(products.c.key.in_(skus[start:start + LOOKUP_CHUNK]))).all())
        return found

    def _orders_sent(self, conn, numbers: list[str]) -> set[str] | None:
        """The orders among ``numbers`` whose feedback this system is sent (None: all of them)."""
        if self.receives.orders == "all":
            return None
        wanted = sorted(set(numbers))
        ours: set[str] = set()
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            ours.update(conn.execute(select(orders.c.key).where(
                orders.c.key.in_(wanted[start:start + LOOKUP_CHUNK]), orders.c.shop == self.system)).scalars())
        return ours


def push_messages(system: str, kind: str, chosen: list[_Chosen], batch: int = BATCH) -> list[NewMessage]:
    if kind in FEEDBACK_OPERATIONS:
        return [NewMessage(channel=system, operation=FEEDBACK_OPERATIONS[kind], business_key=c.record.get("order", c.key),
                           payload=c.record, record_kind=kind, record_key=c.key) for c in chosen]
    operation = PUSH_OPERATIONS[kind]
    return [NewMessage(channel=system, operation=operation, business_key=kind,
                       payload={"kind": kind, "records": [c.record for c in chosen[i:i + batch]]})
            for i in range(0, len(chosen), batch)]
