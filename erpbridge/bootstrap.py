"""Wires erpbridge together from a config: one place that builds the engine, the store and
what runs on them, so the CLI, the API and the tests all get the same parts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from erpbridge.config import Config
from erpbridge.store import make_engine, upgrade
from erpbridge.store.records import RecordStore


@dataclass
class App:
    config: Config
    engine: Engine
    records: RecordStore

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(config: Config, *, migrate: bool = True) -> App:
    """Build the app; with ``migrate`` (what `erpbridge run` does) bring the schema up to date first."""
    url = config.store.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        # A relative SQLite path is relative to the config file, like every other path in it.
        url = "sqlite:///" + str(config.resolve(Path(url.removeprefix("sqlite:///"))))
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return App(config=config, engine=engine,
               records=RecordStore(engine, new_products_enabled=config.catalog.new_products_enabled))
