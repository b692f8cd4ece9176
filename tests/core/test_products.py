"""Products the merchant releases: new ERP products arrive disabled; `erpbridge products enable`
(and the API, tests/api/test_releases.py) release them by SKU, group or all new ones; a
re-import keeps the core data flowing and never overwrites the decision."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from erpbridge.records import Product, ProductGroup
from erpbridge.services.products import awaiting_release, set_enabled


def _catalog(app):
    app.records.put([ProductGroup(code="tools", name="Tools"), ProductGroup(code="saws", name="Saws", parent="tools"),
                     ProductGroup(code="paint", name="Paint"),
                     Product(sku="SAW-1", name="Saw", group="saws"), Product(sku="HAM-1", name="Hammer", group="tools"),
                     Product(sku="RED-1", name="Red", group="paint"), Product(sku="BLU-1", name="Blue", group="paint")])


def test_products_are_released_by_sku_group_with_subgroups_and_all_new(app):
    _catalog(app)
    assert [p["sku"] for p in awaiting_release(app)] == ["BLU-1", "HAM-1", "RED-1", "SAW-1"]
    by_group = set_enabled(app, enabled=True, groups=["tools"])
    assert by_group.changed == ["HAM-1", "SAW-1"] and app.records.is_enabled("SAW-1") is True
    set_enabled(app, enabled=False, skus=["RED-1"])  # withdrawn before it was ever sold: decided, not new
    assert set_enabled(app, enabled=True, all_new=True).changed == ["BLU-1"]
    assert app.records.is_enabled("RED-1") is False and awaiting_release(app) == []
    again = set_enabled(app, enabled=True, skus=["SAW-1", "NOPE"], groups=["nope"])
    assert (again.changed, again.unchanged, again.unknown, again.unknown_groups) == ([], ["SAW-1"], ["NOPE"], ["nope"])


def test_a_reimport_keeps_flowing_core_data_but_never_the_merchants_decision(app, import_text):
    import_text(app, "products", "products.csv", "sku,name,list_price\nA1,Apple,1.00\nA2,Pear,2.00\n")
    set_enabled(app, enabled=True, skus=["A1"])
    set_enabled(app, enabled=False, skus=["A2"])
    import_text(app, "products", "products-2.csv", "sku,name,list_price\nA1,Green apple,1.10\nA2,Pear,2.20\n")
    assert app.records.is_enabled("A1") is True and app.records.is_enabled("A2") is False
    assert app.records.get("products", "A1").name == "Green apple" and str(app.records.get("products", "A2").list_price) == "2.2"
    assert [p["sku"] for p in awaiting_release(app)] == []  # A2 was decided on: not "new"


def test_the_cli_releases_products_and_exits_1_naming_what_it_does_not_know(app, tmp_path):
    _catalog(app)
    config = tmp_path / "cli.yaml"
    config.write_text(yaml.safe_dump(json.loads(app.config.model_dump_json())))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "erpbridge", "-c", str(config), "products", *args],
                              capture_output=True, text=True)

    done = cli("enable", "SAW-1", "--group", "paint", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["changed"] == ["BLU-1", "RED-1", "SAW-1"]
    refused = cli("disable", "RED-1", "GONE-1")
    assert refused.returncode == 1 and refused.stdout.strip() == "disabled 1 product(s)"
    assert "not in the store: SKU GONE-1" in refused.stderr
    assert app.records.is_enabled("RED-1") is False and app.records.is_enabled("SAW-1") is True
    assert cli("enable").returncode == 2  # nothing named: a usage error
