"""The watched inbox: ERP exports dropped into a folder are imported as they arrive.

A file is taken once it has stopped changing (``settle_time``), claimed by renaming it into
``processing/`` under a name that carries the claiming host and process and the attempt (a
rename is atomic, so two erpbridge processes never import the same file), imported, and moved
to ``done/`` or, if any record was rejected or the file could not be read, to ``failed/``, with
``<name>.report.json`` beside it naming every rejected record. The file's SHA-256 is recorded:
the same content dropped again is not imported again.

Which kind a file holds follows from its name: ``mappings.<kind>.patterns`` (globs), by default
``<kind>*`` (``products-2026-11-23.csv``, ``stock.jsonl``...); the ERP's feedback files
(``order_status*``, ``shipments*``, ``invoices*``, ``credit_memos*``, ``documents*``) go to
:mod:`erpbridge.connectors.files.feedback`. Names starting with ``.`` or ending in
``.tmp``/``.part`` are ignored, so an ERP can write under a temporary name and rename;
folders are left alone (documents may be kept in one).

Nothing in the inbox can stop it:

- only regular files are read: a symbolic link, a FIFO, a device or a socket is moved to
  ``failed/`` unread, with a report that names it, and so is a hardlink of one of the store's
  own files (see :mod:`erpbridge.input_files`);
- any error while one file is imported sends that file to ``failed/`` with the error in its
  report (and the traceback in the log, once); the next files go through;
- a claim whose process died is imported again by the next pass on the same host (deltas make
  that harmless), :data:`MAX_ATTEMPTS` times in all: a file whose import was under way that
  many times when its process died goes to ``failed/`` instead, so a file that kills the
  process cannot do it at every start;
- file names are printed escaped (:func:`~erpbridge.input_files.shown_name`), and shortened
  to :data:`MAX_NAME_BYTES` when moved, so that any name can be claimed and reported.

Each pass that handled files records what failed in the store, for ``/readyz`` and
``erpbridge status`` (see :mod:`~erpbridge.connectors.files.inbox_passes`).

Caveat: a claim left by a host that never comes back stays in ``processing/`` until someone
moves it back; give each host its own inbox where you can.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import logging
import os
import socket
import stat
import threading
import time
from pathlib import Path

from sqlalchemy import insert, select

from erpbridge.bootstrap import App
from erpbridge.connectors.files.feedback import feedback_kind, import_feedback_file
from erpbridge.connectors.files.importer import Importer
from erpbridge.connectors.files.inbox_passes import record_pass
from erpbridge.connectors.files.spec import FilesSystem
from erpbridge.ingest import ImportReport, Rejection, log_ingest
from erpbridge.ingest.report import MAX_REASON
from erpbridge.input_files import InputFile, OwnFiles, RefusedInput, check_input, shown_name
from erpbridge.private_files import private_dir, write_private
from erpbridge.records import IMPORT_KINDS
from erpbridge.store.tables import imported_files

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".tmp", ".part", ".report.json")
#: Imports of one file begun by processes that died before it was finished, before the file
#: is given up on (the first, and one more after the process is restarted).
MAX_ATTEMPTS = 2
#: The longest file name kept whole (bytes); a longer one is shortened in the middle, so that
#: with the claim's and the time stamp's prefixes it stays within the file system's 255.
MAX_NAME_BYTES = 150


def kind_of(app: App, name: str, system: str | None = None) -> str | None:
    """The record kind a file name stands for (in ``system``'s inbox: its own mappings' patterns win)."""
    # product_groups before products: a name matching both globs belongs to the narrower kind.
    for kind in sorted(IMPORT_KINDS, key=len, reverse=True):
        patterns = app.config.mapping(kind, system).patterns or [f"{kind}*"]
        if any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns):
            return kind
    return None


def process_inbox(app: App, name: str | None = None, *, now: float | None = None) -> list[ImportReport]:
    """Import every settled file in the inbox of files system ``name`` (default: the only one)
    once; returns a report per file."""
    system_name = name or _the_files_system(app)
    system = app.system(system_name)
    inbox = app.config.resolve(system.inbox)
    for folder in (inbox, inbox / "processing", inbox / "done", inbox / "failed"):
        private_dir(folder)
    now = time.time() if now is None else now
    with _passes.setdefault(inbox, threading.Lock()):
        reports = _pass(app, system_name, system, inbox, now)
    if reports:
        record_pass(app.engine, system_name, reports)
    return reports


def _the_files_system(app: App) -> str:
    names = [n for n, s in app.config.systems.items() if isinstance(s, FilesSystem)]
    if len(names) != 1:
        raise ValueError(f"name the files system whose inbox to process: {', '.join(names) or 'there is none'}")
    return names[0]


#: One pass per inbox at a time in this process (a flow and the connector's watch loop may meet).
_passes: dict[Path, threading.Lock] = {}


def _pass(app: App, name: str, system: FilesSystem, inbox: Path, now: float) -> list[ImportReport]:
    own = OwnFiles.of(app.config, app.engine)
    processing = inbox / "processing"
    reports = []
    for path in sorted(processing.iterdir()):
        claim = _abandoned(path)
        if claim is None:
            continue
        claimed_name, attempts = claim
        if attempts >= MAX_ATTEMPTS:
            reports.append(_give_up(app, name, inbox, path, claimed_name, attempts))
            continue
        claimed = processing / _claim_name(claimed_name, attempts + 1)
        if _claimed(path, claimed):
            reports.append(_process(app, name, inbox, claimed, own))
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or path.name.endswith(IGNORED_SUFFIXES):
            continue
        try:
            st = os.lstat(path)  # a link is judged as itself, never by what it points to
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode) or now - st.st_mtime < system.settle_time:
            continue  # a folder (processing/, done/...), or a file still being written
        claimed = processing / _claim_name(shortened(path.name), 1)
        if _claimed(path, claimed):
            reports.append(_process(app, name, inbox, claimed, own))
    return reports


#: ``<host>~<pid>``: who claims a file in ``processing/`` (``<host>~<pid>~<attempt>.<name>``).
_CLAIMER = f"{socket.gethostname().replace('.', '_')}~{os.getpid()}"


def _claim_name(name: str, attempt: int) -> str:
    return f"{_CLAIMER}~{attempt}.{name}"


def _claimed(path: Path, claimed: Path) -> bool:
    """Claim ``path`` by renaming it to ``claimed``: False if another process was first, or it
    cannot be moved (logged once per name)."""
    try:
        path.rename(claimed)
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        if path not in _unmovable:
            _unmovable.add(path)
            log.error("cannot claim %s in the inbox: %s", shown_name(path.name), exc.strerror or exc)
        return False


_unmovable: set[Path] = set()


def _abandoned(path: Path) -> tuple[str, int] | None:
    """``(name, attempts)`` of a claimed file whose claiming process on this host is gone (a
    claim without an attempt, from before attempts were counted, is a first one)."""
    claimer, _, name = path.name.partition(".")
    host, *numbers = claimer.split("~")
    if not name or host != _CLAIMER.partition("~")[0] or len(numbers) not in (1, 2) or not all(
            n.isdigit() for n in numbers):
        return None
    pid, attempts = int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else 1
    if pid != os.getpid():  # a pass of this process that failed half-way left its own claim
        try:
            os.kill(pid, 0)
            return None
        except ProcessLookupError:
            pass
        except PermissionError:
            return None
    return name, attempts


def shortened(name: str) -> str:
    """``name`` within :data:`MAX_NAME_BYTES`: its start (which tells the kind) and its end
    (which tells the format) kept, the middle replaced by ``~``."""
    raw = os.fsencode(name)
    if len(raw) <= MAX_NAME_BYTES:
        return name
    return os.fsdecode(raw[: MAX_NAME_BYTES - 41] + b"~" + raw[-40:])


def _process(app: App, system: str, inbox: Path, path: Path, own: OwnFiles) -> ImportReport:
    name = path.name.partition(".")[2]
    shown = shown_name(name)
    kind = kind_of(app, name, system) or feedback_kind(name)
    try:
        report, digest = _import(app, system, path, shown, kind, own)
    except Exception as exc:  # one file's failure must not stop the inbox: it goes to failed/
        log.exception("importing %s failed", shown)
        report, digest = ImportReport(file=shown, kind=kind or "unknown"), None
        report.reject(Rejection(shown, "file", f"the import failed: {type(exc).__name__}: {exc}"[:MAX_REASON]))
    outcome = "done" if report.ok else "failed"
    size = os.lstat(path).st_size
    if digest is not None:
        with app.engine.begin() as conn:
            conn.execute(insert(imported_files).values(
                sha256=digest, kind=report.kind, name=shown, size=size,
                imported_at=dt.datetime.now(dt.timezone.utc), outcome=outcome, report=json.dumps(report.as_dict()),
            ))
    _finish(inbox, path, name, report, outcome)
    log_ingest(app, system, report, point=f"inbox.{report.kind}", flow=report.kind,
               request={"file": shown, "sha256": digest, "size": size})
    log.info("%s", report.summary())
    return report


def _import(app: App, system: str, path: Path, shown: str, kind: str | None,
            own: OwnFiles) -> tuple[ImportReport, str | None]:
    """The report of one claimed file, and its SHA-256 when it was read (None: not read)."""
    try:
        source = check_input(path, own, claimed=True)
        digest = _sha256(source)
    except RefusedInput as exc:
        report = ImportReport(file=shown, kind=kind or "unknown")
        report.reject(Rejection(shown, "file", str(exc)))
        return report, None
    previous = _imported(app, digest)
    if previous is not None:
        report = ImportReport(file=shown, kind=kind or "unknown")
        report.rejections.append(Rejection(shown, "file", f"same content as {previous.name}, imported "
                                           f"{previous.imported_at:%Y-%m-%d %H:%M} UTC; not imported again"))
        return report, None
    if kind is None:
        report = ImportReport(file=shown, kind="unknown")
        report.reject(Rejection(shown, "file", "no record kind matches this file name; expected a name starting "
                                f"with one of: {', '.join(IMPORT_KINDS)} (or set mappings.<kind>.patterns), "
                                "or a feedback file (order_status, shipments, invoices, credit_memos, documents)"))
    elif kind in IMPORT_KINDS:
        log.info("importing %s as %s", shown, kind)
        report = Importer(app.config, app.records, kind, system).import_file(source, name=shown)
    else:
        log.info("reading %s as %s feedback", shown, kind)
        report = import_feedback_file(app, source, name=shown, system=system)
    return report, digest


def _give_up(app: App, system: str, inbox: Path, path: Path, name: str, attempts: int) -> ImportReport:
    shown = shown_name(name)
    report = ImportReport(file=shown, kind=kind_of(app, name, system) or feedback_kind(name) or "unknown")
    report.reject(Rejection(shown, "file", f"its import was under way when the process importing it died, {attempts} "
                                           "times (killed, or crashed on this file): not tried again; move it back "
                                           "into the inbox to try once more"))
    log.error("%s", report.rejections[0])
    _finish(inbox, path, name, report, "failed")
    return report


def _finish(inbox: Path, path: Path, name: str, report: ImportReport, outcome: str) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = inbox / outcome / f"{stamp}-{shortened(name)}"
    # The report first: whoever finds the file in done/ or failed/ finds its report beside it.
    write_private(target.with_name(target.name + ".report.json"), json.dumps(report.as_dict(), indent=2).encode())
    path.rename(target)  # a link or a FIFO is moved as itself, unread


def _imported(app: App, digest: str):
    with app.engine.connect() as conn:
        return conn.execute(select(imported_files.c.name, imported_files.c.imported_at)
                            .where(imported_files.c.sha256 == digest)).first()


def _sha256(source: InputFile) -> str:
    with source.open() as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
