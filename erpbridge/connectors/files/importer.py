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

import time
from pathlib import Path
from typing import Callable

from erpbridge.config import Config
from erpbridge.connectors.files import import_workers
from erpbridge.connectors.files.readers import ReaderError, format_of, parse_jsonl_line
from erpbridge.ingest.report import ImportReport, Rejection
from erpbridge.ingest.rules import check_for, with_config_defaults
from erpbridge.ingest.steps import RecordSteps
from erpbridge.input_files import InputFile, OwnFiles, RefusedInput, check_input, shown_name
from erpbridge.records import IMPORT_KINDS
from erpbridge.store.records import RecordStore, Row


#: Rows per write transaction. Bigger batches write each touched index page once per batch
#: instead of once per 5,000 rows (measured: 47,600 -> 60,000 products/s on 1M together with
#: the bulk connection's pragmas); a batch holds SQLite's write lock for about 0.3 s.
BATCH_SIZE = 20000
#: Seconds rows wait for a full batch (a re-import that changes few records writes them as it
#: goes, while the rest of the file is still read, not all at the end).
MAX_WAIT = 1.0
class ImportKindError(ValueError):
    pass


class Importer:
    """Imports files of one record kind, as the config maps and checks them.

    Files of :data:`~erpbridge.connectors.files.import_workers.PARALLEL_MIN_BYTES` and more are
    read, mapped and hashed in worker processes while this process writes (see
    :mod:`~erpbridge.connectors.files.import_workers`); smaller ones in this process, with no
    start-up cost. Both give the same report, rejections and batches.
    """

    def __init__(self, config: Config, records: RecordStore, kind: str, system: str | None = None):
        """``system``: the files system whose export it is (its own ``mappings:`` win)."""
        if kind not in IMPORT_KINDS:
            raise ImportKindError(f"unknown kind {kind!r}, expected one of: {', '.join(IMPORT_KINDS)}")
        self.kind = kind
        self.records = records
        spec = config.mapping(kind, system)
        self.spec = with_config_defaults(config, kind, spec)
        self.steps = RecordSteps(kind, self.spec, check_for(config, kind, spec))
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


