"""The files connector as the hub uses it: outbox files out (:mod:`.outbound`), the inbox in
(:mod:`.inbox`), polled every ``poll_interval`` seconds while erpbridge runs (``watch``) and
once by any flow of the system (``poll``)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from erpbridge.connectors.base import DeliveryResult
from erpbridge.connectors.files.inbox import process_inbox
from erpbridge.connectors.files.outbound import FileOutbox
from erpbridge.connectors.files.spec import FilesSystem

log = logging.getLogger(__name__)


class FilesConnector:
    def __init__(self, app, name: str, cfg: FilesSystem):
        self.app, self.name, self.cfg = app, name, cfg
        self.outbox = FileOutbox(app.config.resolve(cfg.outbox), cfg.format, cfg.mode, messages=cfg.messages)

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        return self.outbox.deliver(operation, payload, idempotency_key)

    def poll(self) -> dict[str, Any]:
        """Import every settled file in the inbox once; the pass's summary (as a flow reports it)."""
        reports = process_inbox(self.app, self.name)
        summary: dict[str, Any] = {"files": len(reports)}
        for key in ("new", "changed", "unchanged", "rejected"):
            summary[key] = sum(getattr(report, key) for report in reports)
        summary["reports"] = [report.summary() for report in reports[:50]]
        return summary

    def watch(self, stop: threading.Event) -> None:
        """Poll the inbox every ``poll_interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.poll()
            except Exception:  # keep watching: one bad pass must not stop imports for good
                log.exception("inbox pass of %s failed", self.name)
            stop.wait(self.cfg.poll_interval)


def create(app, name: str, cfg: FilesSystem) -> FilesConnector:
    return FilesConnector(app, name, cfg)
