"""Inputs that used to take the importing process or its memory with them (issue 10, items 3, 4
and 6): integers too long for Python (a segfault in ijson's C backend), records nested deeper
than the hashing can go, CSV with CR-only line ends or a broken header, lines and records of any
size, and feedback files of any size. Each is now a rejection that names the file, the record
and the reason, and the rest of the file goes in. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import event

from erpbridge.connectors.files import feedback, import_workers
from erpbridge.connectors.files.feedback import import_feedback_file
from erpbridge.connectors.files.importer import Importer
from erpbridge.store.tables import bindings

from .conftest import messages

POISON = "9" * 5000  # more digits than CPython turns into an int (sys.int_max_str_digits: 4,300)


def erpbridge_import(tmp_path, db_url, *args) -> subprocess.CompletedProcess:
    config = tmp_path / "erpbridge.yaml"
    config.write_text(json.dumps({"store": {"url": db_url}}))
    return subprocess.run([sys.executable, "-m", "erpbridge", "-c", str(config), "import", *args, "--json"],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("content, location", [
    ('[{"sku": "A1", "name": "Apple"}, {"sku": "A2", "name": "Pear", "weight": %s}]' % POISON, "$[1]"),
    # a run of digits that starts before one read of the parser (64 KiB) and ends after it
    ('[{"sku": "A1", "name": "%s"}, {"sku": "A2", "weight": %s}]' % ("x" * 65500, POISON), "$[1]"),
    # before the array of records: where the reader looks for it
    ('{"count": %s, "items": [{"sku": "A1", "name": "Apple"}]}' % POISON, "file"),
])
def test_a_json_integer_too_long_for_python_is_rejected_and_the_process_lives(tmp_path, db_url, content, location):
    path = tmp_path / "products.json"
    path.write_text(content)
    result = erpbridge_import(tmp_path, db_url, "products", str(path))
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])  # -11 was the segfault
    report = json.loads(result.stdout)
    assert report["new"] == (0 if location == "file" else 1)
    [rejection] = report["rejections"]
    assert rejection["location"] == location and "a number of more than 4,300 digits" in rejection["reason"]


DEEP = "[" * 2000 + "]" * 2000


def test_a_json_record_nested_too_deep_is_rejected_by_name_and_the_rest_imported(app, import_text):
    """ijson builds any depth; the hash (orjson) stopped at 254 levels with a TypeError that
    ended the import. (JSON Lines and XML are bounded by their parsers: orjson, lxml.)"""
    report = import_text(app, "products", "products.json", '[{"sku": "A1", "name": "Apple"}, {"sku": "A2", '
                         '"attributes": {"a": %s}}, {"sku": "A3", "name": "Plum"}]' % DEEP)
    assert (report.new, report.rejected) == (2, 1)
    assert messages(report) == ["products.json: $[1]: nested more than 64 levels deep"]


def test_a_json_integer_beyond_64_bits_is_rejected_by_its_field_not_an_error(app, import_text):
    report = import_text(app, "products", "products.json", '[{"sku": "A1", "name": "Apple", "weight": %d}, '
                                                           '{"sku": "A2", "name": "Pear"}]' % 10 ** 30)
    assert (report.new, report.rejected) == (1, 1)
    assert report.rejections[0].field == "weight"


def test_csv_with_cr_only_line_ends_is_read(app, import_text):
    report = import_text(app, "products", "products.csv", b"sku;name\rA1;Apple\rA2;\"Pear\rwith a break\"\r")
    assert (report.new, report.rejected) == (2, 0), messages(report)
    assert app.records.get("products", "A2").name == "Pear\nwith a break"


def test_a_csv_header_that_cannot_be_parsed_is_a_clear_file_error(app, import_text):
    report = import_text(app, "products", "products.csv", 'sku,"name\n')
    assert messages(report) == ["products.csv: file: line 1 (header): malformed: unexpected end of data"]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("name, line", [("products.jsonl", '{"sku": "A%d", "name": "%s"}'),
                                        ("products.csv", 'A%d,%s')])
def test_a_line_longer_than_max_record_bytes_is_rejected_by_number_and_the_rest_read(make_app, tmp_path, monkeypatch,
                                                                                       workers, name, line):
    monkeypatch.setattr(import_workers, "CHUNK_BYTES", 1 << 16)  # several ranges for the JSON Lines workers
    app = make_app(mappings={"products": {"max_record_bytes": 4096}})
    lines = ["sku,name"] if name.endswith(".csv") else []
    lines += [line % (i, "x" * (5 << 20 if i == 3 else 300 << 10 if i == 7 else 10)) for i in range(1, 400)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    report = Importer(app.config, app.records, "products").import_file(path, workers=workers)
    first = 2 if name.endswith(".csv") else 1
    assert (report.new, report.rejected) == (397, 2), messages(report)
    assert [r.location for r in report.rejections] == [f"line {first + 2}", f"line {first + 6}"]
    size = len(line % (3, "x" * (5 << 20))) + 1
    assert report.rejections[0].reason == f"line of {size:,} bytes, longer than max_record_bytes (4,096): not read"


def test_a_csv_row_spread_over_lines_past_max_record_bytes_is_rejected(make_app, import_text):
    app = make_app(mappings={"products": {"max_record_bytes": 4096}})
    quoted = "\n".join(["x" * 100] * 100)
    report = import_text(app, "products", "products.csv", f'sku,name\nA1,Apple\nA2,"{quoted}"\n')
    assert report.new >= 1 and report.rejections[0].location == "line 3"
    assert "a row of more than max_record_bytes (4,096) over several lines" in report.rejections[0].reason


@pytest.mark.parametrize("name, content", [
    ("products.json", '[{"sku": "A1", "name": "Apple"}, {"sku": "A2", "name": "%s"}, {"sku": "A3"}]'
                      % ("x" * (1 << 20))),
    ("products.xml", "<products><product><sku>A1</sku><name>Apple</name></product>"
                     "<product><sku>A2</sku><name>%s</name></product></products>" % ("x" * (1 << 20))),
])
def test_a_json_or_xml_record_larger_than_max_record_bytes_ends_the_file_there(make_app, import_text, name, content):
    app = make_app(mappings={"products": {"max_record_bytes": 200 << 10}})
    report = import_text(app, "products", name, content)
    assert (report.new, report.rejected) == (1, 1)
    assert "a record larger than max_record_bytes (204,800), the rest cannot be read" in report.rejections[0].reason


def test_a_feedback_file_is_written_a_batch_per_transaction_with_its_bindings(app, tmp_path, monkeypatch):
    monkeypatch.setattr(feedback, "BATCH_SIZE", 10)
    commits = []
    event.listen(app.engine, "commit", lambda conn: commits.append(1))
    path = tmp_path / "order_status.jsonl"
    path.write_text("".join(json.dumps({"order": f"O{i}", "status": "received", "erp_id": f"E{i}"}) + "\n"
                            for i in range(25)))
    report = import_feedback_file(app, path)
    assert (report.new, report.rejected) == (25, 0)
    assert len(commits) == 3  # 10 + 10 + 5, each with its bindings
    with app.engine.connect() as conn:
        assert len(conn.execute(bindings.select()).all()) == 25
