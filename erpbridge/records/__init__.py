"""Canonical records: the one shape of each entity inside erpbridge, whatever system it came from."""

from erpbridge.records.base import Record, content_hash, key_of
from erpbridge.records.catalog import Product, ProductGroup
from erpbridge.records.customers import Address, Contact, Customer
from erpbridge.records.feedback import CreditMemo, Document, Invoice, OrderStatusUpdate, Shipment
from erpbridge.records.orders import Cancellation, Order, OrderLine, Return
from erpbridge.records.prices import Price
from erpbridge.records.stock import StockLevel

#: Every record kind that has its own table in the store, by name.
RECORD_KINDS: dict[str, type[Record]] = {
    cls.kind: cls
    for cls in (
        ProductGroup, Product, Price, StockLevel, Customer,
        Order, Cancellation, Return,
        OrderStatusUpdate, Shipment, Invoice, CreditMemo, Document,
    )
}

#: The kinds an ERP export can deliver to the store through `erpbridge import`.
IMPORT_KINDS = ("product_groups", "products", "prices", "stock", "customers")

__all__ = [
    "RECORD_KINDS", "IMPORT_KINDS", "Record", "content_hash", "key_of",
    "Product", "ProductGroup", "Price", "StockLevel", "Customer", "Address", "Contact",
    "Order", "OrderLine", "Cancellation", "Return",
    "OrderStatusUpdate", "Shipment", "Invoice", "CreditMemo", "Document",
]
