"""Big files are imported by worker processes (erpbridge.connectors.files.import_workers).
Forced here on small files cut into many chunks: the reports, the rejections (in file order,
with their lines and reasons) and what the store holds must be exactly those of the
in-process path, on both stores."""

from __future__ import annotations

import json

import pytest

from erpbridge.bootstrap import bootstrap
from erpbridge.connectors.files import import_workers
from erpbridge.connectors.files.importer import Importer

from .conftest import make_config


def _products_jsonl(count: int, changed: range = range(0)) -> bytes:
    lines = []
    for i in range(count):
        if i % 97 == 5:
            lines.append(b'{"sku": "B%d", "name": "broken' % i)
        elif i % 89 == 7:
            lines.append(json.dumps({"sku": f"N{i}", "name": f"neg {i}", "list_price": -1}).encode())
        elif i % 101 == 3:
            lines.append(b"")
        else:
            name = f"Product {i}" + (" v2" if i in changed else "")
            lines.append(json.dumps({"sku": f"P{i:05d}", "name": name, "list_price": f"{i}.5",
                                     "attributes": {"size": "M", "color": "red"}}).encode())
    return b"\n".join(lines) + b"\n"


def _products_xml(count: int, changed: range = range(0)) -> bytes:
    items = "".join(
        f"<product><sku>X{i}</sku><name>{'' if i % 53 == 1 else f'Item {i}' + (' v2' if i in changed else '')}</name>"
        f"<list_price>{i}</list_price></product>\n"
        for i in range(count))
    return f"<?xml version='1.0'?>\n<products>\n{items}</products>\n".encode()


def _imports(url: str, folder, name: str, files: list[bytes], workers: int) -> list:
    """Import each content in turn as the same file; the reports (without timings) and the store."""
    app = bootstrap(make_config(url, folder))
    try:
        importer = Importer(app.config, app.records, "products")
        path = folder / name
        reports = []
        for content in files:
            path.write_bytes(content)
            report = importer.import_file(path, workers=workers).as_dict()
            report.pop("seconds")
            reports.append(report)
        stored = [(p.sku, p.name, p.list_price) for p in app.records.find("products")]
        return [reports, stored, app.records.is_enabled(stored[0][0])]
    finally:
        app.close()


@pytest.mark.parametrize("name, make", [("products.jsonl", _products_jsonl), ("products.xml", _products_xml)])
def test_workers_import_exactly_what_the_in_process_path_imports(db_url, tmp_path, monkeypatch, name, make):
    monkeypatch.setattr(import_workers, "CHUNK_BYTES", 8 << 10)  # many byte ranges, cut inside lines
    files = [make(3000), make(3000), make(3000, changed=range(1000, 1030))]
    (tmp_path / "reference").mkdir()
    (tmp_path / "workers").mkdir()
    expected = _imports(f"sqlite:///{tmp_path / 'reference' / 'store.db'}", tmp_path / "reference", name, files, 0)
    actual = _imports(db_url, tmp_path / "workers", name, files, 2)

    first, again, changed = expected[0]
    assert first["rejected"] > 50 and first["new"] > 2800 and first["rejections_listed"] == first["rejected"]
    assert (again["new"], again["changed"], again["unchanged"]) == (0, 0, first["new"])
    assert 25 <= changed["changed"] <= 30 and changed["changed"] + changed["unchanged"] == first["new"]
    assert actual == expected
