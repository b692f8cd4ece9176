"""Security over real HTTP: keys, scopes, body limits, strict validation, no leaks, CORS."""

from __future__ import annotations

import hashlib

from click.testing import CliRunner
from sqlalchemy import select

from erpbridge.api.keys import revoke_key
from erpbridge.api.tables import api_keys
from erpbridge.cli import cli
from .conftest import order_payload


def test_no_key_is_401_and_a_bad_key_too(api):
    with api.client(None) as c:
        r = c.get("/api/v1/products/DRILL-1")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.headers["content-type"] == "application/problem+json"
        forged = api.keys["admin"][:-4] + "AAAA"
        assert c.get("/api/v1/products/DRILL-1", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        assert c.get("/api/v1/products/DRILL-1", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_each_scope_opens_only_its_endpoints(api):
    with api.client("read:catalog") as c:
        assert c.get("/api/v1/products/DRILL-1").status_code == 200
        denied = c.get("/api/v1/customers/C100")
        assert denied.status_code == 403 and denied.json()["required_scope"] == "read:customers"
        assert c.post("/api/v1/orders", json=order_payload()).status_code == 403
    with api.client("read:customers") as c:
        assert c.get("/api/v1/customers/C100").status_code == 200
        assert c.get("/api/v1/prices/DRILL-1").status_code == 403
    with api.client("write:orders") as c:
        assert c.get("/api/v1/stock/DRILL-1").status_code == 403
        assert c.post("/api/v1/orders", json=order_payload()).status_code == 201
    with api.client("admin") as c:
        for path in ("/api/v1/products/DRILL-1", "/api/v1/customers/C100", "/api/v1/orders/SO-1"):
            assert c.get(path).status_code == 200


def test_keys_are_stored_hashed_and_revocation_takes_effect(start_api):
    api = start_api(api={"key_cache_seconds": 0})
    token = api.keys["read:catalog"]
    with api.hub.engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.token_hash, api_keys.c.prefix)
                              .where(api_keys.c.name == "read:catalog")).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored and stored.prefix in token
    with api.client("read:catalog") as c:
        assert c.get("/api/v1/products/DRILL-1").status_code == 200
        revoke_key(api.hub.engine, "read:catalog")
        assert c.get("/api/v1/products/DRILL-1").status_code == 401


def test_keys_cli_create_list_revoke(tmp_path, db_url):
    config = tmp_path / "erpbridge.yaml"
    config.write_text(f"store:\n  url: {db_url}\n")
    runner = CliRunner()
    created = runner.invoke(cli, ["-c", str(config), "keys", "create", "--scopes", "read:catalog,write:orders",
                                  "--name", "shop", "--json"])
    assert created.exit_code == 0, created.output
    listed = runner.invoke(cli, ["-c", str(config), "keys", "list"])
    assert "shop" in listed.output and "read:catalog write:orders" in listed.output and "active" in listed.output
    assert "ebk_" not in listed.output  # tokens are never shown again
    assert runner.invoke(cli, ["-c", str(config), "keys", "revoke", "shop"]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["-c", str(config), "keys", "list"]).output
    bad = runner.invoke(cli, ["-c", str(config), "keys", "create", "--scopes", "root"])
    assert bad.exit_code == 2 and "root" in bad.output


def test_unknown_fields_on_writes_are_rejected_by_path(api):
    with api.client("write:orders") as c:
        r = c.post("/api/v1/orders", json=order_payload(gift_wrap=True))
        assert r.status_code == 422
        assert {"in": "body", "path": "gift_wrap", "message": "Extra inputs are not permitted"} in r.json()["errors"]
        lines = order_payload()["lines"]
        lines[0]["colour"] = "red"
        r = c.post("/api/v1/orders", json=order_payload(lines=lines))
        assert [e["path"] for e in r.json()["errors"]] == ["lines.0.colour"]


def test_body_size_limit(start_api):
    api = start_api(api={"max_body_bytes": 4096})
    with api.client("write:orders") as c:
        big = order_payload(email="x" * 10_000)
        r = c.post("/api/v1/orders", json=big)
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"

        def chunks():
            yield b'{"number": "'
            for _ in range(10):
                yield b"x" * 1000
        r = c.post("/api/v1/orders", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413


def test_errors_leak_no_internals(api):
    with api.client("admin") as c:
        r = c.post("/api/v1/orders", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and "Traceback" not in r.text
        r = c.get("/api/v1/nothing-here")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_cors_closed_unless_configured(start_api):
    closed = start_api()
    with closed.client(None) as c:
        r = c.options("/api/v1/products", headers={"Origin": "https://shop.example",
                                                  "Access-Control-Request-Method": "GET"})
        assert "access-control-allow-origin" not in r.headers
    opened = start_api(api={"cors_origins": ["https://shop.example"]}, seed=False)
    with opened.client(None) as c:
        r = c.options("/api/v1/products", headers={"Origin": "https://shop.example",
                                                  "Access-Control-Request-Method": "GET"})
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
        r = c.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
