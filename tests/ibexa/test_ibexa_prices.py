"""CalculateSalesPrice answers each line net, with its VAT rate, VAT amount and gross, as Ibexa
needs them (``VatPercent``/``VatCode`` required per line): the rate configured for the product's
tax class from the ERP's catalog (``tax_rates``), else ``default_tax_rate``; gross ERP prices
(``prices_include_tax``) are split into net and VAT. A product no rate is known for is answered
with status 11, so the shop falls back to its own price."""

from __future__ import annotations

from decimal import Decimal

from erpbridge.connectors.ibexa import ubl
from erpbridge.records import Price, Product

from ibexa_hub import call, ubl_order


def basket(client, lines):
    answer, code, status = call(client, "CalculateSalesPrice", ubl_order("BASKET", "", [(s, q, "0") for s, q in lines]))
    rows = {ubl.text(item, "Item/SellersItemIdentification/ID"): {
        "net_unit": ubl.text(item, "Price/PriceAmount"), "net": ubl.text(item, "LineExtensionAmount"),
        "vat": ubl.text(item, "TaxTotal/TaxAmount"), "percent": ubl.text(item, "SesExtension/VatPercent"),
        "code": ubl.text(item, "SesExtension/VatCode"), "source": ubl.text(item, "SesExtension/VatSource"),
        "gross": ubl.text(item, "SesExtension/TaxInclusiveAmount")} for item in answer.iter("LineItem")}
    totals = {tag: ubl.text(answer, f"LegalMonetaryTotal/{tag}")
              for tag in ("TaxExclusiveAmount", "TaxInclusiveAmount", "PayableAmount")}
    return rows, {**totals, "TaxAmount": ubl.text(answer, "TaxTotal/TaxAmount")}, code, status


def add_book(app):
    app.records.put([Product(sku="BOOK", name="A book", tax_class="reduced"),
                     Price(sku="BOOK", amount=Decimal("10.00"), currency="EUR")])


def test_each_line_is_net_with_its_rate_vat_and_gross_and_the_rate_names_its_source(served):
    app, _server, client, _ = served
    add_book(app)  # A-1 has no tax class: the example's default 19 %; BOOK is "reduced": 7 %
    rows, totals, code, _ = basket(client, [("A-1", 3), ("BOOK", 1)])
    assert code == 0
    assert rows["A-1"] == {"net_unit": "19.9", "net": "59.70", "vat": "11.34", "percent": "19", "code": "default",
                           "source": "default_tax_rate", "gross": "71.04"}
    assert rows["BOOK"] == {"net_unit": "10", "net": "10.00", "vat": "0.70", "percent": "7", "code": "reduced",
                            "source": "tax_rates[reduced]", "gross": "10.70"}
    assert totals == {"TaxExclusiveAmount": "69.70", "TaxAmount": "12.04", "TaxInclusiveAmount": "81.74",
                      "PayableAmount": "81.74"}


def test_gross_erp_prices_are_split_into_net_and_vat(served):
    app, _server, client, _ = served
    add_book(app)
    app.config.systems["shop"].prices_include_tax = True  # the ERP's 10.00 for BOOK is gross
    rows, totals, code, _ = basket(client, [("BOOK", 3)])
    assert code == 0 and rows["BOOK"]["net"] == "28.04" and rows["BOOK"]["vat"] == "1.96"
    assert rows["BOOK"]["gross"] == totals["PayableAmount"] == "30.00" and rows["BOOK"]["net_unit"] == "9.35"


def test_a_product_without_a_known_rate_is_status_11_naming_it(served):
    app, _server, client, _ = served
    add_book(app)
    app.config.systems["shop"].tax_rates = {}
    app.config.systems["shop"].default_tax_rate = None
    rows, _totals, code, status = basket(client, [("BOOK", 1)])
    assert code == 11 and "no VAT rate for BOOK" in status and "tax_rates" in status
    assert rows["BOOK"]["percent"] is None and rows["BOOK"]["source"] == "none" and rows["BOOK"]["net"] == "10.00"
