"""Stock per warehouse. The quantity is what the ERP says, negative included; what the shop
may sell is derived from it (never more than is there)."""

from __future__ import annotations

from typing import ClassVar

from erpbridge.records.base import Code, Quantity, Record


class StockLevel(Record):
    kind: ClassVar[str] = "stock"
    key_fields: ClassVar[tuple[str, ...]] = ("sku", "warehouse")

    sku: Code
    warehouse: Code
    quantity: Quantity
