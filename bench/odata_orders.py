"""Orders per second into the OData test ERP (Business Central's API on CAP): the odata connector
against a plain sequential script making the same calls, in alternating rounds so all meet the
same load.

  baseline   a plain script over one HTTP session: per order the look-up by
             ``externalDocumentNumber`` in sales orders and invoices, then the POST with its lines
  deliver    the connector's ``deliver`` per order (the same calls, plus its config, mapping,
             error classification and exchange log)
  batch      the connector's ``deliver_batch`` of 50 orders: two ``$batch`` calls (look-ups, creates)

Run: .venv/bin/python bench/odata_orders.py [--orders 200] [--round 50]   (needs the CAP test ERP:
``source .ci/setup.d/20-odata.sh`` once)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "odata"))

from odata_fixtures import order  # noqa: E402
from odata_erp import BC_CLIENT, COMPANY, CapErp  # noqa: E402

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402


class PlainScript:
    def __init__(self, url: str):
        token = httpx.post(f"{url}/oauth2/token", data={"grant_type": "client_credentials"}, auth=BC_CLIENT).json()
        self.http = httpx.Client(base_url=f"{url}/api/v2.0/companies({COMPANY})/", timeout=60,
                                 headers={"Authorization": f"Bearer {token['access_token']}"})

    def send(self, o: dict) -> None:
        where = quote(f"externalDocumentNumber eq '{o['number']}'")
        for entity in ("salesOrders", "salesInvoices"):
            if self.http.get(f"{entity}?$top=1&$filter={where}").json()["value"]:
                return
        self.http.post("salesOrders", json={
            "externalDocumentNumber": o["number"], "customerNumber": o["customer"], "currencyCode": o["currency"],
            "salesOrderLines": [{"sequence": 10000 * n, "lineType": "Item", "lineObjectNumber": l["sku"],
                                 "quantity": float(l["quantity"]), "unitPrice": float(l["unit_price"])}
                                for n, l in enumerate(o["lines"], 1)]}).raise_for_status()


def connector(folder: Path, url: str):
    raw = yaml.safe_load((ROOT / "examples" / "odata-business-central" / "erpbridge.yaml").read_text())
    raw["store"] = {"url": f"sqlite:///{folder / 'store.db'}"}
    path = folder / "erpbridge.yaml"
    path.write_text(yaml.safe_dump(raw))
    os.environ.update(BC_URL=f"{url}/api/v2.0", BC_TOKEN_URL=f"{url}/oauth2/token", BC_CLIENT_SECRET=BC_CLIENT[1],
                      BC_COMPANY=COMPANY)
    return bootstrap(load_config(path)).connector("erp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200, help="orders per way")
    parser.add_argument("--round", type=int, default=50, help="orders per round; rounds alternate the ways")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        erp = CapErp(Path(folder))
        try:
            erp.bc_item("BENCH-1", "Bench item", 9.5, 10**6)
            plain, odata = PlainScript(erp.direct), connector(Path(folder), erp.direct)
            ways = {"baseline": lambda batch: [plain.send(o) for o in batch],
                    "deliver": lambda batch: [odata.deliver("send_order", o, o["number"]) for o in batch],
                    "batch": lambda batch: odata.deliver_batch("send_order", [(o, o["number"]) for o in batch])}
            spent = dict.fromkeys(ways, 0.0)
            for _ in range(args.orders // args.round):
                for name, way in ways.items():
                    batch = [order(f"{name}-{uuid.uuid4().hex[:10]}", "10000", [("BENCH-1", 1, "9.50")],
                                   shipping="0") for _ in range(args.round)]
                    started = time.perf_counter()
                    way(batch)
                    spent[name] += time.perf_counter() - started
            rates = {name: args.orders / seconds for name, seconds in spent.items()}
            for name, rate in rates.items():
                print(f"{name:9} {rate:7.1f} orders/s   {rate / rates['baseline']:.2f} of the baseline")
            print(f"deliver >= 0.9 of the baseline: {'ok' if rates['deliver'] >= 0.9 * rates['baseline'] else 'MISSED'}")
            print(f"batch above the baseline: {'ok' if rates['batch'] > rates['baseline'] else 'MISSED'}")
        finally:
            erp.close()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
