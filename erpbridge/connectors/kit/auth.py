"""How an adapter's calls prove who they are: one object per system, shared by its threads.

An :class:`Auth` adds credentials to each request (:meth:`Auth.apply`) and may renew them once
when the system refuses them (:meth:`Auth.renew`, e.g. an OAuth 2 token revoked before its time).
Credentials only ever travel in headers, or in query parameters the auth names in
``secret_params``; the adapter records neither in the exchange log.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import TYPE_CHECKING, Callable, Literal
from urllib.parse import quote_plus

import httpx

from erpbridge.connectors.base import GeneralError
from erpbridge.connectors.kit.errors import system_words

if TYPE_CHECKING:
    from erpbridge.connectors.kit.http import HttpAdapter


class Auth:
    """The base: override :meth:`apply`, and :meth:`renew` when credentials can go stale."""

    #: Query parameters that carry a secret: kept out of the exchange log.
    secret_params: tuple[str, ...] = ()

    def apply(self, request: httpx.Request, adapter: HttpAdapter, flow: str | None) -> None:
        """Add the credentials to ``request`` (``flow`` is for the exchanges the auth makes itself)."""
        raise NotImplementedError

    def renew(self, response: httpx.Response, adapter: HttpAdapter, flow: str | None) -> bool:
        """The system answered ``response`` to a request this auth applied to: True when it refused
        the credentials and they were renewed, so the request is applied and sent once more."""
        return False

    def __repr__(self) -> str:  # never the secret, also not in a traceback's locals
        return f"{type(self).__name__}()"


class Basic(Auth):
    """HTTP Basic (RFC 7617): SAP and Business Central on premises, Tryton's REST, most test doubles."""

    def __init__(self, user: str, password: str):
        self.user = user
        self._header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def apply(self, request: httpx.Request, adapter: HttpAdapter, flow: str | None) -> None:
        request.headers["Authorization"] = self._header

    def __repr__(self) -> str:
        return f"Basic(user={self.user!r})"


class BearerToken(Auth):
    """A static bearer token (RFC 6750): Magento integration tokens, Odoo API keys (JSON-2), Shopify
    custom apps with ``header="X-Shopify-Access-Token"`` and ``scheme=""``."""

    def __init__(self, token: str, *, header: str = "Authorization", scheme: str = "Bearer"):
        self.header = header
        self._value = f"{scheme} {token}" if scheme else token

    def apply(self, request: httpx.Request, adapter: HttpAdapter, flow: str | None) -> None:
        request.headers[self.header] = self._value


class ApiKey(Auth):
    """An API key in a header (``X-Api-Key`` by default) or, where a system insists, in a query
    parameter (``query="api_key"``; kept out of the exchange log like the header)."""

    def __init__(self, key: str, *, header: str = "X-Api-Key", query: str | None = None):
        self.header, self.query = header, query
        self.secret_params = (query,) if query else ()
        self._key = key

    def apply(self, request: httpx.Request, adapter: HttpAdapter, flow: str | None) -> None:
        if self.query:
            request.url = request.url.copy_set_param(self.query, self._key)
        else:
            request.headers[self.header] = self._key

    def __repr__(self) -> str:
        return f"ApiKey(header={self.header!r})" if not self.query else f"ApiKey(query={self.query!r})"


class OAuth1(Auth):
    """OAuth 1.0a request signing (RFC 5849) through oauthlib: Magento integrations (consumer and
    access token, HMAC-SHA256) and NetSuite token-based authentication (the same, with
    ``realm=<account id>``, e.g. ``1234567_SB1``). Each request gets its own nonce and timestamp;
    the query is signed, a form body too, a JSON body is not (the standard says so)."""

    def __init__(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str, *,
                 realm: str | None = None, signature_method: Literal["HMAC-SHA256", "HMAC-SHA1"] = "HMAC-SHA256"):
        from oauthlib import oauth1  # only connectors that sign pay for the import

        self.realm, self.signature_method = realm, signature_method
        self._client = oauth1.Client(consumer_key, client_secret=consumer_secret, resource_owner_key=token,
                                     resource_owner_secret=token_secret, signature_method=signature_method,
                                     realm=realm)

    def apply(self, request: httpx.Request, adapter: HttpAdapter, flow: str | None) -> None:
        form = request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        _, headers, _ = self._client.sign(str(request.url), request.method,
                                          body=request.content.decode() if form else None,
                                          headers={"Content-Type": request.headers["Content-Type"]} if form else None)
        request.headers["Authorization"] = headers["Authorization"]

    def __repr__(self) -> str:
        return f"OAuth1(realm={self.realm!r}, signature_method={self.signature_method!r})"


class OAuth2ClientCredentials(Auth):
    """OAuth 2 client credentials (RFC 6749 4.4): Business Central and Dataverse (Microsoft Entra:
    ``token_url=https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token``,
    ``scope=https://api.businesscentral.dynamics.com/.default``), SAP BTP, NetSuite M2M.

    The token is kept until ``margin`` seconds before it expires (a tenth of its lifetime when that
    is shorter), fetched by one thread at a time while the others wait for it, and fetched again
    once when the system answers 401 (revoked early). The client authenticates at the token
    endpoint with HTTP Basic (``client_auth="header"``, what RFC 6749 asks every server to
    support) or with ``client_id``/``client_secret`` in the form (``"body"``). ``extra`` adds form
    fields some servers want (``resource``, ``audience``). Token requests are exchanges of their
    own (``<connector>.oauth2.token``) without their bodies; a refused one is a
    :class:`GeneralError` (every call would fail alike until the credentials are fixed).

    Why no oauthlib here: client credentials are one form post and one JSON answer, and oauthlib's
    client refuses plain-HTTP URLs and scope changes through process-wide environment variables.
    """

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, scope: str | None = None,
                 client_auth: Literal["header", "body"] = "header", extra: dict[str, str] | None = None,
                 margin: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.token_url, self.client_id, self.scope = token_url, client_id, scope
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {}), **(extra or {})}
        headers = {"Accept": "application/json"}
        if client_auth == "header":
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()).decode()  # RFC 6749 2.3.1
        else:
            form.update(client_id=client_id, client_secret=client_secret)
        self._form, self._headers = form, headers
        self.margin, self._clock = margin, clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._valid_until = 0.0

    def apply(self, request: httpx.Request, adapter: HttpAdapter, flow: str | None) -> None:
        request.headers["Authorization"] = f"Bearer {self.token(adapter, flow)}"

    def renew(self, response: httpx.Response, adapter: HttpAdapter, flow: str | None) -> bool:
        if response.status_code != 401:
            return False
        refused = response.request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            if self._token == refused:  # else another thread has fetched a new one meanwhile
                self._token = None
        return True

    def token(self, adapter: HttpAdapter, flow: str | None = None) -> str:
        """A valid access token, from the cache or fetched now (by one thread at a time)."""
        with self._lock:
            if self._token is None or self._clock() >= self._valid_until:
                self._token, self._valid_until = self._fetch(adapter, flow)
            return self._token

    def _fetch(self, adapter: HttpAdapter, flow: str | None) -> tuple[str, float]:
        asked = self._clock()
        point = f"{adapter.connector}.oauth2.token"
        response = adapter.request("POST", self.token_url, flow=flow or "auth", point=point,
                                   data=self._form, headers=self._headers, authenticate=False, idempotent=True,
                                   record_bodies=False, accept=range(400, 500), what="the token request")
        if response.status_code >= 400:
            raise GeneralError(f"{adapter.system}: the token endpoint refused client {self.client_id!r}: HTTP "
                               f"{response.status_code}: {system_words(response)}")
        answer = adapter.json(response)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise GeneralError(f"{adapter.system}: the token endpoint answered no access_token")
        try:
            lifetime = float(answer.get("expires_in"))
        except (TypeError, ValueError):
            return token, float("inf")  # valid until the system refuses it
        return token, asked + lifetime - min(self.margin, lifetime / 10)

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials(token_url={self.token_url!r}, client_id={self.client_id!r})"

