"""Re-importing an export that has mostly not changed: records whose raw form is the one the
store was last given are recognised by their source hash and not mapped again, yet the store
ends exactly as a record-by-record import would leave it (a key twice in one file, a changed
mapping, a record changed since by someone other than the import), on both stores, in this
process and in worker processes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from erpbridge.connectors.files import import_workers, importer
from erpbridge.connectors.files.importer import Importer, RecordSteps
from erpbridge.records import Product
from erpbridge.store.tables import products


def _line(sku: str, name: str, **more) -> str:
    return json.dumps({"sku": sku, "name": name, "list_price": "9.50", **more})


def _catalog(count: int = 200, name=lambda i: f"Shirt {i}") -> list[str]:
    return [_line(f"P{i:03d}", name(i)) for i in range(count)]


@pytest.fixture
def import_lines(tmp_path):
    """``import_lines(app, lines, workers=0)``: write the lines as one JSON Lines file, import it."""

    def run(app, lines: list[str], workers: int = 0):
        path = tmp_path / "products.jsonl"
        path.write_text("\n".join(lines) + "\n")
        return Importer(app.config, app.records, "products").import_file(path, workers=workers)

    return run


@pytest.fixture
def mapped(monkeypatch) -> list[str]:
    """The keys of the records this process maps whole, in order."""
    calls = []
    finish = RecordSteps.finish

    def counting(self, raw, source):
        row = finish(self, raw, source)
        calls.append(getattr(row, "key", None))
        return row

    monkeypatch.setattr(RecordSteps, "finish", counting)
    return calls


def _stored(app) -> dict[str, tuple[str, object]]:
    with app.engine.connect() as conn:
        rows = conn.execute(select(products.c.key, products.c.data, products.c.updated_at)).all()
    return {key: (json.loads(data)["name"], updated_at) for key, data, updated_at in rows}


def test_unchanged_records_are_not_mapped_again(app, import_lines, mapped):
    import_lines(app, _catalog())
    before = _stored(app)
    mapped.clear()

    report = import_lines(app, _catalog(name=lambda i: f"Shirt {i}" + (" v2" if i in (7, 70, 170) else "")))

    assert (report.new, report.changed, report.unchanged, report.rejected) == (0, 3, 197, 0)
    assert mapped == ["P007", "P070", "P170"]
    after = _stored(app)
    assert after["P070"][0] == "Shirt 70 v2" and after["P070"][1] > before["P070"][1]
    assert {k: v for k, v in after.items() if k not in ("P007", "P070", "P170")} == \
        {k: v for k, v in before.items() if k not in ("P007", "P070", "P170")}


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("first", ["changed", "as stored"])
def test_a_key_twice_in_one_file_ends_as_its_last_line(app, import_lines, monkeypatch, workers, first):
    """The later line of a key wins, even when it is the line the store already holds and the
    earlier one (a chunk or a batch before it) changed the key in between."""
    monkeypatch.setattr(importer, "BATCH_SIZE", 50)
    monkeypatch.setattr(import_workers, "CHUNK_RECORDS", 20)
    monkeypatch.setattr(import_workers, "CHUNK_BYTES", 1 << 10)
    import_lines(app, _catalog())
    changed = _line("P100", "Shirt 100 (sale)")
    lines = _catalog()
    if first == "changed":
        lines = [changed, *lines]  # ... and P100 as stored at line 102
        last = "Shirt 100"
    else:
        lines = [*lines, changed]  # P100 as stored at line 101, then changed
        last = "Shirt 100 (sale)"

    for _ in range(2):  # twice: the second time the file's last line of P100 is what is stored
        report = import_lines(app, lines, workers)
        assert report.read == 201 and report.new == 0 and report.rejected == 0
        names = {key: name for key, (name, _) in _stored(app).items()}
        assert names["P100"] == last
        assert names == {f"P{i:03d}": last if i == 100 else f"Shirt {i}" for i in range(200)}


def test_a_changed_mapping_maps_every_record_again(make_app, import_lines, mapped):
    lines = [_line(f"P{i:03d}", f"Shirt {i}", title=f"Cotton shirt {i}") for i in range(50)]
    import_lines(make_app(), lines)
    app = make_app(mappings={"products": {"fields": {"name": "title"}}})
    mapped.clear()

    report = import_lines(app, lines)

    assert (report.changed, report.unchanged) == (50, 0) and len(mapped) == 50
    assert _stored(app)["P007"][0] == "Cotton shirt 7"
    mapped.clear()
    assert import_lines(app, lines).unchanged == 50 and mapped == []


def test_a_record_changed_by_another_writer_is_imported_again(app, import_lines, mapped):
    """The shop or a connector changed a product after the import: the next import of the
    same export puts the ERP's content back instead of skipping it."""
    import_lines(app, _catalog())
    app.records.put([Product(sku="P042", name="Renamed in the shop", list_price="9.50")])
    mapped.clear()

    report = import_lines(app, _catalog())

    assert (report.changed, report.unchanged) == (1, 199) and mapped == ["P042"]
    assert _stored(app)["P042"][0] == "Shirt 42"


def test_the_same_content_written_differently_is_unchanged_and_then_skipped(app, import_lines, mapped):
    """Another export of the same data (keys in another order) changes nothing, writes no
    content, and is recognised by its own source hash from then on."""
    import_lines(app, _catalog())
    before = _stored(app)
    reordered = [json.dumps(dict(reversed(json.loads(line).items()))) for line in _catalog()]
    mapped.clear()

    report = import_lines(app, reordered)

    assert (report.new, report.changed, report.unchanged) == (0, 0, 200) and len(mapped) == 200
    assert _stored(app) == before
    mapped.clear()
    assert import_lines(app, reordered).unchanged == 200 and mapped == []


def test_worker_processes_and_this_process_recognise_each_others_imports(app, import_lines, mapped, monkeypatch):
    monkeypatch.setattr(import_workers, "CHUNK_BYTES", 2 << 10)
    import_lines(app, _catalog(), workers=2)
    mapped.clear()

    report = import_lines(app, _catalog(), workers=0)

    assert (report.new, report.changed, report.unchanged) == (0, 0, 200) and mapped == []
    changed = _catalog(name=lambda i: f"Shirt {i}" + (" v2" if i == 5 else ""))
    assert import_lines(app, changed, workers=2).changed == 1
    assert _stored(app)["P005"][0] == "Shirt 5 v2"
