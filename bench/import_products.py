"""Importing products from ERP export files into the SQLite store, against a bare baseline.

  baseline   read the JSON Lines file with orjson and executemany() the rows into a bare table
             (no key, no index, no hash, no checks): the floor for "parse and bulk insert"
  jsonl      `Importer.import_file` of the same file into a fresh store: map, validate, hash,
             delta lookup, insert (worker processes for big files)
  xml        the same products as XML (lxml iterparse without entities)
  json       the same products as one JSON array (ijson, streamed)
  re-import  the JSON Lines file again with 1% of the products changed: asserts the report says
             exactly N/100 changed and the rest unchanged, and prints the time beyond a pass
             that only parses the file (orjson, no mapping)
  memory     peak RSS of the import (its process and its workers: their summed PSS, sampled from /proc) at N/10
             and N products: flat when it does not grow with the file

Targets (issue 2): jsonl >= 50,000/s and >= 40% of baseline; xml >= 25,000/s; re-import under
3 s beyond parsing; peak memory under 500 MB at any size.

The files are generated once under bench/data/ (git-ignored). Each import runs in a child
process so that its memory is its own.

Run: .venv/bin/python bench/import_products.py [--records N]     (default 1,000,000; 5-8 minutes)
     .venv/bin/python bench/import_products.py --records 100000   (a quick run)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

DATA = Path(__file__).resolve().parent / "data"
COLORS = ("red", "green", "blue", "black", "white", "grey", "yellow", "orange")
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
BASELINE_COLUMNS = ("sku", "name", "ean", "group", "short_description", "description", "unit", "list_price",
                    "currency", "tax_class", "weight", "attributes")


def product(i: int, rng: random.Random, changed: bool = False) -> dict:
    """A product as an ERP exports it, every field filled."""
    color, size = rng.choice(COLORS), rng.choice(SIZES)
    return {
        "sku": f"P{i:08d}", "name": f"Shirt {i} {color} {size}" + (" (new cut)" if changed else ""),
        "ean": f"40{i:011d}", "group": f"G{rng.randrange(300):03d}",
        "short_description": f"Cotton shirt {i}, {color}",
        "description": f"A cotton shirt in {color}, size {size}. Machine washable at 40 degrees; made in Portugal.",
        "unit": "piece", "list_price": f"{rng.randrange(100, 50000) / 100:.2f}", "currency": "EUR",
        "tax_class": "standard", "weight": f"{rng.randrange(50, 2000) / 1000:.3f}",
        "attributes": {"color": color, "size": size},
    }


def _xml(p: dict) -> str:
    attributes = "".join(f"<{k}>{v}</{k}>" for k, v in p["attributes"].items())
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in p.items() if k != "attributes")
    return f"  <product>{fields}<attributes>{attributes}</attributes></product>\n"


def generate(n: int) -> dict[str, Path]:
    """The files of this size, written once: products, the same with 1% changed, and XML."""
    DATA.mkdir(exist_ok=True)
    files = {"jsonl": DATA / f"products-{n}.jsonl", "changed": DATA / f"products-{n}-changed.jsonl",
             "xml": DATA / f"products-{n}.xml", "json": DATA / f"products-{n}.json"}
    if all(f.exists() for f in files.values()):
        return files
    print(f"generating {n:,} products under {DATA} (once)", flush=True)
    parts = {k: open(f.with_suffix(f.suffix + ".part"), "w", encoding="utf-8") for k, f in files.items()}
    parts["xml"].write("<?xml version='1.0' encoding='UTF-8'?>\n<products>\n")
    parts["json"].write("[\n")
    for i in range(n):
        seed = random.Random(i)
        p = product(i, seed)
        parts["jsonl"].write(orjson.dumps(p).decode() + "\n")
        parts["changed"].write(orjson.dumps(product(i, random.Random(i), changed=i % 100 == 0)).decode() + "\n")
        parts["xml"].write(_xml(p))
        parts["json"].write(("" if i == 0 else ",\n") + orjson.dumps(p).decode())
        if (i + 1) % (n // 10 or 1) == 0:
            print(f"  {i + 1:>10,} / {n:,}", flush=True)
    parts["xml"].write("</products>\n")
    parts["json"].write("\n]\n")
    for key, f in parts.items():
        f.close()
        Path(f.name).rename(files[key])
    return files


def head(path: Path, lines: int) -> Path:
    """The first lines of a JSON Lines file (the small size of the memory comparison)."""
    target = path.with_name(f"{path.stem}-head{lines}.jsonl")
    if not target.exists():
        with open(path, "rb") as src, open(target.with_suffix(".part"), "wb") as out:
            for _, line in zip(range(lines), src):
                out.write(line)
        target.with_suffix(".part").rename(target)
    return target


def xml_head(n: int, lines: int) -> Path:
    target = DATA / f"products-{n}-head{lines}.xml"
    if not target.exists():
        rng_lines = (_xml(product(i, random.Random(i))) for i in range(lines))
        with open(target.with_suffix(".part"), "w", encoding="utf-8") as out:
            out.write("<?xml version='1.0' encoding='UTF-8'?>\n<products>\n")
            out.writelines(rng_lines)
            out.write("</products>\n")
        target.with_suffix(".part").rename(target)
    return target


# -- the measured passes --------------------------------------------------------------------------

def baseline(path: Path, db: Path) -> tuple[float, float]:
    """Parse with orjson and bulk-insert into a bare table, in batches of 5,000 per transaction."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"CREATE TABLE products ({', '.join(f'{c!r}' for c in BASELINE_COLUMNS)})")
    sql = f"INSERT INTO products VALUES ({', '.join('?' * len(BASELINE_COLUMNS))})"
    started, cpu = time.perf_counter(), time.process_time()
    with open(path, "rb") as stream:
        batch = []
        for line in stream:
            p = orjson.loads(line)
            batch.append((*(p[c] for c in BASELINE_COLUMNS[:-1]), orjson.dumps(p["attributes"])))
            if len(batch) == 5000:
                conn.execute("BEGIN")
                conn.executemany(sql, batch)
                conn.execute("COMMIT")
                batch = []
        conn.execute("BEGIN")
        conn.executemany(sql, batch)
        conn.execute("COMMIT")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return seconds, cpu


def parse_only(path: Path) -> float:
    started = time.perf_counter()
    loads = orjson.loads
    with open(path, "rb") as stream:
        for line in stream:
            loads(line)
    return time.perf_counter() - started


def _tree(root: int) -> dict[int, tuple[int, float]]:
    """Each process of a tree (a process and its descendants, from /proc): its memory as the
    proportional set size (PSS: pages that forked workers share are counted once, not once
    each) and the CPU seconds it has used."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = {}, [root]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/smaps_rollup") as f:
                pss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:"))
            found[pid] = (pss, (int(fields[11]) + int(fields[12])) / tick)
        except (OSError, StopIteration, IndexError, ValueError):
            pass
    return found


def run_import(path: Path, db: Path) -> dict:
    """Import in a child process; its report, time and peak RSS (its own and its process tree's)."""
    result, peak, cpu = run_measured([sys.executable, __file__, "--child", str(path), str(db)], path.name)
    result["tree_peak"] = peak
    result["tree_cpu"] = cpu  # short of the last 0.2 s of each process
    return result


def run_measured(command: list[str], name: str, every: float = 0.2) -> tuple[dict, int, float]:
    """Run ``command`` (which prints a JSON line last); that line, and its process tree's peak
    PSS and CPU seconds, sampled every ``every`` seconds."""
    child = subprocess.Popen(command, stdout=subprocess.PIPE)
    peak = 0
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            tree = _tree(child.pid)
            peak = max(peak, sum(pss for pss, _ in tree.values()))
            cpu.update({pid: seconds for pid, (_, seconds) in tree.items()})
            done.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"the import of {name} failed (exit code {child.returncode})")
    return json.loads(out.decode().strip().splitlines()[-1]), peak, sum(cpu.values())


def child(path: Path, db: Path) -> None:
    import resource

    from erpbridge.config import Config
    from erpbridge.connectors.files.importer import Importer
    from erpbridge.store import make_engine, upgrade
    from erpbridge.store.records import RecordStore

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    importer = Importer(Config(), RecordStore(engine), "products")
    size = path.stat().st_size
    last = [0.0]

    def progress(done: int) -> None:
        if time.monotonic() - last[0] > 5:
            last[0] = time.monotonic()
            print(f"    {path.name}: {done / size:.0%}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    report = importer.import_file(path, on_progress=progress)
    seconds = time.perf_counter() - started
    engine.dispose()
    result = report.as_dict()
    result.pop("rejections")
    result.update(seconds=seconds, self_peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps(result))


# -- the table ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="products in the files (default 1,000,000)")
    args = parser.parse_args()
    n = args.records
    files = generate(n)
    small = n // 10
    print(f"import of {n:,} products into SQLite, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          f"(shared machine)", flush=True)
    with tempfile.TemporaryDirectory(dir=DATA) as folder:
        folder = Path(folder)
        print("  baseline: orjson + executemany into a bare table ...", flush=True)
        base_seconds, base_cpu = baseline(files["jsonl"], folder / "baseline.db")
        base = n / base_seconds
        print("  import JSON Lines ...", flush=True)
        jsonl = run_import(files["jsonl"], folder / "jsonl.db")
        print("  re-import JSON Lines with 1% changed ...", flush=True)
        again = run_import(files["changed"], folder / "jsonl.db")
        parse = parse_only(files["changed"])
        print("  import XML ...", flush=True)
        xml = run_import(files["xml"], folder / "xml.db")
        print("  import JSON ...", flush=True)
        json_ = run_import(files["json"], folder / "json.db")
        print(f"  memory at {small:,} products ...", flush=True)
        jsonl_small = run_import(head(files["jsonl"], small), folder / "jsonl-small.db")
        xml_small = run_import(xml_head(n, small), folder / "xml-small.db")

    assert jsonl["new"] == n and jsonl["rejected"] == 0, jsonl
    assert xml["new"] == n and xml["rejected"] == 0, xml
    assert json_["new"] == n and json_["rejected"] == 0, json_
    assert (again["changed"], again["unchanged"], again["new"], again["rejected"]) == (n // 100, n - n // 100, 0, 0), again
    rate = {"jsonl": n / jsonl["seconds"], "xml": n / xml["seconds"], "json": n / json_["seconds"]}
    beyond = again["seconds"] - parse
    mb = 1 << 20
    print()
    print(f"  {'pass':<34} {'result':>16}   {'vs baseline':>11}   target")
    print(f"  {'baseline (parse + bare insert)':<34} {base:>12,.0f} /s")
    print(f"  {'import JSON Lines':<34} {rate['jsonl']:>12,.0f} /s   {rate['jsonl'] / base:>10.0%}   "
          f">= 50,000/s and >= 40%  {'ok' if rate['jsonl'] >= 50_000 and rate['jsonl'] >= 0.4 * base else 'MISSED'}")
    print(f"  {'import XML':<34} {rate['xml']:>12,.0f} /s   {rate['xml'] / base:>10.0%}   "
          f">= 25,000/s  {'ok' if rate['xml'] >= 25_000 else 'MISSED'}")
    print(f"  {'import JSON':<34} {rate['json']:>12,.0f} /s   {rate['json'] / base:>10.0%}")
    print(f"  {'re-import, 1% changed':<34} {again['seconds']:>13.2f} s   "
          f"{again['changed']:,} changed, {again['unchanged']:,} unchanged")
    print(f"  {'  parse-only pass':<34} {parse:>13.2f} s")
    print(f"  {'  work beyond parsing':<34} {beyond:>13.2f} s   {'':>11}   < 3 s  {'ok' if beyond < 3 else 'MISSED'}")
    print(f"  CPU per product (all the import's processes, start-up included; a shared machine stretches wall time, CPU less):")
    print(f"  {'  baseline':<34} {base_cpu / n * 1e6:>12.1f} µs")
    for label, result in (("import JSON Lines", jsonl), ("import XML", xml), ("import JSON", json_),
                          ("re-import, 1% changed", again)):
        cores = min(os.cpu_count() or 1, 2)
        print(f"  {'  ' + label:<34} {result['tree_cpu'] / n * 1e6:>12.1f} µs   "
              f"CPU-bound on {cores} free cores: {n / (result['tree_cpu'] / cores):,.0f}/s")
    for label, big, little in (("JSON Lines", jsonl, jsonl_small), ("XML", xml, xml_small)):
        worst = max(big["tree_peak"], big["self_peak"])
        print(f"  {'peak RSS ' + label:<34} {little['tree_peak'] / mb:>7.0f} MB at {small:,}, "
              f"{big['tree_peak'] / mb:.0f} MB at {n:,} (importing process alone {big['self_peak'] / mb:.0f} MB)   "
              f"< 500 MB  {'ok' if worst < 500 * mb else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
