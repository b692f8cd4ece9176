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
from erpbridge.connectors.files import import_workers
from erpbridge.connectors.files.readers import ReaderError, format_of

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


class RecordSteps:
    """What happens to each raw record between the reader and the store: map, check against
    the config, prepare the stored row. Picklable (the mapper is rebuilt from the spec), so
    worker processes run exactly the steps the in-process path runs."""

    def __init__(self, kind: str, spec: MappingSpec, check: "KnownWarehouses | None"):
        self.kind, self.spec, self.check = kind, spec, check
        self._map = Mapper(RECORD_KINDS[kind], spec).map

    def __getstate__(self) -> tuple:
        return self.kind, self.spec, self.check

    def __setstate__(self, state: tuple) -> None:
        self.__init__(*state)

    def run(self, raw: dict) -> Row | list[FieldError]:
        """The stored row, or every reason the record is rejected."""
        record, errors = self._map(raw)
        if record is not None and self.check is not None:
            error = self.check(record)
            errors = [error] if error else errors
        return errors if errors else prepare(record)


class Importer:
    """Imports files of one record kind, as the config maps and checks them.

    Files of :data:`~erpbridge.connectors.files.import_workers.PARALLEL_MIN_BYTES` and more are
    read, mapped and hashed in worker processes while this process writes (see
    :mod:`~erpbridge.connectors.files.import_workers`); smaller ones in this process, with no
    start-up cost. Both give the same report, rejections and batches.
    """

    def __init__(self, config: Config, records: RecordStore, kind: str):
        if kind not in IMPORT_KINDS:
            raise ImportKindError(f"unknown kind {kind!r}, expected one of: {', '.join(IMPORT_KINDS)}")
        self.kind = kind
        self.records = records
        self.spec = _with_config_defaults(config, kind, config.mapping(kind))
        self.steps = RecordSteps(kind, self.spec, _context_check(config, kind))

    def import_file(self, path: Path, *, name: str | None = None,
                    on_progress: Callable[[int], None] | None = None, workers: int | None = None) -> ImportReport:
        """``workers``: processes that read and map (default: one per core for big files, none
        for small ones; 0 keeps everything in this process)."""
        started = time.perf_counter()
        name = name or path.name
        report = ImportReport(file=name, kind=self.kind)
        try:
            report.format = format_of(path, self.spec)
            if workers is None:
                workers = import_workers.default_workers(path.stat().st_size)
            self._import_chunks(import_workers.chunks(path, report.format, self.steps, workers), report, on_progress)
        except ReaderError as exc:
            report.reject(Rejection(name, "file", str(exc)))
        except OSError as exc:
            report.reject(Rejection(name, "file", f"cannot read: {exc.strerror or exc}"))
        report.seconds = time.perf_counter() - started
        return report

    def _import_chunks(self, chunks, report: ImportReport, on_progress) -> None:
        """Write the prepared rows in file order, in batches of :data:`BATCH_SIZE`."""
        batch: list[Row] = []
        name = report.file
        position = 0
        for chunk in chunks:
            for location, errors in chunk.rejections:
                report.reject(*(Rejection(name, location, reason, field, source) for reason, field, source in errors))
            batch.extend(chunk.rows)
            position = chunk.position
            while len(batch) >= BATCH_SIZE:
                report.count(self.records.write(self.kind, batch[:BATCH_SIZE])[0])
                del batch[:BATCH_SIZE]
                if on_progress:
                    on_progress(position)
            if chunk.error:
                report.reject(Rejection(name, "file", chunk.error))
        if batch:
            report.count(self.records.write(self.kind, batch)[0])
        if on_progress:
            on_progress(position)


def _with_config_defaults(config: Config, kind: str, spec: MappingSpec) -> MappingSpec:
    """Prices without a currency are in the catalog's default currency."""
    if kind == "prices" and "currency" not in spec.defaults:
        return spec.model_copy(update={"defaults": {"currency": config.catalog.default_currency, **spec.defaults}})
    return spec


def _context_check(config: Config, kind: str) -> "KnownWarehouses | None":
    """Checks that need the config, not just the record: stock only for known warehouses."""
    if kind != "stock" or not config.catalog.warehouses:
        return None
    spec = config.mapping("stock").fields.get("warehouse")
    source = spec if isinstance(spec, str) else (spec.source if spec is not None else None)
    return KnownWarehouses(frozenset(w.code for w in config.catalog.warehouses), source)


@dataclass(frozen=True)
class KnownWarehouses:
    """Rejects stock for a warehouse the config does not list."""

    codes: frozenset[str]
    source: str | None

    def __call__(self, record: Record) -> FieldError | None:
        if record.warehouse not in self.codes:
            listed = ", ".join(sorted(self.codes))
            return FieldError("warehouse", self.source, f"unknown warehouse {record.warehouse!r}, expected one of: {listed}")
        return None
