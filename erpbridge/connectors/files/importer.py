"""Importing one ERP export file into the store: read -> map -> check -> write deltas.

Records are written in batches, each in its own transaction, so a bad record never costs the
good ones around it and a file that breaks off keeps what came before the break. A rejected
record leaves what the store holds for it untouched. The report counts what was new,
changed, unchanged and rejected, and names every rejected record by file, location, field and
reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from erpbridge.config import Config
from erpbridge.mapping.mapper import FieldError, Mapper
from erpbridge.mapping.spec import MappingSpec
from erpbridge.records import IMPORT_KINDS, RECORD_KINDS, Record
from erpbridge.store.records import RecordStore, Row, WriteResult, prepare
from erpbridge.connectors.files.readers import ReaderError, Unreadable, format_of, open_binary, read_records

BATCH_SIZE = 5000
#: Rejections kept in the report in full (all are counted); a file of a million bad rows must
#: not fill memory with messages.
MAX_LISTED_REJECTIONS = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    file: str
    location: str
    reason: str
    field: str | None = None
    source: str | None = None

    def __str__(self) -> str:
        if self.field is None:
            return f"{self.file}: {self.location}: {self.reason}"
        return f"{self.file}: {self.location}: {FieldError(self.field, self.source, self.reason)}"

    def as_dict(self) -> dict:
        return {"file": self.file, "location": self.location, "field": self.field, "source": self.source,
                "reason": self.reason, "message": str(self)}


@dataclass
class ImportReport:
    file: str
    kind: str
    format: str = ""
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    rejected: int = 0
    seconds: float = 0.0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.new + self.changed + self.unchanged + self.rejected

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def reject(self, *reasons: Rejection) -> None:
        """One rejected record, with every reason found for it."""
        self.rejected += 1
        room = MAX_LISTED_REJECTIONS - len(self.rejections)
        self.rejections.extend(reasons[:room])

    def count(self, result: WriteResult) -> None:
        self.new += result.new
        self.changed += result.changed
        self.unchanged += result.unchanged

    def summary(self) -> str:
        return (f"{self.file}: {self.kind}: {self.read} read, {self.new} new, {self.changed} changed, "
                f"{self.unchanged} unchanged, {self.rejected} rejected ({self.seconds:.2f}s)")

    def as_dict(self) -> dict:
        return {"file": self.file, "kind": self.kind, "format": self.format, "read": self.read, "new": self.new,
                "changed": self.changed, "unchanged": self.unchanged, "rejected": self.rejected,
                "seconds": round(self.seconds, 3), "rejections": [r.as_dict() for r in self.rejections],
                "rejections_listed": len(self.rejections)}


class ImportKindError(ValueError):
    pass


class Importer:
    """Imports files of one record kind, as the config maps and checks them."""

    def __init__(self, config: Config, records: RecordStore, kind: str):
        if kind not in IMPORT_KINDS:
            raise ImportKindError(f"unknown kind {kind!r}, expected one of: {', '.join(IMPORT_KINDS)}")
        self.kind = kind
        self.records = records
        self.spec = _with_config_defaults(config, kind, config.mapping(kind))
        self.mapper = Mapper(RECORD_KINDS[kind], self.spec)
        self.check = _context_check(config, kind)

    def import_file(self, path: Path, *, name: str | None = None,
                    on_progress: Callable[[int], None] | None = None) -> ImportReport:
        started = time.perf_counter()
        name = name or path.name
        report = ImportReport(file=name, kind=self.kind)
        try:
            report.format = format_of(path, self.spec)
            with open_binary(path) as stream:
                self._import_stream(stream, report, on_progress)
        except ReaderError as exc:
            report.reject(Rejection(name, "file", str(exc)))
        except OSError as exc:
            report.reject(Rejection(name, "file", f"cannot read: {exc.strerror or exc}"))
        report.seconds = time.perf_counter() - started
        return report

    def _import_stream(self, stream, report: ImportReport, on_progress) -> None:
        batch: list[Row] = []
        map_record, check, name = self.mapper.map, self.check, report.file
        for location, raw in read_records(stream, report.format, self.spec):
            if isinstance(raw, Unreadable):
                report.reject(Rejection(name, location, raw.reason))
                continue
            record, errors = map_record(raw)
            if record is not None and check is not None:
                error = check(record)
                errors = [error] if error else errors
            if errors:
                report.reject(*(Rejection(name, location, e.reason, e.field, e.source) for e in errors))
                continue
            batch.append(prepare(record))
            if len(batch) >= BATCH_SIZE:
                report.count(self.records.write(self.kind, batch)[0])
                batch = []
                if on_progress:
                    on_progress(stream.tell())
        if batch:
            report.count(self.records.write(self.kind, batch)[0])
        if on_progress:
            on_progress(stream.tell())


def _with_config_defaults(config: Config, kind: str, spec: MappingSpec) -> MappingSpec:
    """Prices without a currency are in the catalog's default currency."""
    if kind == "prices" and "currency" not in spec.defaults:
        return spec.model_copy(update={"defaults": {"currency": config.catalog.default_currency, **spec.defaults}})
    return spec


def _context_check(config: Config, kind: str) -> Callable[[Record], FieldError | None] | None:
    """Checks that need the config, not just the record: stock only for known warehouses."""
    if kind != "stock" or not config.catalog.warehouses:
        return None
    known = {w.code for w in config.catalog.warehouses}
    listed = ", ".join(sorted(known))
    spec = config.mapping("stock").fields.get("warehouse")
    source = spec if isinstance(spec, str) else (spec.source if spec is not None else None)

    def check(record: Record) -> FieldError | None:
        if record.warehouse not in known:
            return FieldError("warehouse", source, f"unknown warehouse {record.warehouse!r}, expected one of: {listed}")
        return None

    return check
