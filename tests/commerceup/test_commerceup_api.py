"""Commerceup's calls as the contract erpbridge serves them (README "Commerceup"): the three ways
to authenticate, JSON and XML bodies and answers, GET with a body as the seed's widget shows it,
and bad bodies refused with the field named and nothing stored (never a 500)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from erpbridge.outbox.tables import outbox_messages
from erpbridge.store.tables import orders

from commerceup_hub import PASSWORD, TOKEN, commerceup_client, order_body, token_hub

@pytest.fixture
def hub(tmp_path, monkeypatch):
    with token_hub(tmp_path, f"sqlite:///{tmp_path / 'store.db'}", monkeypatch) as hub:
        yield hub


def stored(app) -> tuple[int, int]:
    with app.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(orders)).scalar_one(),
                conn.execute(select(func.count()).select_from(outbox_messages)).scalar_one())


def test_basic_the_seeds_username_and_password_headers_and_a_bearer_token_are_accepted(hub):
    body = order_body("O-1", None, [("A-1", 1, "19.90")])
    ways = [{"auth": ("commerceup", PASSWORD)}, {"headers": {"username": "commerceup", "password": PASSWORD}},
            {"headers": {"Authorization": f"Bearer {TOKEN}"}}]
    for options in ways:
        with commerceup_client(hub, **({"auth": None} | options)) as shop:
            response = shop.post("/createorder", json=body)
            assert response.status_code in (200, 201) and response.json()["orderId"] == "O-1", response.text
    assert stored(hub.app) == (1, 1)


@pytest.mark.parametrize("options", [{"auth": ("commerceup", "wrong")}, {"auth": None},
                                     {"auth": None, "headers": {"Authorization": "Bearer nope"}},
                                     {"auth": None, "headers": {"Authorization": "Basic !!!"}}])
def test_wrong_or_missing_credentials_are_refused(hub, options):
    with commerceup_client(hub, **options) as shop:
        response = shop.post("/createorder", json=order_body("O-1", None, [("A-1", 1, "19.90")]))
    assert response.status_code == 401 and response.json()["success"] is False
    assert stored(hub.app) == (0, 0)


def test_an_xml_order_is_answered_in_xml_and_a_get_with_a_body_works(hub):
    xml = ("<order><orderId>O-X</orderId><currency>EUR</currency><billingAddress><name>Jane</name>"
           "<street>Main St 1</street><zip>10115</zip><city>Berlin</city><country>DE</country></billingAddress>"
           "<items><item><sku>A-1</sku><quantity>2</quantity><price>19.90</price></item></items></order>")
    with commerceup_client(hub) as shop:
        response = shop.request("GET", "/createorder", content=xml, headers={"Content-Type": "application/xml"})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/xml")
    assert b"<success>true</success>" in response.content and b"<orderId>O-X</orderId>" in response.content


@pytest.mark.parametrize("body, status, field", [
    (order_body("O-1", None, [("NO-SUCH", 1, "5.00")]), 422, "items.0.sku"),
    (order_body("O-1", None, [("A-1", 0, "5.00")]), 422, "items.0.quantity"),
    ({**order_body("O-1", None, [("A-1", 1, "5.00")]), "billingAddress": {"name": "J"}}, 422, "billingAddress.street"),
    ({**order_body("O-1", None, [("A-1", 1, "5.00")]), "orderId": None}, 422, "orderId"),
    ({**order_body("O-1", None, [("A-1", 1, "5.00")]), "grandTotal": "abc"}, 422, "grandTotal"),
    ({**order_body("O-1", None, [("A-1", 1, "5.00")]), "items": "many"}, 422, "items"),
])
def test_a_bad_order_is_refused_naming_the_field_and_nothing_is_stored(hub, body, status, field):
    with commerceup_client(hub) as shop:
        response = shop.post("/createorder", json=body)
    answer = response.json()
    assert response.status_code == status and answer["success"] is False, response.text
    assert field in [e["field"] for e in answer["errors"]], answer
    assert "commerceup shop" in answer["message"]
    assert stored(hub.app) == (0, 0)


def test_not_json_hostile_xml_and_an_order_number_reused_get_clear_answers(hub):
    with commerceup_client(hub) as shop:
        assert shop.post("/createorder", content=b"{nope", headers={"Content-Type": "application/json"}
                         ).status_code == 422
        hostile = (b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   b'<o><orderId>&x;</orderId></o>')
        response = shop.post("/createorder", content=hostile, headers={"Content-Type": "application/xml"})
        assert response.status_code == 422 and b"root:" not in response.content
        assert shop.post("/createorder", json=order_body("O-1", None, [("A-1", 1, "19.90")])).status_code == 201
        reused = shop.post("/createorder", json=order_body("O-1", None, [("A-1", 2, "19.90")]))
        assert reused.status_code == 409 and reused.json()["success"] is False
        assert shop.post("/cancelorder", json={"orderId": "O-404"}).json()["errors"] == \
            [{"field": "orderId", "reason": "unknown"}]
    assert stored(hub.app) == (1, 1)


def test_a_cancellation_before_the_erp_took_the_order_is_answered_at_once(hub):
    with commerceup_client(hub) as shop:
        shop.post("/createorder", json=order_body("O-1", None, [("A-1", 2, "19.90")]))
        partial = shop.post("/cancelorder", json={"orderId": "O-1", "items": [{"sku": "A-1", "quantity": 1}]})
        assert partial.json()["success"] is True and partial.json()["status"] == "accepted"
        too_many = shop.post("/cancelorder", json={"orderId": "O-1", "items": [{"sku": "A-1", "quantity": 5}]})
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "items.0.quantity"
