"""Reading and writing canonical records, with delta detection by content hash.

:func:`prepare` turns a record into the row the store keeps (it is pure, so it can run in a
worker process); :meth:`RecordStore.write` applies a batch of prepared rows in one transaction:
one indexed lookup of the stored hashes, then inserts for new keys and updates for changed
ones. A row whose hash is unchanged costs no write, and produces no downstream work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import orjson
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from erpbridge.records import RECORD_KINDS, Record, content_hash
from erpbridge.store.tables import RECORD_TABLES

_BASE_COLUMNS = {"key", "content_hash", "data", "created_at", "updated_at"}
#: Columns that belong to the store, not to the record: set when a record first arrives (the
#: callable gets the RecordStore), never touched when its content changes later.
_STORE_OWNED: dict[str, dict[str, object]] = {
    "products": {"enabled": lambda store: store.new_products_enabled},
    "orders": {"state": lambda store: "accepted"},
}
_STORE_OWNED_COLUMNS = {c for owned in _STORE_OWNED.values() for c in owned}

#: How many keys one lookup asks for (well under SQLite's bound-parameter limit).
LOOKUP_CHUNK = 900


@dataclass(frozen=True, slots=True)
class Row:
    """A record as the store keeps it."""

    key: str
    content_hash: str
    data: str
    columns: tuple  # values of the kind's query columns, in `query_columns(kind)` order


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


def prepare(record: Record) -> Row:
    canonical = record.canonical_json()
    return Row(
        key=record.key,
        content_hash=content_hash(canonical),
        data=canonical.decode(),
        columns=tuple(getattr(record, c) for c in _QUERY_COLUMNS[record.kind]),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class RecordStore:
    def __init__(self, engine: Engine, *, new_products_enabled: bool = False):
        self.engine = engine
        self.new_products_enabled = new_products_enabled

    # -- writes ---------------------------------------------------------------------------

    def write(self, kind: str, rows: Sequence[Row], **initial: object) -> tuple[WriteResult, list[str]]:
        """Apply a batch in one transaction; returns the counts and the keys that were written."""
        with self.engine.begin() as conn:
            return self.write_in(conn, kind, rows, **initial)

    def write_in(self, conn: Connection, kind: str, rows: Sequence[Row], **initial: object) -> tuple[WriteResult, list[str]]:
        """Like :meth:`write`, in the caller's transaction (so an order and its outbox message
        commit together). ``initial`` overrides store-owned columns of new rows, e.g.
        ``state="awaiting_payment"``."""
        table = RECORD_TABLES[kind]
        latest: dict[str, Row] = {}
        for row in rows:  # within one batch the later row of a key wins
            latest[row.key] = row
        stored: dict[str, str] = {}
        keys = list(latest)
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            stored.update(conn.execute(select(table.c.key, table.c.content_hash).where(table.c.key.in_(chunk))).all())

        result = WriteResult()
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        now = _now()
        names = _QUERY_COLUMNS[kind]
        owned = {column: initial.get(column, default(self)) for column, default in _STORE_OWNED.get(kind, {}).items()}
        for key, row in latest.items():
            old = stored.get(key)
            if old == row.content_hash:
                result.unchanged += 1
                continue
            values = {"key": key, "content_hash": row.content_hash, "data": row.data, "updated_at": now}
            values.update(zip(names, row.columns))
            if old is None:
                values["created_at"] = now
                values.update(owned)
                new.append(values)
            else:
                values["b_key"] = values.pop("key")
                changed.append(values)
        result.unchanged += len(rows) - len(latest)
        if new:
            conn.execute(insert(table), new)
        if changed:
            stmt = update(table).where(table.c.key == bindparam("b_key")).values(
                {c: bindparam(c) for c in ("content_hash", "data", "updated_at", *names)}
            )
            conn.execute(stmt, changed)
        result.new, result.changed = len(new), len(changed)
        return result, [v["key"] for v in new] + [v["b_key"] for v in changed]

    def put(self, records: Iterable[Record]) -> WriteResult:
        """Write records of any kinds (each kind in its own batch), e.g. from an API or connector."""
        by_kind: dict[str, list[Row]] = {}
        for record in records:
            by_kind.setdefault(record.kind, []).append(prepare(record))
        total = WriteResult()
        with self.engine.begin() as conn:
            for kind, rows in by_kind.items():
                total.add(self.write_in(conn, kind, rows)[0])
        return total

    def set_enabled(self, skus: Sequence[str], enabled: bool) -> int:
        """Enable or disable products for the shop; returns how many exist."""
        table = RECORD_TABLES["products"]
        with self.engine.begin() as conn:
            return conn.execute(
                update(table).where(table.c.key.in_(list(skus))).values(enabled=enabled, updated_at=_now())
            ).rowcount

    # -- reads ----------------------------------------------------------------------------

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
