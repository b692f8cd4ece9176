"""Files that hold customers' data are erpbridge's user's alone (issue 10, item 8): the SQLite store
and its -wal and -shm files are 0600 and a folder erpbridge makes for them 0700, whatever the
umask (022 here, as on most hosts); a store an older erpbridge left 0644 is made private at
start-up; outbox files follow their system's ``file_mode`` (0600 unless an ERP reading them as
another account needs its group to)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from erpbridge.config import ConfigError, load_config

OPEN_THE_STORE = """
import json, os, stat, sys
from pathlib import Path
from erpbridge.bootstrap import bootstrap
from erpbridge.config import load_config
app = bootstrap(load_config(sys.argv[1]))
store = Path(app.engine.url.database)
with app.engine.begin() as conn:  # written, and held open: the -wal and -shm files exist
    conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS probe (x)")
    conn.exec_driver_sql("INSERT INTO probe VALUES (1)")
with app.engine.connect() as conn:
    conn.exec_driver_sql("SELECT * FROM probe").all()
    print(json.dumps({str(p.relative_to(store.parents[2])): oct(stat.S_IMODE(p.stat().st_mode))
                      for p in (store.parents[1], store.parent, store, Path(f"{store}-wal"), Path(f"{store}-shm"))}))
"""


def with_umask_022(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.umask(0o022), env={**os.environ, "ERPBRIDGE_CONFIG": ""})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_its_wal_and_the_folders_made_for_it_are_private_whatever_the_umask(tmp_path):
    config = tmp_path / "erpbridge.yaml"
    config.write_text("store: {url: 'sqlite:///data/hub/store.db'}\n")
    result = with_umask_022("-c", OPEN_THE_STORE, str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"data": "0o700", "data/hub": "0o700", "data/hub/store.db": "0o600",
                                         "data/hub/store.db-wal": "0o600", "data/hub/store.db-shm": "0o600"}
    assert "readable by others" not in result.stderr


def test_a_store_an_older_erpbridge_left_readable_is_made_private_at_start_up(tmp_path):
    config = tmp_path / "erpbridge.yaml"
    config.write_text("store: {url: 'sqlite:///store.db'}\n")
    store = tmp_path / "store.db"
    # As an older erpbridge left it: made by SQLite under the umask, and still open in another process.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL');"
        " c.execute('CREATE TABLE t (x)'); c.commit(); c.execute('SELECT * FROM t').fetchall();"
        " print('open', flush=True); sys.stdin.read()"), str(store)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, preexec_fn=lambda: os.umask(0o022))
    try:
        assert holder.stdout.readline() == "open\n"
        files = [store, tmp_path / "store.db-wal", tmp_path / "store.db-shm"]
        assert [mode(f) for f in files] == [0o644] * 3
        first = with_umask_022("-m", "erpbridge", "-c", str(config), "status", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert [mode(f) for f in files] == [0o600] * 3
        assert [line for line in first.stderr.splitlines() if "readable by others" in line] == [
            f"{f} was readable by others (mode 0644); it holds personal data: made 0600" for f in files]
        again = with_umask_022("-m", "erpbridge", "-c", str(config), "status", cwd=tmp_path)
        assert again.returncode == 0 and "readable by others" not in again.stderr
    finally:
        holder.communicate("", timeout=30)


@pytest.mark.parametrize("file_mode, files, folder", [(None, 0o600, 0o700), ("0640", 0o640, 0o750)])
def test_outbox_files_have_the_mode_of_their_system(tmp_path, file_mode, files, folder):
    from erpbridge.bootstrap import bootstrap

    erp = {"connector": "files", "outbox": "erp/outbox", **({"file_mode": file_mode} if file_mode else {})}
    (tmp_path / "erpbridge.yaml").write_text(yaml.safe_dump({"store": {"url": "sqlite:///store.db"},
                                                             "systems": {"erp": erp}}))
    app = bootstrap(load_config(tmp_path / "erpbridge.yaml"))
    previous = os.umask(0o022)
    try:
        app.connector("erp").deliver("send_order", {"number": "1"}, "erp:send_order:1:1")
    finally:
        os.umask(previous)
        app.close()
    [written] = (tmp_path / "erp" / "outbox").iterdir()
    assert (mode(written), mode(tmp_path / "erp" / "outbox"), mode(tmp_path / "erp")) == (files, folder, folder)


@pytest.mark.parametrize("value, reason", [
    ("'0666'", "expected a mode that lets erpbridge's own user read and write and nobody else write"),
    ("'0400'", "expected a mode that lets erpbridge's own user read and write and nobody else write"),
    ("0640", 'expected an octal mode in quotes, like "0640" (YAML reads an unquoted 0640 as 416)'),
    ("'rw-r-----'", 'expected an octal mode in quotes, like "0640"'),
])
def test_a_file_mode_that_is_not_octal_or_lets_others_write_is_refused(tmp_path, value, reason):
    path = tmp_path / "erpbridge.yaml"
    path.write_text(f"systems:\n  erp: {{connector: files, file_mode: {value}}}\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert str(refused.value).startswith(f"{path}: systems.erp.file_mode: {reason}")
