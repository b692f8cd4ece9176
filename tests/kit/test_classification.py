"""Every way an HTTP call can fail becomes the connector error the outbox and the semaphore act on:
the system is away (general error, for as long as it asked), or this request is wrong (message
error, in the system's own words)."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest

from erpbridge.connectors.base import GeneralError, MessageError
from erpbridge.connectors.kit import MAX_RETRY_AFTER, HttpAdapter, retry_after

from .peer import HANG_UP, Answer, SilentPort, refused_url


def test_a_refused_connection_is_a_general_error(adapter_for):
    url = refused_url()
    with pytest.raises(GeneralError, match=r"erp at http://127\.0\.0\.1:\d+ is unreachable: GET /orders"):
        adapter_for(url).request("GET", "/orders", flow="orders", point="test.orders.list")


def test_a_system_that_accepts_and_never_answers_is_a_general_error_after_the_timeout(adapter_for):
    silent = SilentPort()
    try:
        with pytest.raises(GeneralError, match="did not answer POST /orders in time") as caught:
            adapter_for(silent.url, timeout=0.3).request("POST", "/orders", flow="orders", point="test.order.create",
                                                         json={"number": "1"})
        assert caught.value.retry_after is None
    finally:
        silent.close()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_general_errors(peer, adapter_for, status):
    peer.on("/orders", Answer(status, body="upstream broke"))
    with pytest.raises(GeneralError, match=f"erp answered HTTP {status} to POST /orders: upstream broke") as caught:
        adapter_for(peer.url).request("POST", "/orders", flow="orders", point="test.order.create", json={})
    assert caught.value.retry_after is None  # the semaphore's max_lock_time


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_pauses_the_system_exactly_that_long(peer, adapter_for, status):
    peer.on("/orders", Answer(status, json={"message": "slow down"}, headers={"Retry-After": "7"}))
    with pytest.raises(GeneralError, match="slow down") as caught:
        adapter_for(peer.url).request("GET", "/orders", flow="orders", point="test.orders.list")
    assert caught.value.retry_after == 7


def test_retry_after_as_an_http_date_counts_from_the_systems_own_clock(peer, adapter_for):
    # The system's clock is a day off ours: the pause is the 90 s it meant, not a day.
    its_now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    peer.on("/orders", Answer(429, headers={"Date": email.utils.format_datetime(its_now, usegmt=True),
                                            "Retry-After": email.utils.format_datetime(
                                                its_now + dt.timedelta(seconds=90), usegmt=True)}))
    with pytest.raises(GeneralError) as caught:
        adapter_for(peer.url).request("GET", "/orders", flow="orders", point="test.orders.list")
    assert caught.value.retry_after == 90


def test_a_429_without_retry_after_is_a_general_error_of_the_usual_length(peer, adapter_for):
    peer.on("/orders", Answer(429, body="Too Many Requests"))
    with pytest.raises(GeneralError) as caught:
        adapter_for(peer.url).request("GET", "/orders", flow="orders", point="test.orders.list")
    assert caught.value.retry_after is None


@pytest.mark.parametrize("value, seconds", [
    ("0", 0), ("-5", 0), ("1.5", 1.5), (str(10 ** 9), MAX_RETRY_AFTER), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0),  # a date long past: at once
])
def test_retry_after_is_clamped_to_sane_values(peer, adapter_for, value, seconds):
    peer.on("/orders", Answer(429, headers={"Retry-After": value}))
    response = adapter_for(peer.url).request("GET", "/orders", flow="orders", point="test.orders.list", accept=(429,))
    assert retry_after(response) == seconds


ERROR_BODIES = [  # (body, the system's words we must carry)
    ({"message": "Product not found"}, "Product not found"),
    ({"message": 'The "%1" value of "%2" is invalid.', "parameters": ["qty", "item 3"]},
     'The "qty" value of "item 3" is invalid.'),  # Magento, list parameters
    ({"message": "No such entity with %fieldName = %fieldValue",
      "parameters": {"fieldName": "sku", "fieldValue": "X/1"}},
     "No such entity with sku = X/1"),  # Magento, named parameters
    ({"error": {"code": "BadRequest_NotFound", "message": "The Item does not exist."}},
     "The Item does not exist. (BadRequest_NotFound)"),  # Business Central, OData v4
    ({"error": {"code": "SY/530", "message": {"lang": "en", "value": "Material TG99 is not defined"}}},
     "Material TG99 is not defined (SY/530)"),  # SAP, OData v2
    ({"error": "invalid_grant", "error_description": "The code has expired"}, "invalid_grant: The code has expired"),
    ({"errors": [{"message": "Field 'sku' doesn't exist on type 'Product'"}]}, "Field 'sku' doesn't exist"),  # GraphQL
    ({"errors": {"title": ["can't be blank"]}}, "title can't be blank"),  # Shopify REST
    ({"type": "about:blank", "title": "Unprocessable", "detail": "currency must be ISO 4217"},
     "currency must be ISO 4217"),  # problem+json
    ("<html><body><h1>Bad   Request</h1>\n<p>missing field</p></body></html>",
     "<h1>Bad Request</h1> <p>missing field</p>"),
]


@pytest.mark.parametrize("status", [400, 404, 422])
@pytest.mark.parametrize("body, words", ERROR_BODIES)
def test_other_client_errors_are_message_errors_in_the_systems_own_words(peer, adapter_for, status, body, words):
    peer.on("/V1/orders", Answer(status, **({"json": body} if isinstance(body, dict) else {"body": body})))
    with pytest.raises(MessageError) as caught:
        adapter_for(peer.url).request("POST", "/V1/orders", flow="orders", point="test.order.create", json={})
    assert str(caught.value).startswith(f"erp answered HTTP {status} to POST /V1/orders: ")
    assert words in str(caught.value)


def test_a_long_unstructured_body_is_quoted_shortly(peer, adapter_for):
    peer.on("/orders", Answer(400, body="x" * 10_000))
    with pytest.raises(MessageError) as caught:
        adapter_for(peer.url).request("GET", "/orders", flow="orders", point="test.orders.list")
    assert len(str(caught.value)) < 300


def test_an_accepted_status_is_returned_instead_of_raised(peer, adapter_for):
    peer.on("/V1/products/missing", Answer(404, json={"message": "not found"}))
    response = adapter_for(peer.url).request("GET", "/V1/products/missing", flow="catalog", point="test.product.get",
                                             accept=(404,))
    assert response.status_code == 404


def test_a_body_that_is_not_json_is_a_general_error(peer, adapter_for):
    peer.on("/orders", Answer(200, body="<html>proxy login</html>", headers={"Content-Type": "text/html"}))
    adapter = adapter_for(peer.url)
    with pytest.raises(GeneralError, match="not JSON"):
        adapter.json(adapter.request("GET", "/orders", flow="orders", point="test.orders.list"))


class ThrottlingShop(HttpAdapter):
    """A connector's refinement: Shopify answers a throttled GraphQL query with 200."""

    def classify(self, response, what):
        error = super().classify(response, what)
        if error is None and any(e.get("extensions", {}).get("code") == "THROTTLED"
                                 for e in response.json().get("errors", [])):
            cost = response.json()["extensions"]["cost"]
            missing = cost["requestedQueryCost"] - cost["throttleStatus"]["currentlyAvailable"]
            return GeneralError(f"{self.system} throttled {what}",
                                retry_after=missing / cost["throttleStatus"]["restoreRate"])
        return error


def test_a_connector_refines_the_classification_of_a_200(peer):
    peer.on("/graphql.json", Answer(200, json={
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 202,
                                "throttleStatus": {"currentlyAvailable": 2, "restoreRate": 100}}}}))
    shop = ThrottlingShop(peer.url, system="shop", connector="shopify")
    try:
        with pytest.raises(GeneralError, match="shop throttled POST /graphql.json") as caught:
            shop.request("POST", "/graphql.json", flow="stock", point="shopify.inventory.set", json={"query": "{}"})
        assert caught.value.retry_after == 2
    finally:
        shop.close()


def connect_attempts(adapter: HttpAdapter, method: str, **options) -> int:
    """How often the adapter tried to connect for one call (httpcore's trace of the connection)."""
    attempts = []
    request = adapter.build(method, "/orders", **options)
    request.extensions["trace"] = lambda event, _: event == "connection.connect_tcp.started" and attempts.append(event)
    with pytest.raises(GeneralError, match="unreachable"):
        adapter.transmit(request)
    return len(attempts)


def test_reads_try_to_connect_again_and_writes_never(adapter_for):
    adapter = adapter_for(refused_url(), connect_retries=2)
    assert connect_attempts(adapter, "GET") == 3
    assert connect_attempts(adapter, "POST", json={"number": "1"}) == 1  # the outbox retries writes, durably
    assert connect_attempts(adapter, "POST", json={"query": "{ shop { name } }"}, idempotent=True) == 3


def test_a_write_that_reached_the_system_is_not_sent_again(peer, adapter_for):
    peer.on("/orders", HANG_UP)  # the peer reads the order and closes the connection
    with pytest.raises(GeneralError, match="broke off POST /orders"):
        adapter_for(peer.url).request("POST", "/orders", flow="orders", point="test.order.create", json={"number": "1"})
    assert len(peer.requests("/orders")) == 1
