"""Cancellations and returns into the CAP test ERP, and ETags on every update, on SQLite and
PostgreSQL: S/4 (OData v2 and v4) rejects the items of a cancelled order and takes a return as a
customer return order; Business Central deletes a cancelled order not yet shipped and takes a
return as a credit memo. Each is idempotent (a redelivery changes nothing and answers the same
document) and what the ERP no longer allows is a message error saying why."""

from __future__ import annotations

import uuid

import pytest

from erpbridge.connectors.base import MessageError

from odata_fixtures import order

S4_CUSTOMER, BC_CUSTOMER = "17100001", "10000"


def _tag() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture(params=["s4-v2", "s4-v4"])
def s4(request, odata_app, cap_erp, db_url):
    tag = _tag()
    cap_erp.s4_product(f"A-{tag}", "Drill")
    cap_erp.s4_product(f"B-{tag}", "Saw")
    cap_erp.s4_partner(S4_CUSTOMER, "Jane Doe")
    connector = odata_app(request.param, db_url).connector("erp")
    number = f"SO-{tag}"
    sales_order = connector.deliver("send_order", order(number, S4_CUSTOMER, [(f"A-{tag}", 2, "19.90"),
                                                                              (f"B-{tag}", 3, "9.50")]), "k").external_id
    return connector, tag, number, sales_order


@pytest.fixture
def bc(odata_app, cap_erp, db_url):
    tag = _tag()
    cap_erp.bc_item(f"A-{tag}", "Drill", 19.90, 7)
    cap_erp.bc_item(f"B-{tag}", "Saw", 9.50, 20)
    connector = odata_app("business_central", db_url).connector("erp")
    number = f"SO-{tag}"
    connector.deliver("send_order", order(number, BC_CUSTOMER, [(f"A-{tag}", 2, "19.90"), (f"B-{tag}", 3, "9.50")]),
                      "k")
    return connector, tag, number


def cancel(number: str, *lines: tuple[str, int]) -> dict:
    return {"id": f"C-{number}", "order": number, "reason": "customer changed mind",
            "lines": [{"sku": sku, "quantity": str(q)} for sku, q in lines]}


def return_of(number: str, *lines: tuple[str, int]) -> dict:
    return {"id": f"R-{number}", "order": number,
            "lines": [{"sku": sku, "quantity": str(q), "reason": "damaged"} for sku, q in lines]}


# -- S/4HANA ---------------------------------------------------------------------------------

def test_s4_cancels_by_rejecting_every_item_once(s4, cap_erp):
    connector, tag, number, sales_order = s4
    first = connector.deliver("cancel_order", cancel(number), "c1")
    items = cap_erp.s4_items(sales_order)
    assert first.external_id == sales_order
    assert {i["SalesDocumentRjcnReason"] for i in items} == {"10"}  # systems.erp.rejection_reason's default
    stamps = {i["SalesOrderItem"]: i["LastChangeDateTime"] for i in items}
    again = connector.deliver("cancel_order", cancel(number), "c1")  # a redelivery changes nothing
    assert again.external_id == sales_order
    assert {i["SalesOrderItem"]: i["LastChangeDateTime"] for i in cap_erp.s4_items(sales_order)} == stamps


def test_s4_cancels_the_items_of_the_cancelled_skus_whole(s4, cap_erp):
    connector, tag, number, sales_order = s4
    connector.deliver("cancel_order", cancel(number, (f"B-{tag}", 3)), "c1")
    rejected = {i["Material"]: i["SalesDocumentRjcnReason"] for i in cap_erp.s4_items(sales_order)}
    assert rejected[f"B-{tag}"] == "10" and not rejected[f"A-{tag}"]
    with pytest.raises(MessageError, match=rf"item A-{tag}: 1 cancelled of 2 ordered; S/4 rejects whole items"):
        connector.deliver("cancel_order", cancel(number, (f"A-{tag}", 1)), "c2")


def test_s4_refuses_to_cancel_a_delivered_order_by_name(s4, cap_erp):
    connector, tag, number, sales_order = s4
    cap_erp.s4_deliver(sales_order, f"8{tag}", "TRACK-1", {f"A-{tag}": 1})
    with pytest.raises(MessageError, match=rf"cancellation C-{number} of order {number}: cannot cancel, S/4 "
                                           rf"sales order {sales_order} is already partly delivered"):
        connector.deliver("cancel_order", cancel(number), "c1")
    # an item already delivered: S/4 itself refuses its rejection, in its words
    with pytest.raises(MessageError, match="is already delivered; it cannot be rejected"):
        connector.deliver("cancel_order", cancel(number, (f"A-{tag}", 2)), "c2")
    assert not any(i["SalesDocumentRjcnReason"] for i in cap_erp.s4_items(sales_order))


def test_s4_cancel_of_an_unknown_order_names_it(s4):
    connector, *_ = s4
    with pytest.raises(MessageError, match="has no sales order with PurchaseOrderByCustomer 'SO-NOPE'"):
        connector.deliver("cancel_order", cancel("SO-NOPE"), "c1")


def test_s4_takes_a_return_as_one_customer_return_order(s4, cap_erp):
    connector, tag, number, sales_order = s4
    cap_erp.s4_deliver(sales_order, f"8{tag}", "TRACK-1", {f"A-{tag}": 2, f"B-{tag}": 3})
    first = connector.deliver("send_return", return_of(number, (f"A-{tag}", 1)), "r1")
    again = connector.deliver("send_return", return_of(number, (f"A-{tag}", 1)), "r1")
    returns = cap_erp.s4_returns(f"R-{number}")
    assert len(returns) == 1 and first.external_id == again.external_id == returns[0]["CustomerReturn"]
    assert returns[0]["CustomerReturnType"] == "CBAR" and returns[0]["SoldToParty"] == S4_CUSTOMER
    item, = returns[0]["to_Item"]
    assert (item["Material"], float(item["RequestedQuantity"]), item["ReferenceSDDocument"],
            item["ReferenceSDDocumentItem"]) == (f"A-{tag}", 1.0, sales_order, "10")
    assert item["CustomerReturnItemText"] == "damaged"


def test_s4_refuses_a_return_of_what_was_not_ordered(s4, cap_erp):
    connector, tag, number, _ = s4
    with pytest.raises(MessageError, match=rf"return R-{number} of order {number}: item A-{tag}: 5 returned, 2 ordered"):
        connector.deliver("send_return", return_of(number, (f"A-{tag}", 5)), "r1")
    with pytest.raises(MessageError, match=r"item NOPE is not on S/4 sales order"):
        connector.deliver("send_return", return_of(number, ("NOPE", 1)), "r1")
    assert cap_erp.s4_returns(f"R-{number}") == []


# -- ETags -----------------------------------------------------------------------------------

def test_an_update_sends_the_etag_it_read_and_retries_a_412_once_after_reading_again(s4, cap_erp):
    connector, tag, number, sales_order = s4
    adapter = connector.adapter
    path = f"API_SALES_ORDER_SRV/A_SalesOrderItem(SalesOrder='{sales_order}',SalesOrderItem='10')"
    row = adapter.entity(adapter.json(adapter.request("GET", path, flow="t", point="t")))
    assert adapter.etag(row)
    cap_erp.s4_touch_item(sales_order, "10", "changed by a person")  # the ETag read is stale now
    seen = []
    adapter.change("PATCH", path, row, flow="t", point="t", what="item 10", json={"SalesDocumentRjcnReason": "10"},
                   recheck=lambda fresh: seen.append(fresh["SalesOrderItemText"]))
    assert seen == ["changed by a person"]  # re-read once, its new state offered to the caller
    item = next(i for i in cap_erp.s4_items(sales_order) if i["SalesOrderItem"] == "10")
    assert (item["SalesDocumentRjcnReason"], item["SalesOrderItemText"]) == ("10", "changed by a person")


def test_a_second_412_is_a_message_error_naming_the_entity(s4, cap_erp):
    connector, tag, number, sales_order = s4
    adapter = connector.adapter
    path = f"API_SALES_ORDER_SRV/A_SalesOrderItem(SalesOrder='{sales_order}',SalesOrderItem='10')"
    row = adapter.entity(adapter.json(adapter.request("GET", path, flow="t", point="t")))
    cap_erp.s4_touch_item(sales_order, "10", "first change")
    with pytest.raises(MessageError, match=rf"item 10 of sales order {sales_order} changed again .*412"):
        adapter.change("PATCH", path, row, flow="t", point="t", what=f"item 10 of sales order {sales_order}",
                       json={"SalesDocumentRjcnReason": "10"},
                       recheck=lambda fresh: cap_erp.s4_touch_item(sales_order, "10", "second change"))
    assert not next(i for i in cap_erp.s4_items(sales_order) if i["SalesOrderItem"] == "10")["SalesDocumentRjcnReason"]


# -- Business Central ------------------------------------------------------------------------

def test_bc_cancels_an_order_not_yet_shipped_by_deleting_it_once(bc, cap_erp):
    connector, tag, number = bc
    erp_number = cap_erp.bc_orders(number)[0]["number"]
    first = connector.deliver("cancel_order", cancel(number), "c1")
    assert first.external_id == erp_number and cap_erp.bc_orders(number) == []
    again = connector.deliver("cancel_order", cancel(number), "c1")  # the order is gone: nothing more to do
    assert again.response == {"cancelled": number, "existed": False}


def test_bc_refuses_to_cancel_a_shipped_order_by_name(bc, cap_erp):
    connector, tag, number = bc
    cap_erp.bc_ship(number, f"S-SHP{tag}", "TRACK-1", {f"A-{tag}": 1})
    with pytest.raises(MessageError, match=rf"cancellation C-{number} of order {number}: cannot cancel, Business "
                                           rf"Central has already shipped it \(salesShipment S-SHP{tag}\)"):
        connector.deliver("cancel_order", cancel(number), "c1")
    assert len(cap_erp.bc_orders(number)) == 1
    with pytest.raises(MessageError, match="cancels whole orders only"):
        connector.deliver("cancel_order", cancel(number, (f"A-{tag}", 1)), "c2")


def test_bc_cancel_batches_answer_each_message(bc, cap_erp):
    connector, tag, number = bc
    results = connector.deliver_batch("cancel_order", [(cancel(number), "c1"), (cancel(number, ("X", 1)), "c2")])
    assert results[0].external_id.startswith("S-ORD") and isinstance(results[1], MessageError)


def test_bc_takes_a_return_as_one_credit_memo_against_the_invoice(bc, cap_erp):
    connector, tag, number = bc
    with pytest.raises(MessageError, match=rf"return R-{number} of order {number}: Business Central has not "
                                           rf"invoiced order {number} yet"):
        connector.deliver("send_return", return_of(number, (f"A-{tag}", 1)), "r1")
    cap_erp.bc_ship(number, f"S-SHP{tag}", "TRACK-1", {f"A-{tag}": 2, f"B-{tag}": 3})
    cap_erp.bc_invoice(number, f"S-INV{tag}", [("Item", f"A-{tag}", 2, 47.36), ("Item", f"B-{tag}", 3, 33.92)],
                       tax=12.97)
    with pytest.raises(MessageError, match=rf"item B-{tag}: 4 returned, 3 invoiced"):
        connector.deliver("send_return", return_of(number, (f"B-{tag}", 4)), "r1")
    first = connector.deliver("send_return", return_of(number, (f"B-{tag}", 2)), "r1")
    again = connector.deliver("send_return", return_of(number, (f"B-{tag}", 2)), "r1")
    memos = cap_erp.bc_credit_memos(f"R-{number}")
    assert len(memos) == 1 and first.external_id == again.external_id == memos[0]["number"]
    assert again.response["existed"] is True
    assert memos[0]["customerNumber"] == BC_CUSTOMER
    invoice, = cap_erp._rows("/salesInvoices", f"number eq 'S-INV{tag}'")
    assert memos[0]["invoiceId"] == invoice["id"]
    line, = memos[0]["salesCreditMemoLines"]
    assert (line["lineType"], line["lineObjectNumber"], float(line["quantity"])) == ("Item", f"B-{tag}", 2.0)


# -- S/4HANA: new customers ------------------------------------------------------------------

@pytest.mark.parametrize("profile", ["s4-v2", "s4-v4"])
def test_s4_creates_a_customer_once_as_a_business_partner_with_its_customer_role(profile, odata_app, cap_erp,
                                                                                  db_url):
    connector = odata_app(profile, db_url).connector("erp")
    reference = f"WEB-{_tag()}"
    customer = {"number": reference, "name": "Jane Q Doe", "email": "jane@example.com", "currency": "EUR",
                "invoice_address": {"name": "Jane Q Doe", "street": "Main St 1", "postcode": "10115",
                                    "city": "Berlin", "country": "DE"},
                "delivery_addresses": [{"name": "Jane Q Doe", "street": "Side St 2", "postcode": "20095",
                                        "city": "Hamburg", "country": "DE"}]}
    first = connector.deliver("create_customer", customer, "k")
    again = connector.deliver("create_customer", customer, "k")
    partner, = cap_erp.s4_partners(reference)
    assert first.external_id == again.external_id == partner["BusinessPartner"]
    assert again.response["existed"] is True
    assert first.records[0].number == partner["BusinessPartner"] and first.records[0].name == "Jane Q Doe"
    assert (partner["BusinessPartnerCategory"], partner["FirstName"], partner["LastName"]) == ("1", "Jane Q", "Doe")
    assert [(a["StreetName"], a["CityName"]) for a in partner["to_BusinessPartnerAddress"]] == \
        [("Main St 1", "Berlin"), ("Side St 2", "Hamburg")]
    area, = partner["to_Customer"]["to_CustomerSalesArea"]
    assert (area["SalesOrganization"], area["DistributionChannel"], area["Division"], area["Currency"]) == \
        ("1010", "10", "00", "EUR")
    company = {**customer, "number": f"WEB-{_tag()}",
               "invoice_address": {**customer["invoice_address"], "company": "Doe Tools GmbH"}}
    connector.deliver("create_customer", company, "k2")
    partner, = cap_erp.s4_partners(company["number"])
    assert (partner["BusinessPartnerCategory"], partner["OrganizationBPName1"]) == ("2", "Doe Tools GmbH")


# -- Business Central: orders posted at once ---------------------------------------------------

def test_bc_ship_and_invoice_posts_each_order_once(odata_app, cap_erp, db_url):
    """``ship_and_invoice``: the order is posted by the bound action (with its ETag); BC then keeps
    its shipment and invoice and deletes the order, where a redelivery finds it again."""
    tag = _tag()
    cap_erp.bc_item(f"A-{tag}", "Drill", 19.90, 7)
    connector = odata_app("business_central", db_url, erp={"ship_and_invoice": True}).connector("erp")
    number, second = f"SO-{tag}", f"SO-{tag}-2"
    first = connector.deliver("send_order", order(number, BC_CUSTOMER, [(f"A-{tag}", 2, "19.90")], shipping="0"), "k")
    assert first.response["invoiced"] is True and cap_erp.bc_orders(number) == []
    invoice, = cap_erp._rows("/salesInvoices", f"externalDocumentNumber eq '{number}'")
    assert invoice["orderNumber"] == first.external_id
    again = connector.deliver("send_order", order(number, BC_CUSTOMER, [(f"A-{tag}", 2, "19.90")], shipping="0"), "k")
    assert (again.external_id, again.response["existed"]) == (first.external_id, True)
    assert len(cap_erp._rows("/salesInvoices", f"externalDocumentNumber eq '{number}'")) == 1
    batch = connector.deliver_batch("send_order", [
        (order(second, BC_CUSTOMER, [(f"A-{tag}", 1, "19.90")], shipping="0"), "k2"),
        (order(f"{second}-bad", BC_CUSTOMER, [("NOPE", 1, "1.00")], shipping="0"), "k3")])
    assert batch[0].response["invoiced"] is True and isinstance(batch[1], MessageError)
    assert len(cap_erp._rows("/salesShipments", f"externalDocumentNumber eq '{second}'")) == 1


def test_bc_a_delete_with_a_stale_etag_reads_the_order_again_and_deletes_it(bc, cap_erp):
    """OData v4 (Business Central's @odata.etag): someone changed the order after it was read."""
    connector, tag, number = bc
    adapter, row = connector.adapter, cap_erp.bc_orders(number)[0]
    path = f"{connector.company}/salesOrders({row['id']})"
    stale = adapter.entity(adapter.json(adapter.request("GET", path, flow="t", point="t")))
    response = cap_erp.people.patch(f"/salesOrders({row['id']})", json={"customerNumber": BC_CUSTOMER})
    assert response.status_code == 200, response.text
    seen = []
    adapter.change("DELETE", path, stale, flow="t", point="t", what=f"salesOrder {row['number']}", recheck=seen.append)
    assert len(seen) == 1 and adapter.etag(seen[0]) != adapter.etag(stale)  # the 412, then the order read again
    assert cap_erp.bc_orders(number) == []
