"""The ERP's feedback files: order status, shipments (tracking, part deliveries), invoices
(freight and fee on the first), credit memos and documents, read into the store.

Which kind a file holds follows from its name (:func:`feedback_kind`): ``order_status*``,
``shipments*``, ``invoices*``, ``credit_memos*``, ``documents*``; JSON (an array of records),
JSON Lines or XML (one child of the root per record; lists as a wrapper element with one child
per item, e.g. ``<lines><line>...</line></lines>``, as the outbound files are written). Fields
are the canonical records' own (see :mod:`erpbridge.records.feedback`).

Every record is validated; a bad one is rejected with its location, field and reason, and the
rest of the file goes in. A status update that carries the ERP's order id (``erp_id``) also
writes the order's binding, so reconciliation knows the ERP has the order.
"""

from __future__ import annotations

import time
import typing
from pathlib import Path

from pydantic import BaseModel, ValidationError

from erpbridge.ingest.report import ImportReport, Rejection
from erpbridge.connectors.files.readers import ReaderError, Unreadable, format_of, open_binary, read_records
from erpbridge.mapping.spec import MappingSpec
from erpbridge.outbox.binder import bind
from erpbridge.records import RECORD_KINDS, OrderStatusUpdate
from erpbridge.store.records import prepare

#: Feedback kind -> file name prefixes (lower case; ``-`` and ``_`` are the same).
FEEDBACK_FILES: dict[str, tuple[str, ...]] = {
    "order_statuses": ("order_status", "orderstatus", "status"),
    "shipments": ("shipment",),
    "invoices": ("invoice",),
    "credit_memos": ("credit_memo", "creditmemo"),
    "documents": ("document",),
}


def feedback_kind(name: str) -> str | None:
    """The feedback kind a file name stands for, or None if it is not a feedback file."""
    plain = name.lower().replace("-", "_")
    for kind, prefixes in FEEDBACK_FILES.items():
        if plain.startswith(prefixes):
            return kind
    return None


def import_feedback_file(app, path: Path, *, name: str | None = None, system: str | None = None) -> ImportReport:
    """Read one feedback file into the store, in one transaction; returns what happened.
    ``name`` is the file's own name when ``path`` is a claimed copy (the inbox's); ``system``
    the files system it came from (its ERP ids are bound to it; default: the API's ERP)."""
    path = Path(path)
    name = name or path.name
    started = time.perf_counter()
    kind = feedback_kind(name)
    report = ImportReport(file=name, kind=kind or "unknown")
    if kind is None:
        report.reject(Rejection(name, "file", "not a feedback file: expected a name starting with one of "
                                + ", ".join(p for ps in FEEDBACK_FILES.values() for p in ps)))
        return report
    model = RECORD_KINDS[kind]
    spec = MappingSpec()
    records = []
    try:
        report.format = format_of(path, spec)
        with open_binary(path) as stream:
            for location, raw in read_records(stream, report.format, spec):
                if isinstance(raw, Unreadable):
                    report.reject(Rejection(name, location, raw.reason))
                    continue
                if report.format == "xml":
                    raw = _from_xml(model, raw)
                try:
                    records.append(model.model_validate(raw))
                except ValidationError as exc:
                    report.reject(*(Rejection(name, location, e["msg"], field=".".join(map(str, e["loc"])) or None,
                                              source=_shown(e.get("input"))) for e in exc.errors(include_url=False)))
    except (ReaderError, OSError) as exc:
        report.reject(Rejection(name, "file", str(exc)))
        return report
    erp = system or app.config.erp_for()
    with app.engine.begin() as conn:
        result, _ = app.records.write_in(conn, kind, [prepare(r) for r in records])
        bind(conn, [("orders", r.order, erp, r.erp_id) for r in records
                    if isinstance(r, OrderStatusUpdate) and r.erp_id])
    report.count(result)
    report.seconds = time.perf_counter() - started
    return report


def _shown(value) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)[:200]


def _from_xml(model: type[BaseModel], raw: dict) -> dict:
    """XML has no lists or nulls: turn ``<lines><line/>...</lines>`` into a list where the record
    has a list, drop attribute markers, and read empty elements as absent."""
    result = {}
    for key, value in raw.items():
        key = key.removeprefix("@")
        field = model.model_fields.get(key)
        item = _list_item(field.annotation) if field is not None else None
        if item is not None:
            if isinstance(value, dict) and len(value) == 1:
                value = next(iter(value.values()))
            value = [] if value in ("", None) else value if isinstance(value, list) else [value]
            if isinstance(item, type) and issubclass(item, BaseModel):
                value = [_from_xml(item, v) if isinstance(v, dict) else v for v in value]
        elif value == "":
            continue
        result[key] = value
    return result


def _list_item(annotation) -> object | None:
    """The item type when ``annotation`` is a list (possibly optional), else None."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(candidate) is list:
            return typing.get_args(candidate)[0]
    return None
