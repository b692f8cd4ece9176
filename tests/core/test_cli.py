"""The `erpbridge` command as users and scripts run it: a real process, its output and exit codes
(issue 2, bullet 6), the quick start's `demo`, and `run` importing what arrives and serving."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"
COMMANDS = ["run", "import", "status", "db", "demo", "worker", "messages", "replay", "discard", "flows", "log",
            "reconcile", "keys", "serve"]


def erpbridge(*args, cwd: Path, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "erpbridge", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "ERPBRIDGE_CONFIG": "", **(env or {})})
    if check and result.returncode:
        raise AssertionError(f"erpbridge {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def project(tmp_path, db_url) -> Path:
    """A folder with an erpbridge.yaml on the store under test."""
    (tmp_path / "erpbridge.yaml").write_text(
        f"store: {{url: '{db_url}'}}\n"
        "catalog:\n  warehouses: [{code: MAIN}, {code: SOUTH}]\n"
        "systems:\n  erp: {connector: files, settle_time: 0, poll_interval: 0.1}\n")
    return tmp_path


def test_help_everywhere():
    from click.testing import CliRunner

    from erpbridge.cli import cli

    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for command in COMMANDS:
        assert f"  {command} " in top.output, command
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Usage: " in result.output, (command, result.output)
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 2


def test_import_exits_0_when_all_went_in_and_1_with_each_rejection_named(project):
    (project / "good.csv").write_text("sku,name,list_price\nA1,Apple,1.50\n")
    (project / "mixed.csv").write_text("sku,name,list_price\nA2,Pear,2\nA3,Plum,abc\n")
    good = erpbridge("import", "products", "good.csv", cwd=project)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("good.csv: products: 1 read, 1 new, 0 changed, 0 unchanged, 0 rejected")
    mixed = erpbridge("import", "products", "mixed.csv", cwd=project)
    assert mixed.returncode == 1
    assert "mixed.csv: products: 2 read, 1 new, 0 changed, 0 unchanged, 1 rejected" in mixed.stdout
    assert "rejected mixed.csv: line 3: list_price: not a number, got 'abc'" in mixed.stderr
    again = json.loads(erpbridge("import", "products", "mixed.csv", "--json", cwd=project).stdout)
    assert {k: again[k] for k in ("read", "new", "unchanged", "rejected")} == {
        "read": 2, "new": 0, "unchanged": 1, "rejected": 1}
    assert again["rejections"][0] == {"file": "mixed.csv", "location": "line 3", "field": "list_price",
                                      "source": "list_price", "reason": "not a number, got 'abc'",
                                      "message": "mixed.csv: line 3: list_price: not a number, got 'abc'"}
    status = json.loads(erpbridge("status", "--json", cwd=project, check=True).stdout)
    assert status["records"]["products"] == 2 and status["products_enabled"] == 0


def test_format_flag_and_usage_errors(project):
    (project / "export.txt").write_text('{"sku": "A1", "name": "Apple"}\n')
    assert erpbridge("import", "products", "export.txt", "--format", "jsonl", cwd=project, check=True)
    assert erpbridge("import", "sprockets", "export.txt", cwd=project).returncode == 2
    missing = erpbridge("import", "products", "nope.csv", cwd=project)
    assert missing.returncode == 2 and "nope.csv" in missing.stderr


def test_a_config_error_exits_2_with_the_message(tmp_path):
    (tmp_path / "erpbridge.yaml").write_text("catalog: {colour: red}\n")
    result = erpbridge("status", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("erpbridge: erpbridge.yaml: catalog.colour: unknown key, "
                                     "expected one of: new_products_enabled, default_currency, warehouses")


def test_a_missing_erp_password_stops_only_the_commands_that_use_it(tmp_path, db_url):
    (tmp_path / "erpbridge.yaml").write_text(
        f"store: {{url: '{db_url}'}}\n"
        "systems:\n  erp: {connector: tryton, url: 'http://127.0.0.1:9', database: shop, user: shop,"
        " password: '${TRYTON_PASSWORD_NOT_SET}'}\n")
    for command in (["db", "upgrade"], ["status"], ["messages"], ["flows"], ["log"], ["keys", "list"]):
        assert erpbridge(*command, cwd=tmp_path).returncode == 0, command
    expected = ("erpbridge: erpbridge.yaml: systems.erp.password: environment variable TRYTON_PASSWORD_NOT_SET "
                "is not set")
    for command in (["run"], ["worker"], ["serve"]):
        result = erpbridge(*command, cwd=tmp_path)
        assert (result.returncode, result.stderr.strip()) == (2, expected), command


def test_db_upgrade_brings_an_empty_store_to_head(project):
    assert "empty" in erpbridge("status", cwd=project, check=True).stdout
    erpbridge("db", "upgrade", cwd=project, check=True)
    status = json.loads(erpbridge("status", "--json", cwd=project, check=True).stdout)
    assert status["revision"] == status["head"]


def test_demo_imports_the_example_and_shows_what_the_shop_is_served(tmp_path):
    shutil.copytree(EXAMPLES, tmp_path / "examples", ignore=shutil.ignore_patterns("*.db*", "inbox", "outbox"))
    folder = tmp_path / "examples"
    first = json.loads(erpbridge("demo", "--json", cwd=folder, check=True).stdout)
    counts = {r["kind"]: (r["new"], r["rejected"]) for r in first["imports"]}
    assert counts == {"product_groups": (10, 0), "products": (319, 0), "prices": (704, 0), "stock": (638, 0),
                      "customers": (5, 0)}
    assert [a["status"] for a in first["served"]] == [200] * len(first["served"]) and len(first["served"]) == 6
    tiers = next(a for a in first["served"] if "quantity=10" in a["request"])["body"]
    assert tiers["kind"] == "volume" and tiers["source"] == "store"
    second = erpbridge("demo", cwd=folder, check=True).stdout
    assert "products.csv: products: 319 read, 0 new, 0 changed, 319 unchanged, 0 rejected" in second
    assert "GET /api/v1/stock/" in second


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_run_imports_what_arrives_serves_the_api_and_stops_on_sigterm(project):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "erpbridge", "run", "--port", str(port)], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "ERPBRIDGE_CONFIG": ""})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "erpbridge run did not come up"
            time.sleep(0.2)
        inbox = project / "erp" / "inbox"
        (inbox / "products.csv").write_text("sku,name\nA1,Apple\n")
        while not list((inbox / "done").glob("*-products.csv")):
            assert time.monotonic() < deadline + 30, "the inbox file was not imported"
            time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    status = json.loads(erpbridge("status", "--json", cwd=project, check=True).stdout)
    assert status["records"]["products"] == 1
