"""The watched inbox: ERP exports dropped into a folder are imported as they arrive.

A file is taken once it has stopped changing (``settle_time``), claimed by renaming it into
``processing/`` under a name that carries the claiming host and process (a rename is atomic, so
two erpbridge processes never import the same file), imported, and moved to ``done/`` or, if any record was rejected or the file could not be read,
to ``failed/``, with ``<name>.report.json`` beside it naming every rejected record. The file's
SHA-256 is recorded: the same content dropped again is not imported again.

Which kind a file holds follows from its name: ``mappings.<kind>.patterns`` (globs), by default
``<kind>*`` (``products-2026-11-23.csv``, ``stock.jsonl``...); the ERP's feedback files
(``order_status*``, ``shipments*``, ``invoices*``, ``credit_memos*``, ``documents*``) go to
:mod:`erpbridge.connectors.files.feedback`. Names starting with ``.`` or
ending in ``.tmp``/``.part`` are ignored, so an ERP can write under a temporary name and rename.

A file left in ``processing/`` by a process that died is imported again by the next pass on the
same host (deltas make that harmless). Caveat: a claim left by a host that never comes back
stays in ``processing/`` until someone moves it back; give each host its own inbox where you can.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

from sqlalchemy import insert, select

from erpbridge.bootstrap import App
from erpbridge.connectors.files.spec import FilesSystem
from erpbridge.connectors.files.feedback import feedback_kind, import_feedback_file
from erpbridge.connectors.files.importer import Importer
from erpbridge.ingest import ImportReport, Rejection, log_ingest
from erpbridge.records import IMPORT_KINDS
from erpbridge.store.tables import imported_files

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".tmp", ".part", ".report.json")


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
    name = name or _the_files_system(app)
    system = app.system(name)
    inbox = app.config.resolve(system.inbox)
    processing = inbox / "processing"
    for folder in (inbox, processing, inbox / "done", inbox / "failed"):
        folder.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    with _passes.setdefault(inbox, threading.Lock()):
        return _pass(app, name, system, inbox, processing, now)


def _the_files_system(app: App) -> str:
    names = [n for n, s in app.config.systems.items() if isinstance(s, FilesSystem)]
    if len(names) != 1:
        raise ValueError(f"name the files system whose inbox to process: {', '.join(names) or 'there is none'}")
    return names[0]


#: One pass per inbox at a time in this process (a flow and the connector's watch loop may meet).
_passes: dict[Path, threading.Lock] = {}


def _pass(app: App, name: str, system: FilesSystem, inbox: Path, processing: Path, now: float) -> list[ImportReport]:
    reports = [_process(app, name, inbox, path) for path in sorted(processing.iterdir()) if _abandoned(path)]
    for path in sorted(inbox.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(IGNORED_SUFFIXES):
            continue
        try:
            if now - path.stat().st_mtime < system.settle_time:
                continue  # still being written
            claimed = processing / f"{_CLAIMER}.{path.name}"
            path.rename(claimed)
        except FileNotFoundError:
            continue  # another process claimed it first
        reports.append(_process(app, name, inbox, claimed))
    return reports


#: ``<host>~<pid>``: who claimed a file in ``processing/``.
_CLAIMER = f"{socket.gethostname().replace('.', '_')}~{os.getpid()}"


def _abandoned(path: Path) -> bool:
    """A claimed file whose claiming process on this host is gone."""
    claimer, _, name = path.name.partition(".")
    host, _, pid = claimer.rpartition("~")
    if not path.is_file() or not name or host != _CLAIMER.rpartition("~")[0] or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True  # a pass of this process that failed half-way
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _process(app: App, system: str, inbox: Path, path: Path) -> ImportReport:
    name = path.name.partition(".")[2]
    kind = kind_of(app, name, system) or feedback_kind(name)
    digest = _sha256(path)
    previous = _imported(app, digest)
    if previous is not None:
        report = ImportReport(file=name, kind=kind or "unknown")
        report.rejections.append(Rejection(name, "file", f"same content as {previous.name}, imported "
                                           f"{previous.imported_at:%Y-%m-%d %H:%M} UTC; not imported again"))
        _finish(inbox, path, name, report, "done")
        return report
    if kind is None:
        report = ImportReport(file=name, kind="unknown")
        report.reject(Rejection(name, "file", "no record kind matches this file name; expected a name starting "
                                f"with one of: {', '.join(IMPORT_KINDS)} (or set mappings.<kind>.patterns), "
                                "or a feedback file (order_status, shipments, invoices, credit_memos, documents)"))
    elif kind in IMPORT_KINDS:
        log.info("importing %s as %s", name, kind)
        report = Importer(app.config, app.records, kind, system).import_file(path, name=name)
    else:
        log.info("reading %s as %s feedback", name, kind)
        report = import_feedback_file(app, path, name=name, system=system)
    outcome = "done" if report.ok else "failed"
    size = path.stat().st_size
    with app.engine.begin() as conn:
        conn.execute(insert(imported_files).values(
            sha256=digest, kind=report.kind, name=name, size=size,
            imported_at=dt.datetime.now(dt.timezone.utc), outcome=outcome, report=json.dumps(report.as_dict()),
        ))
    _finish(inbox, path, name, report, outcome)
    log_ingest(app, system, report, point=f"inbox.{report.kind}", flow=report.kind,
               request={"file": name, "sha256": digest, "size": size})
    log.info("%s", report.summary())
    return report


def _finish(inbox: Path, path: Path, name: str, report: ImportReport, outcome: str) -> None:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = inbox / outcome / f"{stamp}-{name}"
    shutil.move(str(path), target)
    target.with_name(target.name + ".report.json").write_text(json.dumps(report.as_dict(), indent=2), encoding="utf-8")


def _imported(app: App, digest: str):
    with app.engine.connect() as conn:
        return conn.execute(select(imported_files.c.name, imported_files.c.imported_at)
                            .where(imported_files.c.sha256 == digest)).first()


def _sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
