"""The config file (issue 2, bullet 2): validated on load, errors name the file, the key path and
what was expected; secrets come from the environment or from files."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpbridge.config import Config, ConfigError, load_config, require_secrets


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "erpbridge.yaml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_a_wrong_key_names_the_file_the_path_and_the_keys_allowed(tmp_path):
    path = write(tmp_path, "catalog:\n  new_product_enabled: true\n")
    assert error_of(path) == (f"{path}: catalog.new_product_enabled: unknown key, expected one of: "
                              "new_products_enabled, default_currency, warehouses")


def test_wrong_types_and_values_are_all_reported_at_once(tmp_path):
    path = write(tmp_path, "orders: {send_order_to_erp: maybe}\nflows:\n  stock: {schedule: every 5 min}\n"
                           "systems:\n  erp: {connector: files, semaphore: {max_lock_time: -1}}\n")
    assert error_of(path).splitlines() == [
        f"{path}: systems.erp.semaphore.max_lock_time: Input should be greater than 0, got -1",
        f"{path}: orders.send_order_to_erp: Input should be a valid boolean, unable to interpret input, got 'maybe'",
        f"{path}: flows.stock.schedule: expected a cron expression like '*/5 * * * *', got 'every 5 min'",
    ]


def test_an_unsupported_store_url_is_refused(tmp_path):
    path = write(tmp_path, "store: {url: 'mysql://root@127.0.0.1/x'}\n")
    assert error_of(path) == (f"{path}: store.url: expected a sqlite:///path or postgresql+psycopg://user@host/db "
                              "URL, got 'mysql://root@127.0.0.1/x'")


def test_secrets_come_from_the_environment_or_from_files(tmp_path, monkeypatch):
    (tmp_path / "erp-password").write_text("from-a-file\n")
    path = write(tmp_path, (
        "store: {url: 'postgresql+psycopg://hub:${PGPASSWORD}@127.0.0.1/hub'}\n"
        "systems:\n  erp: {connector: tryton, url: 'http://127.0.0.1:8000', database: '${TRYTON_DB:-shop}',"
        " user: admin, password: '${file:" + str(tmp_path / "erp-password") + "}'}\n"))
    monkeypatch.setenv("PGPASSWORD", "pg-secret")
    config = load_config(path)
    assert config.store.url == "postgresql+psycopg://hub:pg-secret@127.0.0.1/hub"
    erp = config.systems["erp"]
    assert erp.database == "shop" and erp.password.get_secret_value() == "from-a-file"
    assert "from-a-file" not in repr(config) and "from-a-file" not in str(erp)


TRYTON = ("systems:\n  erp: {connector: tryton, url: 'http://127.0.0.1:8000', database: shop, user: admin,"
          " password: '${ERP_PASSWORD}'}\n")


def test_a_missing_secret_is_named_when_it_is_first_used(tmp_path, monkeypatch):
    monkeypatch.delenv("ERP_PASSWORD", raising=False)
    path = write(tmp_path, TRYTON)
    config = load_config(path)  # loading, and every command that never uses the password, goes on
    expected = f"{path}: systems.erp.password: environment variable ERP_PASSWORD is not set"
    with pytest.raises(ConfigError) as used:
        config.systems["erp"].password.get_secret_value()
    assert str(used.value) == expected
    with pytest.raises(ConfigError) as required:  # what `erpbridge run` asks before it builds connectors
        require_secrets(config)
    assert str(required.value) == expected
    require_secrets(config, systems=[])
    monkeypatch.setenv("ERP_PASSWORD", "now-set")
    assert load_config(path).systems["erp"].password.get_secret_value() == "now-set"


def test_a_missing_variable_outside_a_secret_still_stops_loading(tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    path = write(tmp_path, "store: {url: 'postgresql+psycopg://hub:${PGPASSWORD}@127.0.0.1/hub'}\n"
                           "mappings:\n  products: {defaults: {currency: '${CURRENCY_NOT_SET}'}}\n")
    assert error_of(path) == f"{path}: store.url: environment variable PGPASSWORD is not set"
    path = write(tmp_path, "mappings:\n  products: {defaults: {currency: '${CURRENCY_NOT_SET}'}}\n")
    assert error_of(path) == (f"{path}: mappings.products.defaults.currency: environment variable CURRENCY_NOT_SET "
                              "is not set")


def test_config_errors_never_echo_secrets_or_values_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STORE_URL", "mysql://hub:hunter2@db.internal/hub")
    monkeypatch.setenv("ERP_TIMEOUT", "hunter3")
    monkeypatch.setenv("ERP_PASSWORD", "hunter4")
    path = write(tmp_path, (
        "store: {url: '${STORE_URL}'}\n"
        "systems:\n  erp: {connector: tryton, url: 'http://127.0.0.1:8000', database: shop, user: admin,"
        " password: '${ERP_PASSWORD}', timeout: '${ERP_TIMEOUT}'}\n"
        "  hooks: {connector: webhooks, subscribers: [{name: shop, url: 'https://shop.example/h', secret: 12345}]}\n"))
    lines = error_of(path).splitlines()
    assert lines == [
        f"{path}: store.url: expected a sqlite:///path or postgresql+psycopg://user@host/db URL (the value came "
        "from ${STORE_URL} and is not shown)",
        f"{path}: systems.erp.timeout: Input should be a valid number, unable to parse string as a number (the "
        "value came from ${ERP_TIMEOUT} and is not shown)",
        f"{path}: systems.hooks.subscribers.0.secret: expected a string (give it as ${{VAR}} or ${{file:...}}) "
        "(the value is a secret and is not shown)",
    ]
    # A password written into a URL in clear is not repeated either.
    path = write(tmp_path, "store: {url: 'mysql://hub:hunter5@db.internal/hub'}\n")
    assert error_of(path).endswith(", got 'mysql://hub:***@db.internal/hub'")
    assert "hunter5" not in repr(Config.model_validate({"store": {"url": "sqlite:///x"}}).store.model_copy(
        update={"url": "postgresql+psycopg://hub:hunter5@db/hub"}))


def test_broken_yaml_and_missing_files_are_config_errors(tmp_path):
    assert error_of(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: cannot read the config file: No such file or directory"
    assert error_of(write(tmp_path, "store: [1\n")).startswith(f"{tmp_path / 'erpbridge.yaml'}: not valid YAML: ")


def test_the_file_is_found_by_flag_then_environment_then_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ERPBRIDGE_CONFIG", raising=False)
    assert load_config() == Config()  # built-in default: SQLite in ./erpbridge.db, files ERP in ./erp/
    write(tmp_path, "catalog: {default_currency: CHF}\n")
    assert load_config().catalog.default_currency == "CHF"
    other = tmp_path / "other.yaml"
    other.write_text("catalog: {default_currency: USD}\n")
    monkeypatch.setenv("ERPBRIDGE_CONFIG", str(other))
    assert load_config().catalog.default_currency == "USD"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    config = load_config(write(tmp_path, "systems:\n  erp: {connector: files, inbox: exports}\n"))
    assert config.resolve(config.systems["erp"].inbox) == tmp_path / "exports"


def test_a_mapping_to_a_field_the_record_lacks_is_refused_on_use(tmp_path):
    from erpbridge.mapping.mapper import MappingError, Mapper
    from erpbridge.records import Product

    config = load_config(write(tmp_path, "mappings:\n  products:\n    fields: {colour: FARBE}\n"))
    with pytest.raises(MappingError, match=r"mappings.products.fields.colour: Product has no field 'colour'"):
        Mapper(Product, config.mapping("products"))


def test_errors_in_a_webhooks_system_name_the_key_path_and_the_keys_allowed(tmp_path):
    path = write(tmp_path, "systems:\n  erp: {connector: files}\n  hooks: {connector: webhooks, subscribers: "
                           "[{name: s, url: 'ftp://x', secret: '${HOOK_SECRET:-x}', evnts: []}]}\n")
    assert error_of(path).splitlines() == [
        f"{path}: systems.hooks.subscribers.0.url: String should match pattern '^https?://', got 'ftp://x'",
        f"{path}: systems.hooks.subscribers.0.evnts: unknown key, expected one of: name, url, secret, events"]
