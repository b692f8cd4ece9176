"""The README's Tryton section as a new user follows it: ``examples/tryton/erpbridge.yaml`` against
a Tryton set up by ``examples/tryton/tryton_setup.py`` (the script that made the test Tryton's
template database), with the README naming the same packages, modules and steps as the tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import server
from test_order_to_cash import order

from erpbridge.bootstrap import bootstrap
from erpbridge.config import StoreConfig, load_config
from erpbridge.connectors.tryton.spec import SPEC
from erpbridge.flows import run_flow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tryton" / "erpbridge.yaml"


@pytest.fixture
def example_app(tryton_server, tmp_path, monkeypatch):
    """The example config as it is, its variables set as a user would; its store in the test's
    folder instead of beside the example."""
    monkeypatch.setenv("TRYTON_URL", tryton_server.url)
    monkeypatch.setenv("TRYTON_PASSWORD", tryton_server.password)
    config = load_config(EXAMPLE)
    app = bootstrap(config.model_copy(update={"store": StoreConfig(url=f"sqlite:///{tmp_path / 'store.db'}")}))
    yield app
    app.close()


def test_the_readme_sets_up_tryton_as_the_tests_do():
    readme = ROOT.joinpath("README.md").read_text()
    section = readme[readme.index("\n## Tryton\n"):]
    section = section[:section.index("\n## ", 1)]
    setup = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    assert all(package in setup for package in server.PACKAGES)
    assert " ".join(server.MODULES) in setup.replace("\\\n    ", "")
    assert f"tryton_setup.py tryton/trytond.conf {server.DATABASE}" in setup
    assert server.SETUP_SCRIPT == ROOT / "examples" / "tryton" / "tryton_setup.py"
    assert "--activate-dependencies --email admin@example.com -p --administrator" in setup


def test_the_example_config_works_against_a_tryton_set_up_as_the_readme_says(example_app, erp, prefix):
    app = example_app
    system = app.system("erp")
    sku = f"{prefix}-EX"
    product = erp.product(sku, "Example item", "9.50")
    for warehouse in system.warehouses:
        erp.receive(product, 4, warehouse)

    # Every shipping and payment method the example maps names something Tryton has.
    connector = app.connector("erp")
    methods = list(zip(list(system.shipping_methods) * len(system.payment_methods), system.payment_methods))
    for i, (shipping, payment) in enumerate(methods):
        number = f"SO-{prefix}-EX{i}"
        connector.deliver("send_order", {**order(number, None, [(sku, 1, "9.50")]), "shipping_method": shipping,
                                         "payment_method": payment}, number)
        sale, = erp.rpc.model("sale.sale", "read", [erp.sale(number)["id"]], ["state", "payment_term.name", "lines"])
        lines = erp.rpc.model("sale.line", "read", sale["lines"], ["product.code"])
        assert (sale["state"], sale["payment_term."]["name"]) == ("processing", system.payment_methods[payment])
        assert {l["product."]["code"] for l in lines} == {sku, system.shipping_methods[shipping]}

    # The connector's flows run without a flows: section naming them.
    assert set(SPEC.default_flows) == {"catalog", "prices", "stock", "customers", "feedback"}
    for flow in SPEC.default_flows:
        run = run_flow(app, flow)
        assert run["outcome"] == "ok", run
    for tryton_code, store_code in system.warehouses.items():
        assert app.records.get("stock", f"{sku}\x1f{store_code}").quantity == 4
    assert app.records.get("products", sku).name == "Example item"
