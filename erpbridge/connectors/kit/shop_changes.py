"""Cancellations and returns a merchant makes in the shop, taken to the ERP like the API's.

A shop connector's order intake sees more than new orders: an order the merchant cancelled in
the shop's back office, a refund (credit memo) of goods that came back. Each goes to the ERP as a
cancellation or a return through the order service, exactly as if the shop had called erpbridge's
API: under an id derived from the shop's own entity (``<system>-cancel-<id>``), so the intake's
overlap window reading it again, a webhook and a poll both seeing it, or a crash after the write
make no second one (the service writes it and its outbox message in one transaction).

What erpbridge did in the shop itself (the ERP's cancellation, its credit memos) is not sent back:
the connector marks those in the shop (a comment, a staff note) and skips them before calling
here; an order the store already holds cancelled is skipped here. What the store cannot take (an
order shipped meanwhile, a line it does not have) becomes a :class:`Raw` that rejects with the
reason, so the intake's report and the exchange log name it like an order that cannot be taken in.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from erpbridge.ingest import Raw
from erpbridge.ingest.fetched import RECORD
from erpbridge.mapping.mapper import FieldError, RecordRejected
from erpbridge.store.records import LOOKUP_CHUNK


def stored_order_states(app, numbers: Iterable[str]) -> dict[str, str]:
    """The store's state of each of these orders that it has (number -> state)."""
    from erpbridge.store.tables import orders

    numbers = list(dict.fromkeys(numbers))
    known: dict[str, str] = {}
    with app.engine.connect() as conn:
        for start in range(0, len(numbers), LOOKUP_CHUNK):
            chunk = numbers[start:start + LOOKUP_CHUNK]
            known.update(conn.execute(select(orders.c.key, orders.c.state).where(orders.c.key.in_(chunk))).all())
    return known


def refusal(data: dict, location: str, reason: str) -> Raw:
    """A record of the intake that rejects with ``reason``: how a refused shop change is reported."""
    def refuse(_data):
        raise RecordRejected([FieldError(RECORD, None, reason)])
    return Raw(data, location, build=refuse)


def cancel_from_shop(app, system: str, number: str, entity: str, state: str, *, data: dict, where: str,
                     reason: str, lines: list | None = None) -> Raw | None:
    """Cancel order ``number`` (whose store state is ``state``), or only its ``lines``
    (CancelLine), as the shop's entity ``entity`` cancelled it; None when done or nothing to do,
    else the refusal to report."""
    from erpbridge.services.errors import Conflict, NotFound, Rejected
    from erpbridge.services.orders import cancel_order

    if state == "cancelled":  # the ERP's own cancellation, or this one taken already
        return None
    try:
        cancel_order(app, number, reason, lines or [], f"{system}-cancel-{entity}")
    except (Conflict, NotFound, Rejected) as exc:
        return refusal(data, f"cancellation of order {number} ({where})", str(exc))
    return None


def return_from_shop(app, system: str, number: str, memo: str, lines: list, *, data: dict,
                     where: str | None = None) -> Raw | None:
    """Request the return of ``lines`` (ReturnLine) of order ``number`` for the shop's credit memo
    (refund) ``memo``; None when done or nothing to do, else the refusal to report."""
    from erpbridge.services.errors import Conflict, NotFound, Rejected
    from erpbridge.services.orders import request_return

    if not lines:  # a refund of freight or an adjustment only: no goods come back
        return None
    try:
        request_return(app, number, lines, f"{system}-creditmemo-{memo}")
    except (Conflict, NotFound, Rejected) as exc:
        return refusal(data, f"credit memo {memo} of order {number}" + (f" ({where})" if where else ""), str(exc))
    return None
