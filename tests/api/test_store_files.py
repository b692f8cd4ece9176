"""Orders answered 201 are never lost to erpbridge reading its own store (issue 10, item 2).

SQLite locks its files with POSIX record locks, which a process loses on a file as soon as it
closes *any* descriptor of it. Before the fix, a running hub that read its own store file as
input (a hardlink or symlink dropped into the inbox, a document naming it) lost its locks; the
next `erpbridge status` then deleted the WAL under it, and every order answered 201 after that
was invisible to other processes and gone after kill -9. Here a real `erpbridge run` takes
orders while all of that is tried on it, CLI commands run beside it, and it is killed with
SIGKILL and started again: every order answered 201 is there. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from .hub_process import Hub, order, store_path, wait_for


@pytest.mark.slow
def test_every_order_answered_201_survives_hostile_opens_of_the_store_cli_commands_and_kill_9(tmp_path, db_url):
    hub = Hub(tmp_path, db_url).start()
    store = store_path(db_url)
    try:
        hub.drop_catalog()
        accepted = []
        with hub.client() as c:
            for number in ("A-1", "A-2"):
                assert c.post("/api/v1/orders", json=order(number)).status_code == 201
                accepted.append(number)

            # Everything that made the server open its own store file through another descriptor.
            hostile = {}
            if store is not None:
                os.link(store, hub.inbox / "products-hardlink.jsonl")
                os.symlink(store, hub.inbox / "products-symlink.csv")
                os.symlink(store.with_name(store.name + "-wal"), hub.inbox / "stock-wal.jsonl")
                (hub.inbox / "docs").mkdir()
                os.link(store, hub.inbox / "docs" / "store.pdf")
                hostile = {"products-hardlink.jsonl": "the store's own file store.db",
                           "products-symlink.csv": "a symbolic link", "stock-wal.jsonl": "a symbolic link"}
            (hub.inbox / "documents.json").write_text(json.dumps([
                {"type": "invoice", "number": "X-1", "path": str(store or "/etc/hostname")},
                {"type": "invoice", "number": "X-2", "path": "docs/store.pdf"},
                {"type": "invoice", "number": "X-3", "path": "../store.db"}]))
            for name, reason in {**hostile, "documents.json": "cannot copy the document"}.items():
                ended = wait_for(lambda: hub.handled(name), f"{name} to be handled", process=hub.process)
                assert ended.parent.name == "failed"
                assert reason in ended.with_name(ended.name + ".report.json").read_text()
            for number in ("X-1", "X-2", "X-3"):
                assert c.get(f"/api/v1/documents/invoice/{number}").status_code == 404
            if store is not None:
                refused = hub.cli("import", "products", "--format", "jsonl", str(store), check=False)
                assert refused.returncode == 1 and "the store's own file store.db" in refused.stderr + refused.stdout

            # CLI commands beside the server; the WAL the server writes into stays where it is.
            assert hub.cli("status").returncode == 0
            assert hub.cli("messages").returncode == 0
            if store is not None:
                assert store.with_name(store.name + "-wal").exists()
            for i in range(5):
                number = f"B-{i}"
                assert c.post("/api/v1/orders", json=order(number)).status_code == 201
                accepted.append(number)
                assert hub.cli("status").returncode == 0

        if store is not None:  # another process sees every order at once
            with sqlite3.connect(store) as other:
                assert sorted(k for (k,) in other.execute("SELECT key FROM orders")) == sorted(accepted)
        hub.kill()
        hub.start()
        with hub.client() as c:
            assert {n: c.get(f"/api/v1/orders/{n}").status_code for n in accepted} == {n: 200 for n in accepted}
    finally:
        hub.stop()
