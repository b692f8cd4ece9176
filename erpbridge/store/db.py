"""Opening the store: SQLite (WAL) for one machine, PostgreSQL for several processes and hosts."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from erpbridge.private_files import private_file


def make_engine(url: str, **kwargs) -> Engine:
    """An engine tuned for the store's two backends.

    SQLite: WAL so readers never wait for the writer, ``synchronous=NORMAL`` (a crash of the
    process loses nothing, a power cut may lose the last commits; :func:`durable_transaction`
    is for what must survive that too), a busy timeout so concurrent writers queue instead of failing,
    and transactions begun explicitly by us (pysqlite's own implicit BEGIN is switched off) so
    that ``BEGIN IMMEDIATE`` can be used where a claim must lock before it reads.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)

    if parsed.database and parsed.database != ":memory:":  # the store and its WAL hold personal data: 0600
        private_file(Path(parsed.database), companions=("-wal", "-shm", "-journal"))
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time in UTC: SQLite hands datetimes back without a zone, and every time the
    store keeps is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


#: For a long run of write batches on SQLite: a page cache that holds the indexes being
#: written (the default 2 MB makes every batch re-read them from the file), and WAL
#: checkpoints every 80 MB instead of every 4 MB (each one copies and fsyncs). Measured on a
#: 1M-product import: together with bigger batches, 47,600 -> 60,000 products/s.
BULK_PRAGMAS = {"cache_size": (-65536, -2000), "wal_autocheckpoint": (20000, 1000)}


@contextmanager
def bulk_connection(engine: Engine) -> Iterator[Connection]:
    """One connection for many write batches in a row, each in its own transaction (begun
    as :func:`write_transaction` begins them), with :data:`BULK_PRAGMAS` on SQLite while it
    lasts; the connection goes back to the pool with SQLite's defaults."""
    with engine.connect() as conn:
        if not is_sqlite(engine):
            yield conn
            return
        raw = conn.connection.driver_connection
        for name, (value, _) in BULK_PRAGMAS.items():
            raw.execute(f"PRAGMA {name}={value}")
        try:
            yield conn.execution_options(sqlite_begin="IMMEDIATE")
        finally:
            for name, (_, default) in BULK_PRAGMAS.items():
                raw.execute(f"PRAGMA {name}={default}")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write after it reads: on SQLite it takes the one write lock
    first (``BEGIN IMMEDIATE``), since a deferred transaction that read before another writer
    committed fails at its first write ("database is locked") instead of waiting."""
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


@contextmanager
def durable_transaction(engine: Engine) -> Iterator[Connection]:
    """A :func:`write_transaction` whose commit survives a power cut, for what erpbridge answers
    "accepted" to (orders, customers, cancellations, returns and their outbox messages).

    SQLite: ``synchronous=FULL`` for this transaction, so the commit waits for the WAL to reach
    the disk (under the store's ``NORMAL`` a power cut may roll back the last commits); group
    several accepted writes into one such transaction to keep it fast. PostgreSQL:
    ``synchronous_commit`` on for this transaction (the server default, made sure of here)."""
    with engine.connect() as conn:
        if not is_sqlite(engine):
            with conn.begin():
                conn.exec_driver_sql("SET LOCAL synchronous_commit = on")
                yield conn
            return
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA synchronous=FULL")  # before BEGIN: SQLite refuses it inside a transaction
        try:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn
        finally:
            raw.execute("PRAGMA synchronous=NORMAL")
