"""Releasing products: the merchant decides which ERP products the shops sell.

With ``catalog.new_products_enabled: false`` (the default) every product the ERP creates arrives
disabled, because a product is rarely ready for the shop the moment it exists in the ERP (no
pictures, no texts yet). The merchant enables it (or disables one that must not be sold) by
SKU, by product group (with its subgroups) or all new ones at once; the CLI
(``erpbridge products enable``) and the API (``POST /api/v1/products/enable``, scope
``write:catalog``) do it through :func:`set_enabled`. The decision belongs to the store, not to
the record: an ERP import keeps updating names, prices and descriptions and never touches it.
A changed product's ``updated_at`` moves, so the shops and the webhooks hear of it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

import orjson
from sqlalchemy import Connection, bindparam, func, select, update

from erpbridge.store.db import as_utc, write_transaction
from erpbridge.store.records import LOOKUP_CHUNK
from erpbridge.store.groups import with_subgroups
from erpbridge.store.tables import products

log = logging.getLogger(__name__)


@dataclass
class Release:
    """What :func:`set_enabled` did: the SKUs it switched, those already so, those it does not know."""

    enabled: bool
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    unknown_groups: list[str] = field(default_factory=list)
    #: With ``awaiting_only``: named SKUs that were decided on since (by someone else), left alone.
    decided: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def set_enabled(app, *, enabled: bool, skus: Iterable[str] = (), groups: Iterable[str] = (),
                all_new: bool = False, actor: str = "", awaiting_only: bool = False,
                audit: Callable[[Connection, Release], None] | None = None) -> Release:
    """Enable or disable the products named by SKU, by group (and its subgroups), or every new
    one (arrived disabled, never decided on), in one transaction. ``awaiting_only`` leaves alone
    the named SKUs that were decided on meanwhile (the control center acts on what its preview
    showed, not on what changed since); ``audit`` (the control center's)
    writes its record of the change in that same transaction, so no change goes unrecorded."""
    skus, groups = list(dict.fromkeys(skus)), list(dict.fromkeys(groups))
    result = Release(enabled=enabled)
    p = products
    with write_transaction(app.engine) as conn:
        wanted = with_subgroups(conn, groups)
        result.unknown_groups = [g for g in groups if g not in wanted]
        chosen: dict[str, bool] = {}
        for start in range(0, len(skus), LOOKUP_CHUNK):
            for sku, was, released_at in conn.execute(select(p.c.key, p.c.enabled, p.c.released_at)
                                                      .where(p.c.key.in_(skus[start:start + LOOKUP_CHUNK]))):
                if awaiting_only and (was or released_at is not None):
                    result.decided.append(sku)
                else:
                    chosen[sku] = was
        decided = set(result.decided)
        result.unknown = [sku for sku in skus if sku not in chosen and sku not in decided]
        if wanted:
            chosen.update(conn.execute(select(p.c.key, p.c.enabled).where(p.c.group.in_(sorted(wanted)))).all())
        if all_new:
            chosen.update(conn.execute(select(p.c.key, p.c.enabled)
                                       .where(p.c.released_at.is_(None), p.c.enabled.is_(False))).all())
        at = dt.datetime.now(dt.timezone.utc)
        for sku, was in sorted(chosen.items()):
            (result.unchanged if bool(was) == enabled else result.changed).append(sku)
        if result.changed:
            conn.execute(update(p).where(p.c.key == bindparam("sku")).values(
                enabled=enabled, released_at=at, updated_at=at), [{"sku": sku} for sku in result.changed])
        if result.unchanged:  # the merchant's decision is recorded even where it changes nothing
            conn.execute(update(p).where(p.c.key == bindparam("sku"), p.c.released_at.is_(None))
                         .values(released_at=at), [{"sku": sku} for sku in result.unchanged])
        if audit is not None:
            audit(conn, result)
    if result.changed:
        log.info("%s %d product(s)%s", "enabled" if enabled else "disabled", len(result.changed),
                 f" ({actor})" if actor else "")
    return result


def _awaiting(conn: Connection, groups: Iterable[str]) -> list:
    """The conditions of a product awaiting release, in ``groups`` (with their subgroups) if given."""
    p = products
    where = [p.c.released_at.is_(None), p.c.enabled.is_(False)]
    groups = list(groups)
    if groups:
        where.append(p.c.group.in_(sorted(with_subgroups(conn, groups)) or [None]))
    return where


def awaiting_release(app, *, limit: int = 100, groups: Iterable[str] = ()) -> list[dict]:
    """New products awaiting the merchant's decision (arrived disabled, never enabled), oldest
    first; only those of ``groups`` (and their subgroups) when given."""
    p = products
    with app.engine.connect() as conn:
        rows = conn.execute(select(p.c.key, p.c.group, p.c.created_at, p.c.data).where(*_awaiting(conn, groups))
                            .order_by(p.c.created_at, p.c.key).limit(limit)).all()
    return [{"sku": key, "group": group, "arrived_at": as_utc(created_at), "name": _name(data)}
            for key, group, created_at, data in rows]


def awaiting_skus(app, *, groups: Iterable[str] = (), among: list[str] | None = None,
                  limit: int) -> tuple[int, list[str]]:
    """How many products await release (in ``groups``, or ``among`` these SKUs, if given), and
    their SKUs when at most ``limit``."""
    p = products
    with app.engine.connect() as conn:
        where = _awaiting(conn, groups)
        if among is not None:
            where.append(p.c.key.in_(among[:LOOKUP_CHUNK]))
        count = conn.execute(select(func.count()).select_from(p).where(*where)).scalar_one()
        if count > limit:
            return count, []
        return count, list(conn.execute(select(p.c.key).where(*where).order_by(p.c.key)).scalars())


def _name(data: str) -> str:
    """The product's name from its stored record (the page shows it; a record without one shows its SKU only)."""
    name = orjson.loads(data).get("name")
    return name if isinstance(name, str) else ""
