"""The ERP's feedback files: order status, shipments (tracking, part deliveries), invoices
(freight and fee on the first), credit memos and documents, read into the store.

Which kind a file holds follows from its name (:func:`feedback_kind`): ``order_status*``,
``shipments*``, ``invoices*``, ``credit_memos*``, ``documents*``; JSON (an array of records),
JSON Lines or XML (one child of the root per record; lists as a wrapper element with one child
per item, e.g. ``<lines><line>...</line></lines>``, as the outbound files are written). Fields
are the canonical records' own (see :mod:`erpbridge.records.feedback`).

Every record is validated; a bad one is rejected with its location, field and reason, and the
rest of the file goes in. A status update that carries the ERP's order id (``erp_id``) also
writes the order's binding, so reconciliation knows the ERP has the order. Records are
written :data:`BATCH_SIZE` at a time, each batch with its bindings in one transaction, so memory
stays flat whatever the file's size.

A document record names its file by ``path``, relative to the inbox (``docs/INV-1.pdf``); the
file is copied into the documents folder and the record keeps the copy's id (see
:mod:`erpbridge.documents`). The path may not leave the inbox, pass a link, or reach into
erpbridge's own folders, and must name a regular file (see :func:`erpbridge.input_files.read_inside`).
"""

from __future__ import annotations

import time
import typing
from pathlib import Path

from pydantic import BaseModel, ValidationError

from erpbridge.connectors.files.spec import FilesSystem
from erpbridge.connectors.files.readers import ReaderError, Unreadable, format_of, read_records
from erpbridge.documents import MAX_DOCUMENT_BYTES, served_media_type, store_copy
from erpbridge.input_files import InputFile, OwnFiles, RefusedInput, check_input, read_inside, shown_name
from erpbridge.ingest.report import ImportReport, Rejection
from erpbridge.mapping.spec import MappingSpec
from erpbridge.outbox.binder import bind
from erpbridge.records import RECORD_KINDS, Document, OrderStatusUpdate, Record
from erpbridge.store.db import write_transaction
from erpbridge.store.records import prepare

#: Records per write transaction.
BATCH_SIZE = 1000

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


def import_feedback_file(app, path: Path | InputFile, *, name: str | None = None,
                         system: str | None = None) -> ImportReport:
    """Read one feedback file into the store; returns what happened. ``path``: a file named by
    the caller (checked here: see :mod:`erpbridge.input_files`), or one checked already (an
    inbox claim); ``name``: the file's name as reports show it; ``system``: the files system it
    came from (its ERP ids are bound to it, its inbox holds the documents; default: the only one)."""
    path_of = path.path if isinstance(path, InputFile) else Path(path)
    name = name or shown_name(path_of.name)
    started = time.perf_counter()
    kind = feedback_kind(name)
    report = ImportReport(file=name, kind=kind or "unknown")
    if kind is None:
        report.reject(Rejection(name, "file", "not a feedback file: expected a name starting with one of "
                                + ", ".join(p for ps in FEEDBACK_FILES.values() for p in ps)))
        return report
    model = RECORD_KINDS[kind]
    spec = MappingSpec()
    own = OwnFiles.of(app.config, app.engine)
    batch: list[Record] = []
    erp = system or next((n for n, s in app.config.systems.items() if isinstance(s, FilesSystem)), app.config.erp_for())

    def write() -> None:
        with write_transaction(app.engine) as conn:
            result, _ = app.records.write_in(conn, kind, [prepare(r) for r in batch])
            bind(conn, [("orders", r.order, erp, r.erp_id) for r in batch
                        if isinstance(r, OrderStatusUpdate) and r.erp_id])
        report.count(result)
        batch.clear()

    try:
        source = path if isinstance(path, InputFile) else check_input(path_of.resolve(), own)
        report.format = format_of(path_of, spec)
        with source.open() as stream:
            for location, raw in read_records(stream, report.format, spec):
                if isinstance(raw, Unreadable):
                    report.reject(Rejection(name, location, raw.reason))
                    continue
                if report.format == "xml":
                    raw = _from_xml(model, raw)
                given = raw.pop("path", None) if model is Document else None
                try:
                    record = model.model_validate(raw)
                    if model is Document:
                        record = _with_copy(app, erp, own, record, given)
                except ValidationError as exc:
                    report.reject(*(Rejection(name, location, e["msg"], field=".".join(map(str, e["loc"])) or None,
                                              source=_shown(e.get("input"))) for e in exc.errors(include_url=False)))
                    continue
                except RefusedInput as exc:
                    report.reject(Rejection(name, location, f"cannot copy the document: {exc}", field="path"))
                    continue
                batch.append(record)
                if len(batch) >= BATCH_SIZE:
                    write()
    except (ReaderError, RefusedInput, OSError) as exc:
        report.reject(Rejection(name, "file", _reason(exc)))
    if batch:
        write()
    report.seconds = time.perf_counter() - started
    return report


def _with_copy(app, erp: str, own: OwnFiles, document: Document, path: object) -> Document:
    """The document with its media type as it will be served, and the id of the copy of the
    file at ``path`` (inside the inbox) when it names one."""
    update: dict = {"media_type": served_media_type(document.media_type)}
    if path is not None:
        system = app.config.systems[erp]
        if not isinstance(system, FilesSystem):
            raise RefusedInput("there is no inbox to copy documents from: no files system sent it")
        if not isinstance(path, str):
            raise RefusedInput(f"expected a path relative to the inbox, got {type(path).__name__}")
        try:
            content = read_inside(app.config.resolve(system.inbox), path, own, MAX_DOCUMENT_BYTES)
        except OSError as exc:
            raise RefusedInput(f"{shown_name(path)}: cannot read: {exc.strerror or exc}") from None
        update["content"] = store_copy(app.config, content)
    return document.model_copy(update=update)


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, (ReaderError, RefusedInput)) else f"cannot read: {exc.strerror or exc}"


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
