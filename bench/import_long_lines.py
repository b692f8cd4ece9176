"""Peak memory of imports whose records are huge or many (issue 10, item 6), against a baseline.

  baseline      the import of a one-line JSON Lines file: the floor (interpreter, erpbridge, store)
  jsonl-1g      products.jsonl: a good line, one line of 1 GiB (a sparse file: made with a seek,
                nearly all a hole), a good line; read with the import's worker processes
  csv-1g        the same as CSV (read in this process)
  feedback-19m  invoices.json of about 19 MB (32,000 invoices of 4 lines), the feedback import

Each import runs in a child process; its peak is the summed PSS of its process tree (it and
its workers, sampled from /proc, as bench/import_products.py measures). The long lines are
rejected by their line number and the good lines imported.

Targets: the long lines under 200 MB above the baseline (a record is capped at max_record_bytes,
1 MiB by default; what is above the floor is mostly the worker processes' own interpreters),
the feedback file under 50 MB above it (written in batches, not read whole first).

Run: .venv/bin/python bench/import_long_lines.py     (about a minute; 2 GiB of sparse files under bench/data/)
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

from import_products import DATA, run_measured

GIB = 1 << 30


def files() -> dict[str, Path]:
    DATA.mkdir(exist_ok=True)
    made = {"baseline": DATA / "products-one.jsonl", "jsonl-1g": DATA / "products-long-line.jsonl",
            "csv-1g": DATA / "products-long-line.csv", "feedback-19m": DATA / "invoices-19m.json"}
    made["baseline"].write_text('{"sku": "B1", "name": "Baseline"}\n')
    for key, head, tail in (("jsonl-1g", b'{"sku": "L1", "name": "before"}\n', b'\n{"sku": "L2", "name": "after"}\n'),
                            ("csv-1g", b"sku,name\nL1,before\n", b"\nL2,after\n")):
        if not made[key].exists():
            with open(made[key], "wb") as out:
                out.write(head)
                out.seek(GIB + out.tell())  # a hole: the line is 1 GiB of zero bytes, nearly none on disk
                out.write(tail)
    if not made["feedback-19m"].exists():
        rng = random.Random(1)
        invoices = [{"id": f"INV-{i:06d}", "order": f"SO-{i:06d}", "shipment": f"SH-{i:06d}", "issued_at": "2026-11-23",
                     "currency": "EUR", "freight_amount": "4.90", "fee_amount": "1.50", "tax_amount": "12.00",
                     "total": f"{rng.randrange(1000, 90000) / 100:.2f}",
                     "lines": [{"sku": f"P{rng.randrange(10 ** 6):08d}", "description": "Cotton shirt, blue, size M",
                                "quantity": "2", "amount": f"{rng.randrange(100, 9000) / 100:.2f}"} for _ in range(4)]}
                    for i in range(32_000)]
        made["feedback-19m"].write_text(json.dumps(invoices))
    return made


def measure(kind: str, path: Path) -> dict:
    with tempfile.TemporaryDirectory(dir=DATA) as folder:
        result, peak, _ = run_measured([sys.executable, __file__, "--child", kind, str(path),
                                        str(Path(folder) / "store.db")], path.name, every=0.05)
    return {**result, "peak": peak}


def child(kind: str, path: Path, db: Path) -> None:
    from erpbridge.bootstrap import bootstrap
    from erpbridge.config import Config

    app = bootstrap(Config.model_validate({"store": {"url": f"sqlite:///{db}"}}))
    started = time.perf_counter()
    if kind == "feedback-19m":
        from erpbridge.connectors.files.feedback import import_feedback_file

        report = import_feedback_file(app, path)
    else:
        from erpbridge.connectors.files.importer import Importer

        report = Importer(app.config, app.records, "products").import_file(path)
    result = {k: v for k, v in report.as_dict().items() if k in ("new", "rejected")}
    result["seconds"] = time.perf_counter() - started
    result["reasons"] = [r.reason[:80] for r in report.rejections[:3]]
    print(json.dumps(result))


def main() -> None:
    import os

    made = files()
    print(f"peak memory of imports with huge records, load average {os.getloadavg()[0]:.2f} (shared machine)",
          flush=True)
    results = {kind: measure(kind, path) for kind, path in made.items()}
    mb = 1 << 20
    base = results["baseline"]["peak"]
    print(f"\n  {'pass':<14} {'size':>10} {'peak':>9} {'above baseline':>15} {'seconds':>8}   result")
    for kind, result in results.items():
        size = made[kind].stat().st_size
        above = result["peak"] - base
        target = 50 * mb if kind.startswith("feedback") else 200 * mb
        verdict = "" if kind == "baseline" else ("ok" if above < target else "MISSED")
        print(f"  {kind:<14} {size / mb:>7.0f} MB {result['peak'] / mb:>6.0f} MB {above / mb:>12.0f} MB "
              f"{result['seconds']:>8.1f}   {result['new']} new, {result['rejected']} rejected  {verdict}")
        for reason in result["reasons"]:
            print(f"  {'':<14} {reason}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        main()
