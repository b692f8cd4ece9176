"""What every command shares: the config, loaded once, and the app built from it."""

from __future__ import annotations

import json
import sys
import typing
from typing import Any

import click

from erpbridge.bootstrap import App, bootstrap
from erpbridge.config import Config, ConfigError, load_config, require_secrets


class CliContext:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._config: Config | None = None
        self._app: App | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                _stop(exc)
        return self._config

    def require_secrets(self, systems: list[str] | None = None) -> None:
        """For a command that will build these systems' connectors (default: all): stop now (exit
        2) if one of their secrets cannot be read, rather than when it is first used."""
        try:
            require_secrets(self.config, systems)
        except ConfigError as exc:
            _stop(exc)

    def app(self, *, migrate: bool = True) -> App:
        if self._app is None:
            self._app = bootstrap(self.config, migrate=migrate)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


pass_cli = click.make_pass_decorator(CliContext)


def _stop(exc: ConfigError) -> typing.NoReturn:
    click.echo(f"erpbridge: {exc}", err=True)
    sys.exit(2)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))
