"""The store's tables.

Every record kind has a table of the same shape: ``key`` (the record's identity), the record's
canonical JSON in ``data``, its ``content_hash``, the ``source_hash`` of the raw ERP record it
was imported from (NULL when it came another way), and ``created_at``/``updated_at``; plus the
columns the shop queries by, copied from the record's fields of the same name. Keeping the
record whole in ``data`` means a new record field needs no migration; keeping the queried
fields as columns keeps reads indexed.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Index, Integer, MetaData, Numeric, String, Table, Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

CODE = String(128)
AMOUNT = Numeric(24, 6)


def _record_table(name: str, *columns: Column, indexes: tuple[tuple[str, ...], ...] = ()) -> Table:
    table = Table(
        name,
        metadata,
        Column("key", String(512), primary_key=True),
        *columns,
        Column("content_hash", String(32), nullable=False),
        # Lets a re-import skip an unchanged raw record before mapping it (see
        # erpbridge.connectors.files.importer): 64 bits of a keyed hash of that record.
        Column("source_hash", BigInteger),
        Column("data", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    )
    for cols in indexes:
        columns = [table.c[c] for c in cols]
        if len(columns) == 1 and columns[0].nullable:
            # Looked up by value only: rows without one (most products have no parent_sku)
            # stay out of the index, and cost an import nothing there.
            where = columns[0].is_not(None)
            Index(None, *columns, sqlite_where=where, postgresql_where=where)
        else:
            Index(None, *columns)
    return table


product_groups = _record_table("product_groups", Column("parent", CODE), indexes=(("parent",),))

products = _record_table(
    "products",
    Column("group", CODE),
    Column("parent_sku", CODE),
    Column("ean", CODE),
    # The shop's switch, not the ERP's: set from `catalog.new_products_enabled` when the
    # product first arrives and never touched by imports after that.
    Column("enabled", Boolean, nullable=False),
    # When the merchant last enabled or disabled it (NULL: never; a new product awaiting release).
    Column("released_at", DateTime(timezone=True)),
    indexes=(("group",), ("parent_sku",), ("ean",)),
)

prices = _record_table(
    "prices",
    Column("sku", CODE, nullable=False),
    Column("customer", CODE),
    Column("currency", String(3), nullable=False),
    Column("min_quantity", AMOUNT, nullable=False),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("amount", AMOUNT, nullable=False),
    indexes=(("sku", "customer"),),
)

stock = _record_table(
    "stock",
    Column("sku", CODE, nullable=False),
    Column("warehouse", CODE, nullable=False),
    Column("quantity", AMOUNT, nullable=False),
    indexes=(("sku",),),
)

customers = _record_table("customers", Column("email", String(320)), Column("group", CODE), indexes=(("email",),))

orders = _record_table(
    "orders",
    Column("customer", CODE),
    Column("placed_at", DateTime(timezone=True)),
    # The hub's own state of the order, not part of the record: `accepted` (to be sent to the
    # ERP), `awaiting_payment` (electronic payment not yet acknowledged, seed 000), `cancelled`.
    Column("state", String(32), nullable=False),
    # The shop system it came from (NULL: the shop that calls erpbridge's own API); its ERP gets it.
    Column("shop", String(64)),
    indexes=(("customer",), ("placed_at",), ("state", "created_at")),
)
cancellations = _record_table("cancellations", Column("order", CODE, nullable=False), indexes=(("order",),))
returns = _record_table("returns", Column("order", CODE, nullable=False), indexes=(("order",),))
order_statuses = _record_table("order_statuses", Column("status", String(32), nullable=False))
shipments = _record_table("shipments", Column("order", CODE, nullable=False), indexes=(("order",),))
invoices = _record_table("invoices", Column("order", CODE, nullable=False), indexes=(("order",),))
credit_memos = _record_table("credit_memos", Column("order", CODE, nullable=False), indexes=(("order",),))
documents = _record_table(
    "documents", Column("order", CODE), Column("customer", CODE), indexes=(("order",), ("customer",))
)

#: A record's id in an external system (connector vocabulary: the binder's table).
bindings = Table(
    "bindings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", String(512), nullable=False),
    Column("system", String(64), nullable=False),
    Column("external_id", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "key", "system"),
    UniqueConstraint("system", "kind", "external_id"),
)

#: Files taken from an inbox, by content, so the same file is never imported twice.
imported_files = Table(
    "imported_files",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(1024), nullable=False),
    Column("size", Integer, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("report", Text, nullable=False),
)

#: Per files system: the inbox's last pass that handled files (what `/readyz` and `erpbridge status` report).
inbox_passes = Table(
    "inbox_passes",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("passed_at", DateTime(timezone=True), nullable=False),
    Column("files", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("failures", Text, nullable=False),  # JSON: [{"file", "reason"}] of the first failed files
)

#: The table of each record kind, by the kind's name.
RECORD_TABLES: dict[str, Table] = {
    t.name: t
    for t in (product_groups, products, prices, stock, customers, orders, cancellations, returns,
              order_statuses, shipments, invoices, credit_memos, documents)
}
