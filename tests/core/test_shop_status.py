"""`erpbridge status` shows per shop what is pending: its outbox messages by operation and state,
the age of the oldest pending one, and its push flows' cursors and last runs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def erpbridge(*args, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "erpbridge", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "ERPBRIDGE_CONFIG": ""})
    assert result.returncode == 0, result.stderr
    return result


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_status_shows_what_a_shop_has_pending(tmp_path, db_url):
    (tmp_path / "erpbridge.yaml").write_text(
        f"store: {{url: '{db_url}'}}\n"
        "catalog:\n  warehouses: [{code: MAIN}]\n"
        "systems:\n  erp: {connector: files, settle_time: 0, poll_interval: 0.1}\n"
        f"  outlet: {{connector: magento, url: 'http://127.0.0.1:{closed_port()}', token: t0k3n, erp: erp}}\n")
    (tmp_path / "products.csv").write_text("sku,name,list_price\nA1,Apple,1.50\nA2,Pear,2\n")
    erpbridge("db", "upgrade", cwd=tmp_path)
    erpbridge("import", "products", "products.csv", cwd=tmp_path)
    time.sleep(2.1)  # the push flow's feed stays SETTLE seconds behind the clock
    catalog = next(f["flow"] for f in json.loads(erpbridge("flows", "--json", cwd=tmp_path).stdout)
                   if f["system"] == "outlet" and "catalog" in f["flow"])
    erpbridge("flows", "run", catalog, cwd=tmp_path)

    [shop] = json.loads(erpbridge("status", "--json", cwd=tmp_path).stdout)["shops"]
    assert shop["system"] == "outlet" and shop["pending"] == 1 and shop["oldest_pending_seconds"] >= 0
    products = shop["operations"]["push_products"]
    assert (products["pending"], products["running"], products["dead"]) == (1, 0, 0)
    assert shop["cursors"]["products"]["key"] == "A2"
    [run] = [f for f in shop["flows"] if f["flow"] == catalog]
    assert run["last_run"] and run["outcome"] == "ok"
    text = erpbridge("status", cwd=tmp_path).stdout
    assert "shop      outlet: 1 pending" in text and "push_products" in text and "1 pending, 0 running, 0 dead" in text
