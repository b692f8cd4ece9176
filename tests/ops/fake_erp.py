"""A fake ERP connector, used by an app in place of its ``erp`` system's own (:func:`use`).

Tests set what it holds in :data:`RECORDS` and read what it was asked in :data:`CALLS`.
In a child process, ``$FAKE_ERP_CALLS`` names a file that gets a line per call. ``FAIL`` makes ``fetch`` raise; ``HOLD`` (a path) makes ``fetch`` create that file and then
block forever, for the test that kills a process in the middle of a run.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from erpbridge.connectors.base import GeneralError

RECORDS: dict[str, list] = {}
CALLS: list[tuple[str, object]] = []
FAIL: list[Exception] = []
HOLD: list[Path] = [Path(os.environ["FAKE_ERP_HOLD"])] if os.environ.get("FAKE_ERP_HOLD") else []
DELAY: list[float] = []
_lock = threading.Lock()


def reset() -> None:
    RECORDS.clear()
    CALLS.clear()
    FAIL.clear()
    HOLD.clear()
    DELAY.clear()


class FakeErp:
    def __init__(self, name, cfg):
        self.name, self.cfg = name, cfg
        self.closed = False

    def fetch(self, kind, since=None):
        with _lock:
            CALLS.append((kind, since))
            if os.environ.get("FAKE_ERP_CALLS"):  # calls made in a child process, for the parent to count
                with open(os.environ["FAKE_ERP_CALLS"], "a") as calls:
                    calls.write(f"{os.getpid()} {kind}\n")
        if DELAY:
            time.sleep(DELAY[0])
        if FAIL:
            raise FAIL[0]
        if HOLD:
            HOLD[0].write_text(str(os.getpid()))
            while True:
                time.sleep(1)
        return iter(list(RECORDS.get(kind, [])))

    def close(self):
        self.closed = True


def use(app, name: str = "erp") -> FakeErp:
    """Make ``app`` deliver and fetch through a FakeErp for system ``name``."""
    connector = FakeErp(name, app.system(name))
    app.use_connector(name, connector)
    return connector


__all__ = ["use", "reset", "RECORDS", "CALLS", "FAIL", "HOLD", "DELAY", "GeneralError"]
