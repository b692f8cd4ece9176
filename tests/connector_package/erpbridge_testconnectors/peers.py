"""The systems behind the test connectors: one :class:`Peer` per system name, in this process."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Peer:
    """What a test ERP or shop holds: records it serves (each with the time it last changed),
    what it was sent, and switches that make it fail."""

    #: kind -> [(changed at, record or Raw)], served by fetch
    served: dict[str, list[tuple[dt.datetime, Any]]] = field(default_factory=lambda: defaultdict(list))
    #: operation -> {business number: payload}: what it holds after deliveries (one entry per number)
    held: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))
    #: every delivery, in order: (operation, idempotency key, payload)
    deliveries: list[tuple[str, str, Any]] = field(default_factory=list)
    #: (operation, number) -> how many times the system created a record for it
    created: Counter = field(default_factory=Counter)
    #: True: every call is refused (a general error); numbers in ``reject`` are message errors
    down: bool = False
    reject: set[str] = field(default_factory=set)
    #: set: the next delivery is processed, then its answer is lost (a crash between the answer and our commit)
    lose_answer: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, kind: str, *items: Any, at: dt.datetime | None = None) -> None:
        at = at or dt.datetime.now(dt.timezone.utc)
        with self.lock:
            self.served[kind].extend((at, item) for item in items)


_peers: dict[str, Peer] = {}
_lock = threading.Lock()


def peer(system: str) -> Peer:
    with _lock:
        return _peers.setdefault(system, Peer())


def reset() -> None:
    with _lock:
        _peers.clear()
