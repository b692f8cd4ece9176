"""A small ERP for the API's real-time tests: a real HTTP server on 127.0.0.1 that can answer,
be slow, or be down, and the real-time connector that talks to it (injected through
``create_api(hub, erp=...)``)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import httpx

from erpbridge.connectors.base import GeneralError, PriceQuery
from erpbridge.records import Customer, Price


class StubErp:
    """``prices[(sku, customer)] = amount``, ``customers[number] = dict``, ``documents[(type, number)] = bytes``
    (sent as ``media_types[(type, number)]``, PDF unless set); ``delay`` seconds before each answer;
    ``stop()`` makes it refuse connections."""

    def __init__(self):
        self.prices: dict[tuple[str, str], str] = {}
        self.customers: dict[str, dict] = {}
        self.documents: dict[tuple[str, str], bytes] = {}
        self.media_types: dict[tuple[str, str], str] = {}
        self.delay = 0.0
        self.calls = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                stub.calls += 1
                time.sleep(stub.delay)
                url = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/price":
                    amount = stub.prices.get((q["sku"], q.get("customer", "")))
                    return self._json({"amount": amount} if amount else None)
                if url.path == "/customer":
                    return self._json(stub.customers.get(q["number"]))
                if url.path == "/document":
                    content = stub.documents.get((q["type"], q["number"]))
                    if content is None:
                        return self._json(None)
                    self.send_response(200)
                    self.send_header("Content-Type", stub.media_types.get((q["type"], q["number"]), "application/pdf"))
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                    return
                self.send_response(404)
                self.end_headers()

            def _json(self, value):
                body = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StubRealTime:
    """The real-time side of a connector, speaking to :class:`StubErp` over HTTP."""

    def __init__(self, url: str, currency: str = "EUR"):
        self.client = httpx.Client(base_url=url, timeout=10)
        self.currency = currency

    def _get(self, path: str, **params):
        try:
            response = self.client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise GeneralError(f"ERP unreachable: {exc}") from None
        if response.status_code >= 500:
            raise GeneralError(f"ERP answered {response.status_code}")
        return response

    def get_price(self, query: PriceQuery):
        data = self._get("/price", sku=query.sku, customer=query.customer or "").json()
        if not data:
            return None
        return Price(sku=query.sku, customer=query.customer, currency=self.currency, amount=data["amount"])

    def get_customer(self, number: str):
        data = self._get("/customer", number=number).json()
        return Customer(**data) if data else None

    def get_document(self, doc_type: str, number: str):
        response = self._get("/document", type=doc_type, number=number)
        if response.headers["content-type"] == "application/json":
            return None
        return response.content, response.headers["content-type"]
