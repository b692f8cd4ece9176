"""Writing bindings (a record's id in an external system), from wherever the id arrives: the
answer to a delivered message, or the ERP's feedback files."""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from erpbridge.store.tables import bindings


def bind(conn: Connection, links: Iterable[tuple[str, str, str, str]]) -> None:
    """Insert or update ``(kind, key, system, external_id)`` bindings in the caller's transaction."""
    at = dt.datetime.now(dt.timezone.utc)
    rows = [{"kind": kind, "key": key, "system": system, "external_id": external_id, "created_at": at, "updated_at": at}
            for kind, key, system, external_id in links]
    if not rows:
        return
    stmt = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(bindings)
    conn.execute(stmt.on_conflict_do_update(index_elements=["kind", "key", "system"], set_={
        "external_id": stmt.excluded.external_id, "updated_at": stmt.excluded.updated_at}), rows)
