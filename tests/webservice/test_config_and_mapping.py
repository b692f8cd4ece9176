"""What a merchant writes for a custom ERP, checked when the config loads, and the mapping read the
other way: a mistake names its key path at start-up; a record is written as the ERP reads it; a
template cannot be broken out of by a customer's name; the config says what is which error."""

from __future__ import annotations

from decimal import Decimal

import pytest
import yaml

from erpbridge.bootstrap import bootstrap
from erpbridge.config import ConfigError, load_config
from erpbridge.connectors.webservice import answers
from erpbridge.connectors.webservice.config import Errors
from erpbridge.errors import GeneralError, MessageError
from erpbridge.flows.scheduler import flows_of
from erpbridge.mapping.templates import Template, TemplateError
from erpbridge.mapping.writer import Writer, WriteError
from erpbridge.records import Customer, Order

from webservice_fixtures import ADDRESS, order

BASIC = {"connector": "webservice", "url": "http://127.0.0.1:9", "messages": {"send_order": {"endpoint": "/orders"}}}


def load(tmp_path, system: dict, **top):
    path = tmp_path / "erpbridge.yaml"
    path.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 's.db'}"}, "systems": {"erp": system},
                                    **top}))
    return load_config(path)


def error_of(tmp_path, system: dict, **top) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, system, **top)
    return str(caught.value)


def test_a_mistake_in_a_message_is_named_by_its_key_path_when_the_config_loads(tmp_path):
    assert "messages.send_order.request.fields.colour: no field or value 'colour' to write" in error_of(
        tmp_path, {**BASIC, "messages": {"send_order": {"endpoint": "/o", "request": {"fields": {"colour": "c"}}}}})
    assert "messages.send_order.endpoint: template line 1" in error_of(
        tmp_path, {**BASIC, "messages": {"send_order": {"endpoint": "/o/{{ number"}}})
    assert "messages.send_order.operation: a SOAP operation needs a WSDL" in error_of(
        tmp_path, {**BASIC, "messages": {"send_order": {"operation": "CreateSalesOrder"}}})
    assert "messages.products.lookup: only a message that delivers has one" in error_of(
        tmp_path, {**BASIC, "messages": {**BASIC["messages"], "products": {"endpoint": "/p", "lookup": {"endpoint": "/x"}}}})
    assert "systems.erp: messages.send_invoice: the webservice connector has no such message" in error_of(
        tmp_path, {**BASIC, "messages": {**BASIC["messages"], "send_invoice": {"endpoint": "/i"}}})


def test_an_erp_that_receives_the_orders_must_have_send_order(tmp_path):
    assert "systems.erp.messages.send_order: required: this ERP receives orders" in error_of(
        tmp_path, {**BASIC, "messages": {"products": {"endpoint": "/p"}}})
    load(tmp_path, {**BASIC, "messages": {"products": {"endpoint": "/p"}}}, orders={"send_order_to_erp": False})


def test_a_system_does_what_its_messages_configure_and_nothing_else(tmp_path):
    """The spec declares the union; the hub wires what each system's config has: its flows, the
    outbox, and the API refuses a cancellation its ERP has no message for."""
    config = load(tmp_path, {**BASIC, "messages": {**BASIC["messages"], "products": {"endpoint": "/p"}}})
    app = bootstrap(config)
    try:
        capabilities = app.capabilities("erp")
        assert (capabilities.deliver, capabilities.fetch, capabilities.realtime) == ({"send_order"}, {"products"}, set())
        flows = flows_of(app)
        assert "catalog" in flows and not {"prices", "stock", "customers", "feedback"} & set(flows)
        from erpbridge.services.errors import Conflict
        from erpbridge.services.orders import erp_takes

        with pytest.raises(Conflict, match=r"does not take cancel_order \(systems.erp.messages.cancel_order"):
            erp_takes(app, "erp", "cancel_order")
    finally:
        app.close()


def test_the_field_spec_read_the_other_way_writes_a_record_as_the_erp_reads_it():
    record = Order.model_validate({**order("SO-1", "C1", [("A-1", 2, "19.90")]), "shipping_method": "express"})
    writer = Writer(Order, {
        "number": "head.no",
        "shipping_method": {"from": "head.via", "values": {"DHL": "standard", "EXP": "express", "UPS": "express"}},
        "grand_total": {"from": "head.cents", "scale": "0.01"},
        "billing_address": {"from": "billTo", "fields": {"postcode": "zip"}},
        "lines": {"each": "items.item", "fields": {"sku": "art", "quantity": "qty"}},
    }, same_names=False)
    written = writer.write(record.model_dump())
    assert written["head"] == {"no": "SO-1", "via": "EXP", "cents": Decimal("4470")}  # the first code of express
    assert written["billTo"] == {"zip": "10115"}
    assert written["items"] == {"item": [{"art": "A-1", "qty": Decimal("2")}]}
    assert set(written) == {"head", "billTo", "items"}  # only what it names
    same = Writer(Customer, {"number": "CustNo"}, same_names=True).write(
        Customer(number="W1", name="Jane", invoice_address=ADDRESS).model_dump())
    assert same["CustNo"] == "W1" and same["name"] == "Jane" and same["invoice_address"]["city"] == "Berlin"
    with pytest.raises(WriteError, match=r"shipping_method: 'pigeon' has no code in the mapping's values"):
        writer.write({**record.model_dump(), "shipping_method": "pigeon"})


def test_a_template_writes_every_value_in_its_place_whatever_it_holds():
    name = 'Jane "JD" </Name><Admin>'
    assert Template('{"name": {{ name }}, "total": {{ total }}}', "json").render_data(name=name, total=Decimal("9.5")) \
        == {"name": name, "total": 9.5}
    assert Template("<Name>{{ name }}</Name>", "xml").render(name=name) == \
        "<Name>Jane &#34;JD&#34; &lt;/Name&gt;&lt;Admin&gt;</Name>"
    assert Template("/orders/{{ number }}/cancel", "url").render(number="M8/40 ?") == "/orders/M8%2F40%20%3F/cancel"
    with pytest.raises(TemplateError, match="undefined"):
        Template("{{ missing }}", "json").render()
    with pytest.raises(TemplateError):  # the sandbox: no way to Python's internals
        Template("{{ name.__class__.__mro__ }}", "json").render(name="x")


def test_the_config_says_what_in_an_answer_is_which_error():
    errors = Errors.model_validate({"text": "message", "done": {"faults": ["*AlreadyCancelled"]},
                                    "message": {"fields": {"status": "failed", "success": False}},
                                    "general": {"status": ["5xx"], "fields": {"status": "maintenance"}}})
    outcome = answers.outcome
    assert outcome(errors, status=200, data={"status": "failed", "message": "Unknown SKU"}) == "message"
    assert outcome(errors, status=200, data={"success": "false"}) == "message"  # XML's text meets YAML's false
    assert outcome(errors, status=200, data={"status": "maintenance"}) == "general"
    assert outcome(errors, status=502, data=None) == "general"
    assert outcome(errors, status=500, fault="soap11env:Client.AlreadyCancelled") == "done"
    assert outcome(errors, status=200, data={"status": "success"}) is None
    assert answers.fault_outcome("soap11env:Client.Validation") == "message"
    assert answers.fault_outcome("soap:Server") == "general"
    assert answers.words(errors, {"message": "Unknown SKU X"}) == "Unknown SKU X"


def test_an_answer_the_erp_gives_inside_a_200_fails_only_that_message(example_app, rest_erp, tmp_path):
    """Seed 002's ERPs answer business errors in an HTTP 200: a message error in the ERP's own
    words; its maintenance page is a general error (the ERP goes offline)."""
    app = example_app("webservice-rest", rest_erp, f"sqlite:///{tmp_path / 'store.db'}")
    connector = app.connector("erp")
    with pytest.raises(MessageError, match="Unknown SKU NOPE"):
        connector.deliver("send_order", order("SO-X", None, [("NOPE", 1, "1.00")]), "k")
    original = rest_erp.answer
    rest_erp.answer = lambda *args: (200, {"status": "maintenance", "message": "back at 6"})
    try:
        with pytest.raises(GeneralError, match="back at 6"):
            connector.deliver("send_order", order("SO-Y", None, [("NOPE", 1, "1.00")]), "k")
    finally:
        rest_erp.answer = original
