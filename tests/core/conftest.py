"""Fixtures of the core tests: an app on each store (SQLite and PostgreSQL, see ``db_url``) with
the file-exchange ERP in a temporary folder, and a one-call import of a file written inline."""

from __future__ import annotations

from pathlib import Path

import pytest

from erpbridge.bootstrap import bootstrap
from erpbridge.config import Config
from erpbridge.connectors.files.importer import Importer
from erpbridge.ingest.report import ImportReport


def make_config(db_url: str, tmp_path: Path, **sections) -> Config:
    values = {
        "store": {"url": db_url},
        "systems": {"erp": {"connector": "files", "inbox": str(tmp_path / "inbox"),
                            "outbox": str(tmp_path / "outbox"), "settle_time": 0}},
        "catalog": {"warehouses": [{"code": "MAIN"}, {"code": "SOUTH"}]},
    }
    values.update(sections)
    return Config.model_validate(values)


@pytest.fixture
def make_app(db_url, tmp_path):
    apps = []

    def make(**sections):
        app = bootstrap(make_config(db_url, tmp_path, **sections))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def import_text(tmp_path):
    """``import_text(app, kind, name, content)``: write ``content`` (str or bytes) to a file
    called ``name`` and import it as ``kind``; returns the report."""

    def run(app, kind: str, name: str, content: str | bytes) -> ImportReport:
        path = tmp_path / "files" / name
        path.parent.mkdir(exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
        return Importer(app.config, app.records, kind).import_file(path)

    return run


def messages(report: ImportReport) -> list[str]:
    return [str(r) for r in report.rejections]
