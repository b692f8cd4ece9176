"""The contract between erpbridge and a connector.

Two kinds of failure (:mod:`erpbridge.errors`, re-exported here): :class:`GeneralError`, the
system as a whole is unavailable (the semaphore takes it offline, messages wait with their
attempts), and :class:`MessageError`, this one message is wrong (only it fails and is retried).

Outbound work reaches a connector as ``deliver(operation, payload, idempotency_key)``; the
operations an ERP connector knows are the names in :data:`ERP_OPERATIONS`. A connector must
make creating operations idempotent (look the record up by its shop number before creating it),
because delivery is at least once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, runtime_checkable

from pydantic import ValidationError

from erpbridge.errors import ConnectorError, GeneralError, MessageError
from erpbridge.records import RECORD_KINDS, Record

__all__ = ["ConnectorError", "GeneralError", "MessageError", "ERP_OPERATIONS", "DeliveryResult", "Connector",
           "ErpSource", "PriceQuery", "RealTime"]


#: shop -> ERP operations, by name (the message's ``operation``) -> the record kind of its payload.
ERP_OPERATIONS: dict[str, str] = {
    "create_customer": "customers",
    "update_customer": "customers",  # a changed customer (addresses, delivery addresses), by its number
    "send_order": "orders",
    "cancel_order": "cancellations",
    "send_return": "returns",
}


def payload_record(operation: str, kind: str, payload: dict) -> Record:
    """The canonical record of ``kind`` a message's payload holds: a payload that is not one is a
    message error of this message alone (``operation`` names it in the error)."""
    try:
        return RECORD_KINDS[kind].model_validate(payload)
    except ValidationError as exc:
        raise MessageError(f"{operation}: the payload is not a valid {kind} record: {exc}") from None


@dataclass(frozen=True)
class DeliveryResult:
    """What the target system answered: its id for the record (stored as a binding), and any
    records it sent back (e.g. the customer with its new ERP number)."""

    external_id: str | None = None
    records: tuple[Record, ...] = ()
    response: Any = None


@runtime_checkable
class Connector(Protocol):
    """What the outbox's workers need from any target system."""

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult: ...


@runtime_checkable
class ErpSource(Protocol):
    """What master-data and feedback flows need from an ERP that can be asked (not files)."""

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterable[Record]:
        """Records of a kind (``products``, ``prices``, ``stock``, ``customers``, ``product_groups``,
        or feedback: ``order_statuses``, ``shipments``, ``invoices``, ``credit_memos``),
        all of them or those changed since a time."""
        ...


@dataclass(frozen=True)
class PriceQuery:
    sku: str
    customer: str | None = None
    quantity: Any = 1
    context: str = "product_page"
    extra: dict = field(default_factory=dict)


@runtime_checkable
class RealTime(Protocol):
    """Real-time lookups (seed 000): customer at login, individual prices, documents."""

    def get_customer(self, number: str) -> Record | None: ...

    def get_price(self, query: PriceQuery) -> Record | None: ...

    def get_document(self, doc_type: str, number: str) -> tuple[bytes, str] | None:
        """The document's content and media type, or None when the ERP has no such document."""
        ...
