"""One write transaction, serialised where the store needs it.

SQLite: ``BEGIN IMMEDIATE`` takes the write lock before the first read, so a check-then-insert
(is this order number new?) cannot race another writer. PostgreSQL: a unique violation from a
concurrent insert of the same key surfaces as IntegrityError, which callers answer by reading
again (the retry in :func:`retrying`), or as a write that finds the key taken (:class:`Raced`).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

T = TypeVar("T")


class Raced(Exception):
    """Raise inside ``work`` when a write found its key already taken by a concurrent commit
    (READ COMMITTED lets a later statement see it): the transaction is rolled back and rerun."""


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def retrying(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in a write transaction; once more if a concurrent writer won a unique key."""
    try:
        with write_transaction(engine) as conn:
            return work(conn)
    except (IntegrityError, Raced):
        with write_transaction(engine) as conn:
            return work(conn)
