"""The exchange log (seed 000's "ERP request log"): every request and response with a system.

Each entry records when (UTC), with which system, in which flow and at which measuring point
(the step, e.g. ``tryton.sale.create``), the direction (``out``: a request we sent; ``in``: a
request or file the system sent us), how long it took, the outcome (``ok``, ``general_error``,
``message_error``, ``error``), the size of request and response as JSON, the error text, and
both payloads with secrets replaced and personal data masked (:mod:`.redact`, under the store's
key: :mod:`.mask_key`), capped at ``max_payload_bytes``.

How to use it::

    log = ExchangeLog.for_app(app)
    with log.measure("erp", "orders", "tryton.sale.create", request=payload) as exchange:
        exchange.response = call(payload)

Writing the log never gets in the way of the work it describes: each entry is written in its own
short transaction (never the caller's, so a rolled-back business transaction still leaves its
exchange visible), and a failure to write is logged and swallowed. On SQLite, which has one
writer at a time, record outside your own write transaction (or use ``buffered=True``): the
log's transaction would otherwise wait for yours. Old entries are removed by
:meth:`ExchangeLog.prune` in bounded chunks, so a large backlog never holds a long lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import orjson
from sqlalchemy import Engine, delete, insert, select

from erpbridge.errors import GeneralError, MessageError
from erpbridge.exchange.config import ExchangeLogConfig
from erpbridge.exchange.mask_key import mask_key
from erpbridge.exchange.redact import Redactor, plain
from erpbridge.exchange.tables import exchange_log
from erpbridge.store.db import as_utc

logger = logging.getLogger(__name__)

OUTCOMES = ("ok", "general_error", "message_error", "error")
DIRECTIONS = ("out", "in")
#: Rows deleted per transaction by :meth:`ExchangeLog.prune`.
PRUNE_CHUNK = 5000


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, GeneralError):
        return "general_error"
    if isinstance(exc, MessageError):
        return "message_error"
    return "error"


@dataclass
class Exchange:
    """One exchange being measured; set ``response`` (and ``outcome`` if not ``ok``) inside the block."""

    system: str
    flow: str
    point: str
    direction: str = "out"
    request: Any = None
    response: Any = None
    outcome: str | None = None
    error: str | None = None


class ExchangeLog:
    """The exchange log of one store.

    With ``buffered=True`` (for hot paths such as draining the outbox) entries are written by a
    background thread in one transaction per ``flush_interval`` instead of one each; the price is
    that the entries of the last interval are lost if the process is killed, and that at most
    ``max_buffer`` entries wait (more are dropped, with a warning) while the store is unreachable
    (those recorded before the store's masking key could be read are redacted when written). Call
    :meth:`close` (or :meth:`flush`) before reading what was just recorded.
    """

    def __init__(self, engine: Engine, *, redact: Redactor | None = None, max_payload_bytes: int = 65536,
                 buffered: bool = False, flush_interval: float = 0.2, max_buffer: int = 50_000):
        self.engine = engine
        self.redact = redact or Redactor(key=lambda: mask_key(engine))
        self.max_payload_bytes = max_payload_bytes
        self.buffered = buffered
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self._pending: list[dict] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._dropped = 0

    @classmethod
    def for_app(cls, app, **options) -> "ExchangeLog":
        """The log with the app's ``exchange_log:`` settings."""
        config: ExchangeLogConfig = app.config.exchange_log
        return cls(app.engine, redact=Redactor.from_config(config, key=lambda: mask_key(app.engine)),
                   max_payload_bytes=config.max_payload_bytes, **options)

    # -- writing --------------------------------------------------------------------------

    @contextmanager
    def measure(self, system: str, flow: str, point: str, direction: str = "out",
                request: object = None) -> Iterator[Exchange]:
        """Time the block and record it; an escaping exception is recorded and re-raised."""
        exchange = Exchange(system, flow, point, direction, request)
        started = time.perf_counter()
        at = _now()
        try:
            yield exchange
        except BaseException as exc:
            self.record(system, flow, point, direction, duration_ms=(time.perf_counter() - started) * 1000,
                        outcome=exchange.outcome if exchange.outcome not in (None, "ok") else outcome_of(exc),
                        error=exchange.error or _describe(exc), request=exchange.request,
                        response=exchange.response, at=at)
            raise
        self.record(system, flow, point, direction, duration_ms=(time.perf_counter() - started) * 1000,
                    outcome=exchange.outcome or "ok", error=exchange.error, request=exchange.request,
                    response=exchange.response, at=at)

    def record(self, system: str, flow: str, point: str, direction: str = "out", *, duration_ms: float = 0.0,
               outcome: str = "ok", error: str | None = None, request: object = None, response: object = None,
               at: dt.datetime | None = None) -> None:
        """Record an exchange the caller timed itself. Never raises."""
        try:
            row = self._row(system, flow, point, direction, duration_ms, outcome, error, request, response, at)
            if self.buffered:
                self._enqueue(self._redacted_if_possible(row))
                return
            row = self._redacted(row)
            with self.engine.begin() as conn:
                conn.execute(insert(exchange_log), row)
        except Exception:
            logger.warning("could not write the exchange log entry for %s %s", system, point, exc_info=True)

    def _enqueue(self, row: dict) -> None:
        with self._lock:
            if len(self._pending) >= self.max_buffer:
                self._dropped += 1
                return
            self._pending.append(row)
            if self._writer is None or not self._writer.is_alive():
                self._stop.clear()
                self._writer = threading.Thread(target=self._write_loop, name="exchange-log-writer", daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def flush(self) -> None:
        """Write the buffered entries now, in one transaction. Never raises."""
        with self._lock:
            rows, self._pending = self._pending, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            logger.warning("exchange log buffer full: %d entries were dropped", dropped)
        if not rows:
            return
        try:
            entries = [row if "size" in row else self._redacted(row) for row in rows]
            with self.engine.begin() as conn:
                conn.execute(insert(exchange_log), entries)
        except Exception:
            logger.warning("could not write %d exchange log entries", len(rows), exc_info=True)
            with self._lock:  # keep them for the next try, within the bound
                self._pending[:0] = rows[: max(0, self.max_buffer - len(self._pending))]

    def close(self) -> None:
        """Stop the background writer and write what is buffered."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join()
        self.flush()

    def _row(self, system, flow, point, direction, duration_ms, outcome, error, request, response, at) -> dict:
        """The entry as plain data, not yet redacted (:meth:`_redacted`: the masks need the store's
        key, which a buffered entry may have to wait for)."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        return {
            # cut to the column widths: PostgreSQL refuses longer text, and the entry must not be lost
            "at": at or _now(), "system": str(system)[:64], "flow": str(flow)[:64], "point": str(point)[:128],
            "direction": direction, "duration_ms": round(float(duration_ms), 3), "outcome": str(outcome)[:16],
            "error": error, "request": plain(request), "response": plain(response),
        }

    def _redacted_if_possible(self, row: dict) -> dict:
        """The entry redacted and cut to ``max_payload_bytes`` now, so the buffer holds no more; left
        plain for the writer when the store's key cannot be read yet (the store is down)."""
        try:
            return self._redacted(row)
        except Exception:
            return row

    def _redacted(self, row: dict) -> dict:
        request, response = row["request"], row["response"]
        size = len(_dumps(request)) + len(_dumps(response)) if (request is not None or response is not None) else 0
        return {**row, "size": size, "error": self._error(row["error"]), "request": self._payload(request),
                "response": self._payload(response)}

    def _error(self, error: str | None) -> str | None:
        if error is None:
            return None
        text = self.redact(error)
        text = text if isinstance(text, str) else _dumps(text).decode()
        limit = self.max_payload_bytes
        return text if len(text) <= limit else text[:limit] + f" … (truncated, {len(text)} characters)"

    def _payload(self, value: Any) -> str | None:
        if value is None:
            return None
        data = _dumps(self.redact.redact_plain(value))  # made plain by _row
        if len(data) <= self.max_payload_bytes:
            return data.decode()
        head = data[: self.max_payload_bytes].decode("utf-8", errors="ignore")
        return _dumps({"truncated": {"bytes": len(data), "kept": self.max_payload_bytes}, "head": head}).decode()

    # -- reading and pruning --------------------------------------------------------------

    def query(self, *, since: dt.datetime | None = None, until: dt.datetime | None = None, point: str | None = None,
              system: str | None = None, outcome: str | None = None, flow: str | None = None, limit: int = 100,
              before_id: int | None = None) -> list[dict]:
        """Entries newest first; page on with ``before_id`` = the last id of the previous page.
        ``since`` is inclusive, ``until`` exclusive; naive datetimes are taken as UTC."""
        t = exchange_log
        stmt = select(t).order_by(t.c.id.desc()).limit(limit)
        if since is not None:
            stmt = stmt.where(t.c.at >= as_utc(since))
        if until is not None:
            stmt = stmt.where(t.c.at < as_utc(until))
        for column, value in ((t.c.point, point), (t.c.system, system), (t.c.outcome, outcome), (t.c.flow, flow)):
            if value is not None:
                stmt = stmt.where(column == value)
        if before_id is not None:
            stmt = stmt.where(t.c.id < before_id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [_entry(row) for row in rows]

    def prune(self, retention_days: float) -> int:
        """Delete entries older than ``retention_days``, a chunk per transaction; returns how many."""
        cutoff = _now() - dt.timedelta(days=retention_days)
        t = exchange_log
        oldest = select(t.c.id).where(t.c.at < cutoff).order_by(t.c.at).limit(PRUNE_CHUNK)  # walks the `at` index
        deleted = 0
        while True:
            with self.engine.begin() as conn:
                count = conn.execute(delete(t).where(t.c.id.in_(oldest))).rowcount
            deleted += count
            if count < PRUNE_CHUNK:
                return deleted


def _entry(row) -> dict:
    entry = dict(row)
    entry["at"] = as_utc(entry["at"])
    for key in ("request", "response"):
        if entry[key] is not None:
            entry[key] = orjson.loads(entry[key])
    return entry


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
