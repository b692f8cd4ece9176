"""The adapter: SuiteTalk REST web services on the adapter kit (:mod:`erpbridge.connectors.kit`).

What NetSuite's REST API is like (Oracle's NetSuite help, "REST Web Services"; section numbers
in the research notes): records at ``/services/rest/record/v1/<type>/<id>``, where an external
id may stand for the id (``eid:<externalId>``); ``PUT .../eid:<externalId>`` is an upsert (the
record with that external id is created or replaced, never doubled), which is what makes a
redelivered message safe; writes answer ``204 No Content`` with the record's URL in
``Location``; ``POST .../<id>/!transform/<type>`` makes a record from another (a sales order's
return authorization). SuiteQL (``POST /services/rest/query/v1/suiteql`` with ``Prefer:
transient``) pages with ``limit`` (at most 1000) and ``offset``, and one query yields at most
100,000 rows, so :meth:`NetSuiteAdapter.query` continues past that with a keyset condition
(``{after}`` in the query, the last key seen). Errors are ``{"title", "status",
"o:errorDetails": [{"detail", "o:errorCode"}]}``: the detail and code go into the error text.

Authentication is token-based (OAuth 1.0a, HMAC-SHA256, ``realm`` = the account id) or OAuth 2
client credentials, both from the kit. The account's concurrency limit is shared by every
integration and SuiteScript: the adapter never has more calls in flight than ``concurrency``,
and an answer 429 (over the limit anyway) is a :class:`GeneralError` the semaphore waits out.
"""

from __future__ import annotations

import threading
from typing import Iterator
from urllib.parse import quote

import httpx

from erpbridge.connectors.base import ConnectorError, GeneralError, MessageError
from erpbridge.connectors.kit import HttpAdapter, OAuth1, OAuth2ClientCredentials

#: SuiteQL's limits: rows per page, and rows one query yields at most.
PAGE_LIMIT, QUERY_LIMIT = 1000, 100_000


def literal(value: str) -> str:
    """A SuiteQL string literal (no bind parameters over REST): quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"


class NetSuiteAdapter(HttpAdapter):
    def __init__(self, cfg, *, system: str = "netsuite", exchange_log=None):
        auth = cfg.auth
        if auth.type == "tba":
            signer = OAuth1(auth.consumer_key, auth.consumer_secret.get_secret_value(), auth.token,
                            auth.token_secret.get_secret_value(), realm=cfg.account, signature_method="HMAC-SHA256")
        else:
            signer = OAuth2ClientCredentials(auth.token_url or f"{cfg.base_url}/services/rest/auth/oauth2/v1/token",
                                             auth.client_id, auth.client_secret.get_secret_value(), scope=auth.scope)
        super().__init__(f"{cfg.base_url}/services/rest", system=system, connector="netsuite", timeout=cfg.timeout,
                         exchange_log=exchange_log, auth=signer)
        self.page_size = min(cfg.page_size, PAGE_LIMIT)
        self._slots = threading.BoundedSemaphore(cfg.concurrency)

    def _send(self, request: httpx.Request) -> httpx.Response:
        """Each request on the wire holds one of the account's slots; only the sending does, so a
        call that must first fetch an OAuth 2 token does not wait for a slot it holds itself."""
        with self._slots:
            return super()._send(request)

    # -- records ------------------------------------------------------------------------------

    def get(self, flow: str, kind: str, key: str) -> dict | None:
        """A record by id or ``eid:<external id>``; None when NetSuite has none."""
        response = self.request("GET", f"/record/v1/{kind}/{quote(key, safe=':')}", flow=flow,
                                point=f"netsuite.{kind}.get", accept=(404,))
        return None if response.status_code == 404 else self.json(response)

    def upsert(self, flow: str, kind: str, external_id: str, body: dict) -> str:
        """Create or replace the record with this external id; its internal id."""
        response = self.request("PUT", f"/record/v1/{kind}/eid:{quote(external_id, safe='')}", flow=flow,
                                point=f"netsuite.{kind}.upsert", json=body)
        return _location_id(response)

    def patch(self, flow: str, kind: str, rid: str, body: dict) -> None:
        self.request("PATCH", f"/record/v1/{kind}/{rid}", flow=flow, point=f"netsuite.{kind}.update", json=body)

    def transform(self, flow: str, kind: str, rid: str, target: str, body: dict) -> str:
        response = self.request("POST", f"/record/v1/{kind}/{rid}/!transform/{target}", flow=flow,
                                point=f"netsuite.{kind}.transform.{target}", json=body)
        return _location_id(response)

    # -- SuiteQL --------------------------------------------------------------------------------

    def query(self, flow: str, template: str, key: str = "id") -> Iterator[dict]:
        """Every row of a SuiteQL query, a page at a time. ``template`` holds ``{after}`` in a
        condition on a unique ``key`` it is ordered by (``AND t.id > {after} ORDER BY t.id``):
        beyond 100,000 rows the query starts again after the last key it gave."""
        after = -1
        while True:
            q, offset, last = template.format(after=after), 0, None
            while True:
                response = self.request("POST", "/query/v1/suiteql", flow=flow, point="netsuite.suiteql",
                                        params={"limit": self.page_size, "offset": offset}, json={"q": q},
                                        headers={"Prefer": "transient"}, idempotent=True)
                page = self.json(response)
                for item in page.get("items", []):
                    last = item.get(key)
                    yield item
                offset += self.page_size
                if not page.get("hasMore"):
                    return
                if offset + self.page_size > QUERY_LIMIT:
                    break
            if last is None:
                return
            after = int(last)

    def classify(self, response: httpx.Response, what: str) -> ConnectorError | None:
        """The kit's reading of the status, in NetSuite's words (``o:errorDetails``)."""
        error = super().classify(response, what)
        if error is None:
            return None
        details = []
        try:
            details = response.json().get("o:errorDetails") or []
        except (ValueError, AttributeError):
            pass
        words = "; ".join(f"{d.get('detail')} ({d.get('o:errorCode')})" for d in details if isinstance(d, dict))
        if not words:
            return error
        said = f"{self.system} answered HTTP {response.status_code} to {what}: {words}"
        if isinstance(error, GeneralError):
            return GeneralError(said, retry_after=getattr(error, "retry_after", None))
        return MessageError(said)


def _location_id(response: httpx.Response) -> str:
    location = response.headers.get("Location", "")
    return location.rstrip("/").rsplit("/", 1)[-1]
