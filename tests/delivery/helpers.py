"""Reading the outbox in tests."""

from __future__ import annotations

from sqlalchemy import select

from erpbridge.outbox.tables import outbox_messages as m
from erpbridge.store.tables import bindings


def message(app, message_id: int) -> dict:
    with app.engine.connect() as conn:
        return dict(conn.execute(select(m).where(m.c.id == message_id)).mappings().one())


def states(app) -> dict[int, str]:
    with app.engine.connect() as conn:
        return dict(conn.execute(select(m.c.id, m.c.state).order_by(m.c.id)).all())


def binding(app, kind: str, key: str, system: str = "erp") -> str | None:
    with app.engine.connect() as conn:
        return conn.execute(select(bindings.c.external_id).where(
            bindings.c.kind == kind, bindings.c.key == key, bindings.c.system == system)).scalar()
