"""`erpbridge worker`, `messages`, `replay`, `discard` and `reconcile` as an operator uses them."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlalchemy import update

from erpbridge.cli import cli
from erpbridge.outbox.messages import actions_of
from erpbridge.store.tables import orders

from .conftest import place_order
from .helpers import states


def run(app, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(app.config.source), *args], catch_exceptions=False)
    return result.exit_code, result.output


def age(app, minutes: float, *numbers: str) -> None:
    with app.engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.key.in_(numbers)).values(
            created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes)))


def test_worker_once_delivers_through_the_configured_file_connector(make_app, tmp_path):
    app = make_app()
    place_order(app, "1001")
    code, out = run(app, "worker", "--once")
    assert code == 0 and "delivered 1 message(s)" in out
    assert (tmp_path / "erp" / "outbox" / "erp-send_order-1001-1.json").exists()
    code, out = run(app, "messages", "--json")
    [row] = json.loads(out)
    assert (row["business_key"], row["state"]) == ("1001", "done")
    code, out = run(app, "messages", "--state", "dead")
    assert out.strip() == "no messages"


def test_replay_and_discard_from_the_command_line(make_app):
    app = make_app()
    first, second = place_order(app, "1001"), place_order(app, "1002")
    with app.engine.begin() as conn:
        from erpbridge.outbox.tables import outbox_messages as m
        conn.execute(update(m).values(state="dead", attempts=8, last_error="unknown customer"))
    code, out = run(app, "messages", "--state", "dead")
    assert code == 0 and "unknown customer" in out and "1001" in out

    code, out = run(app, "replay", str(first), "--reason", "customer fixed")
    assert code == 0 and f"replayed 1 message(s): {first}" in out
    code, _ = run(app, "replay", str(first))  # no longer dead
    assert code == 1
    code, _ = run(app, "replay")
    assert code == 2  # neither ids nor --all-dead

    code, _ = run(app, "discard", str(second))
    assert code == 2  # a reason is required
    code, out = run(app, "discard", str(second), "--reason", "entered by phone")
    assert code == 0
    assert states(app) == {first: "pending", second: "discarded"}
    assert actions_of(app.engine, second)[0]["reason"] == "entered by phone"


def test_reconcile_requeues_lost_orders_and_exits_1(make_app):
    app = make_app()
    # 1001 was accepted but its message never got written (the seed 003 failure).
    from erpbridge.store.records import prepare
    from .conftest import order
    app.records.write("orders", [prepare(order("1001"))])
    place_order(app, "1002")  # queued, on its way
    place_order(app, "1003")  # too young to worry about
    age(app, 30, "1001", "1002")

    code, out = run(app, "reconcile", "--json")
    report = json.loads(out)
    assert code == 1
    assert (report["found"], report["requeued"], report["already_queued"]) == (["1001", "1002"], ["1001"], ["1002"])

    code, out = run(app, "reconcile")
    assert code == 0 and "already queued: 1001, 1002" in out
    run(app, "worker", "--once")
    code, out = run(app, "reconcile", "--json")  # delivered as files: the ERP's id comes with its feedback
    assert code == 0 and json.loads(out)["unconfirmed"] == ["1001", "1002"]
