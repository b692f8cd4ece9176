"""Price lookup for one SKU and customer over HTTP, from a store of 1,000,000 products.

  baseline  GET /healthz: a trivial JSON endpoint of the same server (no key, no store)
  price     GET /api/v1/prices/{sku}?customer=C1 with an API key: key check, the store's tiers
            for that SKU (list and the customer's own), JSON answer; a random SKU per request

One uvicorn process (one worker), wrk with 8 connections on 2 threads, both runs in this process
against the same server. Prints req/s, p50/p99 and the ratio price/baseline (targets: >= 50% of
the baseline's req/s, p99 < 10 ms). The store is bulk-seeded once into bench/data/ (git-ignored).

Run: .venv/bin/python bench/api_price_lookup.py [PRODUCTS] [SECONDS]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx

from api_common import CUSTOMER, machine, seeded_store, serving, sku, wrk

LUA = """
math.randomseed(%(seed)d)
request = function()
  local n = math.random(0, %(last)d)
  return wrk.format("GET", string.format("/api/v1/prices/SKU-%%07d?customer=%(customer)s", n))
end
"""


def run(n: int, seconds: int) -> None:
    db = seeded_store(n)
    with serving(db) as (url, token, _config), tempfile.TemporaryDirectory() as folder:
        check = httpx.get(f"{url}/api/v1/prices/{sku(n - 1)}", params={"customer": CUSTOMER},
                          headers={"Authorization": f"Bearer {token}"})
        assert check.status_code == 200 and check.json()["source"] == "store", check.text
        script = Path(folder) / "prices.lua"
        script.write_text(LUA % {"seed": 42, "last": n - 1, "customer": CUSTOMER})
        wrk(f"{url}/healthz", seconds=2, label="warm-up")
        base = wrk(f"{url}/healthz", seconds=seconds, label="baseline /healthz")
        price = wrk(url, token=token, seconds=seconds, script=script, label="price lookups")
    assert base["non_2xx"] == 0 and price["non_2xx"] == 0 and not base["errors"] and not price["errors"], (base, price)
    ratio = price["rps"] / base["rps"]
    print(f"\nshop API price lookup, {n:,} products, 1 uvicorn process, 8 connections; {machine()}")
    print(f"  baseline  GET /healthz           {base['rps']:>8,.0f} req/s  p50 {base['p50_ms']:5.2f} ms  "
          f"p99 {base['p99_ms']:5.2f} ms")
    print(f"  price     GET /api/v1/prices/..  {price['rps']:>8,.0f} req/s  p50 {price['p50_ms']:5.2f} ms  "
          f"p99 {price['p99_ms']:5.2f} ms")
    print(f"  ratio     {ratio:.0%} of baseline req/s (target >= 50%), p99 {price['p99_ms']:.2f} ms "
          f"(target < 10 ms): {'OK' if ratio >= 0.5 and price['p99_ms'] < 10 else 'MISSED'}")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 10)
