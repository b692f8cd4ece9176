"""What goes wrong with Odoo, and what the outbox hears of it: Odoo's refusals in its own words
(message errors), concurrency errors sent again, refused keys and a stopped Odoo general errors."""

from __future__ import annotations

import pytest
from odoo_shop import ADDRESS, order
from pydantic import ValidationError

from erpbridge.connectors.odoo.adapter import OdooUserError
from erpbridge.connectors.odoo.spec import OdooSystem
from erpbridge.errors import GeneralError, MessageError


@pytest.fixture
def connector(api, odoo, odoo_app, tmp_path):
    odoo.add_product("A-1", "Drill", "19.90", stock={"WH": 5})
    return odoo_app(api, odoo, f"sqlite:///{tmp_path / 'store.db'}").connector("erp")


def customer(number: str) -> dict:
    return {"number": number, "name": "Jane Doe", "invoice_address": ADDRESS}


def test_a_user_error_is_a_message_error_in_odoos_words(connector, odoo):
    connector.deliver("send_order", order("SO-1", None, [("A-1", 1, "19.90")]), "k")
    sale = odoo.order("SO-1")["id"]
    with pytest.raises(OdooUserError) as caught:
        connector.adapter.execute("test", "sale.order", "action_confirm", [sale])
    assert "It is not allowed to confirm an order in the following states: Sales Order" in str(caught.value)


def test_a_missing_mandatory_field_names_the_model_and_field(connector):
    with pytest.raises(MessageError) as caught:
        connector.adapter.execute("test", "sale.order", "create", vals_list=[{"client_order_ref": "X"}])
    assert "a mandatory field is not set" in str(caught.value) and "partner_id" in str(caught.value)


def test_bad_input_names_the_record_the_field_and_the_reason(connector):
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_order", order("SO-2", None, [("NOPE", 1, "1.00")]), "k")
    assert str(caught.value) == "order SO-2: unknown product(s) in Odoo (product.product default_code): NOPE"
    with pytest.raises(MessageError) as caught:
        connector.deliver("send_order", order("SO-3", "NO-SUCH", [("A-1", 1, "19.90")]), "k")
    assert "order SO-3: customer 'NO-SUCH' does not exist in Odoo (res.partner ref)" in str(caught.value)
    with pytest.raises(MessageError) as caught:
        connector.deliver("create_customer", {**customer("C-1"), "invoice_address": {**ADDRESS, "country": "FR"}}, "k")
    assert "customer C-1: country 'FR' does not exist in Odoo (res.country)" in str(caught.value)


def test_concurrency_errors_are_retried_by_odoo_then_by_the_adapter(connector, odoo, api):
    odoo.orm.conflicts = 4  # within Odoo's own five tries: the caller sees nothing
    connector.deliver("create_customer", customer("C-2"), "k")
    assert odoo.count("customers", "C-2") == 1
    odoo.orm.conflicts = 7  # beyond them: Odoo gives up once, rolled back
    if api == "jsonrpc":  # SerializationFailure by name: safe to send again, and the second call succeeds
        connector.deliver("create_customer", customer("C-3"), "k")
        assert odoo.count("customers", "C-3") == 1
    else:  # JSON-2 answers a bare 500: the system is unwell, the message waits
        with pytest.raises(GeneralError, match="HTTP 500"):
            connector.deliver("create_customer", customer("C-3"), "k")
        assert odoo.count("customers", "C-3") == 0
    odoo.orm.conflicts = 1000
    with pytest.raises(GeneralError):
        connector.adapter.execute("test", "res.partner", "search", domain=[])
    odoo.orm.conflicts = 0


def test_a_refused_api_key_is_a_general_error(api, odoo, odoo_app, tmp_path):
    app = odoo_app(api, odoo, f"sqlite:///{tmp_path / 'store.db'}", api_key="wrong-key")
    with pytest.raises(GeneralError) as caught:
        list(app.connector("erp").fetch("products", None))
    assert ("Invalid apikey" if api == "json2" else "refused the login of 'erpbridge'") in str(caught.value)


def test_json2_refuses_ids_for_a_model_method(odoo, odoo_app, tmp_path):
    connector = odoo_app("json2", odoo, f"sqlite:///{tmp_path / 'store.db'}").connector("erp")
    with pytest.raises(MessageError, match="HTTP 422 .*cannot call res.partner.search with ids"):
        connector.adapter.execute("test", "res.partner", "search", [1], domain=[])
    with pytest.raises(MessageError, match="HTTP 404 .*the model 'no.such' does not exist"):
        connector.adapter.execute("test", "no.such", "search", domain=[])


def test_a_json2_error_body_that_is_the_bare_message_is_read_too(odoo, odoo_app, tmp_path):
    connector = odoo_app("json2", odoo, f"sqlite:///{tmp_path / 'store.db'}").connector("erp")
    odoo.bare_errors = True
    with pytest.raises(MessageError, match="HTTP 422 .*a mandatory field is not set"):
        connector.adapter.execute("test", "sale.order", "create", vals_list=[{"client_order_ref": "X"}])


def test_jsonrpc_needs_a_login():
    with pytest.raises(ValidationError, match="the jsonrpc API needs the Odoo user's login"):
        OdooSystem.model_validate({"connector": "odoo", "url": "http://x", "database": "d", "api_key": "k"})
    OdooSystem.model_validate({"connector": "odoo", "url": "http://x", "database": "d", "api_key": "k", "api": "json2"})
