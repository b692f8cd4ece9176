"""Prices: list, volume (tier) and customer-specific, each with a currency and validity."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from erpbridge.records.base import Code, CurrencyCode, Money, Quantity, Record

PriceKind = Literal["list", "volume", "customer"]


class Price(Record):
    """One price row.

    Its kind follows from its fields, as ERP price exports have it: a customer number makes a
    customer-specific price, a minimum quantity above one a volume tier, otherwise a list price.
    """

    kind: ClassVar[str] = "prices"
    key_fields: ClassVar[tuple[str, ...]] = ("sku", "customer", "currency", "min_quantity", "valid_from")

    sku: Code
    amount: Money
    currency: CurrencyCode
    min_quantity: Quantity = Field(default=Decimal(1), gt=0)
    customer: Code | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    @property
    def price_kind(self) -> PriceKind:
        if self.customer:
            return "customer"
        return "volume" if self.min_quantity > 1 else "list"

    @model_validator(mode="after")
    def _validity(self) -> "Price":
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self
