"""The exchange log page (seed 000's ERP request log): entries chosen by date range, measuring
point, system, direction, outcome and business key, each with its request and response.

The payloads are shown as stored: the exchange log redacts secrets and masks personal data
before it writes (:mod:`erpbridge.exchange.redact`), so nothing here can show more. A business
key (an order number, a SKU, a customer number) is looked for in the payloads and the error
text; the other filters use the log's indexes, so give a date range or a system with a key on a
large log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import orjson
from sqlalchemy import or_, select

from erpbridge.exchange.log import DIRECTIONS, OUTCOMES, _entry
from erpbridge.exchange.tables import exchange_log
from erpbridge.store.db import as_utc

t = exchange_log
PAGE = 50


def _when(value: str, field: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field}: expected a date like 2026-11-23 or 2026-11-23T14:00 (UTC), got {value!r}") from None
    return as_utc(parsed)


@dataclass(frozen=True)
class Search:
    since: str = ""
    until: str = ""
    point: str = ""
    system: str = ""
    direction: str = ""
    outcome: str = ""
    key: str = ""

    @classmethod
    def of(cls, values) -> "Search":
        s = cls(**{name: (values.get(name) or "").strip()[:200] for name in cls.__dataclass_fields__})
        if s.direction and s.direction not in DIRECTIONS:
            raise ValueError(f"direction: expected one of {', '.join(DIRECTIONS)}, got {s.direction!r}")
        if s.outcome and s.outcome not in OUTCOMES:
            raise ValueError(f"outcome: expected one of {', '.join(OUTCOMES)}, got {s.outcome!r}")
        _when(s.since, "from"), _when(s.until, "to")
        return s

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}

    def where(self) -> list:
        clauses = []
        since, until = _when(self.since, "from"), _when(self.until, "to")
        if since:
            clauses.append(t.c.at >= since)
        if until:  # a date alone includes that whole day
            clauses.append(t.c.at < (until + dt.timedelta(days=1) if len(self.until) == 10 else until))
        for column, value in ((t.c.point, self.point), (t.c.system, self.system), (t.c.direction, self.direction),
                              (t.c.outcome, self.outcome)):
            if value:
                clauses.append(column == value)
        if self.key:
            clauses.append(or_(t.c.request.contains(self.key, autoescape=True),
                               t.c.response.contains(self.key, autoescape=True),
                               t.c.error.contains(self.key, autoescape=True)))
        return clauses


def page_of(hub, search: Search, before_id: int | None = None, limit: int = PAGE) -> list[dict]:
    stmt = (select(t.c.id, t.c.at, t.c.system, t.c.flow, t.c.point, t.c.direction, t.c.duration_ms, t.c.outcome,
                   t.c.size, t.c.error).where(*search.where()).order_by(t.c.id.desc()).limit(limit))
    if before_id is not None:
        stmt = stmt.where(t.c.id < before_id)
    with hub.engine.connect() as conn:
        return [{**r, "at": as_utc(r["at"])} for r in conn.execute(stmt).mappings()]


def choices(hub) -> dict:
    return {"systems": list(hub.config.systems), "directions": DIRECTIONS, "outcomes": OUTCOMES}


def entry(hub, entry_id: int) -> dict | None:
    with hub.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == entry_id)).mappings().first()
    if row is None:
        return None
    found = _entry(row)
    for name in ("request", "response"):
        if found[name] is not None:
            found[name] = orjson.dumps(found[name], option=orjson.OPT_INDENT_2).decode()
    return found
