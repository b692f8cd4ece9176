"""The mapper: Odoo rows (as ``search_read`` answers them) <-> canonical records.

Pure functions, no I/O. Odoo's shapes worth knowing: a many2one comes as ``[id, display_name]``
or ``false``; an empty char field is ``false``, not ``""``; numbers are floats (made Decimals
through ``str`` here); datetimes are ``"YYYY-MM-DD HH:MM:SS"`` in UTC, dates ``"YYYY-MM-DD"``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

from erpbridge.records import (
    Address, CreditMemo, Customer, Document, Invoice, OrderStatusUpdate, Price, Product, ProductGroup, Shipment,
    StockLevel,
)
from erpbridge.records.feedback import InvoiceLine, ShipmentLine

PRODUCT_FIELDS = ["default_code", "barcode", "name", "list_price", "categ_id", "description_sale", "weight"]
PARTNER_FIELDS = ["name", "ref", "email", "phone", "vat", "active", "type", "parent_id", "street", "street2", "zip",
                  "city", "country_id", "credit_limit"]
ORDER_FIELDS = ["name", "client_order_ref", "state", "delivery_status"]


def text(value: Any) -> str | None:
    """Odoo's ``false`` for an empty field as None."""
    return value.strip() or None if isinstance(value, str) else None


def many2one(value: Any) -> int | None:
    return value[0] if isinstance(value, list) and value else None


def decimal(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def odoo_datetime(value: dt.datetime) -> str:
    """A time as Odoo's domains compare it: UTC, whole seconds."""
    value = value.astimezone(dt.timezone.utc) if value.tzinfo else value
    return value.strftime("%Y-%m-%d %H:%M:%S")


def product_group(row: dict, names: dict[int, str]) -> ProductGroup:
    parent = many2one(row.get("parent_id"))
    return ProductGroup(code=row["name"], name=row["name"], parent=names.get(parent) if parent else None)


def product(row: dict, currency: str) -> Product:
    description = text(row.get("description_sale"))
    return Product(sku=row["default_code"], name=row["name"], ean=text(row.get("barcode")),
                   group=row["categ_id"][1].split(" / ")[-1] if row.get("categ_id") else None,
                   short_description=description.splitlines()[0] if description else None, description=description,
                   list_price=decimal(row.get("list_price")), currency=currency,
                   weight=decimal(row["weight"]) if row.get("weight") else None)


def list_price(row: dict, currency: str) -> Price:
    return Price(sku=row["default_code"], amount=decimal(row["list_price"]), currency=currency)


def pricelist_price(item: dict, sku: str, currency: str, customer: str | None = None) -> Price:
    """A fixed price of a pricelist item from its minimum quantity, in its validity dates."""
    return Price(sku=sku, amount=decimal(item["fixed_price"]), currency=currency,
                 min_quantity=max(decimal(item.get("min_quantity")), Decimal(1)), customer=customer,
                 valid_from=(item.get("date_start") or None) and item["date_start"][:10],
                 valid_to=(item.get("date_end") or None) and item["date_end"][:10])


def stock_level(sku: str, warehouse: str, quantity: Decimal) -> StockLevel:
    return StockLevel(sku=sku, warehouse=warehouse, quantity=quantity)


def address(row: dict, countries: dict[int, str], fallback_name: str) -> Address | None:
    """A partner's address, or None when it lacks what a shop address needs."""
    country = many2one(row.get("country_id"))
    if not (text(row.get("street")) and text(row.get("zip")) and text(row.get("city")) and country in countries):
        return None
    return Address(name=text(row.get("name")) or fallback_name, street=row["street"], street2=text(row.get("street2")),
                   postcode=row["zip"], city=row["city"], country=countries[country],
                   phone=text(row.get("phone")), email=text(row.get("email")))


def customer(partner: dict, children: Iterable[dict], countries: dict[int, str]) -> Customer:
    """A company or person with its child addresses: ``type`` invoice is the invoice address
    (else the partner's own), ``delivery`` ones the delivery addresses (else the invoice one)."""
    children = [c for c in children if c.get("active", True)]
    own = address(partner, countries, partner["name"])
    invoice = next((a for a in (address(c, countries, partner["name"]) for c in children if c["type"] == "invoice")
                    if a), own)
    deliveries = [a for a in (address(c, countries, partner["name"]) for c in children if c["type"] == "delivery") if a]
    return Customer(number=partner["ref"], name=partner["name"], email=text(partner.get("email")),
                    status="active" if partner.get("active", True) else "blocked", vat_id=text(partner.get("vat")),
                    credit_limit=decimal(partner["credit_limit"]) if partner.get("credit_limit") else None,
                    invoice_address=invoice, delivery_addresses=deliveries or ([invoice] if invoice else []))


def address_values(record: Address, country_id: int) -> dict:
    return {"name": record.name if not record.company else f"{record.company}, {record.name}", "street": record.street,
            "street2": record.street2 or False, "zip": record.postcode, "city": record.city, "country_id": country_id,
            **({"phone": record.phone} if record.phone else {}), **({"email": record.email} if record.email else {})}


def same_address(row: dict, values: dict) -> bool:
    return all((row.get(k) if k != "country_id" else many2one(row.get(k))) == values.get(k)
               for k in ("street", "zip", "city", "country_id"))


def order_status(row: dict) -> OrderStatusUpdate:
    """Odoo's ``state`` (draft, sent, sale, cancel) and ``delivery_status`` (sale_stock: pending,
    started, partial, full) as the shop's status."""
    state, delivery = row["state"], row.get("delivery_status")
    if state == "cancel":
        status = "cancelled"
    elif delivery == "full":
        status = "shipped"
    elif delivery in ("partial", "started"):
        status = "partially_shipped"
    elif state == "sale":
        status = "processing"
    else:
        status = "received"
    return OrderStatusUpdate(order=row["client_order_ref"], status=status, erp_id=row["name"])


def shipment(row: dict, order: str, lines: list[tuple[str, Decimal]]) -> Shipment:
    done = row.get("date_done")
    return Shipment(id=row["name"], order=order,
                    shipped_at=dt.datetime.fromisoformat(done).replace(tzinfo=dt.timezone.utc) if done else None,
                    carrier=row["carrier_id"][1] if row.get("carrier_id") else None,
                    tracking_numbers=[t.strip() for t in (text(row.get("carrier_tracking_ref")) or "").split(",")
                                      if t.strip()],
                    lines=[ShipmentLine(sku=sku, quantity=quantity) for sku, quantity in lines])


def invoice_lines(lines: list[dict]) -> list[InvoiceLine]:
    return [InvoiceLine(sku=l.get("sku"), description=text(l.get("name")), quantity=abs(decimal(l["quantity"])),
                        amount=abs(decimal(l["price_subtotal"]))) for l in lines]


def invoice(row: dict, order: str, shipment_name: str | None, lines: list[dict], freight: set[str],
            fees: set[str]) -> Invoice:
    """Freight and fee lines (by product reference) go to ``freight_amount``/``fee_amount``."""
    return Invoice(id=row["name"], order=order, shipment=shipment_name, issued_at=row["invoice_date"],
                   currency=row["currency_id"][1], tax_amount=decimal(row["amount_tax"]),
                   total=decimal(row["amount_total"]),
                   freight_amount=_sum(l for l in lines if l.get("sku") in freight),
                   fee_amount=_sum(l for l in lines if l.get("sku") in fees),
                   lines=invoice_lines([l for l in lines if l.get("sku") not in freight | fees]))


def _sum(lines: Iterable[dict]) -> Decimal:
    return sum((decimal(l["price_subtotal"]) for l in lines), Decimal(0))


def credit_memo(row: dict, order: str, lines: list[dict]) -> CreditMemo:
    return CreditMemo(id=row["name"], order=order, invoice=row["reversed_entry_id"][1] if row.get("reversed_entry_id")
                      else None, issued_at=row["invoice_date"], currency=row["currency_id"][1],
                      total=abs(decimal(row["amount_total"])), lines=invoice_lines(lines))


def document(doc_type: str, row: dict, order: str | None, customer_number: str | None) -> Document:
    """An invoice or credit memo in the customer's order history; its content is Odoo's PDF."""
    return Document(type=doc_type, number=row["name"], order=order, customer=customer_number,
                    issued_at=row["invoice_date"], media_type="application/pdf")
