"""The mapper: SuiteQL rows and REST records of NetSuite <-> canonical records.

Pure functions, no I/O. SuiteQL's shapes worth knowing: every value is a string, a null column
is missing from its row, names are lower case; quantities and amounts on sales transactions
are negative (so the queries take ``ABS``); ``status`` is the letter code (a sales order: A
pending approval, B pending fulfilment, D partially fulfilled, E pending billing/partially
fulfilled, F pending billing, G billed, H closed, C cancelled).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterable

from erpbridge.records import (
    Address, CreditMemo, Customer, Invoice, OrderStatusUpdate, Price, Product, Shipment, StockLevel,
)
from erpbridge.records.feedback import InvoiceLine, ShipmentLine

STATUSES = {"A": "received", "B": "processing", "D": "partially_shipped", "E": "partially_shipped", "F": "shipped",
            "G": "completed", "H": "cancelled", "C": "cancelled"}


def decimal(value) -> Decimal:
    return Decimal(str(value or 0))


def product(row: dict, currency: str) -> Product:
    return Product(sku=row["itemid"], name=row.get("displayname") or row["itemid"],
                   list_price=decimal(row["baseprice"]) if "baseprice" in row else None,
                   currency=currency if "baseprice" in row else None)


def price(row: dict, currency: str) -> Price:
    return Price(sku=row["itemid"], amount=decimal(row["unitprice"]), currency=currency,
                 min_quantity=max(decimal(row.get("quantity")), Decimal(1)))


def stock_level(sku: str, warehouse: str, quantity: Decimal) -> StockLevel:
    return StockLevel(sku=sku, warehouse=warehouse, quantity=quantity)


def customer(row: dict) -> Customer:
    return Customer(number=row.get("externalid") or row["entityid"], name=row.get("companyname") or row["entityid"],
                    email=row.get("email"), status="blocked" if row.get("isinactive") == "T" else "active")


def customer_body(record: Customer) -> dict:
    """A ``customer`` record for an upsert; addresses as its address book."""
    book = []
    for address, billing in ([(record.invoice_address, True)] if record.invoice_address else []) + \
            [(a, False) for a in record.delivery_addresses if a != record.invoice_address]:
        book.append({"defaultBilling": billing, "defaultShipping": not billing or not record.delivery_addresses,
                     "addressBookAddress": address_body(address)})
    return {"companyName": record.name, "isPerson": False, **({"email": record.email} if record.email else {}),
            **({"addressBook": {"items": book}} if book else {})}


def address_body(address: Address) -> dict:
    return {"addressee": address.name, "addr1": address.street,
            **({"addr2": address.street2} if address.street2 else {}),
            "zip": address.postcode, "city": address.city, "country": {"id": address.country}}


def order_status(row: dict) -> OrderStatusUpdate:
    return OrderStatusUpdate(order=row["externalid"], status=STATUSES.get(row["status"], "processing"),
                             erp_id=row["tranid"])


def shipment(row: dict, order: str, lines: Iterable[tuple[str, Decimal]]) -> Shipment:
    tracking = [t.strip() for t in (row.get("trackingnumberlist") or "").replace("<BR>", ",").split(",") if t.strip()]
    return Shipment(id=row["tranid"], order=order, tracking_numbers=tracking,
                    shipped_at=dt.datetime.fromisoformat(row["trandate"]).replace(tzinfo=dt.timezone.utc),
                    lines=[ShipmentLine(sku=sku, quantity=quantity) for sku, quantity in lines])


def invoice_lines(lines: list[dict]) -> list[InvoiceLine]:
    return [InvoiceLine(sku=l["itemid"], quantity=decimal(l["quantity"]), amount=decimal(l["amount"])) for l in lines]


def invoice(row: dict, order: str, shipment_id: str | None, lines: list[dict], currency: str) -> Invoice:
    """The shipping cost of an invoice (NetSuite bills it on the first) is its freight."""
    return Invoice(id=row["tranid"], order=order, shipment=shipment_id, issued_at=row["trandate"], currency=currency,
                   freight_amount=decimal(row.get("shippingcost")), tax_amount=decimal(row.get("taxtotal")),
                   total=decimal(row["foreigntotal"]), lines=invoice_lines(lines))


def credit_memo(row: dict, order: str, lines: list[dict], currency: str) -> CreditMemo:
    return CreditMemo(id=row["tranid"], order=order, issued_at=row["trandate"], currency=currency,
                      total=abs(decimal(row["foreigntotal"])), lines=invoice_lines(lines))
