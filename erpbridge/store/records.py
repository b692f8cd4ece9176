"""Reading and writing canonical records, with delta detection by content hash.

:func:`prepare` turns a record into the row the store keeps (it is pure, so it can run in a
worker process); :meth:`RecordStore.write` applies a batch of prepared rows in one transaction:
one indexed lookup of the stored hashes, then inserts for new keys and updates for changed
ones. A row whose hash is unchanged costs no write, and produces no downstream work.

An imported row also carries the *source hash* of the raw ERP record it was mapped from; the
store keeps it so that the next import of the same export can recognise an unchanged raw
record by that hash alone, without reading or mapping it (:meth:`RecordStore.source_hashes`).
Rows written any other way carry none, and a content change through them clears it.
"""

from __future__ import annotations

import array
import datetime as dt
import functools
import operator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

import orjson
from sqlalchemy import Connection, Dialect, Engine, func, select

from erpbridge.records import RECORD_KINDS, Record, content_hash, key_of
from erpbridge.store.db import bulk_connection, write_transaction
from erpbridge.store.tables import RECORD_TABLES

_BASE_COLUMNS = {"key", "content_hash", "source_hash", "data", "created_at", "updated_at"}
#: Columns that belong to the store, not to the record: set when a record first arrives (the
#: callable gets the RecordStore), never touched when its content changes later.
_STORE_OWNED: dict[str, dict[str, object]] = {
    "products": {"enabled": lambda store: store.new_products_enabled, "released_at": lambda store: None},
    "orders": {"state": lambda store: "accepted", "shop": lambda store: None},
}
_STORE_OWNED_COLUMNS = {c for owned in _STORE_OWNED.values() for c in owned}

#: How many keys one lookup asks for (well under SQLite's bound-parameter limit).
LOOKUP_CHUNK = 900


class Row(NamedTuple):
    """A record as the store keeps it (a named tuple: a million of them cross from the import's
    worker processes to its writer, and tuples pickle cheaply)."""

    key: str
    content_hash: str
    data: str
    columns: tuple  # values of the kind's query columns, in `query_columns(kind)` order
    #: Hash of the raw source record an import mapped this row from; None for other writes.
    source: int | None = None


@dataclass(slots=True)
class WriteResult:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    def add(self, other: "WriteResult") -> None:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged


def query_columns(kind: str) -> tuple[str, ...]:
    """The kind's queried columns that are copied from record fields of the same name."""
    return tuple(c.name for c in RECORD_TABLES[kind].c if c.name not in _BASE_COLUMNS | _STORE_OWNED_COLUMNS)


_QUERY_COLUMNS = {kind: query_columns(kind) for kind in RECORD_TABLES}


def prepare(record: Record, source: int | None = None) -> Row:
    canonical = record.canonical_json()
    key, columns = _row_parts(type(record))
    return Row(key(record), content_hash(canonical), canonical.decode(), columns(record), source)


@functools.cache
def _row_parts(cls: type[Record]) -> tuple[Callable[[Record], str], Callable[[Record], tuple]]:
    """The key and the query columns of a record class, as fast getters (prepare runs for
    every record of an import)."""
    if len(cls.key_fields) == 1:
        field = operator.attrgetter(cls.key_fields[0])

        def key(record: Record) -> str:
            return key_of((field(record),))
    else:
        fields = operator.attrgetter(*cls.key_fields)

        def key(record: Record) -> str:
            return key_of(fields(record))

    names = _QUERY_COLUMNS[cls.kind]
    if len(names) > 1:
        columns = operator.attrgetter(*names)
    elif names:
        one = operator.attrgetter(names[0])

        def columns(record: Record) -> tuple:
            return (one(record),)
    else:
        def columns(record: Record) -> tuple:
            return ()

    return key, columns


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class _Statements:
    """A kind's write statements for one dialect, as plain driver SQL with positional
    parameters: a batch of a million rows then costs the driver's ``executemany`` and no
    per-row work in SQLAlchemy. Values go through the column types' bind processors (SQLite
    keeps datetimes and decimals as text), once per batch for the shared ones."""

    def __init__(self, dialect: Dialect, kind: str):
        table = RECORD_TABLES[kind]
        quote = dialect.identifier_preparer.quote
        name = dialect.identifier_preparer.format_table(table)
        mark = {"qmark": "?", "numeric": "?", "format": "%s", "pyformat": "%s"}[dialect.paramstyle]
        self._mark = mark
        self._lookup = f"SELECT {quote('key')}, content_hash, source_hash FROM {name} WHERE {quote('key')} IN "
        self._lookup_sources = f"SELECT {quote('key')}, source_hash FROM {name} WHERE {quote('key')} IN "
        self._lookups: dict[tuple[str, int], str] = {}
        owned = tuple(_STORE_OWNED.get(kind, {}))
        names = _QUERY_COLUMNS[kind]
        inserted = ("key", "content_hash", "source_hash", "data", "created_at", "updated_at", *owned, *names)
        self.insert = (f"INSERT INTO {name} ({', '.join(quote(c) for c in inserted)}) "
                       f"VALUES ({', '.join([mark] * len(inserted))})")
        assigned = ", ".join(f"{quote(c)} = {mark}" for c in ("content_hash", "source_hash", "data", "updated_at", *names))
        self.update = f"UPDATE {name} SET {assigned} WHERE {quote('key')} = {mark}"
        self.update_source = f"UPDATE {name} SET source_hash = {mark} WHERE {quote('key')} = {mark}"

        def processor(column: str):
            return table.c[column].type.dialect_impl(dialect).bind_processor(dialect)

        self._now = processor("updated_at")
        self._owned = {c: processor(c) for c in owned}
        processors = tuple(processor(c) for c in names)

        def convert_columns(values: tuple) -> tuple:
            return tuple(v if p is None or v is None else p(v) for p, v in zip(processors, values))

        self.convert_columns = convert_columns if any(processors) else None

    def lookup(self, count: int, *, sources: bool = False) -> str:
        """``SELECT key, content_hash, source_hash`` (or just ``key, source_hash``) for ``count`` keys."""
        sql = self._lookups.get((sources, count))
        if sql is None:
            head = self._lookup_sources if sources else self._lookup
            sql = self._lookups[(sources, count)] = f"{head}({', '.join([self._mark] * count)})"
        return sql

    def process_now(self, now: dt.datetime) -> object:
        return self._now(now) if self._now else now

    def process_owned(self, values: dict[str, object]) -> tuple:
        return tuple(self._owned[c](v) if self._owned[c] and v is not None else v for c, v in values.items())


_STATEMENTS: dict[tuple, _Statements] = {}


def _looked_up(conn: Connection, sql: _Statements, keys: Sequence[str], *, sources: bool = False) -> Iterator[tuple]:
    """The stored rows of ``keys`` as :meth:`_Statements.lookup` selects them, :data:`LOOKUP_CHUNK` keys a query."""
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = tuple(keys[start : start + LOOKUP_CHUNK])
        yield from conn.exec_driver_sql(sql.lookup(len(chunk), sources=sources), chunk).all()


def _statements(dialect: Dialect, kind: str) -> _Statements:
    key = (type(dialect), dialect.paramstyle, kind)
    statements = _STATEMENTS.get(key)
    if statements is None:
        statements = _STATEMENTS[key] = _Statements(dialect, kind)
    return statements


class RecordStore:
    def __init__(self, engine: Engine, *, new_products_enabled: bool = False):
        self.engine = engine
        self.new_products_enabled = new_products_enabled

    # -- writes ---------------------------------------------------------------------------

    def write(self, kind: str, rows: Sequence[Row], **initial: object) -> tuple[WriteResult, list[str]]:
        """Apply a batch in one transaction (it reads the stored hashes, then writes: see
        :func:`~erpbridge.store.db.write_transaction`); returns the counts and the keys written."""
        with write_transaction(self.engine) as conn:
            return self.write_in(conn, kind, rows, **initial)

    @contextmanager
    def bulk(self) -> Iterator[Callable[..., tuple[WriteResult, list[str]]]]:
        """A ``write`` for many batches in a row (a file import): the same as :meth:`write`, each
        batch in its own transaction, through one connection tuned for it (see
        :func:`~erpbridge.store.db.bulk_connection`)."""
        with bulk_connection(self.engine) as conn:
            def write(kind: str, rows: Sequence[Row], **initial: object) -> tuple[WriteResult, list[str]]:
                with conn.begin():
                    return self.write_in(conn, kind, rows, **initial)

            yield write

    def write_in(self, conn: Connection, kind: str, rows: Sequence[Row], **initial: object) -> tuple[WriteResult, list[str]]:
        """Like :meth:`write`, in the caller's transaction (so an order and its outbox message
        commit together). ``initial`` overrides store-owned columns of new rows, e.g.
        ``state="awaiting_payment"``. ``rows`` may also be plain tuples in :class:`Row`'s order
        (what import workers send: they unpickle faster)."""
        sql = _statements(conn.dialect, kind)
        latest: dict[str, Row] = {}
        for row in rows:  # within one batch the later row of a key wins
            latest[row[0]] = row
        stored = {key: (digest, source) for key, digest, source in _looked_up(conn, sql, list(latest))}

        result = WriteResult()
        new: list[tuple] = []
        changed: list[tuple] = []
        sourced: list[tuple] = []
        now = sql.process_now(_now())
        owned = sql.process_owned({column: initial.get(column, default(self))
                                   for column, default in _STORE_OWNED.get(kind, {}).items()})
        convert = sql.convert_columns
        for key, (_, digest, data, columns, source) in latest.items():
            old = stored.get(key)
            if old is not None and old[0] == digest:
                result.unchanged += 1
                if source is not None and source != old[1]:
                    sourced.append((source, key))  # same content from another raw record: remember it
                continue
            if convert:
                columns = convert(columns)
            if old is None:
                new.append((key, digest, source, data, now, now, *owned, *columns))
            else:
                changed.append((digest, source, data, now, *columns, key))
        result.unchanged += len(rows) - len(latest)
        if new:
            conn.exec_driver_sql(sql.insert, new)
        if changed:
            conn.exec_driver_sql(sql.update, changed)
        if sourced:
            conn.exec_driver_sql(sql.update_source, sourced)
        result.new, result.changed = len(new), len(changed)
        return result, [v[0] for v in new] + [v[-1] for v in changed]

    def put(self, records: Iterable[Record]) -> WriteResult:
        """Write records of any kinds (each kind in its own batch), e.g. from an API or connector."""
        by_kind: dict[str, list[Row]] = {}
        for record in records:
            by_kind.setdefault(record.kind, []).append(prepare(record))
        total = WriteResult()
        with write_transaction(self.engine) as conn:
            for kind, rows in by_kind.items():
                total.add(self.write_in(conn, kind, rows)[0])
        return total

    # -- reads ----------------------------------------------------------------------------

    def source_hashes(self, kind: str) -> array.array:
        """Every source hash stored for the kind, sorted (8 bytes each: an import looks the
        hashes of a whole file up in it by bisection, in every worker process)."""
        table = RECORD_TABLES[kind]
        sql = str(select(table.c.source_hash).where(table.c.source_hash.is_not(None)).order_by(table.c.source_hash)
                  .compile(dialect=self.engine.dialect))
        with self.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # a million rows: no per-row work above the driver
            try:
                cursor.execute(sql)
                return array.array("q", map(operator.itemgetter(0), cursor.fetchall()))
            finally:
                cursor.close()

    def stored_sources(self, kind: str, keys: Sequence[str]) -> dict[str, int]:
        """The source hash stored for each of ``keys`` that has one."""
        with self.engine.connect() as conn:
            return {key: source for key, source in _looked_up(conn, _statements(self.engine.dialect, kind), keys,
                                                              sources=True) if source is not None}

    def get(self, kind: str, key: str) -> Record | None:
        table = RECORD_TABLES[kind]
        with self.engine.connect() as conn:
            data = conn.execute(select(table.c.data).where(table.c.key == key)).scalar()
        return None if data is None else RECORD_KINDS[kind].model_validate(orjson.loads(data))

    def find(self, kind: str, *where, order_by=None, limit: int | None = None) -> list[Record]:
        """Records of a kind matching SQLAlchemy conditions on its table's columns."""
        table = RECORD_TABLES[kind]
        stmt = select(table.c.data).where(*where).order_by(order_by if order_by is not None else table.c.key)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [RECORD_KINDS[kind].model_validate(orjson.loads(d)) for d in conn.execute(stmt).scalars()]

    def is_enabled(self, sku: str) -> bool | None:
        table = RECORD_TABLES["products"]
        with self.engine.connect() as conn:
            return conn.execute(select(table.c.enabled).where(table.c.key == sku)).scalar()

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {kind: conn.execute(select(func.count()).select_from(t)).scalar_one() for kind, t in RECORD_TABLES.items()}
