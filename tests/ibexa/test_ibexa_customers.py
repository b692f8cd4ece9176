"""The shop's registration and its customer changes through the Web.Connector (zeep on the served
WSDL, the REST ERP behind the outbox, SQLite and PostgreSQL): CreateContact/CreateCustomer answer
erpbridge's provisional number at once and the ERP's once it gave one; UpdateCustomer and the
delivery addresses (Create/Update/ReadDeliveryAddress) reach the ERP once each, behind the
creation, and are read back at once; bad input is a fault naming the UBL element, storing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from erpbridge.connectors.ibexa import ubl
from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.outbox.worker import Worker

from ibexa_hub import call

POSTAL = ("<PostalAddress><StreetName>{street}</StreetName><CityName>{city}</CityName><PostalZone>10115</PostalZone>"
          "<Country><IdentificationCode>DE</IdentificationCode></Country></PostalAddress>")


def registration(account: str = "jane-web") -> str:
    return (f"<RequestCreateContact><BuyerCustomerParty><SupplierAssignedAccountID>{account}"
            f"</SupplierAssignedAccountID><Party><PartyName><Name>Jane Doe</Name></PartyName>"
            f"{POSTAL.format(street='Main St 1', city='Berlin')}"
            "<Contact><Name>Jane Doe</Name><ElectronicMail>jane@example.com</ElectronicMail></Contact>"
            "</Party></BuyerCustomerParty></RequestCreateContact>")


def delivery(operation: str, customer: str, city: str, address_id: str | None = None) -> str:
    ext = f"<SesExtension><AddressID>{address_id}</AddressID></SesExtension>" if address_id else ""
    return (f"<{operation}Request><DeliveryParty><PartyIdentification><ID>{customer}</ID></PartyIdentification>"
            f"<PartyName><Name>Jane Doe</Name></PartyName>{POSTAL.format(street='Dock 4', city=city)}{ext}"
            f"</DeliveryParty></{operation}Request>")


def messages(app) -> list[tuple[str, str, str]]:
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(m.c.operation, m.c.business_key, m.c.state)
                                               .where(m.c.operation.like("%customer")).order_by(m.c.id))]


def test_a_registration_is_answered_at_once_then_with_the_erps_number_and_changes_follow_it(served):
    app, _server, client, realtime = served
    answer, code, status = call(client, "CreateContact", registration())
    party = ubl.child(answer, "Party")
    assert code == 0 and "number follows" in status
    assert (ubl.text(party, "PartyIdentification/ID"), ubl.text(party, "SesExtension/Provisional"),
            ubl.text(party, "SesExtension/State")) == ("jane-web", "true", "pending")
    again, code, _ = call(client, "CreateCustomer", registration())  # the same registration again
    assert code == 0 and ubl.text(again, "Party/SesExtension/Replay") == "true"
    assert messages(app) == [("create_customer", "customer:jane-web", "pending")]

    # A delivery address before the ERP knows the customer: queued behind its creation, read back at once.
    added, code, _ = call(client, "CreateDeliveryAddress", delivery("CreateDeliveryAddress", "jane-web", "Hamburg"))
    assert code == 0 and ubl.text(added, "DeliveryParty/SesExtension/AddressID") == "1"
    listed, code, _ = call(client, "ReadDeliveryAddress", delivery("ReadDeliveryAddress", "jane-web", "x"))
    assert code == 0 and [ubl.text(p, "PostalAddress/CityName") for p in listed.iter("DeliveryParty")] == ["Hamburg"]
    realtime.mode = "down"  # at login while the creation is under way: answered as the shop sent it
    login, code, _ = call(client, "SelectCustomer", "<BuyerCustomerParty><Party><PartyIdentification><ID>jane-web"
                                                    "</ID></PartyIdentification></Party></BuyerCustomerParty>")
    assert code == 0 and ubl.text(login, "BuyerCustomerParty/Party/PartyName/Name") == "Jane Doe"
    assert messages(app) == [("create_customer", "customer:jane-web", "pending"),
                             ("update_customer", "customer:jane-web", "pending")]

    Worker(app).drain()
    erp = served.erp
    number, = [c["customer_id"] for c in erp.customers.values() if c["reference"] == "jane-web"]
    assert erp.updated_customers == [number] and erp.customers[number]["ship_to"][0]["city"] == "Hamburg"

    # Now every answer names the ERP's number, whichever number the shop uses.
    answer, code, status = call(client, "CreateContact", registration())
    assert (code, status, ubl.text(answer, "Party/PartyIdentification/ID"),
            ubl.text(answer, "Party/SesExtension/Provisional")) == (0, "created", number, "false")
    moved, code, _ = call(client, "UpdateDeliveryAddress", delivery("UpdateDeliveryAddress", "jane-web", "Bremen", "1"))
    assert code == 0 and ubl.text(moved, "DeliveryParty/PartyIdentification/ID") == number
    update = (f"<RequestUpdateCustomer><Party><PartyIdentification><ID>{number}</ID></PartyIdentification>"
              "<Contact><ElectronicMail>jane@new.example</ElectronicMail></Contact></Party></RequestUpdateCustomer>")
    changed, code, _ = call(client, "UpdateCustomer", update)
    assert code == 0 and ubl.text(changed, "Party/PartyIdentification/ID") == number
    _, _, status = call(client, "UpdateCustomer", update)
    assert status == "already accepted"
    Worker(app).drain()
    assert erp.updated_customers == [number] * 3
    assert erp.customers[number]["email"] == "jane@new.example"
    assert [a["city"] for a in erp.customers[number]["ship_to"]] == ["Bremen"]
    assert erp.customers[number]["address"]["city"] == "Berlin"  # what was not sent stays
    listed, code, _ = call(client, "ReadDeliveryAddress", delivery("ReadDeliveryAddress", number, "x"))
    assert [ubl.text(p, "PostalAddress/CityName") for p in listed.iter("DeliveryParty")] == ["Bremen"]
    assert [s for _, _, s in messages(app)] == ["done"] * 4 and erp.created["customers"] == 1


@pytest.mark.parametrize("operation, data, named", [
    ("CreateContact", registration().replace("<SupplierAssignedAccountID>jane-web</SupplierAssignedAccountID>", ""),
     "Party/PartyIdentification/ID"),
    ("CreateContact", registration().replace("<CityName>Berlin</CityName>", ""), "Party/PostalAddress/CityName"),
    ("CreateContact", registration().replace("jane@example.com", "not-an-address"), "Party/Contact/ElectronicMail"),
    ("CreateDeliveryAddress", delivery("CreateDeliveryAddress", "jane-web", "Hamburg").replace(
        "<PostalZone>10115</PostalZone>", ""), "DeliveryParty/PostalAddress/PostalZone"),
    ("UpdateDeliveryAddress", delivery("UpdateDeliveryAddress", "jane-web", "Hamburg"),
     "DeliveryParty/SesExtension/AddressID"),
])
def test_bad_customer_input_is_a_fault_naming_the_element_and_stores_nothing(served, operation, data, named):
    import zeep.exceptions

    app, _server, client, _ = served
    if operation != "CreateContact":
        call(client, "CreateContact", registration())
    before = messages(app)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call(client, operation, data)
    assert named in caught.value.message and f"ibexa shop: {operation}" in caught.value.message, caught.value.message
    assert messages(app) == before


def test_an_unknown_customer_or_address_is_status_11(served):
    app, _server, client, _ = served
    _, code, status = call(client, "ReadDeliveryAddress", delivery("ReadDeliveryAddress", "NOBODY", "x"))
    assert (code, status) == (11, "no customer 'NOBODY'")
    call(client, "CreateContact", registration())
    _, code, status = call(client, "UpdateDeliveryAddress", delivery("UpdateDeliveryAddress", "jane-web", "Kiel", "2"))
    assert code == 11 and "has no delivery address 2" in status
    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m)).scalar_one() == 1


def test_a_change_the_erp_does_not_take_is_status_11_and_queues_nothing(served, monkeypatch):
    from erpbridge.connectors.registry import Capabilities

    app, _server, client, _ = served
    call(client, "CreateContact", registration())
    # an ERP whose connector creates customers but cannot change them (Tryton, Odoo, NetSuite today)
    monkeypatch.setattr(app, "capabilities", lambda name: Capabilities(deliver=frozenset({"create_customer"})))
    _, code, status = call(client, "CreateDeliveryAddress", delivery("CreateDeliveryAddress", "jane-web", "Kiel"))
    assert code == 11 and "does not take update_customer" in status
    assert messages(app) == [("create_customer", "customer:jane-web", "pending")]


def test_a_creation_that_will_never_reach_the_erp_is_status_11(served):
    from erpbridge.outbox.messages import discard

    app, _server, client, _ = served
    call(client, "CreateContact", registration())
    with app.engine.connect() as conn:
        message_id = conn.execute(select(m.c.id)).scalar_one()
    discard(app.engine, [message_id], actor="operator", reason="a test customer")
    answer, code, status = call(client, "CreateContact", registration())
    assert code == 11 and "did not create customer jane-web" in status
    assert ubl.text(answer, "Party/SesExtension/State") == "failed"


def test_a_deleted_delivery_address_is_gone_and_the_next_moves_up(served):
    app, _server, client, _ = served
    call(client, "CreateContact", registration())
    for city in ("Hamburg", "Kiel"):
        call(client, "CreateDeliveryAddress", delivery("CreateDeliveryAddress", "jane-web", city))
    answer, code, _ = call(client, "DeleteDeliveryAddress", delivery("DeleteDeliveryAddress", "jane-web", "x", "1"))
    assert code == 0 and "deleted" in ubl.text(answer, "Result")
    listed, _, _ = call(client, "ReadDeliveryAddress", delivery("ReadDeliveryAddress", "jane-web", "x"))
    assert [(ubl.text(p, "SesExtension/AddressID"), ubl.text(p, "PostalAddress/CityName"))
            for p in listed.iter("DeliveryParty")] == [("1", "Kiel")]
    Worker(app).drain()
    number, = served.erp.updated_customers[-1:]
    assert [a["city"] for a in served.erp.customers[number]["ship_to"]] == ["Kiel"]
