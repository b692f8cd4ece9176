"""Ingesting what a connector fetched from a system (a pull flow's records, a shop's orders).

A connector's ``fetch(kind, since)`` yields, for each record, either a canonical record or a
:class:`Raw`: the system's own answer with where it came from, turned into a record here, by the
connector's mapper (``build``) or by the system's declarative mapping (``mappings.<kind>`` in
its config). Building the record here rather than in the connector is what lets a bad row be
rejected by itself: a connector that built the records itself would stop at the first one that
does not validate, and nothing after it would arrive.

Every record then meets the rules every source meets (:mod:`erpbridge.ingest.rules`), and is
written as a delta in batches (unchanged records cost nothing); a record that fails is named in
the report (system, kind, location, field, reason) and the rest go in. What a shop sends in
(orders) is not written here but placed through the order service, exactly like an order from
the API (products checked, idempotent on the number, queued to the shop's ERP). One exchange
log entry per ingest says what came in and what was rejected.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable

from pydantic import ValidationError

from erpbridge.ingest.report import ImportReport, Rejection
from erpbridge.ingest.rules import check_for, with_config_defaults
from erpbridge.mapping.mapper import FieldError, Mapper, RecordRejected, field_error
from erpbridge.mapping.spec import MappingSpec
from erpbridge.records import RECORD_KINDS, Record
from erpbridge.store.db import write_transaction
from erpbridge.store.records import Row, prepare

#: Records written per transaction.
BATCH = 1000
#: The field of an error about the record as a whole (how the mapper names it too).
RECORD = "(record)"


@dataclass(frozen=True, slots=True)
class Raw:
    """A record as its system answered it, for ingest to build.

    ``location`` names it in a rejection (``product.product 42``, ``page 3, item 17``);
    ``build`` is the connector's mapper for it (None: the system's declarative mapping);
    ``external_id`` is its id in the system, kept as the record's binding there."""

    data: Any
    location: str
    build: Callable[[Any], Record] | None = None
    external_id: str | None = None


class Builder:
    """Turns fetched items from one system into records or rejections. The kind asked for is
    what a Raw without a mapper becomes; a connector may answer related records of other kinds
    along with it (an invoice's document), which go in under their own kind."""

    def __init__(self, app, system: str, kind: str):
        self.app, self.system, self.kind = app, system, kind
        # Only a system's own mapping applies to what it answers (the top-level mappings are the
        # file exports'); without one, a Raw record's fields are the canonical ones.
        self.spec = app.config.systems[system].mappings.get(kind)
        self.mapper = Mapper(RECORD_KINDS[kind], with_config_defaults(app.config, kind, self.spec)) if self.spec else None
        self._checks: dict[str, Callable | None] = {}

    def row(self, item: Record | Raw, position: int) -> tuple[str, Record | None, list[FieldError]]:
        """(location, the record, why it is rejected)."""
        location = item.location if isinstance(item, Raw) else f"#{position}"
        record, errors = self._record(item)
        if record is not None:
            check = self._check(record.kind)
            error = check(record) if check is not None else None
            errors = [error] if error else []
        return location, (record if not errors else None), errors

    def _check(self, kind: str):
        if kind not in self._checks:
            spec = self.spec if kind == self.kind and self.spec else MappingSpec()
            self._checks[kind] = check_for(self.app.config, kind, spec)
        return self._checks[kind]

    def _record(self, item: Record | Raw) -> tuple[Record | None, list[FieldError]]:
        if isinstance(item, Record):
            return item, []
        if item.build is not None:
            return self._validated(lambda: item.build(item.data))
        if self.mapper is None:
            return self._validated(lambda: RECORD_KINDS[self.kind].model_validate(item.data))
        if not isinstance(item.data, dict):
            return None, [FieldError(RECORD, None, f"expected an object, got {type(item.data).__name__}")]
        return self.mapper.map(item.data)

    @staticmethod
    def _validated(build: Callable[[], Record]) -> tuple[Record | None, list[FieldError]]:
        try:
            record = build()
        except RecordRejected as exc:  # a declarative mapping's own errors, by field and source field
            return None, list(exc.errors)
        except ValidationError as exc:
            return None, [field_error(e) for e in exc.errors(include_url=False)]
        except (ValueError, TypeError, KeyError, LookupError, ArithmeticError) as exc:
            return None, [FieldError(RECORD, None, f"cannot be read: {type(exc).__name__}: {exc}")]
        if not isinstance(record, Record):
            return None, [FieldError(RECORD, None, f"the connector's mapper answered a {type(record).__name__}, "
                                                      "not a record")]
        return record, []


def ingest_fetched(app, system: str, kind: str, items: Iterable[Record | Raw], *, flow: str | None = None,
                   batch: int = BATCH) -> ImportReport:
    """Take in what ``system`` answered for ``kind``; returns the report (also in the exchange log)."""
    started = time.perf_counter()
    report = ImportReport(file=system, kind=kind, format="fetched")
    builder = Builder(app, system, kind)
    origin = f"{system}: {kind}"
    take = _place_orders if kind == "orders" else _write
    position = 0
    iterator = iter(items)
    try:
        while chunk := list(islice(iterator, batch)):
            built: list[tuple[Record, Raw | Record, str]] = []
            for item in chunk:
                position += 1
                location, record, errors = builder.row(item, position)
                if record is None:
                    report.reject(*(Rejection(origin, location, e.reason, None if e.field == RECORD else e.field,
                                              e.source) for e in errors))
                else:
                    built.append((record, item, location))
            take(app, system, kind, built, report, origin)
    finally:
        report.seconds = time.perf_counter() - started
        log_ingest(app, system, report, point=f"ingest.{kind}", flow=flow or kind)
    return report


def _write(app, system: str, kind: str, built: list, report: ImportReport, origin: str) -> None:
    """One transaction: the rows as deltas (each kind in its batch), and the bindings of the
    records that came with their id in the system."""
    from erpbridge.outbox.binder import bind

    if not built:
        return
    by_kind: dict[str, list[tuple[Row, Record | Raw]]] = {}
    for record, item, _ in built:
        by_kind.setdefault(record.kind, []).append((prepare(record), item))
    with write_transaction(app.engine) as conn:
        for record_kind, rows in by_kind.items():
            result, _ = app.records.write_in(conn, record_kind, [row for row, _ in rows])
            report.count(result)
            bind(conn, [(record_kind, row.key, system, item.external_id) for row, item in rows
                        if isinstance(item, Raw) and item.external_id])


def _place_orders(app, system: str, kind: str, built: list, report: ImportReport, origin: str) -> None:
    """A shop's orders go in as orders placed through the API do (the order service)."""
    from erpbridge.services import orders
    from erpbridge.services.errors import Conflict, Rejected

    for record, item, location in built:
        try:
            _state, created, _view = orders.place_order(app, record, shop=system)
        except Rejected as exc:
            report.reject(*(Rejection(origin, location, reason, path) for path, reason in exc.errors))
            continue
        except Conflict as exc:
            report.reject(Rejection(origin, location, str(exc)))
            continue
        if created:
            report.new += 1
        else:
            report.unchanged += 1
        if isinstance(item, Raw) and item.external_id:
            from erpbridge.outbox.binder import bind

            with write_transaction(app.engine) as conn:
                bind(conn, [("orders", record.key, system, item.external_id)])


def log_ingest(app, system: str, report: ImportReport, *, point: str, flow: str, request: Any = None) -> None:
    """One exchange log entry for an ingest: what came in, and every rejection it listed."""
    from erpbridge.exchange import ExchangeLog

    first = report.rejections[:20]
    ExchangeLog.for_app(app).record(
        system, flow, point, "in", duration_ms=report.seconds * 1000,
        outcome="message_error" if report.rejected else "ok",
        error=(f"{report.rejected} of {report.read} {report.kind} rejected; first: {first[0]}" if first else None),
        request=request if request is not None else {"origin": report.file, "kind": report.kind},
        response={"read": report.read, "new": report.new, "changed": report.changed, "unchanged": report.unchanged,
                  "rejected": report.rejected, "rejections": [r.as_dict() for r in first]})


def built(items: Iterable[Record | Raw]) -> list[Record]:
    """The records of fetched items, each Raw built by its connector's mapper (for a caller that
    wants the records themselves, not in the store: a test, a real-time answer). A Raw without
    a mapper needs its system's mapping: that is :func:`ingest_fetched`'s work."""
    records = []
    for item in items:
        if isinstance(item, Raw):
            if item.build is None:
                raise ValueError(f"{item.location}: a raw record without a mapper; ingest it with its system's mapping")
            item = item.build(item.data)
        records.append(item)
    return records
