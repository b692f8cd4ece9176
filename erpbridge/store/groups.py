"""The product group tree as the store holds it."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, select

from erpbridge.store.tables import product_groups


def with_subgroups(conn: Connection, groups: Iterable[str]) -> set[str]:
    """The groups that exist among ``groups``, each with all its subgroups."""
    children: dict[str | None, list[str]] = {}
    known = set()
    for code, parent in conn.execute(select(product_groups.c.key, product_groups.c.parent)):
        children.setdefault(parent, []).append(code)
        known.add(code)
    found: set[str] = set()
    todo = [g for g in groups if g in known]
    while todo:
        code = todo.pop()
        if code not in found:
            found.add(code)
            todo.extend(children.get(code, []))
    return found
