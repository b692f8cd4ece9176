"""`erpbridge flows`, `erpbridge log` and `erpbridge messages` as an operator uses them, on both stores."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from erpbridge.bootstrap import bootstrap
from erpbridge.cli import cli
from erpbridge.config import load_config
from erpbridge.exchange import ExchangeLog
from erpbridge.outbox import enqueue
from erpbridge.outbox.binder import bind
from erpbridge.records import Address, Order, OrderLine
from erpbridge.store.records import prepare
from erpbridge.store.tables import orders


@pytest.fixture
def setup(db_url, tmp_path):
    inbox = tmp_path / "erp" / "inbox"
    inbox.mkdir(parents=True)
    config = tmp_path / "erpbridge.yaml"
    config.write_text(f"""
store: {{url: "{db_url}"}}
systems:
  erp: {{connector: files, inbox: erp/inbox, outbox: erp/outbox, settle_time: 0}}
flows:
  catalog: {{schedule: "0 2 * * *", mode: full}}
  stock: {{schedule: "*/5 * * * *"}}
  customers: {{enabled: false, schedule: "0 * * * *"}}
exchange_log: {{retention_days: 10}}
""")
    app = bootstrap(load_config(config))
    yield config, inbox, app
    app.close()


def invoke(config, *args):
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def test_flows_shows_each_flow_with_its_last_and_next_run(setup):
    config, inbox, _ = setup
    (inbox / "stock.jsonl").write_text('{"sku": "A1", "warehouse": "W1", "quantity": 3}\n')
    ran = invoke(config, "flows", "run", "stock")
    assert ran.exit_code == 0, ran.output
    assert ran.output.startswith("stock: ok in ") and "files 1, new 1" in ran.output

    result = invoke(config, "flows", "--json")
    assert result.exit_code == 0
    status = {flow["flow"]: flow for flow in json.loads(result.output)}
    assert set(status) == {"catalog", "stock", "customers", "prune", "reconcile"}
    assert status["stock"]["last_run"]["outcome"] == "ok"
    assert status["stock"]["last_run"]["summary"]["new"] == 1
    assert status["catalog"]["last_run"] is None
    next_stock = dt.datetime.fromisoformat(status["stock"]["next_run"])
    assert next_stock.minute % 5 == 0  # the latest due slot (not run by a scheduler yet) or the next
    assert status["customers"]["next_run"] is None and status["prune"]["builtin"] is True
    assert status["reconcile"]["builtin"] is True and status["reconcile"]["schedule"] == "*/5 * * * *"

    table = invoke(config, "flows").output.splitlines()
    assert table[0].split() == ["FLOW", "SCHEDULE", "MODE", "LAST", "RUN", "OUTCOME", "NEXT", "RUN", "SUMMARY"]
    stock = next(line for line in table if line.startswith("stock"))
    assert "*/5 * * * *" in stock and " ok " in stock and "new 1" in stock
    assert "disabled" in next(line for line in table if line.startswith("customers"))
    assert "never" in next(line for line in table if line.startswith("catalog"))


def test_flows_run_exits_1_when_records_were_rejected_and_2_for_an_unknown_flow(setup):
    config, inbox, _ = setup
    (inbox / "products.jsonl").write_text('{"sku": "A1", "name": "Lamp"}\n{"sku": "A2"}\n')
    result = invoke(config, "flows", "run", "catalog", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["summary"]["rejected"] == 1
    unknown = invoke(config, "flows", "run", "nope")
    assert unknown.exit_code == 2 and "no flow named 'nope'" in unknown.output


def test_log_filters_by_date_range_and_measuring_point(setup):
    config, _, app = setup
    log = ExchangeLog.for_app(app)
    day = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    log.record("erp", "orders", "tryton.sale.create", at=day + dt.timedelta(hours=9), duration_ms=812.5,
               request={"number": "1001", "email": "jane@example.com"}, response={"id": 7})
    log.record("erp", "orders", "tryton.sale.create", at=day + dt.timedelta(days=1, hours=9), outcome="general_error",
               error="GeneralError: connection refused")
    log.record("erp", "stock", "tryton.stock.fetch", at=day + dt.timedelta(hours=10))

    result = invoke(config, "log", "--from", "2026-11-20", "--to", "2026-11-20", "--point", "tryton.sale.create", "--json")
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.output)
    assert entry["request"]["number"] == "1001" and "jane" not in entry["request"]["email"]
    assert entry["duration_ms"] == 812.5

    table = invoke(config, "log", "--from", "2026-11-21T00:00", "--outcome", "general_error").output.splitlines()
    assert table[0].split()[:3] == ["ID", "TIME", "(UTC)"]
    assert len(table) == 2 and "2026-11-21 09:00:00.000" in table[1] and "connection refused" in table[1]

    everything = json.loads(invoke(config, "log", "--json").output)
    assert [e["point"] for e in everything] == ["tryton.stock.fetch", "tryton.sale.create", "tryton.sale.create"]
    page = json.loads(invoke(config, "log", "--json", "--limit", "1", "--before", str(everything[0]["id"])).output)
    assert [e["id"] for e in page] == [everything[1]["id"]]

    bad = invoke(config, "log", "--from", "yesterday")
    assert bad.exit_code == 2 and "expected a date like 2026-11-23" in bad.output


def test_log_prune_removes_entries_older_than_the_retention(setup):
    config, _, app = setup
    log = ExchangeLog.for_app(app)
    now = dt.datetime.now(dt.timezone.utc)
    for age in (20, 12, 5, 1):
        log.record("erp", "stock", f"age-{age}", at=now - dt.timedelta(days=age))
    result = invoke(config, "log", "prune", "--days", "15")
    assert result.exit_code == 0 and "deleted 1 exchange log entries older than 15 days" in result.output
    result = invoke(config, "log", "prune")  # exchange_log.retention_days: 10
    assert "deleted 1 " in result.output
    assert [e["point"] for e in log.query()] == ["age-1", "age-5"]


@pytest.fixture
def tryton_down(db_url, tmp_path):
    """A Tryton ERP that is not running: its port refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "erpbridge.yaml"
    config.write_text(f"""
store: {{url: "{db_url}"}}
systems:
  erp: {{connector: tryton, url: "http://127.0.0.1:{port}", database: shop, user: admin, password: secret}}
flows:
  stock: {{schedule: "*/10 * * * *"}}
  prices: {{enabled: false}}
""")
    return config, port


def test_a_tryton_erp_brings_its_default_flows_which_the_config_replaces_or_switches_off(tryton_down):
    config, _ = tryton_down
    status = {flow["flow"]: flow for flow in json.loads(invoke(config, "flows", "--json").output)}
    assert set(status) == {"catalog", "prices", "stock", "customers", "feedback", "prune", "reconcile"}
    assert (status["catalog"]["schedule"], status["catalog"]["mode"], status["catalog"]["default_of"]) == \
        ("0 2 * * *", "full", "tryton")
    assert status["feedback"]["default_of"] == "tryton" and status["customers"]["default_of"] == "tryton"
    assert (status["stock"]["schedule"], status["stock"]["default_of"]) == ("*/10 * * * *", None)  # the config's
    assert (status["prices"]["enabled"], status["prices"]["default_of"]) == (False, None)
    table = invoke(config, "flows").output
    assert "catalog (tryton default)" in table and "prune (built-in)" in table and "stock (" not in table


def test_a_flow_run_while_tryton_is_down_ends_offline_in_one_line_shown_by_erpbridge_flows(tryton_down):
    config, port = tryton_down
    ran = invoke(config, "flows", "run", "catalog")  # a default flow: no flows: section needed
    assert ran.exit_code == 1
    assert ran.output.startswith("catalog: offline in ")
    assert f"error: erp is unavailable: erp at http://127.0.0.1:{port} is unreachable" in ran.output
    assert "Traceback" not in ran.output
    catalog = next(line for line in invoke(config, "flows").output.splitlines() if line.startswith("catalog"))
    assert " offline " in catalog and "erp is unavailable" in catalog
    stock = next(line for line in invoke(config, "flows").output.splitlines() if line.startswith("stock"))
    assert "waits for erp (offline until" in stock  # tripped by the catalog run: due, put off


def test_messages_says_when_it_cut_the_list_and_pages_on_with_before(setup):
    config, _, app = setup
    with app.engine.begin() as conn:
        ids = [enqueue(conn, channel="erp", operation="send_order", business_key=f"SO-{i}", payload={})
               for i in range(5)]
    first = invoke(config, "messages", "--limit", "2")
    assert [line.split()[0] for line in first.output.splitlines()[1:3]] == [str(ids[4]), str(ids[3])]
    assert f"(newest 2 shown; next page: --before {ids[3]})" in first.output
    second = invoke(config, "messages", "--limit", "2", "--before", str(ids[3]))
    assert f"next page: --before {ids[1]}" in second.output
    last = invoke(config, "messages", "--limit", "2", "--before", str(ids[1]))
    assert [line.split()[0] for line in last.output.splitlines()[1:]] == [str(ids[0])]
    assert "next page" not in invoke(config, "messages", "--limit", "5").output  # all shown: nothing to say
    page = json.loads(invoke(config, "messages", "--json", "--limit", "2", "--before", str(ids[4])).output)
    assert [m["id"] for m in page] == [ids[3], ids[2]]


def test_reconcile_while_tryton_is_down_still_requeues_lost_orders_and_says_what_it_could_not_check(tryton_down):
    """Asking Tryton about unfinished orders needs Tryton; finding orders that never reached it
    needs only the store. The command does what it can and says what it could not."""
    config, port = tryton_down
    app = bootstrap(load_config(config))
    address = Address(name="Jane Doe", street="1 Main St", postcode="10115", city="Berlin", country="DE")
    placed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    app.records.write("orders", [prepare(Order(
        number=number, placed_at=placed, currency="EUR", billing_address=address, shipping_address=address,
        shipping_method="DHL", payment_method="invoice", grand_total=1,
        lines=[OrderLine(sku="A1", quantity=1, unit_price=1, total=1)])) for number in ("LOST-1", "SENT-1")])
    with app.engine.begin() as conn:
        conn.execute(update(orders).values(created_at=placed))
        bind(conn, [("orders", "SENT-1", "erp", "12")])  # in Tryton: Tryton would be asked about it
    app.close()

    result = invoke(config, "reconcile")
    assert result.exit_code == 1  # LOST-1 was re-queued
    assert "re-queued: LOST-1" in result.output
    assert f"unfinished orders in erp not looked for: erp is unavailable: erp at http://127.0.0.1:{port}" \
        in result.output
    report = json.loads(invoke(config, "reconcile", "--json").output)
    assert report["stuck"] is None and report["already_queued"] == ["LOST-1"]
    assert report["stuck_unchecked"].startswith("erp is unavailable: ")

    ran = json.loads(invoke(config, "flows", "run", "reconcile", "--json").output)  # the flow waits for Tryton
    assert ran["outcome"] == "offline" and ran["error"].startswith("erp is unavailable: ")
