"""Systems in the config: connectors from the registry, each with its own keys and errors that
name the key path; roles; which ERP a shop's orders go to; per-message settings a connector
honours or refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from erpbridge.config import Config, ConfigError, load_config


def error_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "erpbridge.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [line.removeprefix(f"{path}: ") for line in str(caught.value).splitlines()]


def test_an_unknown_connector_names_the_installed_ones(tmp_path):
    from erpbridge.connectors.registry import installed

    names = ", ".join(sorted(installed()))
    assert {"files", "testerp", "testshop", "tryton", "webhooks", "webservice"} <= set(installed())
    assert error_of(tmp_path, "systems:\n  erp: {connector: sap}\n") == [
        f"systems.erp.connector: no connector 'sap' is installed; installed: {names}"]
    assert error_of(tmp_path, "systems:\n  erp: {inbox: x}\n") == [
        f"systems.erp.connector: required key is missing; installed connectors: {names}"]


def test_a_connectors_own_keys_are_checked_with_their_key_path(tmp_path):
    """The webhooks connector's config lives beside its code: its errors still name the path
    the user wrote (no connector label in it) and the keys allowed."""
    lines = error_of(tmp_path, (
        "systems:\n  erp: {connector: files}\n  hooks:\n    connector: webhooks\n"
        "    subscribers: [{name: shop, url: 'ftp://x', secret: s, evnts: ['*']}]\n"))
    assert lines[0] == "systems.hooks.subscribers.0.url: String should match pattern '^https?://', got 'ftp://x'"
    assert lines[1].startswith("systems.hooks.subscribers.0.evnts: unknown key, expected one of: name, url, secret")
    assert error_of(tmp_path, "systems:\n  erp: {connector: tryton, url: 'http://x', database: d, user: u,"
                              " password: p, warehous: WH}\n")[0].startswith(
        "systems.erp.warehous: unknown key, expected one of: connector, role, semaphore, messages, mappings,")


def test_roles_come_from_the_connector_and_must_be_ones_it_can_play(tmp_path):
    config = Config.model_validate({"systems": {"erp": {"connector": "files"},
                                                "hooks": {"connector": "webhooks", "subscribers": [
                                                    {"name": "s", "url": "https://shop.example.com/hook", "secret": "x"}]}}})
    assert {n: s.role for n, s in config.systems.items()} == {"erp": "erp", "hooks": "shop"}
    assert error_of(tmp_path, "systems:\n  erp: {connector: files}\n  shop: {connector: files, role: shop}\n") == [
        "systems.shop.role: the files connector can be erp, not shop"]


def test_the_first_system_is_no_longer_the_erp_by_position(tmp_path):
    """A webhooks system listed first used to become "the ERP"; now roles decide, and a hub
    without an ERP is refused."""
    hooks = "  hooks: {connector: webhooks, subscribers: [{name: s, url: 'https://shop.example.com/hook', secret: x}]}\n"
    config = load_config(_write(tmp_path, "systems:\n" + hooks + "  erp: {connector: files}\n"))
    assert config.erp_for() == "erp"
    assert error_of(tmp_path, "systems:\n" + hooks) == [
        "systems: no system has role erp; orders, customers and returns need one to go to"]


def test_each_shop_names_its_erp_when_there_are_several(tmp_path):
    two_erps = "systems:\n  a: {connector: testerp}\n  b: {connector: files}\n"
    assert error_of(tmp_path, two_erps + "  web: {connector: testshop}\n") == [
        "systems.web.erp: required with several ERPs (a, b): name the one that receives the orders",
        "api.erp: required with several ERPs (a, b): name the one that receives the orders"]
    assert error_of(tmp_path, two_erps + "  web: {connector: testshop, erp: c}\napi: {erp: a}\n") == [
        "systems.web.erp: no ERP named 'c'; the ERPs are: a, b"]
    config = load_config(_write(tmp_path, two_erps + "  web: {connector: testshop, erp: b}\napi: {erp: a}\n"))
    assert (config.erp_for("web"), config.erp_for()) == ("b", "a")
    assert error_of(tmp_path, "systems:\n  a: {connector: testerp, erp: a, receives: {groups: [G]}}\n") == [
        "systems.a.erp: only a shop has erp", "systems.a.receives: only a shop has receives"]


def test_per_message_settings_are_honoured_or_refused_by_name(tmp_path):
    assert error_of(tmp_path, "systems:\n  erp:\n    connector: files\n    messages:\n"
                              "      send_order: {timeout: 30}\n      send_invoice: {endpoint: x}\n") == [
        "systems.erp.messages.send_order.timeout: the files connector has no per-message timeout (it honours: "
        "endpoint, operation)",
        "systems.erp.messages.send_invoice: the files connector has no such message; its messages are: "
        "cancel_order, create_customer, send_order, send_return, update_customer"]


def test_erpbridge_connectors_lists_what_is_installed_and_what_each_can_do(tmp_path):
    config = _write(tmp_path, "systems:\n  erp: {connector: testerp}\n  web: {connector: testshop}\n")
    out = subprocess.run([sys.executable, "-m", "erpbridge", "-c", str(config), "connectors", "--json"],
                         capture_output=True, text=True, check=True).stdout
    found = {c["name"]: c for c in json.loads(out)}
    assert {"files", "tryton", "webhooks", "testerp", "testshop"} <= set(found)
    shop = found["testshop"]
    assert shop["distribution"] == "erpbridge-testconnectors" and shop["systems"] == {"web": "shop"}
    assert shop["capabilities"]["intake"] == ["orders"] and "push_products" in shop["capabilities"]["deliver"]
    assert found["tryton"]["capabilities"]["realtime"] == ["customer", "document", "price"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "erpbridge.yaml"
    path.write_text(text)
    return path
