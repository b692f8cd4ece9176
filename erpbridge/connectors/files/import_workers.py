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
- CSV, JSON and XML cannot be cut safely (quoted line breaks, nesting), so one worker reads
  the file from start to end and maps it while this process writes.

At most a few chunks are in flight, so memory stays flat whatever the file size. The report,
the rejections (file order), the batches and their transactions are those of the in-process
path; only the speed differs.

Caveat: as with any ``multiprocessing`` start method but ``fork``, the workers import the
caller's main module, so a script that imports big files itself needs the usual
``if __name__ == "__main__":`` guard (the ``erpbridge`` command has it). ``workers=0`` turns
the workers off.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import queue as queues
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from erpbridge.connectors.files.readers import ReaderError, Unreadable, open_binary, read_jsonl_lines, read_records
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
    #: Bytes of the file read when the chunk ends (for progress).
    position: int = 0
    #: The file cannot be read on from here (the in-process path's ReaderError/OSError).
    error: str | None = None

    def add(self, location: str, raw, steps) -> None:
        if isinstance(raw, Unreadable):
            self.rejections.append((location, ((raw.reason, None, None),)))
            return
        row = steps.run(raw)
        if type(row) is Row:
            self.rows.append(tuple(row))  # a plain tuple unpickles faster; the store takes both
        else:
            self.rejections.append((location, tuple((e.reason, e.field, e.source) for e in row)))


def default_workers(size: int) -> int:
    """No workers for a small file or a single core; else one per core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if size >= PARALLEL_MIN_BYTES and cores > 1 else 0


def chunks(path: Path, fmt: FileFormat, steps, workers: int) -> Iterator[Chunk]:
    """The file's prepared rows and rejections in file order: read here with no workers, else
    by worker processes."""
    if not workers:
        return read_chunks(path, fmt, steps)
    if fmt == "jsonl":
        return _jsonl_chunks(path, steps, workers)
    return _streamed_chunks(path, fmt, steps)


def read_chunks(path: Path, fmt: FileFormat, steps) -> Iterator[Chunk]:
    """Read and map the file in this process (what the reader process runs for a big file)."""
    chunk = Chunk()
    try:
        with open_binary(path) as stream:
            for location, raw in read_records(stream, fmt, steps.spec):
                chunk.add(location, raw, steps)
                if len(chunk.rows) + len(chunk.rejections) >= CHUNK_RECORDS:
                    chunk.position = stream.tell()
                    yield chunk
                    chunk = Chunk()
            chunk.position = stream.tell()
    except ReaderError as exc:
        chunk.error = str(exc)
    except OSError as exc:
        chunk.error = f"cannot read: {exc.strerror or exc}"
    yield chunk


def _context():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "erpbridge.connectors.files.importer"])
    return context


# -- JSON Lines: byte ranges over a pool --------------------------------------------------------

_steps = None


def _init_worker(steps) -> None:
    global _steps
    _steps = steps


def _read_range(path: str, start: int, end: int) -> tuple[Chunk, int]:
    """One byte range (whole lines); locations are ``line N`` counted from the range's start."""
    with open(path, "rb") as stream:
        stream.seek(start)
        data = stream.read(end - start)
    chunk = Chunk(position=end)
    for number, raw in read_jsonl_lines(io.BytesIO(data)):  # lines as the in-process reader sees them
        chunk.add(number, raw, _steps)
    return chunk, data.count(b"\n")


def _ranges(path: Path) -> Iterator[tuple[int, int]]:
    with open(path, "rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        start = 0
        while start < size:
            stream.seek(min(start + CHUNK_BYTES, size))
            stream.readline()  # on to the end of the line the cut fell into
            end = stream.tell()
            yield start, end
            start = end


def _jsonl_chunks(path: Path, steps, workers: int) -> Iterator[Chunk]:
    with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_init_worker, initargs=(steps,)) as pool:
        pending: list[Future] = []
        ranges = _ranges(path)
        line = 1
        try:
            while True:
                while len(pending) < workers * IN_FLIGHT:
                    byte_range = next(ranges, None)
                    if byte_range is None:
                        break
                    pending.append(pool.submit(_read_range, str(path), *byte_range))
                if not pending:
                    return
                chunk, lines = pending.pop(0).result()
                chunk.rejections = [(f"line {line + number - 1}", reasons) for number, reasons in chunk.rejections]
                line += lines
                yield chunk
        finally:
            for future in pending:
                future.cancel()


# -- other formats: one reader process ----------------------------------------------------------

def _produce(path: str, fmt: FileFormat, steps, out) -> None:
    for chunk in read_chunks(Path(path), fmt, steps):
        out.put(chunk)
    out.put(None)


def _streamed_chunks(path: Path, fmt: FileFormat, steps) -> Iterator[Chunk]:
    context = _context()
    out = context.Queue(maxsize=IN_FLIGHT * 2)
    reader = context.Process(target=_produce, args=(str(path), fmt, steps, out), daemon=True)
    reader.start()
    try:
        while True:
            try:
                chunk = out.get(timeout=1)
            except queues.Empty:
                if not reader.is_alive():
                    raise RuntimeError(f"the process reading {path.name} ended with exit code {reader.exitcode}") from None
                continue
            if chunk is None:
                return
            yield chunk
    finally:
        if reader.is_alive():
            reader.kill()
        reader.join()
