"""What the OData connector makes of trouble: each error names the system, the call or record, the
field and the reason, and is the kind the outbox acts on (a message error fails one message, a
general error takes the channel offline, a 429 exactly as long as Retry-After says)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from erpbridge.config import ConfigError, load_config
from erpbridge.connectors.odata.adapter import date, literal, query, timestamp
from erpbridge.errors import GeneralError, MessageError
from erpbridge.ingest.fetched import ingest_fetched

from odata_fixtures import order
from odata_erp import COMPANY


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_odata_literals_and_values_of_both_versions():
    stamp = dt.datetime(2026, 12, 2, 8, 30, tzinfo=dt.timezone.utc)
    assert literal(stamp, "v2") == "datetimeoffset'2026-12-02T08:30:00.000Z'"
    assert literal(stamp, "v4") == "2026-12-02T08:30:00.000Z"
    assert literal(dt.date(2026, 12, 2), "v2") == "datetime'2026-12-02T00:00:00'"
    assert literal("O'Brien", "v4") == "'O''Brien'"
    assert query({"$filter": "a eq 'b c'", "$top": None}) == "$filter=a%20eq%20'b%20c'"  # never '+'
    assert timestamp("/Date(1796196756965+0000)/") == dt.datetime(2026, 12, 2, 7, 32, 36, 965000, dt.timezone.utc)
    assert date("2026-12-02") == dt.date(2026, 12, 2) and date(None) is None


def test_a_refused_order_is_a_message_error_in_sap_words(odata_app, cap_erp, sqlite_url):
    connector = odata_app("s4-v2", sqlite_url).connector("erp")
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_order", order(f"E-{uuid.uuid4().hex[:8]}", "17100001", [("NO-SUCH", 1, "5.00")]), "k")
    assert str(caught.value) == ("erp answered HTTP 400 to POST /sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder: "
                                 "Material NO-SUCH does not exist (400)")


def test_an_expired_sap_session_fetches_a_new_csrf_token_once(odata_app, cap_erp, sqlite_url):
    cap_erp.s4_product("CSRF-1", "Token test")
    connector = odata_app("s4-v2", sqlite_url).connector("erp")
    first = connector.deliver("send_order", order(f"T-{uuid.uuid4().hex[:8]}", "17100001", [("CSRF-1", 1, "1")]), "a")
    cap_erp.expire_sessions()  # the next write is refused with 403 and x-csrf-token: Required
    number = f"T-{uuid.uuid4().hex[:8]}"
    second = connector.deliver("send_order", order(number, "17100001", [("CSRF-1", 1, "1")]), "b")
    assert first.external_id != second.external_id and len(cap_erp.s4_orders(number)) == 1


def test_an_order_without_a_customer_needs_the_guest_customer(odata_app, cap_erp, sqlite_url):
    connector = odata_app("business_central", sqlite_url).connector("erp")
    connector.cfg.guest_customer = None
    with pytest.raises(MessageError, match=r"order G-1: it has no customer number and systems\.erp\.guest_customer"):
        connector.deliver("send_order", order("G-1", None, [("X", 1, "1")]), "k")


def test_throttling_is_a_general_error_for_as_long_as_retry_after_says(odata_app, cap_erp, sqlite_url):
    connector = odata_app("business_central", sqlite_url).connector("erp")
    list(connector.fetch("customers", dt.datetime.now(dt.timezone.utc)))  # the token is fetched: not throttled
    cap_erp.throttle(1, retry_after=2)
    with pytest.raises(GeneralError) as caught:
        list(connector.fetch("products", None))
    assert caught.value.retry_after == 2
    assert "erp answered HTTP 429" in str(caught.value) and "Too many requests reached." in str(caught.value)
    assert list(connector.fetch("products", dt.datetime.now(dt.timezone.utc))) == []  # served again


def test_a_refused_client_secret_is_a_general_error_naming_the_client(odata_app, cap_erp, sqlite_url):
    connector = odata_app("business_central", sqlite_url, env={"BC_CLIENT_SECRET": "wrong"}).connector("erp")
    with pytest.raises(GeneralError, match="the token endpoint refused client 'erpbridge-bc': HTTP 401: "
                                           "invalid_client: AADSTS7000215"):
        list(connector.fetch("products", None))


def test_an_item_the_store_cannot_take_is_rejected_naming_system_record_and_field(odata_app, cap_erp, sqlite_url):
    app = odata_app("business_central", sqlite_url)
    since = dt.datetime.now(dt.timezone.utc)
    cap_erp.bc_item(f"R-{uuid.uuid4().hex[:6]}", "", 1.0)  # BC allows an item without a name; the store does not
    report = ingest_fetched(app, "erp", "products", app.connector("erp").fetch("products", since))
    rejection, = report.rejections
    assert (rejection.file, rejection.location.split()[0], rejection.field) == ("erp: products", "item", "name")


def test_deliver_batch_answers_each_order_and_finds_what_an_earlier_batch_created(odata_app, cap_erp, sqlite_url):
    tag = uuid.uuid4().hex[:6]
    cap_erp.bc_item(f"BATCH-{tag}", "Batch item", 2.0, 10)
    connector = odata_app("business_central", sqlite_url).connector("erp")
    payloads = [order(f"B-{tag}-1", "10000", [(f"BATCH-{tag}", 1, "2.00")]),
                order(f"B-{tag}-2", "10000", [("NO-SUCH-ITEM", 1, "2.00")]),
                order(f"B-{tag}-3", "10000", [(f"BATCH-{tag}", 2, "2.00")])]
    items = [(p, f"key-{i}") for i, p in enumerate(payloads)]
    first = connector.deliver_batch("send_order", items)
    assert isinstance(first[1], MessageError) and "(NO-SUCH-ITEM) that cannot be found" in str(first[1])
    again = connector.deliver_batch("send_order", items)
    assert [r.external_id for r in (first[0], first[2])] == [r.external_id for r in (again[0], again[2])]
    assert [r.response["existed"] for r in (again[0], again[2])] == [True, True]
    assert [len(cap_erp.bc_orders(p["number"])) for p in payloads] == [1, 0, 1]


def test_a_failed_member_of_an_atomicity_group_fails_the_whole_group(odata_app, cap_erp, sqlite_url):
    connector = odata_app("business_central", sqlite_url).connector("erp")
    tag = uuid.uuid4().hex[:6]
    cap_erp.bc_item(f"ATOM-{tag}", "Atomic item", 2.0, 10)
    good, bad = connector._body(_order(f"A-{tag}-1", f"ATOM-{tag}")), connector._body(_order(f"A-{tag}-2", "NOPE"))
    answers = connector.adapter.batch([
        {"id": "1", "method": "POST", "url": f"companies({COMPANY})/salesOrders", "body": good, "atomicityGroup": "g"},
        {"id": "2", "method": "POST", "url": f"companies({COMPANY})/salesOrders", "body": bad, "atomicityGroup": "g"}],
        flow="send_order", point="odata.salesOrders.create.batch")
    assert all(isinstance(a, MessageError) for a in answers)
    assert "rolled back with its atomicity group" in str(answers[0])
    assert cap_erp.bc_orders(f"A-{tag}-1") == []


def _order(number: str, sku: str):
    from erpbridge.records import Order

    return Order.model_validate(order(number, "10000", [(sku, 1, "2.00")]))


def test_the_config_says_what_a_flavour_needs(tmp_path):
    path = tmp_path / "erpbridge.yaml"
    path.write_text("systems:\n  erp: {connector: odata, flavour: business_central, "
                    "url: 'https://bc.example.com/api/v2.0',"
                    " token_url: 'https://login.example.com/token', client_id: app}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "flavour business_central needs client_secret, company" in str(caught.value)
