"""Orders from the shop: place, acknowledge payment, cancel, return, and show.

Placing an order writes the order record and its ``send_order`` message in one transaction,
before the shop gets its answer (DESIGN: nothing lost). Seed 000: an order paid electronically
(its payment method is in ``orders.wait_for_payment``) waits in ``awaiting_payment`` and is sent
only when :func:`acknowledge_payment` is called. Every write is idempotent on the shop's number:
the same order twice is one order; other content under the same number is a :class:`Conflict`.

Messages of one order share its number as business key, so the outbox delivers a cancellation
or a return after the order itself, never before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import orjson
from sqlalchemy import bindparam, select, update

from erpbridge.connectors.webhooks import publish
from erpbridge.exchange.log import ExchangeLog
from erpbridge.outbox import enqueue
from erpbridge.outbox.tables import outbox_messages
from erpbridge.records import Cancellation, Order, Return
from erpbridge.services.errors import Conflict, NotFound, Rejected
from erpbridge.services.transaction import Raced, retrying
from erpbridge.services.views import message_query, message_view
from erpbridge.store.db import as_utc
from erpbridge.store.records import prepare
from erpbridge.store.tables import (
    bindings, cancellations, credit_memos, invoices, order_statuses, orders, products, returns, shipments,
)


# Built once: on the order path, building a statement costs about as much as running it.
_PRODUCTS_ENABLED = select(products.c.key, products.c.enabled).where(products.c.key.in_(bindparam("skus",
                                                                                              expanding=True)))
_ORDER_STORED = select(orders.c.content_hash, orders.c.state, orders.c.shop).where(orders.c.key == bindparam("number"))
_MESSAGE_BY_ID = message_query().where(outbox_messages.c.id == bindparam("id"))


def _check_products(conn, order: Order) -> None:
    """Every line's SKU must exist in the store and be enabled for the shop."""
    skus = sorted({line.sku for line in order.lines})
    known = dict(conn.execute(_PRODUCTS_ENABLED, {"skus": skus}).all())
    errors = []
    for i, line in enumerate(order.lines):
        if line.sku not in known:
            errors.append((f"lines.{i}.sku", f"no product with SKU {line.sku!r}"))
        elif not known[line.sku]:
            errors.append((f"lines.{i}.sku", f"product {line.sku!r} is not enabled for the shop"))
    if errors:
        raise Rejected(f"order {order.number}: {len(errors)} line(s) name unknown or disabled products", errors)


def erp_takes(app, system: str, operation: str) -> None:
    """Refuse a request whose message the ERP does not take: a webservice ERP takes what its
    ``messages:`` configure (a custom ERP may have no cancel or return API)."""
    if operation not in app.capabilities(system).operations:
        raise Conflict(f"the ERP {system} does not take {operation} (systems.{system}.messages.{operation} is not "
                       f"configured): do it in the ERP itself")


def _send(conn, app, shop: str | None, operation: str, number: str, payload: dict, kind: str, key: str) -> int | None:
    """Enqueue the message for the ERP of the order's shop (unless orders are not sent to it);
    returns its id."""
    if not app.config.orders.send_order_to_erp:
        return None
    channel = app.config.erp_for(shop)
    erp_takes(app, channel, operation)
    return enqueue(conn, channel=channel, operation=operation, business_key=number, payload=payload,
                   record_kind=kind, record_key=key)


def place_order(app, order: Order, *, shop: str | None = None) -> tuple[str, bool, dict | None]:
    """Accept an order from ``shop`` (a shop system; None: the shop calling erpbridge's API),
    for that shop's ERP; returns its state, whether it was new (False: the same order again)
    and, when new, its :func:`order_view` (built from what was just written: a new order has
    no feedback yet, so the answer costs no further queries)."""
    row = prepare(order)
    state = "awaiting_payment" if order.payment_method in app.config.orders.wait_for_payment else "accepted"

    def work(conn) -> tuple[str, bool, dict | None]:
        _check_products(conn, order)
        existing = conn.execute(_ORDER_STORED, {"number": order.number}).first()
        if existing is not None:
            if existing.content_hash != row.content_hash or existing.shop != shop:
                raise Conflict(f"order {order.number} was already placed with different content"
                               if existing.content_hash != row.content_hash else
                               f"order {order.number} was already placed by {existing.shop or 'the API'}")
            return existing.state, False, None
        if app.records.write_in(conn, "orders", [row], state=state, shop=shop)[0].new != 1:
            raise Raced()  # another transaction committed this number since the check above
        payload = orjson.loads(row.data)
        messages = []
        if state == "accepted":
            message_id = _send(conn, app, shop, "send_order", order.number, payload, "orders", order.number)
            if message_id is not None:
                messages.append(message_view(conn.execute(_MESSAGE_BY_ID, {"id": message_id}).mappings().one()))
        publish(conn, app.config, "order.accepted", order.number, {"order": order.number, "state": state})
        view = {"number": order.number, "state": state, "erp_id": None, "status": None, "order": payload,
                "shipments": [], "invoices": [], "credit_memos": [], "cancellations": [], "returns": [],
                "messages": messages}
        return state, True, view

    return retrying(app.engine, work, durable=True)


def placed_at_or_now(app, number: str) -> dt.datetime:
    """When order ``number`` was placed, as stored, or now for a new one: for shops that may send
    an order without its time, so that sending it again is a repeat, not other content."""
    with app.engine.connect() as conn:
        stored = conn.execute(select(orders.c.placed_at).where(orders.c.key == number)).scalar()
    return as_utc(stored) if stored is not None else dt.datetime.now(dt.timezone.utc)


def _order_row(conn, number: str):
    row = conn.execute(select(orders.c.data, orders.c.state, orders.c.shop).where(orders.c.key == number)).first()
    if row is None:
        raise NotFound(f"no order {number!r}")
    return row


def acknowledge_payment(app, number: str, ack: dict) -> tuple[str, bool]:
    """The payment provider confirmed: send a waiting order to the ERP. Acknowledging twice, or
    an order that never waited, changes nothing."""

    def work(conn) -> tuple[str, bool]:
        row = _order_row(conn, number)
        if row.state == "cancelled":
            raise Conflict(f"order {number} is cancelled; a payment cannot be acknowledged")
        if row.state != "awaiting_payment":
            return row.state, False
        conn.execute(update(orders).where(orders.c.key == number, orders.c.state == "awaiting_payment")
                     .values(state="accepted", updated_at=dt.datetime.now(dt.timezone.utc)))
        _send(conn, app, row.shop, "send_order", number, orjson.loads(row.data), "orders", number)
        return "accepted", True

    state, changed = retrying(app.engine, work, durable=True)
    ExchangeLog.for_app(app).record("shop", "orders", "api.orders.payment", "in", request={"order": number, **ack},
                                    response={"state": state, "changed": changed})
    return state, changed


def _derived_id(number: str, what: str, content: object) -> str:
    digest = hashlib.blake2b(orjson.dumps(content, default=str), digest_size=6).hexdigest()
    return f"{number}-{what}-{digest}"


def _quantities(lines: list) -> dict[str, Decimal]:
    """The lines' quantities added up per SKU."""
    total: dict[str, Decimal] = {}
    for line in lines:
        total[line.sku] = total.get(line.sku, Decimal(0)) + line.quantity
    return total


def _check_lines(order: Order, lines: list, noun: str) -> None:
    ordered = _quantities(order.lines)
    errors = []
    for i, line in enumerate(lines):
        if line.sku not in ordered:
            errors.append((f"lines.{i}.sku", f"order {order.number} has no line with SKU {line.sku!r}"))
        elif line.quantity > ordered[line.sku]:
            errors.append((f"lines.{i}.quantity", f"{line.quantity} is more than the {ordered[line.sku]} ordered"))
    if errors:
        raise Rejected(f"{noun} of order {order.number}: {len(errors)} invalid line(s)", errors)


def _idempotent_write(conn, app, kind: str, table, record) -> bool:
    """Write a record unless its key exists: same content is a repeat (False), other content a conflict."""
    row = prepare(record)
    existing = conn.execute(select(table.c.content_hash).where(table.c.key == record.key)).scalar()
    if existing is not None:
        if existing != row.content_hash:
            raise Conflict(f"{kind} {record.key} already exists with different content")
        return False
    if app.records.write_in(conn, kind, [row])[0].new != 1:
        raise Raced()
    return True


def cancel_order(app, number: str, reason: str | None, lines: list, cancel_id: str | None) -> tuple[str, str, bool]:
    """Cancel the whole order (no lines) or some items; returns (cancellation id, order state, new?)."""

    def work(conn) -> tuple[str, str, bool]:
        row = _order_row(conn, number)
        order = Order.model_validate(orjson.loads(row.data))
        _check_lines(order, lines, "cancellation")
        content = {"reason": reason, "lines": [line.model_dump(mode="json") for line in lines]}
        cancellation = Cancellation(id=cancel_id or _derived_id(number, "cancel", content), order=number,
                                    reason=reason, lines=lines)
        if row.state == "cancelled":
            repeat = conn.execute(select(cancellations.c.content_hash).where(cancellations.c.key == cancellation.key)).scalar()
            if repeat == prepare(cancellation).content_hash:
                return cancellation.id, row.state, False
            raise Conflict(f"order {number} is already cancelled")
        if not _idempotent_write(conn, app, "cancellations", cancellations, cancellation):
            return cancellation.id, row.state, False
        whole = not lines or _covers(order, lines)
        if row.state == "accepted":  # sent (or on its way) to the ERP: the ERP must cancel it too
            _send(conn, app, row.shop, "cancel_order", number, orjson.loads(cancellation.canonical_json()), "cancellations",
                  cancellation.key)
        state = row.state
        if whole:
            state = "cancelled"
            conn.execute(update(orders).where(orders.c.key == number)
                         .values(state=state, updated_at=dt.datetime.now(dt.timezone.utc)))
        publish(conn, app.config, "order.cancelled", number,
                {"order": number, "cancellation": cancellation.id, "whole": whole})
        return cancellation.id, state, True

    return retrying(app.engine, work, durable=True)


def _covers(order: Order, lines: list) -> bool:
    cancelled = _quantities(lines)
    return all(cancelled.get(line.sku, Decimal(0)) >= line.quantity for line in order.lines)


def request_return(app, number: str, lines: list, return_id: str | None) -> tuple[str, bool]:
    def work(conn) -> tuple[str, bool]:
        row = _order_row(conn, number)
        if row.state != "accepted":
            raise Conflict(f"order {number} is {row.state}; only an accepted order can be returned")
        order = Order.model_validate(orjson.loads(row.data))
        _check_lines(order, lines, "return")
        content = [line.model_dump(mode="json") for line in lines]
        ret = Return(id=return_id or _derived_id(number, "return", content), order=number, lines=lines)
        if not _idempotent_write(conn, app, "returns", returns, ret):
            return ret.id, False
        _send(conn, app, row.shop, "send_return", number, orjson.loads(ret.canonical_json()), "returns", ret.key)
        return ret.id, True

    return retrying(app.engine, work, durable=True)


def order_view(app, number: str) -> dict:
    """The order as the shop's "my orders" page needs it: ERP id, status, feedback and messages."""
    with app.engine.connect() as conn:
        row = _order_row(conn, number)
        system = app.config.erp_for(row.shop)
        erp_id = conn.execute(select(bindings.c.external_id).where(
            bindings.c.kind == "orders", bindings.c.key == number, bindings.c.system == system)).scalar()
        status = conn.execute(select(order_statuses.c.data).where(order_statuses.c.key == number)).scalar()
        status = orjson.loads(status) if status else None

        def of(table) -> list[dict]:
            return [orjson.loads(d) for d in conn.execute(
                select(table.c.data).where(table.c.order == number).order_by(table.c.created_at, table.c.key)).scalars()]

        m = outbox_messages
        messages = [message_view(r) for r in conn.execute(
            message_query().where(m.c.channel == system, m.c.business_key == number).order_by(m.c.sequence)).mappings()]
        view = {
            "number": number, "state": row.state,
            "erp_id": erp_id or (status or {}).get("erp_id"),
            "status": (status or {}).get("status"),
            "order": orjson.loads(row.data),
            "shipments": of(shipments), "invoices": of(invoices), "credit_memos": of(credit_memos),
            "cancellations": of(cancellations), "returns": of(returns), "messages": messages,
        }
    return view
