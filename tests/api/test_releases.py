"""POST /api/v1/products/enable and /disable: releasing products, with a scope of their own."""

from __future__ import annotations

import httpx

from erpbridge.api.keys import create_key


def test_the_api_releases_products_with_its_own_scope(start_api):
    running = start_api()
    writer, _ = create_key(running.hub.engine, ["write:catalog"], name="merchant")
    with httpx.Client(base_url=running.url, timeout=10) as client:
        refused = client.post("/api/v1/products/enable", json={"skus": ["OLD-1"]},
                              headers={"Authorization": f"Bearer {running.keys['write:orders']}"})
        assert refused.status_code == 403
        answer = client.post("/api/v1/products/enable", json={"skus": ["OLD-1"]},
                             headers={"Authorization": f"Bearer {writer}"})
        assert answer.status_code == 200 and answer.json()["changed"] == ["OLD-1"]
        shown = client.get("/api/v1/products/OLD-1", headers={"Authorization": f"Bearer {running.keys['read:catalog']}"})
        assert shown.status_code == 200 and shown.json()["enabled"] is True
