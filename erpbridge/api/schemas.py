"""Shapes of the API's answers and of the write requests that are not canonical records.

Requests forbid unknown fields (``extra="forbid"``): a typo in a field name is a 422 naming the
field, not a silently dropped value.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from erpbridge.records import Address, Contact, Customer, Product
from erpbridge.records.base import Code, CurrencyCode, Email, PathCode, Text
from erpbridge.records.orders import CancelLine, ReturnLine

Source = Literal["store", "erp"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# -- answers ------------------------------------------------------------------------------

class ProductOut(Product):
    enabled: bool


class ProductPage(BaseModel):
    items: list[ProductOut]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page; null on the last page")


class GroupNode(BaseModel):
    code: str
    name: str
    parent: str | None
    position: int
    children: list["GroupNode"]


class GroupTree(BaseModel):
    groups: list[GroupNode]


class PriceTier(BaseModel):
    kind: Literal["list", "volume", "customer"]
    min_quantity: Decimal
    amount: Decimal
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class PriceAnswer(BaseModel):
    sku: str
    currency: str
    quantity: Decimal
    customer: str | None
    kind: Literal["list", "volume", "customer"]
    unit_price: Decimal
    total: Decimal
    tiers: list[PriceTier] = Field(description="the store's tiers that apply to this customer and date")
    source: Source
    fallback: str | None = Field(None, description="why the store answered although the ERP was to be asked: "
                                                   "erp_offline, erp_timeout, erp_error")


class WarehouseStock(BaseModel):
    warehouse: str
    quantity: Decimal


class StockAnswer(BaseModel):
    sku: str
    warehouses: list[WarehouseStock]
    salable: Decimal = Field(description="what the shop may sell: the sum over warehouses, never below 0")


class CustomerOut(Customer):
    source: Source
    fallback: str | None = None


class DocumentOut(BaseModel):
    type: str
    number: str
    order: str | None
    customer: str | None
    issued_at: dt.date | None
    media_type: str
    href: str


class DocumentList(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None


class MessageState(BaseModel):
    id: int
    operation: str
    state: str
    attempts: int
    last_error: str | None
    updated_at: dt.datetime


class OrderView(BaseModel):
    number: str
    state: Literal["accepted", "awaiting_payment", "cancelled"]
    erp_id: str | None
    status: str | None = Field(description="the ERP's last reported status")
    order: dict[str, Any]
    shipments: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    credit_memos: list[dict[str, Any]]
    cancellations: list[dict[str, Any]]
    returns: list[dict[str, Any]]
    messages: list[MessageState]


class CustomerRequestView(BaseModel):
    reference: str
    status: Literal["pending", "created", "failed"]
    number: str | None = Field(description="the ERP's customer number once it answered")
    poll: str
    message: MessageState | None = None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    store: str
    erp: dict[str, Any]
    inbox: dict[str, Any] | None = Field(default=None, description="an inbox's last pass that handled files, a "
                                         "failing one first: `failing` when a file of it failed (null: no inbox, or no "
                                         "file yet)")
    inboxes: list[dict[str, Any]] = Field(default_factory=list, description="each files system's inbox, as `inbox`")


# -- requests -----------------------------------------------------------------------------

class CustomerCreate(Strict):
    """A new shop customer, to be created in the ERP, which answers its customer number."""

    reference: PathCode = Field(description="the shop's own id of the customer; the same reference twice is one "
                                            "customer")
    name: Text = Field(min_length=1)
    email: Email | None = None
    group: Code | None = None
    currency: CurrencyCode | None = None
    vat_id: Code | None = None
    invoice_address: Address | None = None
    delivery_addresses: list[Address] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)


class PaymentAck(Strict):
    transaction_id: Code
    provider: Code | None = None
    amount: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=6)
    currency: CurrencyCode | None = None


class CancelRequest(Strict):
    id: PathCode | None = Field(default=None, description="the shop's id of this cancellation (idempotency); "
                                                          "default: derived from the order and its content")
    reason: Text | None = None
    lines: list[CancelLine] = Field(default_factory=list, description="empty: cancel the whole order")


class ReturnRequest(Strict):
    id: PathCode | None = Field(default=None, description="the shop's id of this return (idempotency)")
    lines: list[ReturnLine] = Field(min_length=1)


class ReleaseRequest(Strict):
    skus: list[Code] = Field(default_factory=list, max_length=10_000, description="products by SKU")
    groups: list[Code] = Field(default_factory=list, max_length=1_000,
                               description="every product of these groups and their subgroups")
    all_new: bool = Field(default=False, description="every product that arrived disabled and was never enabled")


class ReleaseAnswer(BaseModel):
    enabled: bool
    changed: list[str] = Field(description="SKUs switched by this request")
    unchanged: list[str] = Field(description="SKUs that were so already")
    unknown: list[str] = Field(description="SKUs the store does not hold")
    unknown_groups: list[str]
