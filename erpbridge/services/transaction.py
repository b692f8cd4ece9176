"""One write transaction, serialised where the store needs it, and shared on SQLite.

SQLite: ``BEGIN IMMEDIATE`` takes the write lock before the first read, so a check-then-insert
(is this order number new?) cannot race another writer. PostgreSQL: a unique violation from a
concurrent insert of the same key surfaces as IntegrityError, which callers answer by reading
again (the retry in :func:`retrying`), or as a write that finds the key taken (:class:`Raced`).

Group commit (SQLite): SQLite has one writer and a commit costs far more than the few statements
of an order. :func:`retrying` therefore hands each write to a :class:`GroupWriter`: the first
thread to arrive runs the writes queued meanwhile by other threads in one transaction, each in a
savepoint of its own (a refused order rolls back alone), commits once, and only then lets every
caller answer. Each write is still durable before its answer; under load many share a commit.

Durable (``durable=True``, the accept paths: orders, customers, cancellations, returns): the
transaction is a :func:`~erpbridge.store.db.durable_transaction`, whose commit survives a power
cut (SQLite ``synchronous=FULL``); group commit is what keeps that fast.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from erpbridge.store.db import durable_transaction, write_transaction

T = TypeVar("T")


class Raced(Exception):
    """Raise inside ``work`` when a write found its key already taken by a concurrent commit
    (READ COMMITTED lets a later statement see it): the transaction is rolled back and rerun."""


def retrying(engine: Engine, work: Callable[[Connection], T], *, durable: bool = False) -> T:
    """Run ``work`` in a write transaction (``durable``: one that survives a power cut); once
    more if a concurrent writer won a unique key. ``work`` must not call :func:`retrying` itself."""
    if engine.dialect.name == "sqlite":
        return GroupWriter.of(engine, durable=durable).run(work)
    transaction = durable_transaction if durable else write_transaction
    try:
        with transaction(engine) as conn:
            return work(conn)
    except (IntegrityError, Raced):
        with transaction(engine) as conn:
            return work(conn)


class GroupWriter:
    """Leader/follower group commit for one SQLite database in this process (durable writes and
    the others in groups of their own)."""

    _writers: dict[str, "GroupWriter"] = {}
    _writers_lock = threading.Lock()
    #: Writes per transaction at most (bounds how long the first caller of a group waits).
    MAX_GROUP = 100

    def __init__(self, engine: Engine, durable: bool = False):
        self.engine = engine
        self.transaction = durable_transaction if durable else write_transaction
        self._lock = threading.Lock()
        self._queue: list[tuple[Callable[[Connection], object], Future]] = []
        self._leading = False

    @classmethod
    def of(cls, engine: Engine, *, durable: bool = False) -> "GroupWriter":
        key = f"{id(engine)}:{engine.url.database}:{durable}"
        with cls._writers_lock:
            writer = cls._writers.get(key)
            if writer is None or writer.engine is not engine:
                writer = cls._writers[key] = cls(engine, durable)
            return writer

    def run(self, work: Callable[[Connection], T]) -> T:
        future: Future = Future()
        with self._lock:
            self._queue.append((work, future))
            lead = not self._leading
            self._leading = self._leading or lead
        if lead:
            self._lead()
        return future.result()

    def _lead(self) -> None:
        while True:
            with self._lock:
                group, self._queue = self._queue[:self.MAX_GROUP], self._queue[self.MAX_GROUP:]
                if not group:
                    self._leading = False
                    return
            self._commit(group)

    def _commit(self, group: list[tuple[Callable[[Connection], object], Future]]) -> None:
        results: list[tuple[Future, object, BaseException | None]] = []
        try:
            with self.transaction(self.engine) as conn:
                for work, future in group:
                    results.append((future, *_in_savepoint(conn, work)))
        except BaseException as exc:  # the commit itself failed: nobody's write is durable
            for _work, future in group:
                future.set_exception(exc)
            return
        for future, value, error in results:
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(value)


def _in_savepoint(conn: Connection, work: Callable[[Connection], object]) -> tuple[object, BaseException | None]:
    """Run one write in a savepoint; its failure rolls back its own statements only."""
    for attempt in (1, 2):
        savepoint = conn.begin_nested()
        try:
            value = work(conn)
        except (IntegrityError, Raced) as exc:
            savepoint.rollback()
            if attempt == 2:
                return None, exc
            continue
        except Exception as exc:
            savepoint.rollback()
            return None, exc
        savepoint.commit()
        return value, None
    raise AssertionError("unreachable")
