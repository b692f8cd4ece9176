"""The reconciliation page: what the last reconciliation runs found (accepted orders without an
ERP id, orders the ERP left unfinished) and what they repaired, from the runs' own reports, for
runs of `erpbridge reconcile` as for the scheduled flow's; and the stock that differed."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from erpbridge_testconnectors import peers
from sqlalchemy import update

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.flows.runs import FlowRuns
from erpbridge.ingest.reconcile_stock import FLOW, StockReconcileReport, recorded
from erpbridge.records import Address, Order, OrderLine, StockLevel
from erpbridge.store.records import RecordStore, prepare
from erpbridge.store.tables import stock


def _lost_order(hub, number: str, sku: str = "SKU-1") -> None:
    """An order accepted without its message (the case reconciliation is the safety net for)."""
    address = Address(name="Jane Doe", street="1 Main St", postcode="10115", city="Berlin", country="DE")
    RecordStore(hub.engine).write("orders", [prepare(Order(
        number=number, placed_at=dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc), currency="EUR",
        billing_address=address, shipping_address=address, shipping_method="DHL", payment_method="invoice",
        lines=[OrderLine(sku=sku, quantity=Decimal(2), unit_price=Decimal("9.5"), total=Decimal(19))],
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


def test_the_page_shows_the_stock_that_differed_what_was_repaired_and_what_was_oversold(hub, module_db_url):
    viewer = hub.sign_in("viewer")
    assert "No stock reconciliation has run yet" in viewer.get("/control/reconciliation").text
    # the hub's own ERP exchanges files: it cannot be asked, and its run says so
    assert hub.cli("reconcile", "stock").returncode == 0
    # a second hub on the same store whose ERP can be asked (the test connector package's, in this process)
    peers.reset()
    app = bootstrap(Config(store={"url": module_db_url}, systems={"erp": {"connector": "testerp"},
                                                                            "web": {"connector": "testshop"}}))
    try:
        RecordStore(app.engine).write("stock", [prepare(StockLevel(sku="LAMP-1", warehouse="MAIN", quantity=5)),
                                                prepare(StockLevel(sku="SKU-2", warehouse="MAIN", quantity=4))])
        with app.engine.begin() as conn:
            conn.execute(update(stock).values(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=3)))
        _lost_order(hub, "R-2001", "LAMP-1")  # 2 of LAMP-1, accepted now, after the store's value was written
        peers.peer("erp").serve("stock", StockLevel(sku="LAMP-1", warehouse="MAIN", quantity=1),
                                StockLevel(sku="SKU-2", warehouse="MAIN", quantity=4))
        recorded(app, trigger="cli", repair=True)
    finally:
        app.close()
        peers.reset()

    page = viewer.get("/control/reconciliation").text
    newest, older = re.findall(r'<section class="stock-run" id="stock-run-(\d+)">(.*?)</section>', page, re.S)
    assert "not compared: the files connector of erp cannot be asked for stock" in older[1]
    text = " ".join(newest[1].split())
    assert "repaired 1</h2>" in text and "2 compared in erp · <strong>1 differ</strong>" in text
    assert "<tr><td>LAMP-1</td><td>MAIN</td> <td>1 (erp)</td> <td>5</td> <td>-</td> <td>180 min</td></tr>" in text
    assert "shops not compared: the testshop connector of web cannot read stock back" in text
    assert "<tr><td>R-2001</td><td>LAMP-1</td><td>2</td><td>1</td><td>5</td></tr>" in text
    overview = " ".join(viewer.get("/control/").text.split())
    assert "stock reconciliation</a>: 1)" in overview  # the oversell KPI counts it


def test_a_shop_that_differs_from_the_store_is_shown_with_the_shops_value(hub):
    report = StockReconcileReport(erps="erp", in_flight_minutes=15, repair=True, compared=1, shop_compared=2,
                                  shop_differing=2, differing=2, resent=2, differences=[
                                      {"side": "shop", "system": "magento", "sku": "CUP", "warehouse": "main",
                                       "erp": None, "store": "3", "shop": None, "store_age_minutes": 61.0},
                                      {"side": "shop", "system": "magento", "sku": "LAMP", "warehouse": "main",
                                       "erp": None, "store": "3", "shop": "1", "store_age_minutes": 61.0}])
    runs = FlowRuns(hub.engine)
    runs.finish(runs.start(FLOW, trigger="cli").id, "ok", report.as_dict())
    page = hub.sign_in("viewer").get("/control/reconciliation").text
    newest = " ".join(re.findall(r'<section class="stock-run" id="stock-run-\d+">(.*?)</section>', page, re.S)[0]
                      .split())
    assert "shops: 2 compared, 2 differ, 2 sent again" in newest
    assert "<tr><td>CUP</td><td>main</td> <td>-</td> <td>3</td> <td>none (magento)</td> <td>61 min</td></tr>" in newest
    assert "<tr><td>LAMP</td><td>main</td> <td>-</td> <td>3</td> <td>1 (magento)</td> <td>61 min</td></tr>" in newest
