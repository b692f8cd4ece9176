"""NetSuite's limits and refusals as the outbox needs them: the account's concurrency limit kept
(over it, a 429 is a general error), SuiteQL read past its 100,000 rows per query, refusals in
NetSuite's words, a refused signature a general error."""

from __future__ import annotations

import threading

import pytest
from netsuite_double import TBA
from netsuite_shop import order

from erpbridge.connectors.netsuite import adapter as netsuite_adapter
from erpbridge.errors import GeneralError, MessageError


@pytest.fixture
def store(tmp_path):
    return f"sqlite:///{tmp_path / 'store.db'}"


def deliver_at_once(connector, count: int) -> list[Exception]:
    failures: list[Exception] = []

    def one(n: int) -> None:
        try:
            connector.deliver("send_order", order(f"P-{n}", None, [("A-1", 1, "19.90")]), f"P-{n}")
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return failures


def test_calls_stay_within_the_accounts_concurrency_limit(netsuite, netsuite_app, store):
    netsuite.limit, netsuite.latency = 2, 0.05
    netsuite.add_product("A-1", "Drill", "19.90")
    connector = netsuite_app("tba", netsuite, store, concurrency=2).connector("erp")
    assert deliver_at_once(connector, 8) == []
    assert netsuite.refused_429 == 0 and netsuite.max_in_flight <= 2
    assert all(netsuite.count("orders", f"P-{n}") == 1 for n in range(8))


def test_oauth2_tokens_are_fetched_within_the_limit(netsuite, netsuite_app, store):
    netsuite.add_product("A-1", "Drill", "19.90")
    connector = netsuite_app("oauth2", netsuite, store, concurrency=1).connector("erp")
    assert deliver_at_once(connector, 3) == []  # the token request takes the one slot too, in turn
    assert netsuite.max_in_flight == 1


def test_over_the_limit_netsuite_answers_429_a_general_error(netsuite, netsuite_app, store):
    netsuite.limit, netsuite.latency = 2, 0.05
    netsuite.add_product("A-1", "Drill", "19.90")
    connector = netsuite_app("tba", netsuite, store, concurrency=8).connector("erp")
    failures = deliver_at_once(connector, 8)
    assert failures and all(isinstance(f, GeneralError) for f in failures)
    assert "HTTP 429" in str(failures[0]) and "CONCURRENCY_LIMIT_EXCEEDED" in str(failures[0])


def test_suiteql_is_read_past_its_rows_per_query(netsuite, netsuite_app, store, monkeypatch):
    monkeypatch.setattr(netsuite_adapter, "QUERY_LIMIT", 4)  # NetSuite: 100,000
    for n in range(9):
        netsuite.add_product(f"K-{n}", f"Item {n}", "1.00")
    connector = netsuite_app("tba", netsuite, store, page_size=2).connector("erp")
    skus = [raw.data["itemid"] for raw in connector.fetch("products", None)]
    assert skus == [f"K-{n}" for n in range(9)]


def test_refusals_are_message_errors_in_netsuites_words(netsuite, netsuite_app, store):
    connector = netsuite_app("tba", netsuite, store).connector("erp")
    customer = netsuite.add_customer("C-1", "Jane Doe")
    with pytest.raises(MessageError) as caught:
        connector.adapter.upsert("test", "salesOrder", "X-1", {"entity": {"id": str(customer)},
                                                               "item": {"items": [{"item": {"id": "999"},
                                                                                   "quantity": 1, "rate": 1}]}})
    assert "HTTP 400" in str(caught.value)
    assert "Invalid item reference key 999. (INVALID_KEY_OR_REF)" in str(caught.value)
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_order", order("SO-9", "NO-SUCH", [("A-1", 1, "1.00")]), "k")
    assert str(caught.value) == "order SO-9: customer 'NO-SUCH' does not exist in NetSuite (external id)"


def test_a_refused_signature_is_a_general_error(netsuite, netsuite_app, store):
    app = netsuite_app("tba", netsuite, store, auth={**TBA, "type": "tba", "token_secret": "wrong"})
    with pytest.raises(GeneralError, match="HTTP 401 .*INVALID_LOGIN"):
        list(app.connector("erp").fetch("customers", None))
