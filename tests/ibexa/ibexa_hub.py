"""erpbridge between an Ibexa shop (driven here with zeep, as the shop's SOAP client) and an ERP.

The ERP is the webservice example's REST ERP (tests/webservice/rest_erp.py: a real HTTP server
with shipments, invoices and returns); the shop system is examples/ibexa's, so the example is
what runs. The hub serves the API with uvicorn on 127.0.0.1 (tests/webservice/hub.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS / "webservice"))

from hub import Hub, eventually  # noqa: E402
from rest_erp import RestErp  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402

PASSWORD = "wc-secret-0123456789"
__all__ = ["Hub", "RestErp", "eventually", "ibexa_app", "shop_app", "ubl_order", "wc_client", "call"]


def ibexa_app(folder: Path, erp: RestErp, db_url: str, monkeypatch, **top) -> object:
    """The examples' systems (the REST ERP's, examples/ibexa's shop) on ``db_url``, written to a
    file (``app.config.source``) a worker process opens too."""
    monkeypatch.setenv("IBEXA_PASSWORD", PASSWORD)
    return shop_app("ibexa", folder, erp, db_url, monkeypatch, erp_messages=UPDATE_CUSTOMER, **top)


#: The REST ERP's message for a changed customer (the example's ERP has none: a shop's change
#: of a customer then gets status 11, "the ERP does not take update_customer").
UPDATE_CUSTOMER = {"update_customer": {
    "endpoint": "/updatecustomer",
    "request": {"send": "body", "fields": {
        "number": "body.customer_id", "name": "body.name", "email": "body.email",
        "invoice_address": {"from": "body.address", "fields": {"street": "street", "postcode": "zip", "city": "city",
                                                               "country": "country"}},
        "delivery_addresses": {"each": "body.ship_to", "fields": {"name": "name", "street": "street",
                                                                  "postcode": "zip", "city": "city",
                                                                  "country": "country"}}}},
    "response": {"id": "customer_id"}}}


def shop_app(example_name: str, folder: Path, erp: RestErp, db_url: str, monkeypatch, *, shop: dict | None = None,
             erp_messages: dict | None = None, **top) -> object:
    """examples/<example_name>'s shop system (with ``shop``'s settings over it) in front of the
    REST ERP (with ``erp_messages`` besides the example's; tests/commerceup uses it too)."""
    monkeypatch.setenv("ERP_URL", erp.url)
    for variable, value in erp.environment.items():
        monkeypatch.setenv(variable, value)
    erp_system = yaml.safe_load((ROOT / "examples/webservice-rest/erpbridge.yaml").read_text())["systems"]["erp"]
    erp_system["messages"].update(erp_messages or {})
    example = yaml.safe_load((ROOT / f"examples/{example_name}/erpbridge.yaml").read_text())
    raw = {**example, "store": {"url": db_url},
           "systems": {"erp": {**erp_system, "semaphore": {"max_lock_time": 1}},
                       "shop": {**example["systems"]["shop"], **(shop or {})}},
           "catalog": {"new_products_enabled": True, "warehouses": [{"code": "MAIN"}, {"code": "SOUTH"}]},
           "outbox": {"lease_seconds": 3, "heartbeat_seconds": 0.5, "poll_interval": 0.05, "backoff_base": 0.1,
                      "backoff_max": 0.5}, **top}
    path = folder / f"{example_name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return bootstrap(load_config(path))


def wc_client(hub: Hub):
    """zeep, as the shop's SOAP client, on the WSDL the hub serves."""
    import zeep

    return zeep.Client(f"{hub.api.url}/connectors/shop?wsdl")


def call(client, operation: str, data: str, *, password: str = PASSWORD):
    """One Web.Connector call as Ibexa makes it; the answer's (data, code, erp_status)."""
    from lxml import etree

    reply = getattr(client.service, operation)(user="webconnector", password=password,
                                                erp_parameters={"timeout": 10000}, data=data)
    return etree.fromstring(reply.data.encode()), reply.status.code, reply.status.erp_status


PARTY = """<Party><PartyIdentification><ID>{customer}</ID></PartyIdentification>
  <PartyName><Name>Jane Doe</Name></PartyName>
  <PostalAddress><StreetName>Main St</StreetName><BuildingNumber>1</BuildingNumber><CityName>Berlin</CityName>
    <PostalZone>10115</PostalZone><Country><IdentificationCode>DE</IdentificationCode></Country></PostalAddress>
  <Contact><ElectronicMail>jane@example.com</ElectronicMail></Contact></Party>"""


def ubl_order(uuid: str, customer: str, lines: list[tuple[str, int, str]], shipping: str = "4.90") -> str:
    """A CreateSalesOrder ``<Order>`` shaped as Ibexa's docs show it (messages.yml, UBL 2)."""
    items = "".join(
        f"<OrderLine><LineItem><ID>{i}</ID><Quantity>{q}</Quantity><Price><PriceAmount>{p}</PriceAmount></Price>"
        f"<Item><SellersItemIdentification><ID>{sku}</ID></SellersItemIdentification></Item></LineItem></OrderLine>"
        for i, (sku, q, p) in enumerate(lines, 1))
    freight = (f"<OrderLine><LineItem><ID>F</ID><Price><PriceAmount>{shipping}</PriceAmount></Price></LineItem>"
               f"<SesExtension><LineType>1</LineType><CostType>shipping</CostType></SesExtension></OrderLine>")
    party = PARTY.format(customer=customer)
    return (f"<Order><DocumentCurrencyCode>EUR</DocumentCurrencyCode><UUID>{uuid}</UUID>"
            f"<IssueDate>2026-12-02</IssueDate><SalesOrderID/>"
            f"<BuyerCustomerParty><SupplierAssignedAccountID>jane</SupplierAssignedAccountID>{party}"
            f"</BuyerCustomerParty><AccountingCustomerParty>{party}</AccountingCustomerParty>"
            f"<Delivery><DeliveryParty>{party[7:-8]}</DeliveryParty></Delivery>"
            f"<PaymentMeans><PaymentMeansCode>1</PaymentMeansCode></PaymentMeans>{items}{freight}</Order>")
