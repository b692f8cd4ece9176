"""Orders and the profiles the OData tests use (beside conftest.py: test modules import these
by a name of their own, since several test folders have a conftest)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

ADDRESS = {"name": "Jane Doe", "street": "Main St 1", "postcode": "10115", "city": "Berlin", "country": "DE"}
#: The profiles under test: (example, the service root below the server, OData version).
PROFILES = {"s4-v2": ("odata-s4", "/sap/opu/odata/sap", "v2"), "s4-v4": ("odata-s4", "/odata/v4", "v4"),
            "business_central": ("odata-business-central", "/api/v2.0", "v4")}


def order(number: str, customer: str | None, lines: list[tuple[str, int, str]], shipping: str = "4.90") -> dict:
    rows = [{"sku": sku, "quantity": str(q), "unit_price": price, "total": str(Decimal(price) * q)}
            for sku, q, price in lines]
    total = sum(Decimal(r["total"]) for r in rows) + Decimal(shipping)
    return {"number": number, "placed_at": dt.datetime.now(dt.timezone.utc).isoformat(), "customer": customer,
            "currency": "EUR", "billing_address": ADDRESS, "shipping_address": ADDRESS, "lines": rows,
            "shipping_method": "standard", "payment_method": "invoice", "shipping_amount": shipping,
            "grand_total": str(total)}
