"""The products awaiting release page (seed 001): new ERP products arrived disabled; an operator
checks them and enables one, the ticked ones, or a whole product group (with its subgroups).

Like the message actions, enabling is two steps: a preview that names how many products and
which, then the change of exactly those (a product someone decided on in between is left alone
and named). The change goes through the same path as ``erpbridge products enable`` and the API's
``write:catalog`` (:func:`erpbridge.services.products.set_enabled`), and its ``control_audit`` row
is written in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from erpbridge.control.messages import MAX_BULK, audit
from erpbridge.services.products import Release, awaiting_release, awaiting_skus, set_enabled
from erpbridge.store.tables import products

PAGE = 100


def page_of(hub, group: str = "") -> list[dict]:
    """The oldest products awaiting release, of ``group`` (and its subgroups) when given."""
    return awaiting_release(hub, limit=PAGE, groups=[group] if group else [])


@dataclass
class Preview:
    group: str  # the whole group was chosen ("" : the ticked SKUs)
    skus: list[str] = field(default_factory=list)
    too_many: int = 0  # how many matched when more than MAX_BULK did


def preview(hub, *, skus: list[str], group: str) -> Preview:
    """What enabling would touch: the ticked ``skus`` that await release, or every product of
    ``group`` (with its subgroups) that does."""
    if skus:
        if len(skus) > PAGE:
            raise ValueError(f"at most {PAGE} products can be ticked: enable a whole group instead")
        return Preview("", awaiting_skus(hub, among=skus, limit=PAGE)[1])
    if not group:
        raise ValueError("tick products or choose a product group to enable")
    count, found = awaiting_skus(hub, groups=[group], limit=MAX_BULK)
    return Preview(group, found, too_many=count if count > MAX_BULK else 0)


def apply(hub, skus: list[str], *, actor: str, reason: str, group: str) -> Release:
    """Enable the previewed ``skus`` still awaiting release; audited in the same transaction."""
    if len(skus) > MAX_BULK:
        raise ValueError(f"at most {MAX_BULK} products per action, got {len(skus)}")
    if not skus:
        raise ValueError("no products to enable: preview again")

    def audited(conn, result: Release) -> None:
        audit(conn, actor, "enable", "products", selection={"group": group, "previewed": len(skus),
                                                             "decided_since": result.decided},
              ids=result.changed, reason=reason or None)

    return set_enabled(hub, enabled=True, skus=skus, awaiting_only=True, actor=actor, audit=audited)


def groups(hub) -> list[str]:
    """The product groups that have products awaiting release (the page's group filter)."""
    p = products
    with hub.engine.connect() as conn:
        return list(conn.execute(select(p.c.group).distinct().where(
            p.c.released_at.is_(None), p.c.enabled.is_(False), p.c.group.is_not(None)).order_by(p.c.group)).scalars())
