"""The adapter kit: the one HTTP layer every HTTP connector stands on.

What it is
----------
:class:`HttpAdapter` is an httpx client for one system that does once, for every connector,
what each would otherwise get slightly wrong: it turns every failure into the connector error
the outbox and the semaphore act on, authenticates (:mod:`.auth`), walks pages (:mod:`.paging`)
and records every call in the exchange log, without a secret in it. A connector's adapter adds
only what is its system's own (an envelope, a session, error codes in a 200).

How to use it
-------------
A connector's adapter subclasses :class:`HttpAdapter` (one per system, made in the connector's
``create(app, name, cfg)`` with ``ExchangeLog.for_app(app)``) and gives each call its flow and
measuring point::

    from urllib.parse import quote

    from erpbridge.connectors.kit import HttpAdapter, OAuth1, offset_pages

    class MagentoAdapter(HttpAdapter):                    # Magento's REST API, signed as an integration

        def __init__(self, cfg, system: str, exchange_log):
            super().__init__(f"{cfg.url}/rest/default", system=system, connector="magento", timeout=cfg.timeout,
                             exchange_log=exchange_log,
                             auth=OAuth1(cfg.consumer_key, cfg.consumer_secret.get_secret_value(),
                                         cfg.access_token, cfg.token_secret.get_secret_value()))

        def product(self, flow: str, sku: str) -> dict | None:    # None: Magento has no such SKU
            response = self.request("GET", f"/V1/products/{quote(sku, safe='')}", flow=flow,
                                    point="magento.product.get", accept=(404,))
            return None if response.status_code == 404 else self.json(response)

        def create_order(self, flow: str, order: dict) -> dict:   # a write: sent once, never retried here
            return self.json(self.request("POST", "/V1/orders", flow=flow, point="magento.order.create",
                                          json={"entity": order}))

        def orders_since(self, flow: str, since: str):
            where = "searchCriteria[filter_groups][0][filters][0]"
            return offset_pages(self, "/V1/orders", flow=flow, point="magento.order.search", items="items",
                                total="total_count", limit=100, page_param="searchCriteria[currentPage]",
                                limit_param="searchCriteria[pageSize]",
                                params={f"{where}[field]": "updated_at", f"{where}[value]": since,
                                        f"{where}[condition_type]": "gteq"})

Other systems differ in the auth and the paging only: Business Central is
``auth=OAuth2ClientCredentials(token_url, client_id, secret, scope=".../.default")`` with
``next_links(..., items="value", link="@odata.nextLink")``; Odoo's JSON-2 is
``auth=BearerToken(api_key)``; a shop's REST API with a key is ``auth=ApiKey(key, header="X-Api-Key")``.

The measuring point follows the rule ``<connector>.<operation>`` (``magento.order.create``,
``tryton.sale.sale.create``); the kit's own calls follow it too (``<connector>.oauth2.token``).
:meth:`~HttpAdapter.request` returns the :class:`httpx.Response`; ``self.json(response)``
parses it (a body that is not JSON is a general error). A connector that records one exchange
around several calls (a session, a retried envelope) uses :meth:`~HttpAdapter.measure` around
:meth:`~HttpAdapter.send`, as the Tryton adapter does.

What it classifies how
----------------------
==========================================================  =====================================
connection refused, DNS failure, reset, timeouts             :class:`GeneralError`
HTTP 5xx, 408, 401 (after the auth renewed itself once)      :class:`GeneralError`
429, or 503 with ``Retry-After`` (seconds or an HTTP date)   :class:`GeneralError` with ``retry_after``
                                                             that long (at most an hour)
any other 4xx                                                :class:`MessageError` with the system's
                                                             own words (``message``, ``error.message``,
                                                             OData ``error.message.value``, Magento's
                                                             ``parameters`` filled in, ``errors``...)
==========================================================  =====================================

Both texts name the system, the call (``POST /V1/orders``, or ``what=``) and the status. A system
that signals trouble inside a 200 (Shopify's ``THROTTLED``, Odoo's ``error`` member) overrides
:meth:`HttpAdapter.classify` and calls ``super().classify(...)`` for the status.

Caveats
-------
* Writes (POST, PATCH) are never sent twice by the adapter: the outbox retries them durably. A
  read sent by POST (JSON-RPC, GraphQL queries) says ``idempotent=True`` to get httpx's connect
  retries; only a connect that failed is retried, nothing that reached the system.
* The exchange log gets the method, the URL without credentials or secret query parameters, the
  JSON or form body, the status and the answer's body (text; other types by their size). No
  header is ever recorded, so ``Authorization``, cookies and API keys cannot leak; a call whose
  bodies carry secrets says ``record_bodies=False``. Personal data in bodies is masked by the
  log's redaction as everywhere.
* Quote path segments yourself (``quote(sku, safe="")``): a SKU may hold a ``/``.
* Redirects are not followed: a moved API is a configuration error, and credentials stay put.
* One adapter per system, shared by all threads: the httpx pool and the auth's token are shared.

The conformance suite every connector passes against its own test peer is
:mod:`erpbridge.connectors.kit.conformance` (for tests: it imports pytest, so it is not
exported here).
"""

from __future__ import annotations

from erpbridge.connectors.kit.auth import ApiKey, Auth, Basic, BearerToken, OAuth1, OAuth2ClientCredentials
from erpbridge.connectors.kit.errors import MAX_RETRY_AFTER, classify, retry_after, system_words
from erpbridge.connectors.kit.http import CallOptions, HttpAdapter
from erpbridge.connectors.kit.paging import Key, cursor_pages, dig, next_links, offset_pages

__all__ = [
    "HttpAdapter", "CallOptions",
    "Auth", "Basic", "BearerToken", "ApiKey", "OAuth1", "OAuth2ClientCredentials",
    "next_links", "cursor_pages", "offset_pages", "dig", "Key",
    "classify", "retry_after", "system_words", "MAX_RETRY_AFTER",
]
