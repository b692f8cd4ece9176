"""Real time where configured, over real HTTP: the running API asks a stub ERP (a real HTTP server
on 127.0.0.1) for customers at login, customers' prices and documents; when the ERP is offline
(semaphore), down or slow, the store answers at once, marked as such; reads and orders never
wait on the ERP."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from erpbridge.documents import store_copy
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.records import Customer, Document

from .conftest import order_payload
from .erp_stub import StubErp, StubRealTime


@pytest.fixture
def erp():
    stub = StubErp()
    stub.prices[("DRILL-1", "C100")] = "77.00"
    stub.customers["C200"] = {"number": "C200", "name": "Neu GmbH", "email": "info@neu.example"}
    stub.customers["C100"] = {"number": "C100", "name": "Acme GmbH (from the ERP)"}
    stub.documents[("invoice", "INV-1")] = b"%PDF-1.4 invoice INV-1 from the ERP"
    yield stub
    stub.stop()


def trip(api, seconds=60):
    Semaphore(api.hub.engine, "erp", 60).trip("test: the ERP is down", seconds=seconds)


def test_customer_at_login_is_fetched_from_the_erp_and_stored(start_api, erp):
    api = start_api(erp=StubRealTime(erp.url))
    with api.client("read:customers") as c:
        r = c.get("/api/v1/customers/C200", params={"context": "login"})
        assert r.status_code == 200 and r.headers["x-erpbridge-source"] == "erp"
        assert (r.json()["name"], r.json()["source"], r.json()["fallback"]) == ("Neu GmbH", "erp", None)
        # Stored: the next plain read answers from the store.
        stored = c.get("/api/v1/customers/C200").json()
        assert (stored["name"], stored["source"]) == ("Neu GmbH", "store")
    assert api.hub.records.get("customers", "C200").email == "info@neu.example"


def test_offline_erp_answers_login_from_the_store_without_calling_it(start_api, erp):
    api = start_api(erp=StubRealTime(erp.url))
    trip(api)
    with api.client("read:customers") as c:
        r = c.get("/api/v1/customers/C100", params={"context": "login"})
    assert r.status_code == 200 and r.headers["x-erpbridge-fallback"] == "erp_offline"
    assert (r.json()["name"], r.json()["source"], r.json()["fallback"]) == ("Acme GmbH", "store", "erp_offline")
    assert erp.calls == 0


def test_a_slow_erp_is_bounded_by_the_timeout(start_api, erp):
    api = start_api(erp=StubRealTime(erp.url), api={"realtime": {"timeout": 0.3, "cache_ttl": 0}})
    erp.delay = 3
    with api.client("admin") as c:
        started = time.monotonic()
        price = c.get("/api/v1/prices/DRILL-1", params={"customer": "C100", "context": "checkout"})
        login = c.get("/api/v1/customers/C100", params={"context": "login"})
        took = time.monotonic() - started
    assert took < 2, took  # two lookups, each cut at 0.3 s; the ERP would have taken 6 s
    assert (price.json()["source"], price.json()["fallback"], price.json()["unit_price"]) == ("store", "erp_timeout", "80")
    assert (login.json()["source"], login.json()["fallback"]) == ("store", "erp_timeout")


def test_customer_price_from_the_erp_in_configured_contexts_cached(start_api, erp):
    api = start_api(erp=StubRealTime(erp.url), api={"realtime": {"price_contexts": ["checkout"], "cache_ttl": 60}})
    with api.client("read:catalog") as c:
        live = c.get("/api/v1/prices/DRILL-1", params={"customer": "C100", "context": "checkout", "quantity": 2})
        assert live.json() | {"tiers": None} == {
            "sku": "DRILL-1", "currency": "EUR", "quantity": "2", "customer": "C100", "kind": "customer",
            "unit_price": "77", "total": "154", "tiers": None, "source": "erp", "fallback": None}
        assert c.get("/api/v1/prices/DRILL-1", params={"customer": "C100", "context": "checkout",
                                                      "quantity": 2}).json()["source"] == "erp"
        assert erp.calls == 1  # the second answer came from the cache
        listing = c.get("/api/v1/prices/DRILL-1", params={"customer": "C100", "context": "product_page"}).json()
        assert (listing["source"], listing["unit_price"], listing["fallback"]) == ("store", "80", None)
        assert erp.calls == 1
        trip(api)
        offline = c.get("/api/v1/prices/DRILL-1", params={"customer": "C100", "context": "checkout", "quantity": 3})
        assert offline.headers["x-erpbridge-fallback"] == "erp_offline"
        assert (offline.json()["source"], offline.json()["unit_price"]) == ("store", "80")
    assert erp.calls == 1


def test_an_erp_that_refuses_connections_trips_the_semaphore(start_api, erp):
    api = start_api(erp=StubRealTime(erp.url))
    erp.stop()
    with api.client("admin") as c:
        first = c.get("/api/v1/customers/C100", params={"context": "login"}).json()
        assert (first["source"], first["fallback"]) == ("store", "erp_offline")
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert ready.json()["erp"]["offline"] is True and "ERP unreachable" in ready.json()["erp"]["reason"]


def test_reads_and_orders_keep_working_while_the_erp_is_offline(start_api, erp):
    api = start_api(erp=StubRealTime(erp.url))
    trip(api)
    with api.client("admin") as c:
        assert c.get("/api/v1/products/DRILL-1").status_code == 200
        assert c.get("/api/v1/stock/DRILL-1").json()["salable"] == "5"
        assert c.get("/api/v1/prices/SAW-1").json()["unit_price"] == "25"
        assert c.get("/api/v1/product-groups").status_code == 200
        placed = c.post("/api/v1/orders", json=order_payload())
        assert placed.status_code == 201 and placed.json()["messages"][0]["state"] == "pending"
        assert c.get("/healthz").status_code == 200
    assert erp.calls == 0


def test_documents_in_real_time_from_the_erp(start_api, erp):
    api = start_api(erp=StubRealTime(erp.url))
    with api.client("read:customers") as c:
        r = c.get("/api/v1/documents/invoice/INV-1")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.content == b"%PDF-1.4 invoice INV-1 from the ERP" and r.headers["x-erpbridge-source"] == "erp"
        missing = c.get("/api/v1/documents/invoice/INV-404")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        trip(api)
        offline = c.get("/api/v1/documents/invoice/INV-1")
        assert offline.status_code == 503 and offline.headers["retry-after"] == "60"
        assert "erp_offline" in offline.json()["detail"]


def test_local_documents_serve_phone_orders_too(start_api, erp, tmp_path):
    api = start_api(erp=StubRealTime(erp.url), order_history={"use_local_documents": True,
                                                              "documents_folder": str(tmp_path / "documents")})
    copy = store_copy(api.hub.config, b"%PDF-1.4 local copy of INV-9")
    api.hub.records.put([
        Document(type="invoice", number="INV-9", order="PHONE-1", customer="C100", content=copy),
        Document(type="delivery_note", number="DN-9", order="PHONE-1", customer="C100", content=copy),
        Document(type="invoice", number="INV-X", order="SO-X", customer="C999", content=copy),
    ])
    with api.client("read:customers") as c:
        listed = c.get("/api/v1/customers/C100/documents").json()
        assert [(d["type"], d["number"], d["order"]) for d in listed["items"]] == [
            ("delivery_note", "DN-9", "PHONE-1"), ("invoice", "INV-9", "PHONE-1")]
        first = c.get("/api/v1/customers/C100/documents", params={"limit": 1}).json()
        assert len(first["items"]) == 1 and first["next_cursor"]
        href = listed["items"][1]["href"]
        r = c.get(href)
        assert r.status_code == 200 and r.content == b"%PDF-1.4 local copy of INV-9"
        assert r.headers["x-erpbridge-source"] == "store"
        # A document of another customer is not shown to this one.
        assert c.get("/api/v1/documents/invoice/INV-X", params={"customer": "C100"}).status_code == 404
    assert erp.calls == 0  # use_local_documents never asks the ERP


def test_login_for_a_customer_the_erp_does_not_know_falls_back_to_the_store(start_api, erp):
    api = start_api(erp=StubRealTime(erp.url))
    api.hub.records.put([Customer(number="C300", name="Only here", credit_limit=Decimal(100))])
    with api.client("read:customers") as c:
        known = c.get("/api/v1/customers/C300", params={"context": "login"}).json()
        assert (known["source"], known["fallback"]) == ("store", "erp_not_found")
        assert c.get("/api/v1/customers/C404", params={"context": "login"}).status_code == 404
