"""The store: migrations, records by key, delta by content hash, the shop's enabled switch."""

from __future__ import annotations

from decimal import Decimal

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from erpbridge.records import Customer, Price, Product, StockLevel
from erpbridge.store import migrate
from erpbridge.store.records import RecordStore, prepare
from erpbridge.store.tables import metadata


def test_migrations_build_exactly_the_declared_schema(engine):
    assert migrate.revision_of(engine) == migrate.head()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


AUTOGENERATE = """
import shutil, sys
from pathlib import Path
from erpbridge.store import make_engine, migrate   # the store alone, as a developer's fresh process has it
scripts = Path(sys.argv[2]) / "migrations"
shutil.copytree(migrate.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
print(migrate.autogenerate(make_engine(sys.argv[1]), "nothing", rev_id="9999", head=max(migrate.head().split(",")),
                            scripts=scripts))
"""


def test_autogenerate_from_a_fresh_process_sees_every_parts_tables(db_url, engine, tmp_path):
    """A developer's `autogenerate` in a process that imported only the store must compare with
    every table (outbox, exchange log, flows, API keys), or its script drops them."""
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run([sys.executable, "-c", AUTOGENERATE, db_url, str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout
    script = Path(out.strip().splitlines()[-1]).read_text()
    upgrade = script.split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert "drop_table" not in upgrade and "op." not in upgrade, upgrade


def test_upgrade_twice_is_a_no_op(engine):
    migrate.upgrade(engine)
    assert migrate.revision_of(engine) == migrate.head()


def test_unchanged_content_is_not_written_again(engine):
    store = RecordStore(engine)
    rows = [prepare(Product(sku=f"SKU-{i}", name=f"Product {i}", list_price=Decimal(i))) for i in range(10)]
    first, written = store.write("products", rows)
    assert (first.new, first.changed, first.unchanged) == (10, 0, 0)
    assert len(written) == 10

    again, written = store.write("products", rows)
    assert (again.new, again.changed, again.unchanged) == (0, 0, 10)
    assert written == []

    rows[3] = prepare(Product(sku="SKU-3", name="Renamed", list_price=Decimal(3)))
    third, written = store.write("products", rows)
    assert (third.new, third.changed, third.unchanged) == (0, 1, 9)
    assert written == ["SKU-3"]
    assert store.get("products", "SKU-3").name == "Renamed"


def test_equal_amounts_in_other_notation_are_the_same_content(engine):
    store = RecordStore(engine)
    store.put([Price(sku="A", amount="3.50", currency="EUR", min_quantity="10.000")])
    result = store.put([Price(sku="A", amount="3.5", currency="EUR", min_quantity="10")])
    assert (result.new, result.changed, result.unchanged) == (0, 0, 1)


def test_new_products_arrive_disabled(engine):
    store = RecordStore(engine)
    store.put([Product(sku="A", name="Chair")])
    assert store.is_enabled("A") is False


def test_new_products_enabled_when_configured(engine):
    store = RecordStore(engine, new_products_enabled=True)
    store.put([Product(sku="B", name="Table")])
    assert store.is_enabled("B") is True


def test_records_of_several_kinds_round_trip(engine):
    store = RecordStore(engine)
    customer = Customer(
        number="C-1", name="Acme GmbH", group="B2B", credit_limit="5000",
        invoice_address={"name": "Acme", "street": "Hauptstr. 1", "postcode": "10115", "city": "Berlin", "country": "de"},
        delivery_addresses=[
            {"name": "Acme Lager", "street": "Ring 2", "postcode": "20095", "city": "Hamburg", "country": "DE"},
            {"name": "Acme Shop", "street": "Weg 3", "postcode": "80331", "city": "München", "country": "DE"},
        ],
        contacts=[{"name": "Jo Doe", "email": "jo@acme.example"}],
    )
    store.put([customer, StockLevel(sku="A", warehouse="MAIN", quantity="12.5")])
    assert store.get("customers", "C-1") == customer
    assert store.get("customers", "C-1").invoice_address.country == "DE"
    assert store.get("stock", "A\x1fMAIN").quantity == Decimal("12.5")
    assert store.get("customers", "nope") is None
