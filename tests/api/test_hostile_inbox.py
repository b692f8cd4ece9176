"""The hostile corpus (issue 10, "Done when"): files meant to crash, wedge or trick the inbox are
dropped into a running hub's inbox beside good ones. Afterwards every good file has been
imported, every bad one is in failed/ with its reason, and the process never died: the same
pid, /healthz answering all along, /readyz saying the inbox is failing. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading

import httpx
import pytest

from erpbridge.connectors.files.inbox import shortened
from erpbridge.store import make_engine
from erpbridge.store.records import RecordStore

from .hub_process import Hub, pid_alive, store_path, wait_for

GIB = 1 << 30


def hidden(inbox, name: str | bytes) -> bytes:
    """Where a file is made before it is handed over (a name the inbox ignores)."""
    return os.path.join(os.fsencode(inbox), b"." + os.fsencode(name) + b".part")


def write(inbox, name: str | bytes, content: str | bytes) -> None:
    with open(hidden(inbox, name), "wb") as file:
        file.write(content.encode() if isinstance(content, str) else content)


def hand_over(inbox, names) -> None:
    """Rename every file made under its hidden name into the inbox, as an ERP does."""
    for name in names:
        os.rename(hidden(inbox, name), os.path.join(os.fsencode(inbox), os.fsencode(name)))


@pytest.mark.slow
def test_a_hostile_corpus_in_the_inbox_fails_alone_and_the_hub_lives(tmp_path, db_url):
    hub = Hub(tmp_path, db_url).start()
    inbox = hub.inbox
    inbox.mkdir(exist_ok=True)
    secret = tmp_path / "secret.csv"
    secret.write_text("sku,name\nTOPSECRET,the shop's database password\n")
    good = {  # name -> a key it imports
        "products-good.csv": ("products", "G1"),
        "products-mac.csv": ("products", "M1"),  # CR-only line ends: read like any other
        "stock-good.jsonl": ("stock", "G1\x1fMAIN"),
        "customers-good.json": ("customers", "C1"),
        "product_groups-good.xml": ("product_groups", "TOOLS"),
        "products-\nINFO erpbridge: forged.csv": ("products", "N1"),
        b"products-caf\xe9.csv": ("products", "N2"),
        "products-" + "y" * 230 + ".csv": ("products", "N3"),
    }
    bad = {  # name -> what its report says
        "products-poison.json": "a number of more than 4,300 digits",
        "products-poison-first.json": "a number of more than 4,300 digits",
        "products-deep.json": "nested more than 64 levels deep",
        "products-deep.jsonl": "not valid JSON: depth limit exceeded",
        "products-deep.xml": "Excessive depth in document: 256",
        "products-outside.csv": "a symbolic link",
        "products-folder.csv": "a symbolic link",
        "products-fifo.csv": "a named pipe (FIFO)",
        "products-sparse.jsonl": f"line of {GIB + 1:,} bytes, longer than max_record_bytes (1,048,576): not read",
        "-products.csv": "no record kind matches this file name",
    }
    write(inbox, "products-good.csv", "sku,name\nG1,Good\n")
    write(inbox, "products-mac.csv", b"sku,name\rM1,Mac\r")
    write(inbox, "stock-good.jsonl", '{"sku": "G1", "warehouse": "MAIN", "quantity": 5}\n')
    write(inbox, "customers-good.json", '[{"number": "C1", "name": "Acme"}]')
    write(inbox, "product_groups-good.xml", "<groups><group><code>TOOLS</code><name>Tools</name></group></groups>")
    for i, name in enumerate(list(good)[5:], start=1):
        write(inbox, name, f"sku,name\nN{i},Odd name {i}\n")
    write(inbox, "products-poison.json", '[{"sku": "P1", "name": "Before"}, {"sku": "P2", "weight": %s}]'
                                         % ("9" * 5000))
    write(inbox, "products-poison-first.json", '{"n": %s, "items": []}' % ("9" * 5000))
    write(inbox, "products-deep.json", '[{"sku": "D1", "attributes": {"a": %s}}]' % ("[" * 2000 + "]" * 2000))
    write(inbox, "products-deep.jsonl", '{"sku": "D2", "attributes": {"a": %s}}\n' % ("[" * 2000 + "]" * 2000))
    write(inbox, "products-deep.xml", "<p><product><sku>D3</sku><x>%s</x></product></p>" % ("<a>" * 300 + "</a>" * 300))
    os.symlink(secret, hidden(inbox, "products-outside.csv"))
    os.symlink(tmp_path, hidden(inbox, "products-folder.csv"))
    os.mkfifo(hidden(inbox, "products-fifo.csv"))
    with open(hidden(inbox, "products-sparse.jsonl"), "wb") as sparse:  # 1 GiB of one line, nearly all a hole
        sparse.write(b'{"sku": "S1", "name": "first"}\n')
        sparse.seek(GIB + sparse.tell())
        sparse.write(b'\n{"sku": "S2", "name": "after"}\n')
    write(inbox, "-products.csv", "sku,name\nX1,Dash\n")
    store = store_path(db_url)
    if store is not None:
        os.link(store, hidden(inbox, "products-hardlink.jsonl"))
        os.symlink(store, hidden(inbox, "products-store.jsonl"))
        bad.update({"products-hardlink.jsonl": "the store's own file", "products-store.jsonl": "a symbolic link"})
    pid = hub.process.pid
    down: list[str] = []
    watching = threading.Event()

    def watch_health() -> None:  # /healthz answers all along, not just at the end
        while not watching.wait(0.2):
            try:
                httpx.get(f"{hub.url}/healthz", timeout=10).raise_for_status()
            except httpx.HTTPError as exc:
                down.append(repr(exc))

    watcher = threading.Thread(target=watch_health)
    watcher.start()
    try:
        hand_over(inbox, [*good, *bad])
        wait_for(lambda: all(hub.handled(shown(n)) for n in (*good, *bad)), "every file to be handled", timeout=300,
                 process=hub.process)
        # /readyz tells of the last pass that handled files: one more bad file makes it a failing one.
        write(inbox, "products-late.json", "[{]")
        hand_over(inbox, ["products-late.json"])
        wait_for(lambda: hub.handled("products-late.json"), "the late file to be handled", process=hub.process)
        with hub.client() as c:
            ready = c.get("/readyz").json()
        assert hub.process.pid == pid and hub.process.poll() is None
    finally:
        watching.set()
        watcher.join()
        hub.stop()
    assert down == [] and not pid_alive(pid) and hub.process.returncode == 0  # stopped by us, never died
    assert "Segmentation fault" not in hub.log_text() and hub.log_text().count("stop with Ctrl-C") == 1

    for name in good:
        path = hub.handled(shown(name))
        assert path.parent.name == "done", (name, path.with_name(path.name + ".report.json").read_text())
    for name, reason in bad.items():
        path = hub.handled(name)
        report = path.with_name(path.name + ".report.json").read_text()
        assert path.parent.name == "failed" and reason in report, (name, report)
        assert "TOPSECRET" not in report
    engine = make_engine(db_url)
    try:
        records = RecordStore(engine)
        assert all(records.get(kind, key) is not None for kind, key in good.values())
        assert records.get("products", "P1") is not None  # the records before a poison number are kept
        assert records.get("products", "S1") is not None and records.get("products", "S2") is not None
        assert records.get("products", "TOPSECRET") is None
    finally:
        engine.dispose()
    assert ready["inbox"]["failing"] is True
    assert ready["inbox"]["failures"][-1]["file"] == "products-late.json"


def shown(name: str | bytes) -> str:
    """A file's name as it ends in done/ or failed/ (long names are shortened)."""
    return shortened(os.fsdecode(name) if isinstance(name, bytes) else name)
