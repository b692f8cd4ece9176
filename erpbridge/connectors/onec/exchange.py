"""The state of 1C's exchange with erpbridge: sessions, uploaded files, imports, the orders queue.

* **Sessions.** ``checkauth`` with the right Basic credentials opens one: a random cookie value,
  kept in the store only as its SHA-256 (``onec_sessions``), so every API process knows it.
* **Files.** ``file`` appends each chunk to the session's copy of that file name (1C splits a
  file bigger than ``file_limit`` into chunks with the same name), under ``exchange_dir``, each
  session in a folder of its own (0700, files 0600). A name is a relative path without ``..``;
  a file may not grow past ``max_file_bytes``. A zip is unpacked at the first ``import`` of the
  session (1C sends every file before it imports any): each entry's name is checked the same
  way, links are refused, and entries are read with the size cap counted on what comes out, not
  on what the archive claims; a truncated or corrupt archive is refused by name.
* **Imports.** The first ``import`` of a file starts it in a thread (``onec_imports`` row
  ``running``, its heartbeat renewed while records go in); each call waits up to
  ``import_slice`` seconds and answers ``progress`` while it runs, then ``success`` or
  ``failure``. A repeat call in another process reads the same row; an import whose heartbeat
  stopped (its process died) is started again by the next call: ingest writes deltas, so
  importing a file again changes nothing that went in already.
* **Orders.** The outbox delivers each order (and its cancellation) into ``onec_orders``;
  ``sale&query`` answers those whose last revision 1C has not confirmed and notes what it sent
  to which session; ``sale&success`` of that session marks exactly those revisions exported. A
  query that never sees its success is answered again by the next query: at least once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import shutil
import stat
import threading
import time
import zipfile
from pathlib import Path, PurePosixPath

import orjson
from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from erpbridge.connectors.onec.spec import OneCSystem
from erpbridge.connectors.onec.tables import onec_imports, onec_orders, onec_sessions
from erpbridge.private_files import FILE_MODE, private_dir
from erpbridge.store.db import write_transaction

logger = logging.getLogger(__name__)

COOKIE = "erpbridge_1c"
#: An import whose heartbeat is older than this has lost its process and is started again.
STALE_SECONDS = 30
HEARTBEAT_SECONDS = 2
#: Sessions (and their files) older than this are removed at the next checkauth.
SESSION_DAYS = 2


class Refusal(Exception):
    """An exchange step refused: answered ``failure\\n<reason>``."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def safe_name(name: str | None) -> PurePosixPath:
    """A file name 1C sends (``import.xml``, ``import_files/ab/cd.jpg``), or a Refusal: relative,
    without ``..``, drive letters or control characters."""
    if not name:
        raise Refusal("filename is missing")
    path = PurePosixPath(name.replace("\\", "/"))
    bad = (path.is_absolute() or not path.parts or any(p in ("..", ".") for p in path.parts)
           or ":" in name or any(ord(c) < 32 or ord(c) == 127 for c in name) or len(name) > 255)
    if bad:
        raise Refusal(f"{name!r}: not a plain relative file name (no '..', absolute paths or drives)")
    return path


class Exchange:
    def __init__(self, app, name: str, config: OneCSystem):
        self.app, self.name, self.config = app, name, config
        self.root = app.config.resolve(config.exchange_dir) / name
        self._threads: dict[tuple[str, str], threading.Thread] = {}
        self._lock = threading.Lock()

    # -- sessions -------------------------------------------------------------------------------

    def check_credentials(self, user: str, password: str) -> bool:
        ok_user = hmac.compare_digest(user.encode(), self.config.username.encode())
        ok_password = hmac.compare_digest(password.encode(), self.config.password.get_secret_value().encode())
        return ok_user and ok_password

    def open_session(self) -> str:
        token = secrets.token_urlsafe(32)
        old = _now() - dt.timedelta(days=SESSION_DAYS)
        with write_transaction(self.app.engine) as conn:
            stale = conn.execute(select(onec_sessions.c.token_hash).where(
                onec_sessions.c.system == self.name, onec_sessions.c.created_at < old)).scalars().all()
            if stale:
                conn.execute(delete(onec_sessions).where(onec_sessions.c.token_hash.in_(stale)))
                conn.execute(delete(onec_imports).where(onec_imports.c.session.in_(stale)))
            conn.execute(insert(onec_sessions).values(token_hash=_hash(token), system=self.name, created_at=_now()))
        for session in stale:
            shutil.rmtree(self.root / session[:32], ignore_errors=True)
        return token

    def session(self, token: str | None) -> str | None:
        """The session of a cookie value (its hash), or None."""
        if not token:
            return None
        digest = _hash(token)
        with self.app.engine.connect() as conn:
            found = conn.execute(select(onec_sessions.c.token_hash).where(
                onec_sessions.c.token_hash == digest, onec_sessions.c.system == self.name)).scalar()
        return found

    def folder(self, session: str, area: str) -> Path:
        """The session's folder for ``catalog`` or ``sale`` files (kept apart: a status file
        is never taken for a catalog, nor a catalog file for statuses)."""
        return private_dir(private_dir(self.root / session[:32]) / area)

    # -- files ----------------------------------------------------------------------------------

    def start(self, session: str, area: str) -> None:
        """``init``: a new exchange of ``catalog`` or ``sale`` in this session starts from no files."""
        shutil.rmtree(self.root / session[:32] / area, ignore_errors=True)
        if area == "catalog":
            with write_transaction(self.app.engine) as conn:
                conn.execute(delete(onec_imports).where(onec_imports.c.session == session))

    def append(self, session: str, area: str, filename: str, chunk: bytes) -> Path:
        relative = safe_name(filename)
        path = self.folder(session, area) / relative
        private_dir(path.parent)
        size = path.stat().st_size if path.exists() else 0
        if size + len(chunk) > self.config.max_file_bytes:
            raise Refusal(f"{filename}: larger than max_file_bytes ({self.config.max_file_bytes} bytes); nothing more "
                          "of it is taken")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, FILE_MODE)
        with os.fdopen(fd, "ab") as out:
            out.write(chunk)
        return path

    def unpack(self, session: str, area: str) -> None:
        """Unpack the zip archives of the session's ``area`` (once each: an unpacked one is
        renamed ``.unpacked``)."""
        folder = self.folder(session, area)
        for archive in sorted(folder.glob("*.zip")):
            self._unpack(archive, folder)
            archive.rename(archive.with_name(archive.name + ".unpacked"))

    def _unpack(self, archive: Path, folder: Path) -> None:
        name, limit = archive.name, self.config.max_file_bytes
        try:
            with zipfile.ZipFile(archive) as zipped:
                entries = zipped.infolist()
                if len(entries) > self.config.max_zip_entries:
                    raise Refusal(f"{name}: {len(entries)} entries, more than max_zip_entries "
                                  f"({self.config.max_zip_entries})")
                for entry in entries:
                    if entry.is_dir():
                        continue
                    try:
                        relative = safe_name(entry.filename)
                    except Refusal as exc:
                        raise Refusal(f"{name}: entry {exc}") from None
                    if stat.S_ISLNK(entry.external_attr >> 16):
                        raise Refusal(f"{name}: entry {entry.filename!r} is a link; links are not unpacked")
                    target = folder / relative
                    private_dir(target.parent)
                    partial = target.with_name(target.name + ".partial")
                    written = 0
                    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
                    with zipped.open(entry) as source, os.fdopen(fd, "wb") as out:
                        while block := source.read(1 << 20):
                            written += len(block)
                            if written > limit:
                                raise Refusal(f"{name}: entry {entry.filename!r} unpacks to more than max_file_bytes "
                                              f"({limit} bytes)")
                            out.write(block)
                    os.replace(partial, target)
        except zipfile.BadZipFile as exc:
            raise Refusal(f"{name}: not a complete zip archive (a truncated upload?): {exc}") from None
        except EOFError:
            raise Refusal(f"{name}: the zip archive ends early (a truncated upload?)") from None

    # -- imports --------------------------------------------------------------------------------

    def import_state(self, session: str, filename: str, run) -> tuple[str, str | None]:
        """Start the import of ``filename`` (``run(path)`` -> detail) unless it runs or ran;
        (state, detail). Blocking: call it in a thread."""
        key = (session, filename)
        with self.app.engine.connect() as conn:
            row = conn.execute(select(onec_imports.c.state, onec_imports.c.detail, onec_imports.c.heartbeat).where(
                onec_imports.c.session == session, onec_imports.c.filename == filename)).first()
        if row is None:
            try:
                with write_transaction(self.app.engine) as conn:
                    conn.execute(insert(onec_imports).values(session=session, filename=filename, system=self.name,
                                                             state="running", heartbeat=_now()))
            except IntegrityError:  # another process started it a moment ago
                return "running", None
            self._start(key, run)
            return "running", None
        state, detail, heartbeat = row
        if state == "running" and not self._alive(key) and _aware(heartbeat) < _now() - dt.timedelta(
                seconds=STALE_SECONDS):
            with write_transaction(self.app.engine) as conn:
                taken = conn.execute(update(onec_imports).where(
                    onec_imports.c.session == session, onec_imports.c.filename == filename,
                    onec_imports.c.heartbeat == heartbeat).values(heartbeat=_now())).rowcount
            if taken:
                logger.warning("onec %s: the import of %s had stopped (its process died?); starting it again",
                               self.name, filename)
                self._start(key, run)
        return state, detail

    def _alive(self, key) -> bool:
        with self._lock:
            thread = self._threads.get(key)
            return thread is not None and thread.is_alive()

    def _start(self, key, run) -> None:
        thread = threading.Thread(target=self._run, args=(key, run), name=f"onec-import-{key[1]}", daemon=True)
        with self._lock:
            self._threads[key] = thread
        thread.start()

    def _run(self, key, run) -> None:
        session, filename = key
        try:
            state, detail = "done", run(self.beat(session, filename))
        except Refusal as exc:
            state, detail = "failed", str(exc)
        except Exception as exc:
            logger.exception("onec %s: the import of %s failed", self.name, filename)
            state, detail = "failed", f"{filename}: failed inside erpbridge ({type(exc).__name__}; see its log)"
        with write_transaction(self.app.engine) as conn:
            conn.execute(update(onec_imports).where(onec_imports.c.session == session,
                                                    onec_imports.c.filename == filename).values(
                state=state, detail=detail, heartbeat=_now()))
        with self._lock:
            self._threads.pop(key, None)

    def beat(self, session: str, filename: str):
        """A callable the import calls as it goes: renews the heartbeat every few seconds."""
        last = [time.monotonic()]

        def beat() -> None:
            if time.monotonic() - last[0] >= HEARTBEAT_SECONDS:
                last[0] = time.monotonic()
                with write_transaction(self.app.engine) as conn:
                    conn.execute(update(onec_imports).where(onec_imports.c.session == session,
                                                            onec_imports.c.filename == filename).values(
                        heartbeat=_now()))
        return beat

    # -- orders ---------------------------------------------------------------------------------

    def queue_order(self, number: str, payload: dict | None, *, cancelled: bool = False) -> None:
        """An order (or its cancellation) for 1C's next query; delivering it again after a crash
        changes nothing (same payload, same revision)."""
        with write_transaction(self.app.engine) as conn:
            row = conn.execute(select(onec_orders.c.id, onec_orders.c.payload, onec_orders.c.cancelled).where(
                onec_orders.c.system == self.name, onec_orders.c.order == number)).first()
            if row is None:
                if payload is None:
                    raise Refusal(f"order {number} was never sent to 1C")
                conn.execute(insert(onec_orders).values(system=self.name, order=number, payload=orjson.dumps(
                    payload).decode(), cancelled=cancelled, revision=1))
                return
            text = orjson.dumps(payload).decode() if payload is not None else row.payload
            cancelled = cancelled or row.cancelled  # an order redelivered after its cancellation stays cancelled
            if text == row.payload and cancelled == row.cancelled:
                return
            conn.execute(update(onec_orders).where(onec_orders.c.id == row.id).values(
                payload=text, cancelled=cancelled, revision=onec_orders.c.revision + 1))

    def take_query(self, session: str) -> list[tuple[str, dict, bool]]:
        """The orders not yet confirmed (oldest first), noted as sent to ``session``."""
        with write_transaction(self.app.engine) as conn:
            rows = conn.execute(select(onec_orders.c.id, onec_orders.c.order, onec_orders.c.payload,
                                       onec_orders.c.cancelled, onec_orders.c.revision).where(
                onec_orders.c.system == self.name,
                or_(onec_orders.c.exported_revision.is_(None),
                    onec_orders.c.exported_revision < onec_orders.c.revision)).order_by(
                onec_orders.c.id).limit(self.config.query_limit)).all()
            for row in rows:
                conn.execute(update(onec_orders).where(onec_orders.c.id == row.id).values(
                    queried_session=session, queried_revision=row.revision))
        return [(row.order, orjson.loads(row.payload), row.cancelled) for row in rows]

    def confirm(self, session: str) -> list[str]:
        """``success``: the revisions the session's last query sent are exported."""
        mine = and_(onec_orders.c.system == self.name, onec_orders.c.queried_session == session)
        with write_transaction(self.app.engine) as conn:
            numbers = conn.execute(select(onec_orders.c.order).where(mine)).scalars().all()
            conn.execute(update(onec_orders).where(mine).values(
                exported_revision=onec_orders.c.queried_revision, exported_at=_now(), queried_session=None,
                queried_revision=None))
        return list(numbers)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
