"""The mapper: Tryton rows (as ``search_read`` answers them) <-> canonical records.

Pure functions, no I/O: the connector reads what a record needs and hands it over here, so the
translation rules sit in one place and can be read without the wire around them.

Tryton's shapes worth knowing: booleans may come back as ``1``/``0`` (SQLite); a dotted field
such as ``template.name`` comes back nested under ``"template."``; many2one fields are ids.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Iterable

from erpbridge.records import (
    Address, Contact, CreditMemo, Customer, Document, Invoice, OrderStatusUpdate, Price, Product, ProductGroup, Shipment,
    StockLevel,
)
from erpbridge.records.feedback import InvoiceLine, ShipmentLine

#: Which fields the connector reads for each mapping.
PRODUCT_FIELDS = ["code", "name", "description", "list_price_used", "categories", "salable", "active", "type", "write_date"]
PRICE_FIELDS = ["code", "list_price_used"]
CATEGORY_FIELDS = ["code", "name", "parent"]
PARTY_FIELDS = ["code", "name", "active", "addresses", "contact_mechanisms", "tax_identifier.code", "write_date"]
ADDRESS_FIELDS = ["party_name", "street", "postal_code", "city", "country", "invoice", "delivery", "active"]
MECHANISM_FIELDS = ["type", "value", "name", "active", "address"]
#: Report file extension -> media type; Tryton renders its invoice report as OpenDocument text.
MEDIA_TYPES = {"pdf": "application/pdf", "odt": "application/vnd.oasis.opendocument.text",
               "html": "text/html", "txt": "text/plain"}
SALE_FIELDS = ["number", "reference", "state", "shipment_state", "invoice_state", "origin", "untaxed_amount"]


def group_code(category: dict) -> str:
    """A category's code, or a stable one made from its id when the ERP user left it empty."""
    return category.get("code") or f"category-{category['id']}"


def product_group(category: dict, codes: dict[int, str]) -> ProductGroup:
    parent = category.get("parent")
    return ProductGroup(code=group_code(category), name=category["name"], parent=codes.get(parent) if parent else None)


def product(row: dict, group_codes: dict[int, str], currency: str) -> Product:
    groups = [group_codes[c] for c in row.get("categories") or [] if c in group_codes]
    description = (row.get("description") or "").strip() or None
    return Product(
        sku=row["code"], name=row["name"], group=groups[0] if groups else None,
        short_description=description.splitlines()[0] if description else None, description=description,
        list_price=row.get("list_price_used"), currency=currency,
    )


def list_price(row: dict, currency: str) -> Price:
    return Price(sku=row["code"], amount=row["list_price_used"], currency=currency)


def tier_price(row: dict, *, sku: str, currency: str, min_quantity: Decimal, customer: str | None) -> Price:
    """A price Tryton computed for a quantity tier of a price list (``sale_price_uom``)."""
    return Price(sku=sku, amount=row["sale_price_uom"], currency=currency, min_quantity=min_quantity, customer=customer)


def stock_level(sku: str, warehouse: str, quantity: float) -> StockLevel:
    return StockLevel(sku=sku, warehouse=warehouse, quantity=Decimal(str(quantity)))


def address(row: dict, countries: dict[int, str], fallback_name: str) -> Address | None:
    """A Tryton address, or None when it lacks what a shop address needs (street, city...)."""
    if not (row.get("street") and row.get("postal_code") and row.get("city") and row.get("country")):
        return None
    return Address(name=row.get("party_name") or fallback_name, street=row["street"].splitlines()[0],
                   street2="\n".join(row["street"].splitlines()[1:]) or None,
                   postcode=row["postal_code"], city=row["city"], country=countries[row["country"]])


def customer(party: dict, addresses: Iterable[dict], mechanisms: Iterable[dict], countries: dict[int, str]) -> Customer:
    addresses = [a for a in addresses if a.get("active", True)]
    mechanisms = [m for m in mechanisms if m.get("active", True)]
    invoice = next((a for a in addresses if a.get("invoice")), addresses[0] if addresses else None)
    delivery = [a for a in addresses if a.get("delivery")] or ([invoice] if invoice else [])
    emails = [m for m in mechanisms if m["type"] == "email"]
    contacts = [Contact(name=m["name"], email=m["value"] if m["type"] == "email" else None,
                        phone=m["value"] if m["type"] in ("phone", "mobile") else None)
                for m in mechanisms if m.get("name") and m["type"] in ("email", "phone", "mobile")]
    mapped_delivery = [a for a in (address(d, countries, party["name"]) for d in delivery) if a]
    return Customer(
        number=party["code"], name=party["name"], email=emails[0]["value"] if emails else None,
        status="active" if party.get("active", True) else "blocked",
        vat_id=(party.get("tax_identifier.") or {}).get("code"),
        invoice_address=address(invoice, countries, party["name"]) if invoice else None,
        delivery_addresses=mapped_delivery, contacts=contacts,
    )


def party_values(record: Customer, country_ids: dict[str, int], identifier: str) -> dict:
    """``party.party`` create values for a new shop customer; Tryton assigns the code.
    ``identifier`` (the shop's number) makes a redelivered message find the party again."""
    addresses = []
    if record.invoice_address:
        addresses.append(address_values(record.invoice_address, country_ids, invoice=True,
                                        delivery=not record.delivery_addresses))
    for delivery in record.delivery_addresses:
        if delivery == record.invoice_address and addresses:
            addresses[0]["delivery"] = True
        else:
            addresses.append(address_values(delivery, country_ids, invoice=False, delivery=True))
    mechanisms = [{"type": "email", "value": record.email}] if record.email else []
    for contact in record.contacts:
        if contact.email:
            mechanisms.append({"type": "email", "value": contact.email, "name": contact.name})
        if contact.phone:
            mechanisms.append({"type": "phone", "value": contact.phone, "name": contact.name})
    values = {
        "name": record.name,
        "identifiers": [["create", [{"type": None, "code": identifier}]]],
        "addresses": [["create", addresses]],
        "contact_mechanisms": [["create", mechanisms]],
    }
    return values


def address_values(record: Address, country_ids: dict[str, int], *, invoice: bool, delivery: bool) -> dict:
    street = record.street if not record.street2 else f"{record.street}\n{record.street2}"
    name = record.name if not record.company else f"{record.company}, {record.name}"
    return {"party_name": name, "street": street, "postal_code": record.postcode, "city": record.city,
            "country": country_ids[record.country], "invoice": invoice, "delivery": delivery}


def same_address(row: dict, values: dict) -> bool:
    return all((row.get(k) or "") == (values.get(k) or "") for k in ("party_name", "street", "postal_code", "city", "country"))


def is_cancelled(sale: dict) -> bool:
    """Cancelled, or processed with its shipments cancelled (Tryton then ends the sale "done")."""
    return sale["state"] == "cancelled" or (sale["state"] == "done"
                                            and sale.get("shipment_state") not in ("sent", "partially shipped"))


def order_status(sale: dict) -> OrderStatusUpdate:
    """The shop's status of a sale. No ``changed_at``: Tryton's ``write_date`` moves with any
    edit of the sale (an invoice posted, a note added), not with its status, and carrying it
    would make every such edit a "changed" status, announced to the shop again and again."""
    state, shipped = sale["state"], sale.get("shipment_state")
    if is_cancelled(sale):
        status = "cancelled"
    elif state == "done":
        status = "completed"
    elif shipped == "sent":
        status = "shipped"
    elif shipped == "partially shipped":
        status = "partially_shipped"
    elif state in ("confirmed", "processing"):
        status = "processing"
    else:
        status = "received"
    return OrderStatusUpdate(order=sale["reference"], status=status, erp_id=sale["number"] or str(sale["id"]))


def shipment(row: dict, order: str, lines: Iterable[tuple[str, Decimal]]) -> Shipment:
    effective = row.get("effective_date")
    return Shipment(
        id=row["number"] or str(row["id"]), order=order,
        shipped_at=dt.datetime.combine(effective, dt.time(), dt.timezone.utc) if effective else None,
        tracking_numbers=[t.strip() for t in (row.get("reference") or "").split(",") if t.strip()],
        lines=[ShipmentLine(sku=sku, quantity=quantity) for sku, quantity in lines],
    )


def invoice(row: dict, order: str, shipment_number: str | None, lines: list[dict], freight: set[str], fees: set[str],
            currency: str) -> Invoice:
    """Freight and fee lines (by product code) go to ``freight_amount``/``fee_amount``; seed 002
    bills them on the first invoice of an order, which Tryton does by itself for service lines."""
    freight_amount = sum((l["amount"] for l in lines if l.get("sku") in freight), Decimal(0))
    fee_amount = sum((l["amount"] for l in lines if l.get("sku") in fees), Decimal(0))
    return Invoice(
        id=row["number"] or str(row["id"]), order=order, shipment=shipment_number, issued_at=row["invoice_date"],
        currency=currency, freight_amount=freight_amount, fee_amount=fee_amount, tax_amount=row["tax_amount"],
        total=row["total_amount"],
        lines=[InvoiceLine(sku=l.get("sku"), description=l.get("description"), quantity=Decimal(str(l["quantity"])),
                           amount=l["amount"]) for l in lines if l.get("sku") not in freight | fees],
    )


def credit_memo(row: dict, order: str, lines: list[dict], currency: str) -> CreditMemo:
    return CreditMemo(
        id=row["number"] or str(row["id"]), order=order, issued_at=row["invoice_date"], currency=currency,
        total=abs(row["total_amount"]),
        lines=[InvoiceLine(sku=l.get("sku"), description=l.get("description"), quantity=abs(Decimal(str(l["quantity"]))),
                           amount=abs(l["amount"])) for l in lines],
    )



def document(doc_type: str, row: dict, order: str | None) -> Document:
    """An invoice or credit memo in the customer's order history; its content is Tryton's report."""
    return Document(type=doc_type, number=row["number"] or str(row["id"]), order=order,
                    customer=(row.get("party.") or {}).get("code"), issued_at=row["invoice_date"],
                    media_type=MEDIA_TYPES["odt"])
