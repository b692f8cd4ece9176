"""The shop endpoints erpbridge serves as the shop's ERP (issue 13), store on SQLite:

  baseline      GET /healthz of the same server (what the server does for nothing)
  ibexa order   the Web.Connector's CreateSalesOrder (SOAP, the UBL order in `data`), a new UUID
                per request: parsed as untrusted XML, validated, the order and its send_order
                outbox message committed before the answer
  ibexa price   CalculateSalesPrice of one product for a customer, from the store (no real time)
  commerceup    POST /connectors/shop/createorder (JSON, Basic auth), a new orderId per request

One uvicorn process, wrk with 8 connections. Afterwards the store is counted: every answered
order and its message must be there. Targets: create order p99 < 20 ms and >= 300 orders/s;
price p99 < 10 ms.

Run: .venv/bin/python bench/shop_endpoints.py [SECONDS]
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

from api_common import CUSTOMER, count_accepted, machine, order_body, serving, small_store, sku, wrk

PASSWORD = "bench-password"
SHOPS = {"ibexa": {"connector": "ibexa", "username": "webconnector", "password": "${BENCH_SHOP_PASSWORD}"},
         "commerceup": {"connector": "commerceup", "username": "commerceup", "password": "${BENCH_SHOP_PASSWORD}"}}
ENVELOPE = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:wc="urn:erpbridge:ibexa:webconnector"><soap:Body><wc:{op}><user>webconnector</user>'
            f'<password>{PASSWORD}</password><erp_parameters><timeout>10000</timeout></erp_parameters>'
            '<data>{data}</data></wc:{op}></soap:Body></soap:Envelope>')
PARTY = ("<Party><PartyIdentification><ID>C1</ID></PartyIdentification><PartyName><Name>Erika Muster</Name>"
         "</PartyName><PostalAddress><StreetName>Hauptstr.</StreetName><BuildingNumber>5</BuildingNumber>"
         "<CityName>Berlin</CityName><PostalZone>80331</PostalZone><Country><IdentificationCode>DE"
         "</IdentificationCode></Country></PostalAddress></Party>")


def ubl_order(uuid: str) -> str:
    lines = "".join(f"<OrderLine><LineItem><ID>{i}</ID><Quantity>2</Quantity><Price><PriceAmount>19.90</PriceAmount>"
                    f"</Price><Item><SellersItemIdentification><ID>{sku(i)}</ID></SellersItemIdentification></Item>"
                    f"</LineItem></OrderLine>" for i in (1, 2, 3))
    return (f"<Order><DocumentCurrencyCode>EUR</DocumentCurrencyCode><UUID>{uuid}</UUID><IssueDate>2026-11-23"
            f"</IssueDate><BuyerCustomerParty>{PARTY}</BuyerCustomerParty><AccountingCustomerParty>{PARTY}"
            f"</AccountingCustomerParty><PaymentMeans><PaymentMeansCode>invoice</PaymentMeansCode></PaymentMeans>"
            f"{lines}<OrderLine><LineItem><Price><PriceAmount>4.90</PriceAmount></Price></LineItem><SesExtension>"
            f"<LineType>1</LineType><CostType>shipping</CostType></SesExtension></OrderLine></Order>")


PRICE_REQUEST = (f"<Order><DocumentCurrencyCode>EUR</DocumentCurrencyCode><BuyerCustomerParty>{PARTY}"
                 f"</BuyerCustomerParty><OrderLine><LineItem><Quantity>1</Quantity><Item><SellersItemIdentification>"
                 f"<ID>{sku(1)}</ID></SellersItemIdentification></Item></LineItem></OrderLine></Order>")


def commerceup_body(number: str) -> dict:
    order = order_body(number)
    address = {**order["billing_address"], "zip": order["billing_address"]["postcode"]}
    return {"orderId": number, "customerId": CUSTOMER, "currency": "EUR", "placedAt": order["placed_at"],
            "billingAddress": address, "items": [{"sku": line["sku"], "quantity": 2, "price": "19.90"}
                                                 for line in order["lines"]],
            "shippingMethod": "dhl", "shippingAmount": "4.90", "paymentMethod": "invoice"}


def script(folder: str, name: str, path: str, content_type: str, body: str, headers: dict | None = None) -> Path:
    """A wrk script POSTing ``body`` with @NUMBER@ replaced by a number unique per thread and request."""
    head, _, tail = body.partition("@NUMBER@")
    extra = "".join(f'headers["{k}"] = "{v}"\n    ' for k, v in (headers or {}).items())
    target = Path(folder) / f"{name}.lua"
    target.write_text(f"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
local headers = nil
request = function()
  if headers == nil then
    headers = {{["Content-Type"] = "{content_type}"}}
    {extra}
  end
  n = n + 1
  local body = {f'[[{head}]] .. "{name}-" .. tid .. "-" .. n .. [[{tail}]]' if tail or "@NUMBER@" in body else f"[[{head}]]"}
  return wrk.format("POST", "{path}", headers, body)
end
""")
    return target


def row(label: str, result: dict, unit: str) -> str:
    return (f"  {label:<28} {result['rps']:>8,.0f} {unit:<9} p50 {result['p50_ms']:6.2f} ms  "
            f"p99 {result['p99_ms']:6.2f} ms")


def run(seconds: int) -> None:
    os.environ["BENCH_SHOP_PASSWORD"] = PASSWORD
    prefix = f"S{time.time_ns()}"
    with tempfile.TemporaryDirectory() as folder:
        db = small_store(folder)
        with serving(db, shops=SHOPS) as (url, _token, _config):
            wrk(f"{url}/healthz", seconds=2, label="warm-up")
            base = wrk(f"{url}/healthz", seconds=seconds, label="baseline /healthz")
            soap = ENVELOPE.format(op="CreateSalesOrder", data=escape(ubl_order("@NUMBER@")))
            ibexa = wrk(url, seconds=seconds, label="ibexa CreateSalesOrder",
                        script=script(folder, f"{prefix}I", "/connectors/ibexa", "text/xml", soap))
            price = wrk(url, seconds=seconds, label="ibexa CalculateSalesPrice",
                        script=script(folder, f"{prefix}P", "/connectors/ibexa", "text/xml",
                                      ENVELOPE.format(op="CalculateSalesPrice", data=escape(PRICE_REQUEST))))
            basic = base64.b64encode(f"commerceup:{PASSWORD}".encode()).decode()
            commerceup = wrk(url, seconds=seconds, label="commerceup createorder",
                             script=script(folder, f"{prefix}C", "/connectors/commerceup/createorder",
                                           "application/json", json.dumps(commerceup_body("@NUMBER@")),
                                           {"Authorization": f"Basic {basic}"}))
        stored = {name: count_accepted(db, f"{prefix}{name}") for name in ("I", "C")}
    for name, result in (("I", ibexa), ("C", commerceup)):
        assert result["non_2xx"] == 0 and not result["errors"], result
        orders, messages = stored[name]
        assert orders == messages and orders >= result["requests"], (name, stored[name], result["requests"])
    assert price["non_2xx"] == 0 and not price["errors"], price
    print(f"\nshop endpoints, SQLite (WAL), 1 uvicorn process, 8 connections; {machine()}")
    print(row("baseline GET /healthz", base, "req/s"))
    for label, result, unit in (("ibexa CreateSalesOrder", ibexa, "orders/s"), ("commerceup createorder",
                                                                                 commerceup, "orders/s")):
        ok = result["p99_ms"] < 20 and result["rps"] >= 300
        print(row(label, result, unit) + f"  {result['rps'] / base['rps']:.0%} of baseline; "
              f"target p99 < 20 ms, >= 300/s: {'OK' if ok else 'MISSED'}")
    print(row("ibexa CalculateSalesPrice", price, "req/s") + f"  {price['rps'] / base['rps']:.0%} of baseline; "
          f"target p99 < 10 ms: {'OK' if price['p99_ms'] < 10 else 'MISSED'}")
    print(f"  every answered order is in the store with its message: {stored}")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
