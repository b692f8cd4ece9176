"""Customers: both directions (ERP master data, and new shop customers sent to the ERP)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from erpbridge.records.base import Code, CountryCode, CurrencyCode, Email, Money, PathCode, Record, Text


class Address(Record):
    name: Text = Field(min_length=1)
    company: Text | None = None
    street: Text = Field(min_length=1)
    street2: Text | None = None
    postcode: Text = Field(min_length=1)
    city: Text = Field(min_length=1)
    country: CountryCode
    phone: Text | None = None
    email: Email | None = None


class Contact(Record):
    name: Text = Field(min_length=1)
    email: Email | None = None
    phone: Text | None = None
    role: Text | None = None


class Customer(Record):
    kind: ClassVar[str] = "customers"
    key_fields: ClassVar[tuple[str, ...]] = ("number",)

    number: PathCode
    name: Text = Field(min_length=1)
    email: Email | None = None
    group: Code | None = None
    status: Literal["active", "blocked"] = "active"
    credit_limit: Money | None = None
    currency: CurrencyCode | None = None
    vat_id: Code | None = None
    invoice_address: Address | None = None
    delivery_addresses: list[Address] = Field(default_factory=list)
    contacts: list[Contact] = Field(default_factory=list)
