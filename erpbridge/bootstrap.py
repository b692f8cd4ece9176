"""The composition root: builds erpbridge from a config, once, so the CLI, the API, the workers,
the flows and the tests all get the same parts.

:func:`bootstrap` opens the store (and migrates it); the :class:`App` it returns builds each
system's connector through the registry (:mod:`erpbridge.connectors.registry`) the first time
something needs it, and keeps it: one connector object per system and process, shared by the
worker threads, the flows and the API (connectors are thread-safe, see
:mod:`erpbridge.connectors.base`). Nothing else in erpbridge builds a connector.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from erpbridge.config import Config, ConfigError
from erpbridge.connectors import registry
from erpbridge.store import make_engine, upgrade
from erpbridge.store.records import RecordStore
from erpbridge.systems import SystemBase

log = logging.getLogger(__name__)


@dataclass
class App:
    config: Config
    engine: Engine
    records: RecordStore
    _connectors: dict[str, Any] = field(default_factory=dict, repr=False)
    _capabilities: dict[str, registry.Capabilities] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- systems ----------------------------------------------------------------------------

    def system(self, name: str) -> SystemBase:
        try:
            return self.config.systems[name]
        except KeyError:
            raise ConfigError(f"no system named {name!r}; the systems are: {', '.join(self.config.systems)}") from None

    def spec(self, name: str) -> registry.ConnectorSpec:
        """The registry entry of the connector of system ``name``."""
        return registry.spec(self.system(name).connector)

    def capabilities(self, name: str) -> registry.Capabilities:
        """What system ``name`` can do: its connector's capabilities, as far as its config configures
        them (worked out once: the order path asks for every order)."""
        capabilities = self._capabilities.get(name)
        if capabilities is None:
            capabilities = self._capabilities[name] = self.spec(name).capabilities_of(self.system(name))
        return capabilities

    def systems_that(self, test) -> list[str]:
        """The systems whose connector's capabilities pass ``test``, in config order."""
        return [name for name in self.config.systems if test(self.capabilities(name))]

    # -- connectors -------------------------------------------------------------------------

    def connector(self, name: str) -> Any:
        """System ``name``'s connector, built on first use and shared afterwards."""
        with self._lock:
            connector = self._connectors.get(name)
            if connector is None:
                connector = self._connectors[name] = self.spec(name).create(self, name, self.system(name))
            return connector

    def use_connector(self, name: str, connector: Any) -> None:
        """Use ``connector`` for system ``name`` instead of building one (tests, embedding)."""
        with self._lock:
            self._connectors[name] = connector

    def semaphore(self, name: str):
        """System ``name``'s semaphore (the breaker every process shares through the store)."""
        from erpbridge.outbox.semaphore import Semaphore

        system = self.config.systems.get(name)
        return Semaphore(self.engine, name, system.semaphore.max_lock_time if system else 60)

    def close(self) -> None:
        with self._lock:
            connectors, self._connectors = list(self._connectors.items()), {}
        for name, connector in connectors:
            close = getattr(connector, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # closing must not keep the others open
                    log.warning("closing the connector of %s failed", name, exc_info=True)
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
