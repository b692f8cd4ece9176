"""Transactions that flow shop -> ERP: orders, cancellations and returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar

from pydantic import Field, model_validator

from erpbridge.records.base import Code, CurrencyCode, Money, PathCode, Record, Text
from erpbridge.records.customers import Address

#: Totals may differ from the sum of their parts by rounding of this much at most.
ROUNDING_TOLERANCE = Decimal("0.01")


class OrderLine(Record):
    sku: Code
    name: Text | None = None
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=6)
    unit_price: Money
    discount: Money = Decimal(0)
    tax_rate: Decimal = Field(default=Decimal(0), ge=0, le=100)
    total: Money

    @model_validator(mode="after")
    def _adds_up(self) -> "OrderLine":
        expected = self.quantity * self.unit_price - self.discount
        if abs(expected - self.total) > ROUNDING_TOLERANCE:
            raise ValueError(f"total {self.total} is not quantity x unit_price - discount = {expected:.2f}")
        return self


class Order(Record):
    """An order as the shop placed it; its number (the shop's) is the idempotency key in the ERP."""

    kind: ClassVar[str] = "orders"
    key_fields: ClassVar[tuple[str, ...]] = ("number",)

    number: PathCode
    placed_at: dt.datetime
    customer: Code | None = None
    email: Text | None = None
    currency: CurrencyCode
    billing_address: Address
    shipping_address: Address
    lines: list[OrderLine] = Field(min_length=1)
    shipping_method: Code
    payment_method: Code
    shipping_amount: Money = Decimal(0)
    discount_amount: Money = Decimal(0)
    coupon_code: Code | None = None
    tax_amount: Money = Decimal(0)
    grand_total: Money

    @model_validator(mode="after")
    def _adds_up(self) -> "Order":
        expected = sum((line.total for line in self.lines), Decimal(0)) + self.shipping_amount - self.discount_amount
        if abs(expected - self.grand_total) > ROUNDING_TOLERANCE:
            raise ValueError(
                f"grand_total {self.grand_total} is not the sum of line totals + shipping - discount = {expected:.2f}"
            )
        return self

    def unit_prices(self) -> list[Decimal]:
        """The net price per unit the shop agreed for each line, to 4 decimals (as ERPs keep a
        unit price): the line's own discount spread over its quantity, and an order-level
        discount (a coupon) spread over the lines in proportion to their totals, so the ERP's
        untaxed amount is what the shop charged for the goods (to a cent of rounding)."""
        goods = sum((line.total for line in self.lines), Decimal(0))
        share = self.discount_amount / goods if goods and self.discount_amount else Decimal(0)
        return [(line.total * (1 - share) / line.quantity).quantize(Decimal("0.0001")) for line in self.lines]


class CancelLine(Record):
    sku: Code
    quantity: Decimal = Field(gt=0)


class Cancellation(Record):
    """Cancels a whole order (no lines) or some of its items."""

    kind: ClassVar[str] = "cancellations"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)

    id: PathCode
    order: Code
    reason: Text | None = None
    lines: list[CancelLine] = Field(default_factory=list)


class ReturnLine(Record):
    sku: Code
    quantity: Decimal = Field(gt=0)
    reason: Text | None = None


class Return(Record):
    kind: ClassVar[str] = "returns"
    key_fields: ClassVar[tuple[str, ...]] = ("id",)

    id: PathCode
    order: Code
    lines: list[ReturnLine] = Field(min_length=1)
