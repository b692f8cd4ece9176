"""Every call of an adapter is one exchange in the log, with its system, flow, measuring point and
outcome, and not one credential in the stored row (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from erpbridge.connectors.base import GeneralError, MessageError
from erpbridge.connectors.kit import ApiKey, Basic, BearerToken, OAuth1, OAuth2ClientCredentials
from erpbridge.exchange.log import ExchangeLog
from erpbridge.exchange.tables import exchange_log

from .peer import Answer, refused_url
from .test_auth import CLIENT_ID, CLIENT_SECRET, CONSUMER_KEY, CONSUMER_SECRET, TOKEN, TOKEN_SECRET, TokenServer


def stored(engine) -> list[str]:
    """The rows as the database holds them, every column as text."""
    with engine.connect() as conn:
        return [" ".join(str(value) for value in row) for row in conn.execute(select(exchange_log))]


def test_a_call_is_one_exchange_with_its_request_and_answer(engine, peer, adapter_for):
    log = ExchangeLog(engine)
    peer.on("/V1/orders", Answer(201, json={"id": 7, "increment_id": "100"}))
    adapter = adapter_for(peer.url, exchange_log=log)
    adapter.request("POST", "/V1/orders", flow="orders", point="test.order.create", params={"storeId": 1},
                    json={"entity": {"increment_id": "100"}})
    entry, = log.query()
    assert (entry["system"], entry["flow"], entry["point"], entry["direction"], entry["outcome"]) == (
        "erp", "orders", "test.order.create", "out", "ok")
    assert entry["request"] == {"method": "POST", "url": f"{peer.url}/V1/orders?storeId=1",
                                "body": {"entity": {"increment_id": "100"}}}
    assert entry["response"] == {"status": 201, "body": {"id": 7, "increment_id": "100"}}


def test_failed_calls_are_exchanges_with_their_outcome_and_the_systems_answer(engine, peer, adapter_for):
    log = ExchangeLog(engine)
    peer.on("/V1/orders", Answer(422, json={"message": '"%1" is required.', "parameters": ["qty"]}))
    adapter = adapter_for(peer.url, exchange_log=log)
    with pytest.raises(MessageError):
        adapter.request("POST", "/V1/orders", flow="orders", point="test.order.create", json={})
    down = adapter_for(refused_url(), exchange_log=log)
    with pytest.raises(GeneralError):
        down.request("GET", "/V1/orders", flow="orders", point="test.orders.list")
    unreachable, refused = log.query()
    assert refused["outcome"] == "message_error" and '"qty" is required.' in refused["error"]
    assert refused["response"] == {"status": 422, "body": {"message": '"%1" is required.', "parameters": ["qty"]}}
    assert unreachable["outcome"] == "general_error" and "unreachable" in unreachable["error"]
    assert unreachable["response"] is None


def test_a_binary_answer_is_recorded_by_its_size(engine, peer, adapter_for):
    log = ExchangeLog(engine)
    peer.on("/invoice.pdf", Answer(body=b"%PDF-1.7\x00\xff" * 100, headers={"Content-Type": "application/pdf"}))
    adapter_for(peer.url, exchange_log=log).request("GET", "/invoice.pdf", flow="documents", point="test.document.get")
    assert log.query()[0]["response"] == {"status": 200, "body": "<1000 bytes of application/pdf>"}


# Secrets none of which may reach the stored row; none of them looks like a secret by its own
# shape, so the log's key-based redaction cannot be what keeps them out.
PASSWORD, BEARER, HEADER_KEY, QUERY_KEY, COOKIE = "pw-7Hq2x", "tok-5Rk1z", "hk-9Jd3w", "qk-2Lm8v", "ck-4Tn6p"


def test_no_credential_reaches_the_stored_row(engine, peer, adapter_for):
    log = ExchangeLog(engine)
    echo = Answer(200, json={"ok": True}, headers={"Set-Cookie": f"SAP_SESSIONID={COOKIE}; Path=/; HttpOnly"})
    for path in ("/basic", "/bearer", "/header", "/query", "/userinfo", "/oauth1"):
        peer.on(path, echo)
    TokenServer(peer, client_auth="body")  # /tenant/oauth2/v2.0/token and /api/v2.0/items; the secret in the form
    calls = [
        (peer.url, Basic("hub", PASSWORD), "/basic"),
        (peer.url, BearerToken(BEARER), "/bearer"),
        (peer.url, ApiKey(HEADER_KEY, header="X-Erp-Key"), "/header"),
        (peer.url, ApiKey(QUERY_KEY, query="key"), "/query"),
        (peer.url.replace("http://", f"http://hub:{PASSWORD}@"), None, "/userinfo"),
        (peer.url, OAuth1(CONSUMER_KEY, CONSUMER_SECRET, TOKEN, TOKEN_SECRET, realm="1234567_SB1"), "/oauth1"),
        (peer.url, OAuth2ClientCredentials(f"{peer.url}/tenant/oauth2/v2.0/token", CLIENT_ID, CLIENT_SECRET,
                                           client_auth="body"), "/api/v2.0/items"),
    ]
    for url, auth, path in calls:
        adapter = adapter_for(url, auth=auth, exchange_log=log)
        adapter.request("GET", path, flow="catalog", point="test.read", params={"page": 1})
        adapter.request("GET", path, flow="catalog", point="test.read")  # with the cookie the peer set
    assert any(s.headers.get("cookie") == f"SAP_SESSIONID={COOKIE}" for s in peer.requests("/basic"))
    access_token = [s for s in peer.requests("/api/v2.0/items")][0].headers["authorization"].removeprefix("Bearer ")
    rows = stored(engine)
    assert len(rows) == 2 * len(calls) + 1  # and the token request
    for secret in (PASSWORD, BEARER, HEADER_KEY, QUERY_KEY, COOKIE, CONSUMER_SECRET, TOKEN_SECRET, CLIENT_SECRET,
                   access_token, "oauth_signature", "Authorization"):
        assert not [row for row in rows if secret in row], secret
    token_request, = log.query(point="test.oauth2.token")
    assert token_request["request"] == {"method": "POST", "url": f"{peer.url}/tenant/oauth2/v2.0/token", "body": None}
    assert token_request["response"] == {"status": 200, "body": None} and token_request["flow"] == "catalog"
    assert log.query(point="test.read", limit=100)[-1]["request"]["url"] == f"{peer.url}/basic?page=1"
