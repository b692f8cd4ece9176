"""Every Commerceup call is in the exchange log (SQLite and PostgreSQL): measuring point
``commerceup.<call>``, the business key, the outcome, the body and the answer, with the
password and the bearer token never written and the customer's personal data masked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from erpbridge.exchange.tables import exchange_log

from commerceup_hub import PASSWORD, TOKEN, commerceup_client, order_body, token_hub

@pytest.fixture
def hub(tmp_path, db_url, monkeypatch):
    with token_hub(tmp_path, db_url, monkeypatch) as hub:
        yield hub


def entries(app) -> list[dict]:
    import orjson

    app.connector("shop").log.flush()
    with app.engine.connect() as conn:
        rows = conn.execute(select(exchange_log).where(exchange_log.c.system == "shop")
                            .order_by(exchange_log.c.id)).mappings().all()
    return [{**r, "request": orjson.loads(r["request"]), "response": orjson.loads(r["response"]),
             "text": f"{r['request']}{r['response']}{r['error']}"} for r in rows]


def test_each_call_is_logged_with_its_point_key_and_outcome_and_never_the_credentials(hub):
    order = order_body("O-1", "CU-7", [("A-1", 2, "19.90")])
    with commerceup_client(hub) as shop:  # Basic auth
        assert shop.post("/createorder", json=order).status_code == 201
        assert shop.get("/orders/O-1").status_code == 200
        assert shop.post("/createorder", json={**order, "items": "many"}).status_code == 422
    with commerceup_client(hub, auth=None, headers={"username": "commerceup", "password": PASSWORD}) as shop:
        assert shop.post("/createcustomer", json={"customerId": "CU-7", "name": "Jane Doe",
                                                  "email": "jane@example.com"}).status_code == 200
    with commerceup_client(hub, auth=None, headers={"Authorization": f"Bearer {TOKEN}x"}) as shop:
        assert shop.post("/cancelorder", json={"orderId": "O-1"}).status_code == 401

    created, detail, refused, customer, unauthorized = entries(hub.app)
    assert [e["point"] for e in (created, detail, refused, customer, unauthorized)] == [
        "commerceup.createorder", "commerceup.order", "commerceup.createorder", "commerceup.createcustomer",
        "commerceup.cancelorder"]
    assert (created["direction"], created["flow"], created["outcome"]) == ("in", "orders", "ok")
    assert created["request"]["key"] == {"order": "O-1", "customer": "CU-7"}
    assert created["request"]["body"]["items"][0]["quantity"] == 2 and created["response"]["status"] == 201
    assert created["request"]["headers"]["authorization"] == "***"
    assert detail["request"]["key"] == {"order": "O-1"} and detail["outcome"] == "ok"
    assert refused["outcome"] == "message_error" and refused["error"].startswith("422")
    assert customer["flow"] == "customers" and customer["request"]["key"] == {"customer": "CU-7"}
    assert customer["request"]["headers"] == {"username": "commerceup", "password": "***"}
    assert "jane@example.com" not in customer["text"] and "Jane Doe" not in customer["text"]
    assert (unauthorized["outcome"], unauthorized["response"]["status"]) == ("message_error", 401)
    for entry in entries(hub.app):
        assert PASSWORD not in entry["text"] and TOKEN not in entry["text"]
