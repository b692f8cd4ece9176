"""Set up a fresh Tryton 8.2 database for a trial of erpbridge, with everything
``examples/tryton/erpbridge.yaml`` names (the README's "Tryton" section shows the whole setup).

Run it with the Tryton virtualenv's python, after ``trytond-admin`` created the database and
activated the modules::

    tryton-venv/bin/python examples/tryton/tryton_setup.py tryton/trytond.conf shop

It creates, following Tryton's own test tools (``modules/{company,account,account_invoice}/tests/tools.py``):
the company (EUR), a chart of accounts, a fiscal year with periods and invoice sequences, the tax
"VAT 19%", the payment terms "Direct" and "Net 30" (what ``payment_methods`` maps to), an account
category for goods and one for services (both with the tax), sales invoiced on fulfillment (one
invoice per shipment, freight grouped into the first), the countries DE AT CH FR NL US, a second
warehouse ``WH2`` beside Tryton's ``WH``, and the freight service product ``FREIGHT`` (what
``shipping_methods`` maps to). Products to sell are yours to add: salable goods with a code (the
shop's SKU), a sale unit and the goods account category. erpbridge's tests build their Tryton
database with this script too, so what it creates is what they check the example against.
"""

import sys
from decimal import Decimal

from proteus import Model
from proteus import config as proteus_config


def main(config_file: str, database: str) -> None:
    proteus_config.set_trytond(database=database, config_file=config_file)

    from trytond.modules.account.tests.tools import create_chart, create_fiscalyear, create_tax, get_accounts
    from trytond.modules.account_invoice.tests.tools import create_payment_term, set_fiscalyear_invoice_sequences
    from trytond.modules.company.tests.tools import create_company

    create_company(currency="EUR")
    create_chart()
    fiscalyear = set_fiscalyear_invoice_sequences(create_fiscalyear())
    fiscalyear.click("create_period")
    accounts = get_accounts()

    tax = create_tax(Decimal(".19"))
    tax.name = tax.description = "VAT 19%"
    tax.save()

    direct = create_payment_term()
    direct.save()
    PaymentTerm = Model.get("account.invoice.payment_term")
    net30 = PaymentTerm(name="Net 30")
    line = net30.lines.new(type="remainder")
    line.relativedeltas.new(days=30)
    net30.save()

    Category = Model.get("product.category")
    goods = Category(name="Goods accounting", accounting=True,
                     account_revenue=accounts["revenue"], account_expense=accounts["expense"])
    goods.customer_taxes.append(tax)
    goods.save()
    services = Category(name="Services accounting", accounting=True,
                        account_revenue=accounts["revenue"], account_expense=accounts["expense"])
    services.customer_taxes.append(Model.get("account.tax")(tax.id))
    services.save()

    SaleConfig = Model.get("sale.configuration")
    sale_config = SaleConfig(1)
    sale_config.sale_invoice_method = "fulfillment"
    sale_config.sale_shipment_method = "order"
    sale_config.sale_invoice_grouping_method = "standard"
    sale_config.save()

    Country = Model.get("country.country")
    for code, name in (("DE", "Germany"), ("AT", "Austria"), ("CH", "Switzerland"), ("FR", "France"),
                       ("NL", "Netherlands"), ("US", "United States")):
        Country(code=code, name=name).save()

    Location = Model.get("stock.location")
    warehouse, = Location.find([("code", "=", "WH")])
    lost_found, = Location.find([("type", "=", "lost_found")], limit=1)
    if not warehouse.lost_found_location:
        warehouse.lost_found_location = lost_found
        warehouse.save()
    wh2 = Location(name="Warehouse 2", code="WH2", type="warehouse")
    for role in ("input", "output", "storage"):
        location = Location(name=f"WH2 {role}", type="storage")
        location.save()
        setattr(wh2, f"{role}_location", location)
    wh2.lost_found_location = lost_found
    wh2.save()

    Uom = Model.get("product.uom")
    unit, = Uom.find([("name", "=", "Unit")])
    Template = Model.get("product.template")
    freight = Template(name="Freight", code="FREIGHT", type="service", default_uom=unit, sale_uom=unit,
                       salable=True, list_price=Decimal("4.90"), account_category=services)
    freight.save()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
