"""New shop customers, created in the ERP through the outbox.

The shop knows a new customer by its own reference; the ERP gives the customer number. The
request is durable as soon as its ``create_customer`` message is committed; the worker that
delivers it stores the ERP's number as a binding (kind ``customers``, key = the reference).
:func:`customer_request` tells where that stands, so the API can wait a moment for the number
and otherwise answer ``pending`` with a link to poll.
"""

from __future__ import annotations

import orjson
from sqlalchemy import select

from erpbridge.outbox import enqueue
from erpbridge.outbox.tables import outbox_messages
from erpbridge.records import Customer
from erpbridge.services.errors import Conflict, NotFound
from erpbridge.services.orders import erp_takes
from erpbridge.services.transaction import retrying
from erpbridge.services.views import message_query, message_view
from erpbridge.store.tables import bindings

OPERATION = "create_customer"


def _key(reference: str) -> str:
    # Its own business key space, so a customer never queues behind an order of the same number.
    return f"customer:{reference}"


def create_customer(app, fields: dict) -> tuple[int, bool]:
    """Enqueue the customer's creation; returns (message id, new?). The same reference with the
    same content is a repeat; with other content, a :class:`Conflict`."""
    reference = fields["reference"]
    customer = Customer(number=reference, **{k: v for k, v in fields.items() if k != "reference"})
    payload = orjson.loads(customer.canonical_json())
    system = app.config.erp_for()
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


def customer_request(app, reference: str) -> dict:
    """``status``: ``created`` (with the ERP ``number``), ``pending``, or ``failed`` (dead or discarded)."""
    system = app.config.erp_for()
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
