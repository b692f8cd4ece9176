"""The hot single-resource reads (price, product, stock) straight on the database driver.

Through SQLAlchemy one indexed read on SQLite costs about 0.15 ms of CPU and 0.5 ms of wall
time: the pool checkout, the store engine's explicit ``BEGIN`` (see
:func:`erpbridge.store.db.make_engine`), the statement's execution context and the rollback.
The query itself costs about 0.03 ms. On SQLite these reads therefore run on one plain
``sqlite3`` connection per thread, opened on the store's file with ``PRAGMA query_only`` and in
autocommit mode: each select is its own read transaction and, under WAL, sees the last commit,
exactly as the engine's ``BEGIN``/select/rollback does.

The connection reads the file memory-mapped (``PRAGMA mmap_size``): a lookup of a random SKU
in a 1,000,000-product store then costs about 0.02 ms instead of 0.09 ms of reads through the
page cache. SQLite's caveat applies: a process that shrinks the file under a mapping (a
``VACUUM`` of the store by hand while the API runs; erpbridge never vacuums) can crash readers.

The SQL is the SQLAlchemy statement's own, compiled once for the dialect, and each column
passes through the column type's own result processor, so the values are the ones the engine
would give (``Decimal`` for NUMERIC, ``date`` for DATE). Other backends (PostgreSQL) and
in-memory SQLite go through the engine as before.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql import Select

from erpbridge.store.db import is_sqlite

#: At most this much of the store file is memory-mapped per connection (address space, not memory).
MMAP_BYTES = 1 << 30


class Prepared:
    """A select compiled once for ``engine``'s dialect, with its bind and result processors."""

    def __init__(self, stmt: Select, engine: Engine):
        dialect = engine.dialect
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = tuple(compiled.positiontup or ())
        self.binds = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in self.names)
        self.results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in stmt.selected_columns)

    def parameters(self, params: dict[str, Any]) -> tuple:
        return tuple(params[n] if bind is None else bind(params[n]) for n, bind in zip(self.names, self.binds))

    def convert(self, row: tuple) -> tuple:
        return tuple(v if fn is None else fn(v) for v, fn in zip(row, self.results))


class StoreReads:
    """Runs :class:`Prepared` selects; one read-only driver connection per thread on SQLite."""

    def __init__(self, engine: Engine):
        self.engine = engine
        database = engine.url.database
        self._path = database if is_sqlite(engine) and database and database != ":memory:" else None
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._prepared: dict[Select, Prepared] = {}
        self._lock = threading.Lock()

    def all(self, stmt: Select, params: dict[str, Any]) -> list[tuple]:
        """Every row of ``stmt`` (a select built once, at import) with ``params``, as tuples."""
        if self._path is None:
            with self.engine.connect() as conn:
                return [tuple(r) for r in conn.execute(stmt, params)]
        prepared = self._prepared.get(stmt)
        if prepared is None:
            prepared = self._prepared[stmt] = Prepared(stmt, self.engine)
        rows = self._connection().execute(prepared.sql, prepared.parameters(params)).fetchall()
        return [prepared.convert(r) for r in rows]

    def first(self, stmt: Select, params: dict[str, Any]) -> tuple | None:
        rows = self.all(stmt, params)
        return rows[0] if rows else None

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            with self._lock:
                self._opened.append(conn)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every thread's connection (at the server's shutdown)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()
