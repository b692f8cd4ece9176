"""What the ERP reports back about an order: status, shipments, invoices, credit memos, documents.

Part deliveries (seed 002): an order may ship in several shipments, each with its own invoice;
freight and the invoice fee are on the first invoice, later ones carry products only.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints

from erpbridge.records.base import Code, CurrencyCode, Money, Record, Text

OrderStatus = Literal["received", "processing", "partially_shipped", "shipped", "completed", "cancelled"]


class OrderStatusUpdate(Record):
    kind: ClassVar[str] = "order_statuses"
    key_fields: ClassVar[tuple[str, ...]] = ("order",)

    order: Code
    status: OrderStatus
    erp_id: Code | None = None
    changed_at: dt.datetime | None = None


class ShipmentLine(Record):
    sku: Code
    quantity: Decimal = Field(gt=0)


class Shipment(Record):
    kind: ClassVar[str] = "shipments"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)

    id: Code
    order: Code
    shipped_at: dt.datetime | None = None
    carrier: Text | None = None
    tracking_numbers: list[Code] = Field(default_factory=list)
    lines: list[ShipmentLine] = Field(min_length=1)


class InvoiceLine(Record):
    sku: Code | None = None
    description: Text | None = None
    quantity: Decimal = Decimal(1)
    amount: Decimal


class Invoice(Record):
    kind: ClassVar[str] = "invoices"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)

    id: Code
    order: Code
    shipment: Code | None = None
    issued_at: dt.date
    currency: CurrencyCode
    lines: list[InvoiceLine] = Field(default_factory=list)
    freight_amount: Money = Decimal(0)
    fee_amount: Money = Decimal(0)
    tax_amount: Money = Decimal(0)
    total: Money


class CreditMemo(Record):
    kind: ClassVar[str] = "credit_memos"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)

    id: Code
    order: Code
    invoice: Code | None = None
    issued_at: dt.date
    currency: CurrencyCode
    lines: list[InvoiceLine] = Field(default_factory=list)
    total: Money


#: The SHA-256 of a file's content, in hex: the id of a local copy of a document.
ContentId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Document(Record):
    """A document of the order history. ``content`` is the id of its local copy in the documents
    folder (``use_local_documents``, see :mod:`erpbridge.documents`): an id, never a path, so
    that no input can point the API at another file."""

    kind: ClassVar[str] = "documents"
    key_fields: ClassVar[tuple[str, ...]] = ("type", "number")

    type: Literal["invoice", "order", "delivery_note", "credit_memo"]
    number: Code
    order: Code | None = None
    customer: Code | None = None
    issued_at: dt.date | None = None
    media_type: Text = "application/pdf"
    content: ContentId | None = None
