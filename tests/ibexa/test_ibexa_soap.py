"""The Web.Connector as the shop's SOAP client meets it (zeep on the served WSDL, uvicorn on
127.0.0.1): the WSDL and the handlers agree, bad credentials and bad XML get a fault that names
the field and store nothing, hostile XML is not expanded, and real-time answers carry the
response code that says where they came from (0, 11 ERP error, 12 timeout, 21 offline)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from lxml import etree
from sqlalchemy import func, select

from erpbridge.connectors.ibexa import soap, ubl
from erpbridge.connectors.ibexa.messages import HANDLERS
from erpbridge.outbox.tables import outbox_messages
from erpbridge.store.tables import orders

from ibexa_hub import call, ubl_order


def stored(app) -> tuple[int, int]:
    with app.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(orders)).scalar_one(),
                conn.execute(select(func.count()).select_from(outbox_messages)).scalar_one())


def test_the_wsdl_declares_exactly_the_operations_the_connector_answers():
    assert sorted(soap.wsdl_operations()) == sorted(HANDLERS)


def test_the_served_wsdl_names_the_endpoint_it_is_served_at(served):
    _app, server, _client, _ = served
    wsdl = etree.fromstring(httpx.get(f"{server.url}/connectors/shop?wsdl").content)
    address, = wsdl.iter(f"{{{soap.WSDL_SOAP_NS}}}address")
    assert address.get("location") == f"{server.url}/connectors/shop"


def test_a_wrong_password_is_a_fault_and_nothing_is_stored(served):
    import zeep.exceptions

    app, _server, client, _ = served
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call(client, "CreateSalesOrder", ubl_order("B-1", "C1", [("A-1", 1, "19.90")]), password="wrong")
    assert "user or password is wrong" in caught.value.message
    assert stored(app) == (0, 0)


@pytest.mark.parametrize("change, named", [
    (lambda x: x.replace("<UUID>B-1</UUID>", ""), "Order/UUID"),
    (lambda x: x.replace("<Quantity>1</Quantity>", "<Quantity>many</Quantity>"), "OrderLine[1]/LineItem/Quantity"),
    (lambda x: x.replace("<Quantity>1</Quantity>", "<Quantity>-1</Quantity>"), "OrderLine[1]/LineItem/Quantity"),
    (lambda x: x.replace("<ID>A-1</ID>", "<ID>NO-SUCH</ID>"),
     "OrderLine[1]/LineItem/Item/SellersItemIdentification/ID"),
    (lambda x: x.replace("<DocumentCurrencyCode>EUR</DocumentCurrencyCode>", ""), "Order/DocumentCurrencyCode"),
    (lambda x: x[:-20], "not well-formed XML"),
])
def test_a_bad_order_is_a_fault_naming_the_field_and_nothing_is_stored(served, change, named):
    import zeep.exceptions

    app, _server, client, _ = served
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call(client, "CreateSalesOrder", change(ubl_order("B-1", "C1", [("A-1", 1, "19.90")])))
    assert named in caught.value.message and "ibexa shop" in caught.value.message, caught.value.message
    assert stored(app) == (0, 0)


def test_entities_in_the_data_are_not_expanded(served):
    import zeep.exceptions

    app, _server, client, _ = served
    hostile = ('<?xml version="1.0"?><!DOCTYPE Order [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               + ubl_order("B-1", "C1", [("A-1", 1, "19.90")]).replace("<UUID>B-1</UUID>", "<UUID>&x;</UUID>"))
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call(client, "CreateSalesOrder", hostile)
    assert "root:" not in caught.value.message and "Order/UUID" in caught.value.message
    assert stored(app) == (0, 0)


def test_what_is_not_a_soap_call_gets_a_client_fault_not_a_500(served):
    _app, server, _client, _ = served
    for body in (b"{}", b"<notsoap/>", b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                                        b'<soap:Body><Nope><user>u</user><password>p</password><data>&lt;a/&gt;'
                                        b'</data></Nope></soap:Body></soap:Envelope>'):
        response = httpx.post(f"{server.url}/connectors/shop", content=body, headers={"Content-Type": "text/xml"})
        assert response.status_code in (400, 401), response.text
        assert b"faultstring" in response.content and b"soap:Client" in response.content


def test_an_order_twice_is_one_order_and_one_message_even_without_its_issue_date(served):
    app, _server, client, _ = served
    undated = ubl_order("B-1", "C1", [("A-1", 1, "19.90")]).replace("<IssueDate>2026-12-02</IssueDate>", "")
    for _ in range(2):
        answer, code, _ = call(client, "CreateSalesOrder", undated)
        assert (code, ubl.text(answer, "SalesOrderID")) == (0, "B-1")
    assert stored(app) == (1, 1)


def price(client, customer: str | None = "C1"):
    answer, code, _ = call(client, "CalculateSalesPrice", ubl_order("BASKET", customer or "", [("A-1", 1, "0")]))
    line, = answer.iter("LineItem")
    return Decimal(ubl.text(line, "Price/PriceAmount")), ubl.text(line, "SesExtension/PriceSource"), code


def test_real_time_prices_say_where_they_came_from(served):
    app, _server, client, realtime = served
    assert price(client) == (Decimal("15.00"), "erp", 0)
    realtime.mode = "slow"
    assert price(client) == (Decimal("19.9"), "store", 12)  # the ERP's answer came too late
    realtime.mode = "broken"
    assert price(client) == (Decimal("19.9"), "store", 11)
    realtime.mode = "down"
    assert price(client) == (Decimal("19.9"), "store", 21)  # trips the semaphore: no more calls while offline
    realtime.mode = "answer"
    assert price(client) == (Decimal("19.9"), "store", 21)
    assert app.semaphore("erp").is_offline()


def test_select_customer_asks_the_erp_and_falls_back_to_the_store(served):
    app, _server, client, realtime = served
    request = "<Order><BuyerCustomerParty><Party><PartyIdentification><ID>C7</ID></PartyIdentification></Party>" \
              "</BuyerCustomerParty></Order>"
    answer, code, _ = call(client, "SelectCustomer", request)
    assert code == 0 and ubl.text(answer, "BuyerCustomerParty/Party/PartyName/Name") == "Jane Doe (from the ERP)"
    realtime.mode = "slow"
    answer, code, _ = call(client, "SelectCustomer", request)  # stored at the first login
    assert code == 12 and ubl.text(answer, "BuyerCustomerParty/Party/PartyIdentification/ID") == "C7"
    _, code, status = call(client, "SelectCustomer", request.replace("C7", "C8"))
    assert code == 12 and "no customer" in status
