"""A sale Tryton confirmed but never processed (issue 17): Tryton stopped between ``confirm``'s
commit and ``process``, against a real Tryton stopped at exactly that moment.

How the moment is made, deterministically: this module's Tryton runs with ``[queue] worker =
True`` and no worker, so ``confirm`` commits the sale as confirmed with its ``sale.sale.process``
task queued and runs nothing more, and :class:`~crash_proxy.CrashProxy` SIGKILLs Tryton once
that answer is ready, before it reaches erpbridge. What is left in Tryton's database is what a
crash between the two leaves: a confirmed sale, its task queued, nothing to run it; erpbridge
saw its connection drop. Tryton then starts again as an ordinary Tryton that processes within
``confirm``, unless the test is about a Tryton with a queue worker (one that never comes).
"""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import server
from tryton_config import system_config
from crash_proxy import CrashProxy
from erp_user import ErpUser
from test_order_to_cash import order
from test_outbox_delivery import drain_until_done, messages, place

from erpbridge.cli import cli
from erpbridge.connectors.base import GeneralError
from erpbridge.connectors.tryton.connector import create
from erpbridge.outbox.worker import Worker
from erpbridge.store.tables import bindings
from erpbridge.ingest import built


@pytest.fixture(scope="module")
def crashable(tryton_server, tmp_path_factory):
    """A Tryton of this module's own (it is killed), behind a proxy that can kill it."""
    tryton = server.TrytonServer(tmp_path_factory.mktemp("crashable"), venv=tryton_server.venv)
    proxy = CrashProxy(tryton.port, crash=tryton.kill)
    yield tryton, proxy
    proxy.close()
    tryton.stop()


@pytest.fixture
def deferring(crashable):
    """The Tryton, running with its queue left to a worker that is not there; its ERP user."""
    tryton, proxy = crashable
    tryton.stop()
    tryton.start(queue_worker=True)
    rpc = tryton.rpc()
    yield tryton, proxy, ErpUser(rpc)
    rpc.close()


def bound(app, number: str) -> str | None:
    with app.engine.connect() as conn:
        return conn.execute(select(bindings.c.external_id).where(bindings.c.kind == "orders",
                                                                 bindings.c.key == number)).scalar()


def stocked(erp: ErpUser, sku: str) -> str:
    erp.receive(erp.product(sku, "Crash-proof item", "9.50"), 10)
    return sku


@pytest.mark.slow
def test_a_sale_left_confirmed_by_tryton_stopping_after_confirm_is_processed_when_redelivered(deferring, make_app,
                                                                                              prefix):
    tryton, proxy, erp = deferring
    sku, number = stocked(erp, f"{prefix}-CR"), f"SO-{prefix}-CR"
    app = make_app(tryton, url=proxy.url)
    place(app, number, sku)

    proxy.arm("model.sale.sale.confirm")
    worker = Worker(app)
    worker.drain()  # confirm commits, Tryton dies before answering: a general error
    assert proxy.fired.is_set()
    assert messages(app)[number]["state"] == "pending" and "general error" in messages(app)[number]["last_error"]

    tryton.start()  # an ordinary Tryton again
    left = erp.sale(number)
    assert (left["state"], left["shipments"]) == ("confirmed", [])  # what the crash left

    drain_until_done(app, worker)  # the redelivery carries on where Tryton stopped
    sale = erp.sale(number)
    assert (sale["state"], len(sale["shipments"])) == ("processing", 1)
    assert erp.count_sales(number) == 1 and bound(app, number) == sale["number"]


@pytest.mark.slow
def test_a_return_left_confirmed_by_tryton_stopping_after_confirm_is_processed_when_redelivered(deferring, make_app,
                                                                                                prefix):
    tryton, proxy, erp = deferring
    sku, number = stocked(erp, f"{prefix}-RT"), f"SO-{prefix}-RT"
    connector = create(make_app(tryton, url=proxy.url), "erp", system_config(tryton, url=proxy.url))
    # Delivered while Tryton leaves process to its queue: the connector processes the sale itself.
    connector.deliver("send_order", order(number, None, [(sku, 2, "9.50")]), "o")
    assert erp.sale(number)["state"] == "processing"
    erp.ship(number, "TRACK-RT")

    ret = {"id": f"RMA-{prefix}", "order": number, "lines": [{"sku": sku, "quantity": "1"}]}
    proxy.arm("model.sale.sale.confirm")
    with pytest.raises(GeneralError, match="broke off|unreachable"):
        connector.deliver("send_return", ret, "r")
    tryton.start()
    [left] = erp.rpc.model("sale.sale", "search_read", [["reference", "=", ret["id"]]], 0, None, None,
                           ["state", "shipment_returns"])
    assert (left["state"], left["shipment_returns"]) == ("confirmed", [])

    result = connector.deliver("send_return", ret, "r")  # redelivered
    assert result.response["state"] == "processing" and len(result.response["shipment_returns"]) == 1
    assert erp.rpc.model("sale.sale", "search_count", [["reference", "=", ret["id"]]], 0, None) == 1
    connector.close()


def test_with_a_queue_worker_cancelling_a_sale_not_yet_processed_cancels_what_processing_makes(deferring, make_app,
                                                                                                prefix):
    """Before the worker's turn comes, the sale has no shipment to cancel; left confirmed, the
    worker would process (and ship) it after the cancellation was done."""
    tryton, _, erp = deferring
    sku, number = stocked(erp, f"{prefix}-CX"), f"SO-{prefix}-CX"
    connector = create(make_app(tryton), "erp", system_config(tryton, queue_worker=True))
    connector.deliver("send_order", order(number, None, [(sku, 1, "9.50")]), "o")
    assert erp.sale(number)["state"] == "confirmed"  # left to the queue worker: not waited for

    connector.deliver("cancel_order", {"id": f"C-{prefix}", "order": number}, "c")
    sale = erp.sale(number)
    shipments = erp.rpc.model("stock.shipment.out", "read", sale["shipments"], ["state"])
    assert shipments and {s["state"] for s in shipments} == {"cancelled"}
    assert {s.order: s for s in built(connector.fetch("order_statuses"))}[number].status == "cancelled"
    connector.close()


@pytest.mark.slow
def test_reconcile_finds_a_sale_the_queue_worker_never_processed_reports_it_and_repairs_it(deferring, make_app,
                                                                                          prefix):
    tryton, _, erp = deferring
    sku, number = stocked(erp, f"{prefix}-RC"), f"SO-{prefix}-RC"
    app = make_app(tryton, queue_worker=True)  # stuck after the default 10 minutes
    place(app, number, sku)
    Worker(app).drain()
    sale = erp.sale(number)
    assert (messages(app)[number]["state"], bound(app, number), sale["state"]) == ("done", sale["number"], "confirmed")

    def reconcile(app, *args):
        result = CliRunner().invoke(cli, ["--config", str(app.config.source), "reconcile", *args],
                                    catch_exceptions=False)
        return result, json.loads(result.output) if "--json" in args else result.output

    fresh, report = reconcile(app, "--json")
    assert (fresh.exit_code, report["stuck"], report["requeued"]) == (0, {}, [])  # confirmed a moment ago

    impatient = make_app(tryton, queue_worker=True, stuck_after_minutes=0.01)  # the same store
    deadline = time.monotonic() + 30
    while not (found := reconcile(impatient, "--json"))[1]["stuck"]:
        assert time.monotonic() < deadline, "the sale was never reported stuck"
        time.sleep(0.2)
    result, report = found
    assert result.exit_code == 1 and report["requeued"] == [number]
    assert report["stuck"][number].startswith(f"Tryton sale {sale['number']} is confirmed since ")
    assert report["stuck"][number].endswith(" UTC and was never processed")
    _, text = reconcile(impatient)
    assert f"1 order(s) unfinished in erp\n  {number}: Tryton sale {sale['number']}" in text
    assert f"already queued: {number}" in text  # queued once, not twice

    drain_until_done(impatient, Worker(impatient))  # the redelivery processes it
    assert erp.sale(number)["state"] == "processing" and erp.count_sales(number) == 1
    assert reconcile(impatient, "--json")[1]["stuck"] == {}
