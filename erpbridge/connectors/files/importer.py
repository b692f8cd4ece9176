"""Importing one ERP export file into the store: read -> map -> check -> write deltas.

Records are written in batches, each in its own transaction, so a bad record never costs the
good ones around it and a file that breaks off keeps what came before the break. A rejected
record leaves what the store holds for it untouched. The report counts what was new,
changed, unchanged and rejected, and names every rejected record by file, location, field and
reason.

Re-importing an export that has mostly not changed is the common case (a nightly full
export), so unchanged records are recognised before they cost anything: each stored row keeps
the *source hash* of the raw record it came from (XXH3, 64 bits, of the JSON Lines line or of
the record as read, seeded with the mapping, the checks, the record schema and erpbridge's
version, so a changed config maps everything again). A record whose source hash the store
held when the import began is skipped unread. The writer checks each skip once more: if a row
before it in the file replaced the stored row that carries its hash (the same key twice in one
file), the record is mapped after all, so the store ends exactly as a record-by-record import
would leave it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import orjson
import xxhash

import erpbridge
from erpbridge.config import Config
from erpbridge.mapping.mapper import FieldError, Mapper
from erpbridge.mapping.spec import MappingSpec
from erpbridge.records import IMPORT_KINDS, RECORD_KINDS, Record
from erpbridge.store.records import RecordStore, Row, WriteResult, prepare
from erpbridge.connectors.files import import_workers
from erpbridge.connectors.files.readers import ReaderError, format_of, parse_jsonl_line
from erpbridge.input_files import InputFile, OwnFiles, RefusedInput, check_input, shown_name

#: Rows per write transaction. Bigger batches write each touched index page once per batch
#: instead of once per 5,000 rows (measured: 47,600 -> 60,000 products/s on 1M together with
#: the bulk connection's pragmas); a batch holds SQLite's write lock for about 0.3 s.
BATCH_SIZE = 20000
#: Seconds rows wait for a full batch (a re-import that changes few records writes them as it
#: goes, while the rest of the file is still read, not all at the end).
MAX_WAIT = 1.0
#: Rejections kept in the report in full (all are counted); a file of a million bad rows must
#: not fill memory with messages.
MAX_LISTED_REJECTIONS = 1000
#: Characters of a reason or a quoted value kept in a rejection (a reason quotes the value it
#: refused, which may be a whole record's worth).
MAX_REASON = 500


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
        """One rejected record, with every reason found for it (each cut to :data:`MAX_REASON`)."""
        self.rejected += 1
        room = MAX_LISTED_REJECTIONS - len(self.rejections)
        self.rejections.extend(_cut(r) for r in reasons[:room])

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


def _cut(rejection: Rejection) -> Rejection:
    long = [f for f in ("reason", "source") if len(getattr(rejection, f) or "") > MAX_REASON]
    if not long:
        return rejection
    return dataclasses.replace(rejection, **{f: getattr(rejection, f)[:MAX_REASON] + "..." for f in long})


class ImportKindError(ValueError):
    pass


class RecordSteps:
    """What happens to each raw record between the reader and the store: hash, map, check
    against the config, prepare the stored row. Picklable (the mapper is rebuilt from the
    spec), so worker processes run exactly the steps the in-process path runs."""

    def __init__(self, kind: str, spec: MappingSpec, check: "KnownWarehouses | None"):
        self.kind, self.spec, self.check = kind, spec, check
        record = RECORD_KINDS[kind]
        self._map = Mapper(record, spec).map
        self._seed = int.from_bytes(hashlib.blake2b(orjson.dumps(
            [erpbridge.__version__, kind, spec.model_dump(mode="json"), repr(check), record.model_json_schema()],
            option=orjson.OPT_SORT_KEYS), digest_size=8).digest())

    def __getstate__(self) -> tuple:
        return self.kind, self.spec, self.check

    def __setstate__(self, state: tuple) -> None:
        self.__init__(*state)

    def run(self, raw: dict, line: bytes | None = None) -> Row | list[FieldError]:
        """The stored row, or every reason the record is rejected (``line``: the JSON Lines
        line it was parsed from)."""
        return self.finish(raw, self.source_hash(raw if line is None else line))

    def source_hash(self, source: dict | bytes) -> int:
        """The hash of a JSON Lines line, or of a record as read from another format, as a
        signed 64-bit integer (what the store's BIGINT holds)."""
        data = source if isinstance(source, bytes) else _serialized(source)
        return xxhash.xxh3_64_intdigest(data, self._seed) - (1 << 63)

    def finish(self, raw: dict, source: int) -> Row | list[FieldError]:
        """Map, validate and check the record: its row, or every reason it is rejected."""
        record, errors = self._map(raw)
        if record is not None and self.check is not None:
            error = self.check(record)
            errors = [error] if error else errors
        return errors if errors else prepare(record, source)


def _serialized(record: dict) -> bytes:
    """A record as read, as bytes to hash: orjson's JSON, or the standard library's for what
    orjson refuses (an integer beyond 64 bits, which JSON files may hold)."""
    try:
        return orjson.dumps(record, default=_tagged)
    except orjson.JSONEncodeError:
        return json.dumps(record, default=_tagged, ensure_ascii=False, separators=(",", ":")).encode()


def _tagged(value: object) -> object:
    """Values orjson does not write itself (decimals from JSON files), kept apart from strings."""
    return ["$" + type(value).__name__, str(value)]


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
        self.own = OwnFiles.of(config, records.engine)

    def import_file(self, path: Path | InputFile, *, name: str | None = None,
                    on_progress: Callable[[int], None] | None = None, workers: int | None = None) -> ImportReport:
        """Import a file named by the caller (checked here: see :mod:`erpbridge.input_files`), or
        one checked already (an inbox claim). ``name``: the file's name as reports show it.
        ``workers``: processes that read and map (default: one per core for big files, none
        for small ones; 0 keeps everything in this process)."""
        started = time.perf_counter()
        path_of = path.path if isinstance(path, InputFile) else path
        name = name or shown_name(path_of.name)
        report = ImportReport(file=name, kind=self.kind)
        try:
            file = path if isinstance(path, InputFile) else check_input(path.resolve(), self.own)
            report.format = format_of(path_of, self.spec)
            if workers is None:
                workers = import_workers.default_workers(file.size)
            import_workers.start_server(workers)  # it starts while the store's hashes are read
            known = self.records.source_hashes(self.kind)
            chunks = import_workers.chunks(file, report.format, self.steps, workers, known)
            self._import_chunks(file, chunks, bool(known), report, on_progress)
        except (ReaderError, RefusedInput) as exc:
            report.reject(Rejection(name, "file", str(exc)))
        except OSError as exc:
            report.reject(Rejection(name, "file", f"cannot read: {exc.strerror or exc}"))
        report.seconds = time.perf_counter() - started
        return report

    def _import_chunks(self, file: InputFile, chunks, skipping: bool, report: ImportReport, on_progress) -> None:
        """Write the prepared rows in file order, in batches of :data:`BATCH_SIZE`, and count
        the skipped records unchanged, unless a row before them replaced their stored row.

        ``replaced`` holds the stored source hashes of every key that has a row in a chunk
        so far (read before that chunk's rows are written; a whole chunk at a time, so it
        may also hold a few from rows after a skip, which only costs mapping that skip)."""
        name = report.file
        position = 0
        replaced: set[int] = set()
        batch: list = []
        written_at = time.monotonic()
        with self.records.bulk() as write:
            for chunk in chunks:
                for location, errors in chunk.rejections:
                    report.reject(*(Rejection(name, location, reason, field, source) for reason, field, source in errors))
                if skipping and chunk.rows:
                    replaced.update(self.records.stored_sources(self.kind, [row[0] for row in chunk.rows]).values())
                if replaced.isdisjoint(chunk.skipped):
                    report.unchanged += len(chunk.skipped)
                    batch.extend(chunk.rows)
                else:
                    self._skips_and_rows(file, chunk, replaced, batch, report)
                position = chunk.position
                while len(batch) >= BATCH_SIZE or (batch and time.monotonic() - written_at > MAX_WAIT):
                    report.count(write(self.kind, batch[:BATCH_SIZE])[0])
                    del batch[:BATCH_SIZE]
                    written_at = time.monotonic()
                    if on_progress:
                        on_progress(position)
                if chunk.error:
                    report.reject(Rejection(name, "file", chunk.error))
            if batch:
                report.count(write(self.kind, batch)[0])
        if on_progress:
            on_progress(position)

    def _skips_and_rows(self, file: InputFile, chunk, replaced: set[int], batch: list, report: ImportReport) -> None:
        """The chunk's rows and skips in file order, the skips whose stored row was replaced mapped."""
        start = 0
        for source, index, ref in zip(chunk.skipped, chunk.skipped_at, chunk.skipped_refs):
            batch.extend(chunk.rows[start:index])
            start = index
            if source in replaced:
                row = self.steps.run(*_raw_at(file, ref))
                # Its source hash was stored, so it was mapped under the same config, schema
                # and version (all in the hash's key): it maps again.
                assert type(row) is Row, row
                batch.append(row)
            else:
                report.unchanged += 1
        batch.extend(chunk.rows[start:])


def _raw_at(file: InputFile, ref: dict | int) -> tuple[dict, bytes | None]:
    """A skipped record again, and its line: kept whole, or the JSON Lines line at a byte offset."""
    if isinstance(ref, dict):
        return ref, None
    with file.open(buffering=1 << 13) as stream:
        stream.seek(ref)
        line = stream.readline()  # it was read and hashed before: it is within max_record_bytes
    return parse_jsonl_line(line), line


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
