"""New shop customers, created in the ERP through the outbox.

The shop knows a new customer by its own reference; the ERP gives the customer number. The
request is durable as soon as its ``create_customer`` message is committed; the worker that
delivers it stores the ERP's number as a binding (kind ``customers``, key = the reference).
:func:`customer_request` tells where that stands, so the API can wait a moment for the number
and otherwise answer ``pending`` with a link to poll.

A changed customer (its addresses, its delivery addresses) goes the same way as an
``update_customer`` message on the same business key, so it reaches the ERP after the customer's
creation. A customer is named by the shop's reference until the ERP's number is known, and by
either afterwards (:func:`customer_key`); :func:`current_customer` is what the ERP will hold
once the messages under way are delivered, so a shop reading back what it just changed sees it.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select

from erpbridge.outbox import enqueue
from erpbridge.outbox.tables import outbox_messages
from erpbridge.records import Customer, key_of
from erpbridge.services.errors import Conflict, NotFound
from erpbridge.services.orders import erp_takes
from erpbridge.services.transaction import retrying
from erpbridge.services.views import message_query, message_view
from erpbridge.store.tables import bindings

OPERATION = "create_customer"
UPDATE = "update_customer"


def _key(reference: str) -> str:
    # Its own business key space, so a customer never queues behind an order of the same number.
    return f"customer:{reference}"


def create_customer(app, fields: dict, *, shop: str | None = None) -> tuple[int, bool]:
    """Enqueue the customer's creation for the ERP of ``shop`` (None: of the API's shop); returns
    (message id, new?). The same reference with the same content is a repeat; with other
    content, a :class:`Conflict`."""
    reference = fields["reference"]
    customer = Customer(number=reference, **{k: v for k, v in fields.items() if k != "reference"})
    payload = orjson.loads(customer.canonical_json())
    system = app.config.erp_for(shop)
    erp_takes(app, system, OPERATION)
    m = outbox_messages

    def work(conn) -> tuple[int, bool]:
        existing = conn.execute(select(m.c.id, m.c.payload).where(
            m.c.channel == system, m.c.operation == OPERATION, m.c.business_key == _key(reference))
            .order_by(m.c.sequence.desc())).first()
        if existing is not None:
            if orjson.loads(existing.payload) != payload:
                raise Conflict(f"customer {reference} was already submitted with different content")
            return existing.id, False
        return enqueue(conn, channel=system, operation=OPERATION, business_key=_key(reference), payload=payload,
                       record_kind="customers", record_key=reference), True

    return retrying(app.engine, work, durable=True)


def customer_request(app, reference: str, *, shop: str | None = None) -> dict:
    """``status``: ``created`` (with the ERP ``number``), ``pending``, or ``failed`` (dead or discarded)."""
    system = app.config.erp_for(shop)
    m = outbox_messages
    with app.engine.connect() as conn:
        message = conn.execute(message_query().where(m.c.channel == system, m.c.operation == OPERATION,
                                      m.c.business_key == _key(reference))
                               .order_by(m.c.sequence.desc())).mappings().first()
        number = conn.execute(select(bindings.c.external_id).where(
            bindings.c.kind == "customers", bindings.c.key == reference, bindings.c.system == system)).scalar()
    if message is None and number is None:
        raise NotFound(f"no customer request with reference {reference!r}")
    status = "created" if number else ("failed" if message["state"] in ("dead", "discarded") else "pending")
    return {"reference": reference, "status": status, "number": number,
            "message": message_view(message) if message else None}


def customer_key(app, number: str, *, shop: str | None = None) -> tuple[str, str | None]:
    """The shop's reference and the ERP's number (None until known) of a customer named by either."""
    system, b = app.config.erp_for(shop), bindings
    with app.engine.connect() as conn:
        erp_number = conn.execute(select(b.c.external_id).where(
            b.c.kind == "customers", b.c.system == system, b.c.key == number)).scalar()
        if erp_number is not None:
            return number, erp_number
        reference = conn.execute(select(b.c.key).where(
            b.c.kind == "customers", b.c.system == system, b.c.external_id == number)).scalar()
    return (reference, number) if reference is not None else (number, None)


def _newest_message(conn, system: str, reference: str, states: tuple[str, ...] | None = None):
    m = outbox_messages
    query = select(m.c.id, m.c.payload, m.c.state).where(
        m.c.channel == system, m.c.operation.in_((OPERATION, UPDATE)), m.c.business_key == _key(reference))
    if states is not None:
        query = query.where(m.c.state.in_(states))
    return conn.execute(query.order_by(m.c.sequence.desc()).limit(1)).first()


def current_customer(app, number: str, *, shop: str | None = None) -> tuple[Customer | None, bool]:
    """The customer as the ERP will hold it once the messages under way are delivered, and
    whether some are: the newest creation or change not yet delivered, else the store's record
    (the ERP's own data)."""
    reference, erp_number = customer_key(app, number, shop=shop)
    with app.engine.connect() as conn:
        under_way = _newest_message(conn, app.config.erp_for(shop), reference, ("pending", "running"))
    if under_way is not None:
        return Customer.model_validate(orjson.loads(under_way.payload)), True
    return app.records.get("customers", key_of((erp_number or reference,))), False


def update_customer(app, customer: Customer, *, shop: str | None = None) -> tuple[int, bool]:
    """Enqueue a change of ``customer`` (named by the shop's reference or the ERP's number) for
    the ERP of ``shop``, behind its creation; returns (message id, new?). The same content as
    the newest creation or change is a repeat, not a message."""
    system = app.config.erp_for(shop)
    erp_takes(app, system, UPDATE)
    reference, erp_number = customer_key(app, customer.number, shop=shop)
    customer = customer.model_copy(update={"number": erp_number or reference})
    payload = orjson.loads(customer.canonical_json())

    def work(conn) -> tuple[int, bool]:
        newest = _newest_message(conn, system, reference)
        if newest is not None and orjson.loads(newest.payload) == payload:
            return newest.id, False
        return enqueue(conn, channel=system, operation=UPDATE, business_key=_key(reference), payload=payload,
                       record_kind="customers", record_key=reference), True

    return retrying(app.engine, work, durable=True)
