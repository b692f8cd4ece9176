"""The reconciliation page (seed 003): what the last runs of the ``reconcile`` flow found and
what they repaired.

Each run, scheduled (every 5 minutes by default), started with ``erpbridge flows run reconcile``
or with ``erpbridge reconcile``, keeps its report as the run's summary in ``flow_runs`` (see
:mod:`erpbridge.outbox.reconcile`): accepted orders without an ERP id (re-queued, already on
their way, waiting on a dead message, delivered but unconfirmed, discarded by an operator) and
the orders the ERP left unfinished (a sale confirmed but never processed), each re-queued. A run
that could not ask the ERP (it was offline) shows its error instead.

Below them, the runs of the stock reconciliation (``erpbridge reconcile stock``, or the
``reconcile_stock`` flow when scheduled; :mod:`erpbridge.ingest.reconcile_stock`): what differed
per SKU and warehouse (the ERP's value, the store's and how old it was), what was repaired, the
order lines accepted for more than the ERP had, and the ERPs that could not be asked.
"""

from __future__ import annotations

from erpbridge.flows.runs import FlowRuns
from erpbridge.ingest.reconcile_stock import FLOW as STOCK_FLOW

RUNS = 20
#: Order numbers named per list; the count is always whole.
SHOWN = 50
#: The report's lists, as the page names them (what was found, what was done about it).
FINDINGS = (
    ("found", "accepted orders without an ERP id"),
    ("requeued", "re-queued (repaired)"),
    ("already_queued", "already on their way"),
    ("dead", "waiting on a dead message (retry or discard it on the messages page)"),
    ("unconfirmed", "delivered, the ERP has not reported their id yet"),
    ("discarded", "their message was discarded by an operator"),
)


def runs(hub, limit: int = RUNS) -> list[dict]:
    """The last runs of the reconcile flow, newest first, each with its findings."""
    found = []
    for run in FlowRuns(hub.engine).history("reconcile", limit=limit):
        report = run.summary or {}
        found.append({
            "id": run.id, "started_at": run.started_at, "finished_at": run.finished_at, "trigger": run.trigger,
            "outcome": run.outcome, "error": run.error, "erps": report.get("system"),
            "older_than_minutes": report.get("older_than_minutes"),
            "lists": [(label, report.get(key) or []) for key, label in FINDINGS],
            "stuck": report.get("stuck"), "stuck_unchecked": report.get("stuck_unchecked"),
            "repaired": len(report.get("requeued") or []),
        })
    return found


def stock_runs(hub, limit: int = RUNS) -> list[dict]:
    """The last runs of the stock reconciliation, newest first, each with its report."""
    found = []
    for run in FlowRuns(hub.engine).history(STOCK_FLOW, limit=limit):
        found.append({"id": run.id, "started_at": run.started_at, "trigger": run.trigger, "outcome": run.outcome,
                      "error": run.error, "report": run.summary})
    return found
