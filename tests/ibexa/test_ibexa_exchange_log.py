"""Every Web.Connector call is in the exchange log, as Ibexa's own ERP request log would show it:
its measuring point ``ibexa.<operation>``, the business key, the outcome, request and answer,
with the Web-Connector password never written and the customer's personal data masked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from erpbridge.exchange.tables import exchange_log

from ibexa_hub import PASSWORD, call, ubl_order


def entries(app, point: str | None = None) -> list[dict]:
    app.connector("shop").log.flush()
    query = select(exchange_log).where(exchange_log.c.system == "shop").order_by(exchange_log.c.id)
    with app.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    return [r for r in rows if point is None or r["point"] == point]


def test_each_call_is_logged_with_its_point_key_and_outcome_and_never_the_password(served):
    import orjson

    app, _server, client, realtime = served
    order = ubl_order("B-77", "C1", [("A-1", 2, "19.90")])
    call(client, "CreateSalesOrder", order)
    realtime.mode = "down"
    call(client, "CalculateSalesPrice", ubl_order("BASKET", "C1", [("A-1", 1, "0")]))
    call(client, "OrderDetail", "<OrderDetailRequest><SalesOrderID>NO-SUCH</SalesOrderID></OrderDetailRequest>")

    created, = entries(app, "ibexa.CreateSalesOrder")
    assert (created["direction"], created["flow"], created["outcome"]) == ("in", "orders", "ok")
    request, response = orjson.loads(created["request"]), orjson.loads(created["response"])
    assert request["key"] == {"order": "B-77", "customer": "C1"}
    assert request["user"] == "webconnector" and request["password"] == "***"
    assert request["data"]["Order"]["OrderLine"][0]["LineItem"]["Quantity"] == "2"
    assert response["status"] == {"code": 0, "erp_status": "accepted"}
    assert response["data"]["OrderResponse"]["SalesOrderID"] == "B-77"
    # the customer's name, street and e-mail are masked, element by element
    party = request["data"]["Order"]["BuyerCustomerParty"]["Party"]
    assert "Jane" not in created["request"] and "jane@example.com" not in created["request"]
    assert "Main St" not in created["request"] and party["PostalAddress"]["Country"]["IdentificationCode"] == "DE"

    priced, = entries(app, "ibexa.CalculateSalesPrice")
    assert (priced["flow"], priced["outcome"]) == ("prices", "general_error")  # 21: the ERP is offline
    assert "21" in priced["error"] and orjson.loads(priced["response"])["status"]["code"] == 21
    missing, = entries(app, "ibexa.OrderDetail")
    assert missing["outcome"] == "message_error" and orjson.loads(missing["request"])["key"] == {"order": "NO-SUCH"}
    assert all(PASSWORD not in (e["request"] or "") + (e["response"] or "") + (e["error"] or "")
               for e in entries(app))


@pytest.mark.parametrize("password", [PASSWORD, "wrong-0123456789"])
def test_refused_calls_are_logged_by_their_fault_without_the_password(served, password):
    import httpx
    import zeep.exceptions

    app, server, client, _ = served
    with pytest.raises(zeep.exceptions.Fault):
        call(client, "CreateSalesOrder", ubl_order("B-1", "C1", [("A-1", 1, "19.90")]).replace("<UUID>B-1</UUID>", "")
             if password == PASSWORD else ubl_order("B-1", "C1", [("A-1", 1, "19.90")]), password=password)
    # not SOAP at all: its size only, the text may hold the password where no parser found it
    httpx.post(f"{server.url}/connectors/shop", content=f"<password>{password}</password>".encode())
    refused, garbage = entries(app)
    assert (refused["point"], refused["outcome"]) == ("ibexa.CreateSalesOrder", "message_error")
    assert ("Order/UUID" if password == PASSWORD else "user or password is wrong") in refused["error"]
    assert (garbage["point"], garbage["outcome"], garbage["request"]) == ("ibexa.request", "message_error",
                                                                           '{"bytes":%d}' % (len(password) + 21))
    for entry in (refused, garbage):
        assert password not in (entry["request"] or "") + (entry["error"] or "")
