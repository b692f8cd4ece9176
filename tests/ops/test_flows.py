"""Flow runners: what each flow fetches and writes, delta since the last good run, the files
inbox, reconciliation and pruning; on-demand runs."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest

from erpbridge.connectors.files.spec import FilesSystem
from erpbridge.connectors.base import GeneralError
from erpbridge.exchange import ExchangeLog
from erpbridge.flows import FlowBusy, FlowError, FlowRuns, Scheduler, run_flow
from erpbridge.outbox.semaphore import Semaphore
from erpbridge.records import Product, ProductGroup, StockLevel

from . import fake_erp


def test_a_pull_flow_fetches_its_kinds_and_writes_them_then_only_deltas(make_app):
    app = make_app({"catalog": {"schedule": "0 2 * * *"}})
    fake_erp.RECORDS["product_groups"] = [ProductGroup(code="G1", name="Chairs")]
    fake_erp.RECORDS["products"] = [Product(sku=f"S{i}", name=f"Chair {i}", group="G1") for i in range(3)]

    first = run_flow(app, "catalog")
    assert first["outcome"] == "ok" and first["error"] is None
    assert first["summary"]["kinds"] == {
        "product_groups": {"fetched": 1, "new": 1, "changed": 0, "unchanged": 0, "rejected": 0},
        "products": {"fetched": 3, "new": 3, "changed": 0, "unchanged": 0, "rejected": 0}}
    assert fake_erp.CALLS == [("product_groups", None), ("products", None)]  # never ran: everything
    assert app.records.get("products", "S1").name == "Chair 1"

    fake_erp.CALLS.clear()
    fake_erp.RECORDS["products"][1] = Product(sku="S1", name="Chair 1, oak", group="G1")
    second = run_flow(app, "catalog")
    assert [since for _, since in fake_erp.CALLS] == [first["started_at"]] * 2  # since the last good run began
    assert (second["summary"]["new"], second["summary"]["changed"], second["summary"]["unchanged"]) == (0, 1, 3)
    assert second["trigger"] == "manual" and second["slot"] is None


def test_full_mode_always_fetches_everything(make_app):
    app = make_app({"stock": {"mode": "full"}})
    fake_erp.RECORDS["stock"] = [StockLevel(sku="S1", warehouse="W1", quantity=Decimal(5))]
    run_flow(app, "stock")
    run_flow(app, "stock")
    assert fake_erp.CALLS == [("stock", None), ("stock", None)]


def test_a_failed_run_is_recorded_and_the_next_delta_starts_from_the_last_good_run(make_app):
    app = make_app({"prices": {}})
    good = run_flow(app, "prices")
    fake_erp.FAIL.append(GeneralError("connection refused"))
    offline = run_flow(app, "prices")
    fake_erp.FAIL[:] = [KeyError("list_price_used")]
    failed = run_flow(app, "prices")
    assert offline["outcome"] == "offline" and failed["outcome"] == "failed"
    assert "KeyError: 'list_price_used'" in failed["error"] and failed["finished_at"] is not None
    fake_erp.FAIL.clear()
    fake_erp.CALLS.clear()
    run_flow(app, "prices")
    assert fake_erp.CALLS == [("prices", good["started_at"])]


def test_a_flow_meeting_an_outage_logs_one_line_naming_the_system_and_trips_its_semaphore(make_app, caplog):
    """Tryton down during the stock flow: a warning that says which system and why, not a
    traceback; the run's outcome says offline; the ERP's messages and flows now wait for it."""
    app = make_app({"stock": {}})
    fake_erp.FAIL.append(GeneralError("Tryton at http://127.0.0.1:9 is unreachable: connection refused"))
    with caplog.at_level(logging.INFO, logger="erpbridge"):
        run = run_flow(app, "stock")
    assert run["outcome"] == "offline"
    assert run["error"] == "erp is unavailable: Tryton at http://127.0.0.1:9 is unreachable: connection refused"
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.getMessage() == f"flow stock: {run['error']}" and warning.exc_info is None
    semaphore = Semaphore(app.engine, "erp", 60)
    assert semaphore.is_offline() and "unreachable" in semaphore.state()["reason"]


def test_a_real_bug_in_a_flow_still_logs_its_traceback(make_app, caplog):
    app = make_app({"stock": {}})
    fake_erp.FAIL.append(ZeroDivisionError("division by zero"))
    run = run_flow(app, "stock")
    assert run["outcome"] == "failed" and run["error"] == "ZeroDivisionError: division by zero"
    [error] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert error.levelno == logging.ERROR and error.exc_info[0] is ZeroDivisionError
    assert not Semaphore(app.engine, "erp", 60).is_offline()  # a bug is not an outage


def test_a_flow_with_kinds_fetches_those(make_app):
    app = make_app({"erp-feedback": {"kinds": ["shipments", "invoices"]}})
    run_flow(app, "erp-feedback")
    assert [kind for kind, _ in fake_erp.CALLS] == ["shipments", "invoices"]


def test_unknown_and_busy_flows_are_refused_with_a_reason(make_app):
    app = make_app({"mystery": {}, "stock": {}})
    with pytest.raises(FlowError, match="no flow named 'nope'; configured flows: mystery, prune, reconcile, stock"):
        run_flow(app, "nope")
    failed = run_flow(app, "mystery")
    assert failed["outcome"] == "failed" and "no runner for this name" in failed["error"]

    FlowRuns(app.engine, owner="other-host:1").start("stock")  # live in another process
    with pytest.raises(FlowBusy, match="flow 'stock' is already running: run .* on other-host:1"):
        run_flow(app, "stock")


def test_with_the_files_connector_flows_import_the_inbox(make_app, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "products.jsonl").write_text('{"sku": "A1", "name": "Lamp"}\n{"sku": "", "name": "no sku"}\n')
    app = make_app({"catalog": {}}, systems={"erp": FilesSystem(connector="files", inbox=inbox, settle_time=0)})
    run = run_flow(app, "catalog")
    assert run["summary"]["files"] == 1
    assert (run["summary"]["new"], run["summary"]["rejected"]) == (1, 1)
    assert run["outcome"] == "rejected"  # ran, but a record was refused: visible in `erpbridge flows`
    assert app.records.get("products", "A1").name == "Lamp"


def test_the_builtin_reconcile_flow_requeues_an_order_that_never_got_its_message(make_app):
    """Seed 003's lost order: accepted 11 minutes ago, no message, no ERP id; the scheduler's
    built-in reconcile flow queues it once and says so in the run's summary."""
    from sqlalchemy import update

    from erpbridge.outbox.messages import list_messages
    from erpbridge.records import Address, Order, OrderLine
    from erpbridge.store.records import prepare
    from erpbridge.store.tables import orders

    app = make_app()
    address = Address(name="Jane Doe", street="1 Main St", postcode="10115", city="Berlin", country="DE")
    app.records.write("orders", [prepare(Order(
        number="1001", placed_at=dt.datetime.now(dt.timezone.utc), currency="EUR", billing_address=address,
        shipping_address=address, shipping_method="DHL", payment_method="invoice", grand_total=1, lines=[OrderLine(sku="A1", quantity=1, unit_price=1, total=1)]))])
    with app.engine.begin() as conn:
        conn.execute(update(orders).values(created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=11)))
    scheduler = Scheduler(app)
    assert {run.flow for run in scheduler.tick()} == {"prune", "reconcile"}  # a new install runs both at once
    scheduler.join()
    run = FlowRuns(app.engine).last("reconcile")
    assert run.outcome == "ok" and run.summary["requeued"] == ["1001"]
    [message] = list_messages(app.engine)
    assert (message["operation"], message["business_key"], message["state"]) == ("send_order", "1001", "pending")
    assert run_flow(app, "reconcile")["summary"]["already_queued"] == ["1001"]  # queued once, not twice


def test_the_builtin_prune_flow_keeps_the_log_within_its_retention(make_app):
    from erpbridge.exchange.config import ExchangeLogConfig

    app = make_app(exchange_log=ExchangeLogConfig(retention_days=7))
    log = ExchangeLog.for_app(app)
    now = dt.datetime.now(dt.timezone.utc)
    log.record("erp", "stock", "old", at=now - dt.timedelta(days=8))
    log.record("erp", "stock", "recent", at=now - dt.timedelta(days=6))
    run = run_flow(app, "prune")
    assert run["summary"]["exchange_log"] == 1
    assert [e["point"] for e in log.query()] == ["recent"]


def test_pruning_runs_keeps_what_the_scheduler_needs(make_app):
    """Old runs go, but never a flow's latest slot (or a monthly flow would run again), its
    latest ok run (the next delta starts there) or its latest run (shown by `erpbridge flows`)."""
    from sqlalchemy import update

    from erpbridge.flows.tables import flow_runs

    app = make_app({"stock": {}})
    runs = FlowRuns(app.engine)
    slot = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ids = {}
    for name, outcome, scheduled in [("old-ok", "ok", True), ("last-ok", "ok", True), ("last-slot", "failed", True),
                                     ("old-manual", "failed", False), ("last", "failed", False)]:
        run = runs.claim_slot("stock", slot) if scheduled else runs.start("stock")
        slot += dt.timedelta(hours=1)
        runs.finish(run.id, outcome, {})
        ids[name] = run.id
    with app.engine.begin() as conn:
        conn.execute(update(flow_runs).values(finished_at=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)))
    assert runs.prune(30) == 2
    assert {r.id for r in runs.history("stock")} == {ids["last-ok"], ids["last-slot"], ids["last"]}
