"""What the inbox's last pass did, kept in the store so that every process can tell whether the
inbox is failing: the API's ``/readyz`` and ``erpbridge status``, whichever process ran the pass.

Only a pass that handled files is recorded (an empty pass every couple of seconds would be a
write for nothing); ``failing`` means a file of that pass went to ``failed/``.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from erpbridge.store.db import as_utc
from erpbridge.store.tables import inbox_passes

#: Failed files listed per pass (all are counted).
LISTED_FAILURES = 10


def record_pass(engine: Engine, system: str, reports: list) -> None:
    """Record a pass of the inbox of ``system`` that handled files (their import reports)."""
    failures = [{"file": r.file, "reason": str(r.rejections[0]) if r.rejections else "records were rejected"}
                for r in reports if not r.ok]
    values = {"passed_at": dt.datetime.now(dt.timezone.utc), "files": len(reports), "failed": len(failures),
              "failures": json.dumps(failures[:LISTED_FAILURES])}
    stmt = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(inbox_passes)
    with engine.begin() as conn:
        conn.execute(stmt.values(system=system, **values).on_conflict_do_update(index_elements=["system"], set_=values))


def inbox_state(engine: Engine, system: str) -> dict | None:
    """The last pass of the inbox of ``system`` that handled files: when, how many files, how
    many failed and why; ``failing`` when any did. None: no such pass (or no inbox)."""
    with engine.connect() as conn:
        row = conn.execute(select(inbox_passes).where(inbox_passes.c.system == system)).first()
    if row is None:
        return None
    return {"system": row.system, "failing": row.failed > 0, "last_pass_at": as_utc(row.passed_at).isoformat(),
            "files": row.files, "failed": row.failed, "failures": json.loads(row.failures)}


def inbox_states(app) -> list[dict]:
    """:func:`inbox_state` of every files system's inbox that has passed over files."""
    from erpbridge.connectors.files.spec import FilesSystem

    found = [inbox_state(app.engine, name) for name, s in app.config.systems.items() if isinstance(s, FilesSystem)]
    return [state for state in found if state is not None]
