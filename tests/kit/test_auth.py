"""Each auth as the system checks it: the peer verifies Basic, bearer and API keys itself, OAuth 1.0a
signatures with oauthlib's own server-side verification, and serves OAuth 2 tokens that it counts,
expires and revokes."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from urllib.parse import parse_qs

import pytest
from oauthlib.oauth1 import RequestValidator, ResourceEndpoint

from erpbridge.connectors.base import GeneralError
from erpbridge.connectors.kit import ApiKey, Basic, BearerToken, OAuth1, OAuth2ClientCredentials

from .peer import Answer, Seen

UNAUTHORIZED = Answer(401, json={"message": "The consumer isn't authorized to access %resources.",
                                 "parameters": {"resources": "Magento_Sales::actions_view"}})


def expect_header(name: str, value: str):
    return lambda seen: Answer(200, json={"ok": True}) if seen.headers.get(name.lower()) == value else UNAUTHORIZED


def test_basic_auth(peer, adapter_for):
    peer.on("/sap/opu/odata/sap/API_SALES_ORDER_SRV/", expect_header(
        "Authorization", "Basic " + base64.b64encode(b"SHOP_USER:s3cret:with-colon").decode()))
    good = adapter_for(peer.url, auth=Basic("SHOP_USER", "s3cret:with-colon"))
    answer = good.request("GET", "/sap/opu/odata/sap/API_SALES_ORDER_SRV/", flow="f", point="test.root")
    assert answer.json() == {"ok": True}
    bad = adapter_for(peer.url, auth=Basic("SHOP_USER", "wrong"))
    with pytest.raises(GeneralError, match="HTTP 401.*isn't authorized to access Magento_Sales::actions_view"):
        bad.request("GET", "/sap/opu/odata/sap/API_SALES_ORDER_SRV/", flow="f", point="test.root")


def test_bearer_token(peer, adapter_for):
    peer.on("/rest/V1/orders", expect_header("Authorization", "Bearer integration-token-1"))
    peer.on("/admin/api/graphql.json", expect_header("X-Shopify-Access-Token", "shpat_123"))
    assert adapter_for(peer.url, auth=BearerToken("integration-token-1")).request(
        "GET", "/rest/V1/orders", flow="f", point="test.orders").status_code == 200
    shopify = adapter_for(peer.url, auth=BearerToken("shpat_123", header="X-Shopify-Access-Token", scheme=""))
    assert shopify.request("POST", "/admin/api/graphql.json", flow="f", point="test.query", json={}).status_code == 200


def test_api_key_in_a_header_of_the_systems_choice_or_in_the_query(peer, adapter_for):
    peer.on("/api/items", expect_header("X-Erp-Key", "key-42"))
    assert adapter_for(peer.url, auth=ApiKey("key-42", header="X-Erp-Key")).request(
        "GET", "/api/items", flow="f", point="test.items").status_code == 200
    peer.on("/legacy/items", lambda seen: Answer(200, json=seen.query))
    legacy = adapter_for(peer.url, auth=ApiKey("key-43", query="apikey"))
    assert legacy.request("GET", "/legacy/items", flow="f", point="test.items", params={"page": 2}).json() == {
        "page": ["2"], "apikey": ["key-43"]}


CONSUMER_KEY, CONSUMER_SECRET = "x0consumerkey0magento0integration", "consumer-secret-value-1"
TOKEN, TOKEN_SECRET = "x0access0token0of0the0integration", "token-secret-value-2"


class Validator(RequestValidator):
    """The system's side: knows one consumer and its access token (Magento's keys are 32 characters)."""

    client_key_length = access_token_length = nonce_length = (20, 40)
    enforce_ssl = False  # the peer is on loopback HTTP
    dummy_client = "dummy0client0key0000000000000000"
    dummy_access_token = "dummy0access0token00000000000000"

    def __init__(self, realm: str | None = None):
        super().__init__()
        self.realm = realm
        self.nonces: set[str] = set()

    def validate_client_key(self, client_key, request):
        return client_key == CONSUMER_KEY

    def get_client_secret(self, client_key, request):
        return CONSUMER_SECRET if client_key == CONSUMER_KEY else "dummy"

    def validate_access_token(self, client_key, token, request):
        return token == TOKEN

    def get_access_token_secret(self, client_key, token, request):
        return TOKEN_SECRET if token == TOKEN else "dummy"

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce, request, request_token=None,
                                     access_token=None):
        if nonce in self.nonces or abs(time.time() - int(timestamp)) > 300:
            return False
        self.nonces.add(nonce)
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return request.realm == self.realm


def verifying(validator: Validator):
    endpoint = ResourceEndpoint(validator)

    def answer(seen: Seen) -> Answer:
        valid, request = endpoint.validate_protected_resource_request(
            seen.url, seen.method, body=seen.body.decode() or None, headers=seen.headers)
        return Answer(200, json={"verified": True}) if valid else Answer(
            401, json={"message": "The signature is invalid.", "log": request.validator_log if request else None})
    return answer


@pytest.mark.parametrize("method", ["HMAC-SHA256", "HMAC-SHA1"])
def test_oauth1_signatures_verify_with_oauthlibs_server_side(peer, adapter_for, method):
    """Magento's integration signing: the query (brackets, spaces, colons of searchCriteria) is
    signed, a JSON body is not, a form body is."""
    peer.on("/rest/default/V1/orders", verifying(Validator()))
    magento = adapter_for(peer.url, auth=OAuth1(CONSUMER_KEY, CONSUMER_SECRET, TOKEN, TOKEN_SECRET,
                                                signature_method=method))
    search = {"searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
              "searchCriteria[filter_groups][0][filters][0][value]": "2026-01-01 00:00:00",
              "searchCriteria[pageSize]": 50}
    assert magento.request("GET", "/rest/default/V1/orders", flow="f", point="test.orders", params=search).json() == {
        "verified": True}
    assert magento.request("POST", "/rest/default/V1/orders", flow="f", point="test.orders",
                           json={"entity": {"increment_id": "100"}}).status_code == 200
    assert magento.request("POST", "/rest/default/V1/orders", flow="f", point="test.orders",
                           data={"comment": "paid & shipped"}).status_code == 200
    assert magento.request("GET", "/rest/default/V1/orders", flow="f", point="test.orders",  # a fresh nonce each time
                           params=search).status_code == 200


def test_oauth1_with_a_netsuite_realm_and_a_wrong_secret(peer, adapter_for):
    peer.on("/services/rest/record/v1/salesOrder", verifying(Validator(realm="1234567_SB1")))
    netsuite = adapter_for(peer.url, auth=OAuth1(CONSUMER_KEY, CONSUMER_SECRET, TOKEN, TOKEN_SECRET,
                                                 realm="1234567_SB1"))
    assert netsuite.request("GET", "/services/rest/record/v1/salesOrder", flow="f", point="test.orders",
                            params={"q": 'tranId IS "SO-1"'}).status_code == 200
    forged = adapter_for(peer.url, auth=OAuth1(CONSUMER_KEY, CONSUMER_SECRET, TOKEN, "not-the-token-secret",
                                               realm="1234567_SB1"))
    with pytest.raises(GeneralError, match="HTTP 401.*signature is invalid"):
        forged.request("GET", "/services/rest/record/v1/salesOrder", flow="f", point="test.orders")
    no_realm = adapter_for(peer.url, auth=OAuth1(CONSUMER_KEY, CONSUMER_SECRET, TOKEN, TOKEN_SECRET))
    with pytest.raises(GeneralError, match="HTTP 401"):
        no_realm.request("GET", "/services/rest/record/v1/salesOrder", flow="f", point="test.orders")


CLIENT_ID, CLIENT_SECRET = "bc-hub-client", "entra-client-secret-9"


class TokenServer:
    """A token endpoint (client credentials) and a resource that takes only tokens it issued."""

    def __init__(self, peer, *, expires_in: int | None = 3600, client_auth: str = "header", processing: float = 0.0):
        self.expires_in, self.client_auth, self.processing = expires_in, client_auth, processing
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.forms: list[dict] = []
        self.resource_calls = 0
        self._lock = threading.Lock()
        peer.on("/tenant/oauth2/v2.0/token", self.token)
        peer.on("/api/v2.0/items", self.resource)

    def token(self, seen: Seen) -> Answer:
        form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
        self.forms.append(form)
        if self.client_auth == "header":
            client_ok = seen.headers.get("authorization") == "Basic " + base64.b64encode(
                f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        else:
            client_ok = form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET
        if not client_ok or form.get("grant_type") != "client_credentials":
            return Answer(401, json={"error": "invalid_client",
                                     "error_description": "AADSTS7000215: Invalid client secret"})
        time.sleep(self.processing)  # the endpoint's own work, so that concurrent callers overlap with it
        token = secrets.token_hex(12)
        with self._lock:
            self.issued.append(token)
            self.valid.add(token)
        answer = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        return Answer(200, json=answer)

    def resource(self, seen: Seen) -> Answer:
        with self._lock:
            self.resource_calls += 1
        if seen.headers.get("authorization", "").removeprefix("Bearer ") in self.valid:
            return Answer(200, json={"value": []})
        return Answer(401, json={"error": {"code": "Unauthorized", "message": "The credentials are incorrect"}})

    def revoke(self) -> None:
        self.valid.clear()


def client_credentials(peer, **options) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(f"{peer.url}/tenant/oauth2/v2.0/token", CLIENT_ID, CLIENT_SECRET,
                                   scope="https://api.businesscentral.dynamics.com/.default", **options)


def get_items(adapter):
    return adapter.request("GET", "/api/v2.0/items", flow="catalog", point="test.items.list").json()


def test_oauth2_token_is_fetched_once_and_cached(peer, adapter_for):
    server = TokenServer(peer)
    adapter = adapter_for(peer.url, auth=client_credentials(peer))
    for _ in range(5):
        assert get_items(adapter) == {"value": []}
    assert len(server.issued) == 1
    assert server.forms == [{"grant_type": "client_credentials", "scope": "https://api.businesscentral.dynamics.com/.default"}]


def test_oauth2_client_secret_in_the_form_where_the_server_wants_it(peer, adapter_for):
    server = TokenServer(peer, client_auth="body")
    assert get_items(adapter_for(peer.url, auth=client_credentials(peer, client_auth="body"))) == {"value": []}
    assert server.forms[0]["client_id"] == CLIENT_ID


def test_oauth2_token_is_renewed_shortly_before_it_expires(peer, adapter_for):
    server = TokenServer(peer, expires_in=3600)
    now = [1000.0]
    adapter = adapter_for(peer.url, auth=client_credentials(peer, clock=lambda: now[0]))
    get_items(adapter)
    now[0] += 3600 - 61  # a minute and a second before it expires: still good
    get_items(adapter)
    assert len(server.issued) == 1
    now[0] += 2  # within the last minute: a new one before the system would refuse the old
    get_items(adapter)
    assert len(server.issued) == 2 and server.resource_calls == 3  # no call was refused on the way


def test_oauth2_token_revoked_early_is_renewed_once_on_401(peer, adapter_for):
    server = TokenServer(peer)
    adapter = adapter_for(peer.url, auth=client_credentials(peer))
    get_items(adapter)
    server.revoke()
    assert get_items(adapter) == {"value": []}  # 401, a new token, the same call again
    assert len(server.issued) == 2


def test_oauth2_credentials_refused_with_a_fresh_token_are_a_general_error(peer, adapter_for):
    server = TokenServer(peer)
    peer.on("/api/v2.0/items", Answer(401, json={"error": {"message": "Application is not registered in BC"}}))
    with pytest.raises(GeneralError, match="HTTP 401 to GET /api/v2.0/items: Application is not registered in BC"):
        get_items(adapter_for(peer.url, auth=client_credentials(peer)))
    assert len(server.issued) == 2  # renewed once, not in a loop


def test_oauth2_a_refused_token_request_is_a_general_error_in_the_servers_words(peer, adapter_for):
    server = TokenServer(peer)
    adapter = adapter_for(peer.url, auth=OAuth2ClientCredentials(f"{peer.url}/tenant/oauth2/v2.0/token", CLIENT_ID,
                                                                 "expired-secret"))
    with pytest.raises(GeneralError, match="token endpoint refused client 'bc-hub-client': HTTP 401: "
                                           "invalid_client: AADSTS7000215: Invalid client secret"):
        get_items(adapter)
    assert server.resource_calls == 0


def test_oauth2_one_token_request_for_many_threads_at_once(peer, adapter_for):
    server = TokenServer(peer, processing=0.3)
    adapter = adapter_for(peer.url, auth=client_credentials(peer))
    start = threading.Barrier(8)
    results: list = []

    def call():
        start.wait()
        results.append(get_items(adapter))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"value": []}] * 8
    assert len(server.issued) == 1
