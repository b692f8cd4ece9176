"""Catalog and customer reads over real HTTP: from the store, with ETags and cursors."""

from __future__ import annotations

import datetime as dt

from erpbridge.records import Product
from erpbridge.services.products import set_enabled


def test_health_and_readiness_need_no_key(api):
    with api.client(None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
    assert ready["status"] == "ready" and ready["store"] == "ok"
    assert ready["erp"]["system"] == "erp" and ready["erp"]["offline"] is False


def test_product_by_sku_with_etag(api):
    with api.client("read:catalog") as c:
        r = c.get("/api/v1/products/DRILL-1")
        assert r.status_code == 200
        assert r.json()["name"] == "Drill" and r.json()["enabled"] is True
        again = c.get("/api/v1/products/DRILL-1", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        api.hub.records.put([Product(sku="DRILL-1", name="Drill 2", group="drills")])
        changed = c.get("/api/v1/products/DRILL-1", headers={"If-None-Match": r.headers["etag"]})
        assert changed.status_code == 200 and changed.json()["name"] == "Drill 2"


def test_disabled_products_are_hidden_unless_asked(api):
    with api.client("read:catalog") as c:
        assert c.get("/api/v1/products/OLD-1").status_code == 404
        assert c.get("/api/v1/products/OLD-1", params={"include_disabled": True}).json()["enabled"] is False
        assert [p["sku"] for p in c.get("/api/v1/products").json()["items"]] == ["DRILL-1", "SAW-1"]
        everything = c.get("/api/v1/products", params={"include_disabled": "true"}).json()["items"]
        assert [p["sku"] for p in everything] == ["DRILL-1", "OLD-1", "SAW-1"]


def test_products_by_group_and_changed_since(api):
    with api.client("read:catalog") as c:
        assert [p["sku"] for p in c.get("/api/v1/products", params={"group": "saws"}).json()["items"]] == ["SAW-1"]
        later = dt.datetime.now(dt.timezone.utc)
        api.hub.records.put([Product(sku="SAW-1", name="Saw, sharper", group="saws")])
        changed = c.get("/api/v1/products", params={"changed_since": later.isoformat()}).json()["items"]
        assert [p["sku"] for p in changed] == ["SAW-1"]


def test_cursor_pagination_walks_every_product_once(api):
    api.hub.records.put([Product(sku=f"P-{i:03}", name=f"P {i}") for i in range(25)])
    set_enabled(api.hub, enabled=True, skus=[f"P-{i:03}" for i in range(25)])
    seen, cursor = [], None
    with api.client("read:catalog") as c:
        while True:
            page = c.get("/api/v1/products", params={"limit": 10, **({"cursor": cursor} if cursor else {})}).json()
            seen += [p["sku"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad = c.get("/api/v1/products", params={"cursor": "!!!"})
    assert len(seen) == 27 and len(set(seen)) == 27
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


def test_group_tree(api):
    with api.client("read:catalog") as c:
        tree = c.get("/api/v1/product-groups").json()["groups"]
    assert [g["code"] for g in tree] == ["tools"]
    assert [g["code"] for g in tree[0]["children"]] == ["saws", "drills"]  # by position


def test_price_tiers_customer_and_validity(api):
    with api.client("read:catalog") as c:
        one = c.get("/api/v1/prices/DRILL-1").json()
        assert (one["kind"], one["unit_price"], one["total"], one["source"]) == ("list", "99", "99", "store")
        # The 2+ tier of 50.00 expired yesterday: it does not apply.
        assert c.get("/api/v1/prices/DRILL-1", params={"quantity": 5}).json()["unit_price"] == "99"
        ten = c.get("/api/v1/prices/DRILL-1", params={"quantity": 10}).json()
        assert (ten["kind"], ten["unit_price"], ten["total"]) == ("volume", "90", "900")
        past = c.get("/api/v1/prices/DRILL-1", params={"quantity": 5, "on": str(dt.date.today() - dt.timedelta(days=5))})
        assert past.json()["unit_price"] == "50"
        mine = c.get("/api/v1/prices/DRILL-1", params={"customer": "C100", "quantity": 10}).json()
        assert (mine["kind"], mine["unit_price"]) == ("customer", "80")
        assert c.get("/api/v1/prices/DRILL-1", params={"currency": "USD"}).status_code == 404
        bad = c.get("/api/v1/prices/DRILL-1", params={"quantity": -1})
        assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "quantity"
        r = c.get("/api/v1/prices/DRILL-1")
        assert c.get("/api/v1/prices/DRILL-1", headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_stock_per_warehouse_and_salable_never_negative(api):
    with api.client("read:catalog") as c:
        drill = c.get("/api/v1/stock/DRILL-1").json()
        assert drill["warehouses"] == [{"warehouse": "EAST", "quantity": "-2"}, {"warehouse": "MAIN", "quantity": "7"}]
        assert drill["salable"] == "5"
        assert c.get("/api/v1/stock/SAW-1").json()["salable"] == "0"
        assert c.get("/api/v1/stock/OLD-1").json() == {"sku": "OLD-1", "warehouses": [], "salable": "0"}
        assert c.get("/api/v1/stock/NOPE").status_code == 404


def test_customer_by_number_from_the_store(api):
    with api.client("read:customers") as c:
        r = c.get("/api/v1/customers/C100")
        assert r.status_code == 200 and r.json()["name"] == "Acme GmbH" and r.json()["source"] == "store"
        assert c.get("/api/v1/customers/C100", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
        missing = c.get("/api/v1/customers/C999")
        assert missing.status_code == 404 and missing.json()["status"] == 404
