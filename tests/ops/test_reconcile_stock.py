"""Stock reconciliation (issue 16): the ERP's whole stock against the store's, per SKU and
warehouse; what differs is reported, ``--repair`` writes the ERP's values in as deltas (and the
push flows send them on), values the store changed a moment ago are in flight, and an accepted
order line for more than the ERP had is an oversell incident of the KPIs."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from erpbridge_testconnectors import peers
from sqlalchemy import update

from erpbridge.bootstrap import bootstrap
from erpbridge.cli import cli
from erpbridge.config import load_config
from erpbridge.control import kpis
from erpbridge.flows import run_flow
from erpbridge.flows.push import push_kind
from erpbridge.ingest import Raw
from erpbridge.flows.runs import FlowRuns
from erpbridge.ingest.reconcile_stock import FLOW, recorded, reconcile_stock
from erpbridge.outbox.tables import outbox_messages
from erpbridge.records import Address, Order, OrderLine, Product, StockLevel
from erpbridge.store.records import prepare
from erpbridge.store.tables import orders, stock

SYSTEMS = {"erp": {"connector": "testerp"}, "shop": {"connector": "testshop"}}
NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_peers():
    peers.reset()
    yield
    peers.reset()


def in_store(app, *levels: tuple[str, str, int, float]) -> None:
    """Stock rows (sku, warehouse, quantity) written ``minutes`` ago."""
    for sku, warehouse, quantity, minutes in levels:
        app.records.write("stock", [prepare(StockLevel(sku=sku, warehouse=warehouse, quantity=quantity))])
        with app.engine.begin() as conn:
            conn.execute(update(stock).where(stock.c.sku == sku, stock.c.warehouse == warehouse)
                         .values(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)))


def in_erp(*levels: tuple[str, str, int]) -> None:
    peers.peer("erp").serve("stock", *(StockLevel(sku=s, warehouse=w, quantity=q) for s, w, q in levels))


def accepted(app, number: str, minutes_ago: float, **quantities: int) -> None:
    address = Address(name="Jane Doe", street="1 Main St", postcode="10115", city="Berlin", country="DE")
    lines = [OrderLine(sku=sku, quantity=Decimal(q), unit_price=Decimal(10), total=Decimal(10 * q))
             for sku, q in quantities.items()]
    app.records.write("orders", [prepare(Order(
        number=number, placed_at=NOW, currency="EUR", billing_address=address, shipping_address=address,
        shipping_method="DHL", payment_method="invoice", lines=lines, grand_total=sum(line.total for line in lines)))])
    with app.engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.key == number)
                     .values(created_at=NOW - dt.timedelta(minutes=minutes_ago)))


def quantity(app, sku: str, warehouse: str = "MAIN") -> Decimal | None:
    level = app.records.get("stock", f"{sku}\x1f{warehouse}")
    return None if level is None else level.quantity


def test_what_differs_is_reported_with_both_values_and_the_store_values_age(make_app):
    app = make_app(systems=SYSTEMS)
    in_store(app, ("SAME", "MAIN", 5, 90), ("LESS", "MAIN", 3, 120), ("GONE", "MAIN", 4, 60), ("ZERO", "MAIN", 0, 60),
             ("FRESH", "MAIN", 2, 1))
    in_erp(("SAME", "MAIN", 5), ("LESS", "MAIN", 0), ("NEW", "MAIN", 7), ("FRESH", "MAIN", 9))

    report = reconcile_stock(app)
    assert (report.compared, report.differing, report.in_flight, report.repaired) == (4, 3, 1, 0)
    by_sku = {d["sku"]: d for d in report.differences}
    assert set(by_sku) == {"LESS", "NEW", "GONE"}  # ZERO: the ERP lists nothing, and the store has 0
    assert (by_sku["LESS"]["erp"], by_sku["LESS"]["store"], by_sku["LESS"]["warehouse"]) == ("0", "3", "MAIN")
    assert 119 <= by_sku["LESS"]["store_age_minutes"] <= 121
    assert (by_sku["NEW"]["erp"], by_sku["NEW"]["store"], by_sku["NEW"]["store_age_minutes"]) == ("7", None, None)
    assert (by_sku["GONE"]["system"], by_sku["GONE"]["erp"], by_sku["GONE"]["store"]) == (None, None, "4")
    assert report.needs_repair and report.unchecked is None
    assert (quantity(app, "LESS"), quantity(app, "NEW"), quantity(app, "FRESH")) == (3, None, 2)  # not repaired


def test_repair_writes_the_erps_values_as_deltas_and_the_push_sends_them_to_the_shop(make_app):
    app = make_app(systems=SYSTEMS)
    in_store(app, ("SAME", "MAIN", 5, 90), ("LESS", "MAIN", 3, 120), ("GONE", "MAIN", 4, 60))
    in_erp(("SAME", "MAIN", 5), ("LESS", "MAIN", 1), ("NEW", "MAIN", 7))
    app.records.write("products", [prepare(Product(sku=sku, name=sku)) for sku in ("SAME", "LESS", "NEW", "GONE")])
    later = NOW + dt.timedelta(hours=1)
    push_kind(app, "shop", "stock", now=later)  # the shop has what the store had
    with app.engine.begin() as conn:
        conn.execute(outbox_messages.delete())

    report = reconcile_stock(app, repair=True)
    assert (report.differing, report.repaired, report.rejected) == (3, 3, 0)
    assert (quantity(app, "SAME"), quantity(app, "LESS"), quantity(app, "NEW"), quantity(app, "GONE")) == (5, 1, 7, 0)
    pushed = push_kind(app, "shop", "stock", now=later)
    assert (pushed["changed"], pushed["sent"]) == (3, 3)  # only the repaired rows go out again
    again = reconcile_stock(app, in_flight_minutes=0)
    assert (again.differing, again.needs_repair) == (0, False)


def test_erp_records_that_cannot_be_read_are_named_and_the_rest_compared(make_app):
    app = make_app(systems=SYSTEMS, catalog={"warehouses": [{"code": "MAIN"}]})
    in_store(app, ("A", "MAIN", 3, 60))
    peers.peer("erp").serve("stock", Raw({"sku": "A", "warehouse": "MAIN", "quantity": "2"}, "row 1"),
                            Raw({"sku": "B", "warehouse": "NORTH", "quantity": "5"}, "row 2"),
                            Raw({"sku": "C", "warehouse": "MAIN", "quantity": "many"}, "row 3"))
    report = reconcile_stock(app, repair=True)
    assert (report.compared, report.differing, report.repaired, report.rejected) == (1, 1, 1, 2)
    assert report.rejections[0] == "erp: stock row 2: warehouse: unknown warehouse 'NORTH', expected one of: MAIN"
    assert report.rejections[1].startswith("erp: stock row 3: quantity: ")
    assert quantity(app, "A") == 2


def test_an_erp_that_is_down_is_named_and_nothing_is_counted_missing(make_app):
    app = make_app(systems=SYSTEMS)
    in_store(app, ("A", "MAIN", 3, 60))
    peers.peer("erp").down = True
    report = reconcile_stock(app, repair=True)
    assert (report.differing, report.unchecked) == (0, "erp is unavailable: erp is down")
    assert quantity(app, "A") == 3  # not zeroed because the ERP could not say
    app = make_app(systems=SYSTEMS, flows={"reconcile_stock": {}})
    assert run_flow(app, "reconcile_stock")["outcome"] == "offline"


def test_an_order_line_over_the_erps_stock_is_an_oversell_incident_counted_once(make_app):
    app = make_app(systems=SYSTEMS, flows={"reconcile_stock": {}})
    # the store believed 3 of LAMP (2 + 1) for two hours; the ERP has had 1 (0 + 1)
    in_store(app, ("LAMP", "MAIN", 2, 120), ("LAMP", "NORTH", 1, 120), ("CUP", "MAIN", 9, 120))
    in_erp(("LAMP", "MAIN", 0), ("LAMP", "NORTH", 1), ("CUP", "MAIN", 9))
    accepted(app, "1001", 60, LAMP=2, CUP=1)  # 2 > 1: oversold
    accepted(app, "1002", 60, LAMP=1)  # the ERP has 1: fine
    accepted(app, "1003", 180, LAMP=3)  # before the store held the wrong value: not this difference's
    accepted(app, "1004", 30, CUP=5)  # CUP does not differ
    assert kpis.compute(app)["oversell"]["incidents"] == 0

    first = recorded(app, trigger="cli")
    assert first.oversold == [{"order": "1001", "sku": "LAMP", "quantity": "2", "erp": "1", "store": "3"}]
    recorded(app, trigger="cli")  # still unrepaired: found again, the same incident
    figures = kpis.compute(app)["oversell"]
    assert (figures["incidents"], figures["found_by_reconciliation"], figures["erp_refusals"], figures["ok"]) == \
        (1, 1, 0, False)
    assert "1 order line(s) over the ERP's stock" in kpis.failing(kpis.compute(app))["oversell"]

    run = run_flow(app, "reconcile_stock")  # the scheduled flow repairs, and finds the same line before it does
    assert run["outcome"] == "ok" and run["summary"]["repaired"] == 1 and quantity(app, "LAMP") == 0
    assert run["summary"]["oversold"] == first.oversold and kpis.compute(app)["oversell"]["incidents"] == 1
    assert run_flow(app, "reconcile_stock")["summary"]["oversold"] == []  # nothing differs any more


def test_the_cli_reports_what_differs_repairs_it_and_exits_1_when_anything_differed(tmp_path, db_url):
    config = tmp_path / "erpbridge.yaml"
    config.write_text(f'store: {{url: "{db_url}"}}\nsystems:\n  erp: {{connector: testerp}}\n')
    app = bootstrap(load_config(config))
    try:
        in_store(app, ("LESS", "MAIN", 3, 120))
        in_erp(("LESS", "MAIN", 1))
        shown = invoke(config, "reconcile", "stock")
        assert shown.exit_code == 1
        assert shown.output.splitlines()[:2] == [
            "1 ERP stock row(s) compared; 1 differ (--repair writes the ERP's values); 0 in flight (changed in the "
            "last 15 min)", "  LESS in MAIN: ERP 1, store 3 (120 min old)"]
        repaired = invoke(config, "reconcile", "stock", "--repair", "--json")
        assert repaired.exit_code == 1 and json.loads(repaired.output)["repaired"] == 1
        assert quantity(app, "LESS") == 1
        clean = invoke(config, "reconcile", "stock", "--in-flight", "0", "--json")
        assert clean.exit_code == 0 and json.loads(clean.output)["differing"] == 0
        assert [r.trigger for r in FlowRuns(app.engine).history(FLOW)] == ["cli"] * 3
    finally:
        app.close()


def test_an_erp_that_cannot_be_asked_for_stock_is_named(tmp_path, db_url):
    config = tmp_path / "erpbridge.yaml"
    config.write_text(f'store: {{url: "{db_url}"}}\nsystems:\n  erp: {{connector: files, inbox: in, outbox: out}}\n')
    app = bootstrap(load_config(config))
    app.close()
    done = invoke(config, "reconcile", "stock", "--json")
    assert done.exit_code == 0
    report = json.loads(done.output)
    assert report["unchecked"] == "the files connector of erp cannot be asked for stock"
    assert (report["compared"], report["differing"]) == (0, 0)


def invoke(config, *args):
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
