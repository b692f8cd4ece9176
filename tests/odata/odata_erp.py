"""The OData test ERP: SAP CAP (tests/odata/cap, npm packages built by .ci/setup.d/20-odata.sh)
serving S/4HANA's services as OData v2 (and v4) and Business Central's API v2.0 on 127.0.0.1,
behind :class:`~odata_proxy.ODataProxy` (outages, lost and held answers).

Each :class:`CapErp` is one node process with its own in-memory SQLite database, so a test
module starts with the seeded data only (one company, nothing else); starting takes 1-5 s.
What the APIs only read (deliveries, billing documents, shipments, invoices) the people working
in the ERP write through the test-only service ``/erp`` (no auth): :class:`CapErp`'s methods.

What CAP does not do as the real systems do, and the server.js in front of it adds: SAP
Gateway's CSRF token and session cookie, Business Central's OAuth 2 client-credentials token
endpoint and bearer tokens, and its 429 + Retry-After (switched on by :meth:`CapErp.throttle`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from urllib.parse import quote
from pathlib import Path

import httpx
import pytest

from odata_proxy import ODataProxy

CAP = Path(__file__).parent / "cap"
COMPANY = "7d5b0a4b-3c5e-4b0e-9f43-2a1b3c4d5e6f"
BC_CLIENT = ("erpbridge-bc", "bc-secret")
S4_USER = ("erpbridge", "secret")


def node_modules() -> Path | None:
    """The CAP packages: where the CI setup exported them, else its cache (the script was run)."""
    exported = os.environ.get("ERPBRIDGE_TEST_ODATA_NODE_MODULES")
    if exported:
        return Path(exported)
    key = hashlib.sha256((CAP / "package.json").read_bytes()).hexdigest()[:12]
    cached = Path.home() / ".cache" / "erpbridge-tests" / f"odata-cap-{key}" / "node_modules"
    return cached if (cached / ".complete").exists() else None


def require_cap() -> Path:
    modules = node_modules()
    if modules is None or shutil.which("node") is None:
        reason = "the CAP test ERP is not installed: run `source .ci/setup.d/20-odata.sh` (needs node and npm)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return modules


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CapErp:
    """One CAP server and the people working in it."""

    def __init__(self, workdir: Path):
        modules = require_cap()
        self.dir = workdir / "cap"
        shutil.copytree(CAP, self.dir, ignore=shutil.ignore_patterns("node_modules"))
        (self.dir / "node_modules").symlink_to(modules)
        self.port = _free_port()
        self.log = open(workdir / "cap.log", "wb")
        self.process = subprocess.Popen(["node", str(modules / "@sap" / "cds" / "bin" / "serve.js")], cwd=self.dir,
                                        env={**os.environ, "PORT": str(self.port), "NODE_ENV": "test"},
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.direct = f"http://127.0.0.1:{self.port}"
        self.people = httpx.Client(base_url=f"{self.direct}/erp", timeout=30)
        self._wait()
        self.proxy = ODataProxy(self.direct)

    def _wait(self) -> None:
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the CAP test ERP ended at start: {(self.log.name)}: "
                                   f"{Path(self.log.name).read_text()[-2000:]}")
            try:
                if self.people.get("/companies").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the CAP test ERP did not answer within 90 s: "
                                   f"{Path(self.log.name).read_text()[-2000:]}")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        """Where erpbridge reaches it (through the proxy)."""
        return self.proxy.url

    def go_down(self) -> None:
        self.proxy.stop()

    def come_back(self) -> None:
        self.proxy.start()

    def close(self) -> None:
        self.proxy.close()
        self.people.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()

    def _post(self, path: str, body: dict) -> dict:
        response = self.people.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def _rows(self, path: str, where: str) -> list[dict]:
        response = self.people.get(f"{path}?$filter={quote(where)}")  # %20: CAP refuses the + of params=
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def throttle(self, requests: int, retry_after: float = 1) -> None:
        """The next ``requests`` calls to Business Central's API answer 429 with ``Retry-After``."""
        self.people.post(f"{self.direct}/control", json={"throttle": requests, "retryAfter": retry_after})

    def expire_sessions(self) -> None:
        """SAP Gateway forgets every session, and with them their CSRF tokens."""
        self.people.post(f"{self.direct}/control", json={"expireSessions": True})

    # -- S/4HANA ------------------------------------------------------------------------------

    def s4_product(self, sku: str, name: str, group: str | None = None) -> None:
        self._post("/S4Products", {"Product": sku, "ProductGroup": group,
                                   "to_Description": [{"Language": "EN", "ProductDescription": name}]})

    def s4_rename(self, sku: str, name: str) -> None:
        response = self.people.patch(f"/S4Products('{sku}')", json={"ProductGroup": name[:9]})
        assert response.status_code == 200, response.text

    def s4_partner(self, number: str, name: str) -> None:
        if self.people.get(f"/S4BusinessPartners('{number}')").status_code == 200:
            return
        self._post("/S4BusinessPartners", {"BusinessPartner": number, "BusinessPartnerFullName": name,
                                           "LastChangeDate": dt.date.today().isoformat()})

    def s4_partners(self, reference: str) -> list[dict]:
        """The business partners made for the shop's customer ``reference``, with address and customer role."""
        response = self.people.get("/S4BusinessPartners?$expand=to_BusinessPartnerAddress,to_Customer($expand="
                                   "to_CustomerSalesArea)&$filter="
                                   f"{quote(f'BusinessPartnerIDByExtSystem eq {reference!r}')}")
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def s4_orders(self, number: str) -> list[dict]:
        return self._rows("/S4SalesOrders", f"PurchaseOrderByCustomer eq '{number}'")

    def s4_items(self, sales_order: str) -> list[dict]:
        return self._rows("/S4SalesOrderItems", f"SalesOrder eq '{sales_order}'")

    def s4_returns(self, number: str) -> list[dict]:
        """The customer returns made for the shop's return ``number``, with their items."""
        response = self.people.get(f"/S4CustomerReturns?$expand=to_Item&$filter="
                                   f"{quote(f'PurchaseOrderByCustomer eq {number!r}')}")
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def s4_touch_item(self, sales_order: str, item: str, text: str) -> None:
        """A person edits a sales order item (its ETag changes)."""
        response = self.people.patch(f"/S4SalesOrderItems(SalesOrder='{sales_order}',SalesOrderItem='{item}')",
                                     json={"SalesOrderItemText": text})
        assert response.status_code == 200, response.text

    def s4_deliver(self, sales_order: str, delivery: str, tracking: str, lines: dict[str, int]) -> None:
        self._post("/S4Deliveries", {
            "DeliveryDocument": delivery, "ActualGoodsMovementDate": dt.date.today().isoformat(),
            "BillOfLading": tracking, "LastChangeDate": dt.date.today().isoformat(),
            "to_DeliveryDocumentItem": [{"DeliveryDocumentItem": str(10 * n), "Material": sku,
                                         "ActualDeliveryQuantity": qty, "ReferenceSDDocument": sales_order,
                                         "ReferenceSDDocumentItem": str(10 * n)}
                                        for n, (sku, qty) in enumerate(lines.items(), 1)]})

    def s4_bill(self, sales_order: str, delivery: str, billing: str, lines: dict[str, tuple[int, float]],
                tax: float, doc_type: str = "F2") -> None:
        """A billing document: an invoice (F2) of a delivery, or a credit memo (G2, ``sales_order``
        the customer return it credits)."""
        net = sum(amount for _, amount in lines.values())
        self._post("/S4BillingDocuments", {
            "BillingDocument": billing, "BillingDocumentType": doc_type,
            "BillingDocumentDate": dt.date.today().isoformat(),
            "SoldToParty": "17100001", "TransactionCurrency": "EUR", "TotalNetAmount": net, "TotalTaxAmount": tax,
            "to_Item": [{"BillingDocumentItem": str(10 * n), "Material": sku, "BillingQuantity": qty,
                         "NetAmount": amount, "ReferenceSDDocument": delivery, "SalesDocument": sales_order}
                        for n, (sku, (qty, amount)) in enumerate(lines.items(), 1)]})

    # -- Business Central ---------------------------------------------------------------------

    def bc_item(self, number: str, name: str, price: float, inventory: float = 0, group: str | None = None) -> str:
        return self._post("/items", {"id": str(uuid.uuid4()), "company_id": COMPANY, "number": number,
                                     "displayName": name, "unitPrice": price, "inventory": inventory,
                                     "itemCategoryCode": group})["id"]

    def bc_set_inventory(self, item_id: str, inventory: float) -> None:
        response = self.people.patch(f"/items({item_id})", json={"inventory": inventory})
        assert response.status_code == 200, response.text

    def bc_customer(self, number: str, name: str) -> None:
        self._post("/customers", {"id": str(uuid.uuid4()), "company_id": COMPANY, "number": number,
                                  "displayName": name, "addressLine1": "Main St 1", "city": "Berlin",
                                  "postalCode": "10115", "country": "DE"})

    def bc_orders(self, number: str) -> list[dict]:
        return self._rows("/salesOrders", f"externalDocumentNumber eq '{number}'")

    def bc_ship(self, order: str, shipment: str, tracking: str, lines: dict[str, int]) -> None:
        sales_order, = self.bc_orders(order)
        self._post("/salesShipments", {
            "id": str(uuid.uuid4()), "company_id": COMPANY, "number": shipment, "externalDocumentNumber": order,
            "orderNumber": sales_order["number"], "postingDate": dt.date.today().isoformat(),
            "packageTrackingNumber": tracking,
            "salesShipmentLines": [{"id": str(uuid.uuid4()), "sequence": 10000 * n, "lineType": "Item",
                                    "lineObjectNumber": sku, "quantity": qty}
                                   for n, (sku, qty) in enumerate(lines.items(), 1)]})

    def bc_invoice(self, order: str, invoice: str, lines: list[tuple[str, str, float, float]], tax: float) -> None:
        """``lines``: (lineType, lineObjectNumber, quantity, amountIncludingTax)."""
        sales_order, = self.bc_orders(order)
        gross = round(sum(amount for *_, amount in lines), 2)
        self._post("/salesInvoices", {
            "id": str(uuid.uuid4()), "company_id": COMPANY, "number": invoice, "externalDocumentNumber": order,
            "orderNumber": sales_order["number"], "customerNumber": sales_order["customerNumber"],
            "invoiceDate": dt.date.today().isoformat(), "currencyCode": "EUR",
            "totalAmountExcludingTax": round(gross - tax, 2), "totalTaxAmount": tax, "totalAmountIncludingTax": gross,
            "salesInvoiceLines": [{"id": str(uuid.uuid4()), "sequence": 10000 * n, "lineType": kind,
                                   "lineObjectNumber": number, "quantity": qty, "amountIncludingTax": amount}
                                  for n, (kind, number, qty, amount) in enumerate(lines, 1)]})

    def bc_credit_memos(self, number: str) -> list[dict]:
        response = self.people.get(f"/salesCreditMemos?$expand=salesCreditMemoLines&$filter="
                                   f"{quote(f'externalDocumentNumber eq {number!r}')}")
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def bc_post_credit_memo(self, number: str, amounts: dict[str, float]) -> None:
        """A person posts the credit memo of the shop's return ``number``: its lines' amounts
        (``amountIncludingTax`` by item number) and total, status Open."""
        memo, = self.bc_credit_memos(number)
        lines = [{"id": l["id"], "amountIncludingTax": amounts[l["lineObjectNumber"]]}
                 for l in memo["salesCreditMemoLines"]]
        response = self.people.patch(f"/salesCreditMemos({memo['id']})", json={
            "status": "Open", "creditMemoDate": dt.date.today().isoformat(), "currencyCode": "EUR",
            "totalAmountIncludingTax": round(sum(amounts.values()), 2), "salesCreditMemoLines": lines})
        assert response.status_code == 200, response.text
