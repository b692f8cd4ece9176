"""The importer's rows in chunks: read and mapped in this process for a small file; for a big
one on every core, where worker processes read, map, check and hash and the importing process
only writes.

Mapping and validating a record costs several times what writing it costs, so one process
cannot keep up with the store. For a big file the importer starts worker processes (a
``forkserver``, so a process with threads, such as ``erpbridge run``, is never forked) that
hand back :class:`Chunk` s of prepared rows and rejections, in file order:

- JSON Lines is cut into byte ranges at line ends; each worker reads its own ranges, so the
  file is read once and nothing but results crosses between processes. Line numbers in
  rejections are counted per range and made absolute here.
- CSV, JSON and XML cannot be cut safely (quoted line breaks, nesting), so one reader
  process parses the file from start to end, and the workers map the records it read.

At most a few chunks are in flight, so memory stays flat whatever the file size. The report,
the rejections (file order), the batches and their transactions are those of the in-process
path; only the speed differs.

Every record's source hash is looked up in ``known``, the source hashes the store held when
the import began (:meth:`~erpbridge.store.records.RecordStore.source_hashes`, a sorted array
that worker processes map from a temporary file, so they share one copy and start at once).
A record found there is not mapped but handed to the writer as a skip (see
:mod:`~erpbridge.connectors.files.importer`); a JSON Lines line is then not even parsed,
since its hash is the hash of the line.

Caveat: as with any ``multiprocessing`` start method but ``fork``, the workers import the
caller's main module, so a script that imports big files itself needs the usual
``if __name__ == "__main__":`` guard (the ``erpbridge`` command has it). ``workers=0`` turns
the workers off.
"""

from __future__ import annotations

import array
import bisect
import gc
import itertools
import mmap
import multiprocessing
import os
import pickle
import queue as queues
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import forkserver
from typing import Callable, Iterable, Iterator, Sequence

from erpbridge.connectors.files.readers import (
    LongLine, ReaderError, Unreadable, capped_lines, is_blank, parse_jsonl_line, read_records,
)
from erpbridge.input_files import InputFile, RefusedInput
from erpbridge.mapping.spec import FileFormat
from erpbridge.store.records import Row

#: Below this size a file is imported in-process: starting workers would cost more than it saves.
PARALLEL_MIN_BYTES = 16 << 20
#: Bytes of JSON Lines per task; records per chunk for the other formats.
CHUNK_BYTES = 4 << 20
CHUNK_RECORDS = 5000
#: Chunks queued or being worked on, per worker: enough to keep every core busy.
IN_FLIGHT = 2

#: (reason, field, source) of one reason a record was rejected.
Reason = tuple[str, "str | None", "str | None"]


@dataclass(slots=True)
class Chunk:
    rows: list[tuple] = field(default_factory=list)  # Row's fields
    #: (location, reasons) of each rejected record, in file order.
    rejections: list[tuple[str, tuple[Reason, ...]]] = field(default_factory=list)
    #: The records skipped because their source hash was known, as three columns (cheap to
    #: hand between processes): their source hashes; where each goes among ``rows`` (the
    #: index of the row it comes before); how to find each again (the raw record, or the byte
    #: offset of its line in a JSON Lines file).
    skipped: array.array = field(default_factory=lambda: array.array("q"))
    skipped_at: array.array = field(default_factory=lambda: array.array("q"))
    skipped_refs: list = field(default_factory=list)
    #: Bytes of the file read when the chunk ends (for progress).
    position: int = 0
    #: The file cannot be read on from here (the in-process path's ReaderError/OSError).
    error: str | None = None


def default_workers(size: int) -> int:
    """No workers for a small file or a single core; else one per core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if size >= PARALLEL_MIN_BYTES and cores > 1 else 0


def start_server(workers: int) -> None:
    """Start the process that forks the workers, if there will be workers: it imports
    erpbridge (a second or so) while the caller reads the store's source hashes."""
    if workers:
        _context()
        forkserver.ensure_running()


def chunks(source: InputFile, fmt: FileFormat, steps, workers: int, known: array.array) -> Iterator[Chunk]:
    """The file's prepared rows, skips and rejections in file order: read here with no
    workers, else by worker processes (each opens the file itself, checked to be the same
    file: see :mod:`erpbridge.input_files`). ``known``: the source hashes the store holds, sorted."""
    if not workers:
        yield from read_chunks(source, fmt, steps, Known.of(known))
        return
    with _shared(known) as shared:
        if fmt == "jsonl":
            yield from _jsonl_chunks(source, steps, workers, shared)
        else:
            yield from _streamed_chunks(source, fmt, steps, workers, shared)


class Known:
    """Sorted source hashes, and where the hashes of each of 65,536 buckets (by their top 16
    bits) begin, so that a look-up bisects a few dozen hashes instead of a million."""

    BUCKETS = 1 << 16

    def __init__(self, starts: Sequence[int], hashes: Sequence[int]):
        self.starts, self.hashes = starts, hashes

    @classmethod
    def of(cls, hashes: Sequence[int]) -> "Known":
        if not hashes:
            return cls((), hashes)  # never looked into
        starts = array.array("q", (bisect.bisect_left(hashes, (bucket - cls.BUCKETS // 2) << 48)
                                   for bucket in range(cls.BUCKETS)))
        starts.append(len(hashes))
        return cls(starts, hashes)

    def __bool__(self) -> bool:
        return len(self.hashes) > 0

    def __contains__(self, source: int) -> bool:
        bucket = (source >> 48) + self.BUCKETS // 2
        end = self.starts[bucket + 1]
        at = bisect.bisect_left(self.hashes, source, self.starts[bucket], end)
        return at < end and self.hashes[at] == source


@contextmanager
def _shared(known: array.array) -> Iterator[str | None]:
    """``known`` with its bucket index in a temporary file for the workers to map (None when
    it is empty)."""
    if not known:
        yield None
        return
    with tempfile.NamedTemporaryFile(prefix="erpbridge-known-") as file:
        Known.of(known).starts.tofile(file)
        known.tofile(file)
        file.flush()
        yield file.name


def _mapped(shared: str | None) -> Known:
    """In a worker: what :func:`_shared` wrote, mapped, not copied."""
    if shared is None:
        return Known.of(())
    with open(shared, "rb") as file:
        both = memoryview(mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)).cast("q")
    return Known(both[: Known.BUCKETS + 1], both[Known.BUCKETS + 1 :])


def prepare_chunk(records: Iterable[tuple], steps, known: Known) -> Chunk:
    """A chunk from ``(location, raw record, ref, line)`` in file order: for JSON Lines the
    record is None and ``line`` the line it is still to be parsed from, for the other formats
    the record is read (a dict or an :class:`Unreadable`) and ``line`` None."""
    chunk = Chunk()
    rows, rejections = chunk.rows, chunk.rejections
    skipped, skipped_at, skipped_refs = chunk.skipped.append, chunk.skipped_at.append, chunk.skipped_refs.append
    source_hash, finish, skipping = steps.source_hash, steps.finish, bool(known)
    for location, raw, ref, line in records:
        if isinstance(raw, Unreadable):
            rejections.append((location, ((raw.reason, None, None),)))
            continue
        source = source_hash(raw if line is None else line)
        if skipping and source in known:
            skipped(source)
            skipped_at(len(rows))
            skipped_refs(ref)
            continue
        if raw is None:
            raw = parse_jsonl_line(line)
            if isinstance(raw, Unreadable):
                rejections.append((location, ((raw.reason, None, None),)))
                continue
        row = finish(raw, source)
        if type(row) is Row:
            rows.append(tuple(row))  # a plain tuple unpickles faster; the store takes both
        else:
            rejections.append((location, tuple((e.reason, e.field, e.source) for e in row)))
    return chunk


def read_chunks(source: InputFile, fmt: FileFormat, steps, known: Known) -> Iterator[Chunk]:
    """Read and map the file in this process."""
    for records, position, error in _raw_batches(source, fmt, steps.spec):
        chunk = prepare_chunk(records, steps, known)
        chunk.position, chunk.error = position, error
        yield chunk


def _raw_batches(source: InputFile, fmt: FileFormat, spec) -> Iterator[tuple[list[tuple], int, str | None]]:
    """``(records, position, error)``: the file's records :data:`CHUNK_RECORDS` at a time, as
    :func:`prepare_chunk` takes them, with the bytes read so far, or why the file cannot be
    read on after them (then the last)."""
    failure: list[str] = []
    try:
        stream = source.open()
    except RefusedInput as exc:
        yield [], 0, str(exc)
        return
    except OSError as exc:
        yield [], 0, f"cannot read: {exc.strerror or exc}"
        return
    with stream:
        records = _until_failure(_records(stream, fmt, spec), failure)
        while True:
            batch = list(itertools.islice(records, CHUNK_RECORDS))
            if failure:
                yield batch, 0, failure[0]
                return
            yield batch, stream.tell(), None
            if len(batch) < CHUNK_RECORDS:
                return


def _until_failure(records: Iterator[tuple], failure: list[str]) -> Iterator[tuple]:
    """The records until the file cannot be read on; then why, in ``failure``."""
    try:
        yield from records
    except ReaderError as exc:
        failure.append(str(exc))
    except OSError as exc:
        failure.append(f"cannot read: {exc.strerror or exc}")


def _records(stream, fmt: FileFormat, spec) -> Iterator[tuple]:
    """``(location, raw record, ref, line)`` as :func:`prepare_chunk` takes them."""
    if fmt == "jsonl":
        for number, raw, offset, line in _jsonl_records(capped_lines(stream, spec.max_record_bytes), 0,
                                                        spec.max_record_bytes):
            yield f"line {number}", raw, offset, line
    else:
        for location, raw in read_records(stream, fmt, spec):
            yield location, raw, raw, None


def _jsonl_records(lines: Iterable[bytes | LongLine], start: int, limit: int) -> Iterator[tuple]:
    """``(line number, None, byte offset, line)`` of the records of JSON Lines that begin at
    byte ``start`` of the file (a line too long to read: ``(line number, Unreadable, offset,
    None)``). One generator (it runs for every line of a big file), with the JSON Lines
    reader's rules for blank and long lines."""
    offset = start
    for number, line in enumerate(lines, start=1):
        if type(line) is LongLine:
            yield number, Unreadable(line.reason(limit)), offset, None
            offset += line.size
            continue
        at, offset = offset, offset + len(line)
        if not is_blank(line):
            yield number, None, at, line


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "erpbridge.connectors.files.importer"])
    return context


# -- worker processes ---------------------------------------------------------------------------

_worker: tuple = ()  # (steps, known) of this worker process


def _init_worker(steps, shared: str | None) -> None:
    global _worker
    _worker = (steps, _mapped(shared))
    _few_collections()


def _few_collections() -> None:
    """In a worker process: collect garbage rarely. A chunk is thousands of short-lived
    containers and no cycles; at the default threshold the collector ran several times per
    chunk and took as long as unpickling it (measured: 11.6 -> 4.1 µs per XML record)."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _pool(workers: int, steps, shared: str | None) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker, initargs=(steps, shared))


def _in_order(pool: ProcessPoolExecutor, task: Callable, arguments: Iterator[tuple], workers: int) -> Iterator:
    """``task(*a)`` for each of ``arguments`` on the pool, a few at a time, results in order."""
    pending: list[Future] = []
    try:
        while True:
            while len(pending) < workers * IN_FLIGHT:
                args = next(arguments, None)
                if args is None:
                    break
                pending.append(pool.submit(task, *args))
            if not pending:
                return
            yield pending.pop(0).result()
    finally:
        for future in pending:
            future.cancel()


# -- JSON Lines: byte ranges ------------------------------------------------------------------------

def _read_range(source: InputFile, start: int, end: int) -> tuple[Chunk, int]:
    """One byte range (whole lines); locations are line numbers counted from the range's start."""
    steps, known = _worker
    limit = steps.spec.max_record_bytes
    lines: list[bytes | LongLine] = []
    with source.open() as stream:
        stream.seek(start)
        size = end - start
        for line in capped_lines(stream, limit):  # lines as the in-process reader sees them
            lines.append(line)
            size -= line.size if type(line) is LongLine else len(line)
            if size <= 0:
                break
    chunk = prepare_chunk(_jsonl_records(lines, start, limit), steps, known)
    chunk.position = end
    return chunk, len(lines)


def _ranges(source: InputFile) -> Iterator[tuple[InputFile, int, int]]:
    with source.open() as stream:
        size = stream.seek(0, os.SEEK_END)
        start = 0
        while start < size:
            stream.seek(min(start + CHUNK_BYTES, size))
            # On to the end of the line the cut fell into, however long, a piece at a time.
            while (piece := stream.readline(1 << 20)) and not piece.endswith(b"\n"):
                pass
            end = stream.tell()
            yield source, start, end
            start = end


def _jsonl_chunks(source: InputFile, steps, workers: int, shared: str | None) -> Iterator[Chunk]:
    with _pool(workers, steps, shared) as pool:
        line = 1
        for chunk, lines in _in_order(pool, _read_range, _ranges(source), workers):
            chunk.rejections = [(f"line {line + number - 1}", reasons) for number, reasons in chunk.rejections]
            line += lines
            yield chunk


# -- other formats: one reader process, mapped on the pool ------------------------------------------

def _produce(source: InputFile, fmt: FileFormat, spec, out) -> None:
    """The reader process: the raw records in batches, each pickled once here (the importing
    process only passes the bytes on to a worker)."""
    _few_collections()
    for batch in _raw_batches(source, fmt, spec):
        out.put(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    out.put(None)


def _prepare_pickled(data: bytes) -> Chunk:
    records, position, error = pickle.loads(data)
    chunk = prepare_chunk(records, *_worker)
    chunk.position, chunk.error = position, error
    return chunk


def _streamed_chunks(source: InputFile, fmt: FileFormat, steps, workers: int, shared: str | None) -> Iterator[Chunk]:
    """XML, CSV and JSON cannot be cut safely (quoted line breaks, nesting), so one reader
    process parses the file from start to end while the workers map what it read."""
    context = _context()
    out = context.Queue(maxsize=workers * IN_FLIGHT)
    reader = context.Process(target=_produce, args=(source, fmt, steps.spec, out), daemon=True)
    reader.start()

    def batches() -> Iterator[tuple[bytes]]:
        while True:
            try:
                data = out.get(timeout=1)
            except queues.Empty:
                if not reader.is_alive():
                    raise RuntimeError(f"the process reading {source.path.name} ended with exit code "
                                       f"{reader.exitcode}") from None
                continue
            if data is None:
                return
            yield (data,)

    try:
        with _pool(workers, steps, shared) as pool:
            yield from _in_order(pool, _prepare_pickled, batches(), workers)
    finally:
        if reader.is_alive():
            reader.kill()
        reader.join()
