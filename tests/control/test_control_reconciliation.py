"""The reconciliation page: what the last reconciliation runs found (accepted orders without an
ERP id, orders the ERP left unfinished) and what they repaired, from the runs' own reports, for
runs of `erpbridge reconcile` as for the scheduled flow's."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from erpbridge.records import Address, Order, OrderLine
from erpbridge.store.records import RecordStore, prepare


def _lost_order(hub, number: str) -> None:
    """An order accepted without its message (the case reconciliation is the safety net for)."""
    address = Address(name="Jane Doe", street="1 Main St", postcode="10115", city="Berlin", country="DE")
    RecordStore(hub.engine).write("orders", [prepare(Order(
        number=number, placed_at=dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc), currency="EUR",
        billing_address=address, shipping_address=address, shipping_method="DHL", payment_method="invoice",
        lines=[OrderLine(sku="SKU-1", quantity=Decimal(2), unit_price=Decimal("9.5"), total=Decimal(19))],
        grand_total=Decimal(19)))])


def _row(html: str, label: str) -> str:
    return re.search(rf"<td>{re.escape(label)}.*?</tr>", html, re.S).group(0)


def test_the_page_shows_what_each_run_found_and_repaired(hub):
    viewer = hub.sign_in("viewer")
    assert "Reconciliation has not run yet" in viewer.get("/control/reconciliation").text
    _lost_order(hub, "R-1001")
    _lost_order(hub, "R-1002")
    first = hub.cli("reconcile", "--older-than", "0", check=False)
    assert first.returncode == 1  # it repaired something
    hub.cli("reconcile", "--older-than", "0", check=False)  # both are on their way now
    page = viewer.get("/control/reconciliation").text
    newest, older = re.findall(r'<section class="run" id="run-(\d+)">(.*?)</section>', page, re.S)
    assert int(newest[0]) > int(older[0])
    assert "repaired 2" in older[1] and "repaired" not in newest[1].split("</h2>")[0]
    assert re.search(r"<td>2</td>\s*<td class=\"keys\">R-1001, R-1002</td>", _row(older[1], "re-queued"))
    assert re.search(r"<td>2</td>\s*<td class=\"keys\">R-1001, R-1002</td>", _row(newest[1], "already on their way"))
    text = " ".join(newest[1].split())
    assert "(cli)" in text and "accepted orders without an ERP id (older than 0 min, in erp)" in text
    # the files connector cannot say which orders the ERP left unfinished: the page says so
    assert "not looked for: the files connector of erp cannot tell" in _row(newest[1], "unfinished in the ERP")
