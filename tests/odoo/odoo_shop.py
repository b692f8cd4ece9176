"""What the shop sends in the Odoo tests: an address and orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

ADDRESS = {"name": "Jane Doe", "street": "Main St 1", "postcode": "10115", "city": "Berlin", "country": "DE"}


def order(number: str, customer: str | None, lines: list[tuple[str, int, str]], shipping: str = "4.90") -> dict:
    rows = [{"sku": sku, "quantity": str(q), "unit_price": price, "total": str(Decimal(price) * q)}
            for sku, q, price in lines]
    total = sum(Decimal(r["total"]) for r in rows) + Decimal(shipping)
    return {"number": number, "placed_at": dt.datetime.now(dt.timezone.utc).isoformat(), "customer": customer,
            "currency": "EUR", "billing_address": ADDRESS, "shipping_address": {**ADDRESS, "street": "Dock 7"},
            "lines": rows, "shipping_method": "standard", "payment_method": "invoice", "shipping_amount": shipping,
            "grand_total": str(total)}
