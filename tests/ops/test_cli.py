"""`erpbridge flows` and `erpbridge log` as an operator uses them, on both stores."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from erpbridge.bootstrap import bootstrap
from erpbridge.cli import cli
from erpbridge.config import load_config
from erpbridge.exchange import ExchangeLog


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
