"""Writes the sample ERP export in ``erp-export/``: what a mid-sized wholesaler's ERP might drop.

The files use the ERP's own names on purpose (German column names, value codes, a decimal
comma, cents), so ``erpbridge.yaml`` shows how a mapping adapts erpbridge to an export
without code. Deterministic: run it again and the files are the same.

    python examples/generate.py
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from xml.sax.saxutils import escape

HERE = Path(__file__).parent / "erp-export"

GROUPS = {  # code: (name, parent)
    "TOOLS": ("Tools", None),
    "HAND": ("Hand tools", "TOOLS"),
    "POWER": ("Power tools", "TOOLS"),
    "GARDEN": ("Garden", None),
    "WATER": ("Watering", "GARDEN"),
    "PLANT": ("Planting", "GARDEN"),
    "FIX": ("Fixings", None),
    "SCREW": ("Screws", "FIX"),
    "NAIL": ("Nails", "FIX"),
    "PAINT": ("Paint", None),
}
ITEMS = {
    "HAND": ["Hammer", "Screwdriver set", "Pliers", "Spirit level", "Hand saw", "Chisel"],
    "POWER": ["Cordless drill", "Angle grinder", "Jigsaw", "Orbital sander", "Impact driver"],
    "WATER": ["Garden hose", "Sprinkler", "Watering can", "Hose reel"],
    "PLANT": ["Spade", "Rake", "Pruning shears", "Plant pot"],
    "SCREW": ["Wood screw", "Drywall screw", "Machine screw"],
    "NAIL": ["Wire nail", "Roofing nail", "Panel pin"],
    "PAINT": ["Wall paint", "Wood stain", "Primer", "Paint roller"],
}
VARIANTS = ["", " small", " large", " pro", " XL", " mini", " basic", " plus", " compact", " eco", " heavy duty"]
UNITS = {"SCREW": "KAR", "NAIL": "KAR", "PAINT": "L"}  # the ERP's unit codes; ST = piece
CUSTOMERS = [("10001", "Baumarkt Weber GmbH", "DE", "Berlin", "HAENDLER"),
             ("10002", "Garten Huber KG", "AT", "Wien", "HAENDLER"),
             ("10003", "Schreinerei Klein", "DE", "Hamburg", "HANDWERK"),
             ("10004", "Malerbetrieb Roth", "DE", "Köln", "HANDWERK"),
             ("10005", "Hausmeister Service Lenz", "CH", "Basel", "ENDKUNDE")]


def products(rng: random.Random) -> list[dict]:
    rows = []
    for group, names in ITEMS.items():
        for name in names:
            for variant in VARIANTS:
                number = f"{len(rows) + 1:05d}"
                price = rng.randrange(199, 29999)  # cents
                rows.append({
                    "Artikelnummer": f"A-{number}", "Bezeichnung": f"{name}{variant}".strip(),
                    "Warengruppe": group, "EAN": f"40{rng.randrange(10**10, 10**11)}",
                    "Einheit": UNITS.get(group, "ST"),
                    "VK-Preis": f"{price // 100:,}".replace(",", ".") + f",{price % 100:02d}",
                    "Gewicht": f"{rng.randrange(50, 8000) / 1000:.3f}".replace(".", ","),
                    "Kurztext": f"{name} for trade and home use",
                })
    return rows


def write_products(rows: list[dict]) -> None:
    with (HERE / "products.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
        writer.writeheader()
        writer.writerows(rows)


def write_groups() -> None:
    groups = [{"WG_NR": code, "WG_BEZ": name, "UEBER_WG": parent or ""} for code, (name, parent) in GROUPS.items()]
    (HERE / "product_groups.json").write_text(json.dumps({"warengruppen": groups}, indent=1, ensure_ascii=False))


def write_prices(rng: random.Random, rows: list[dict]) -> None:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<Preisliste>"]
    for row in rows:
        cents = int(row["VK-Preis"].replace(".", "").replace(",", ""))
        out.append(f'  <Preis artikel="{row["Artikelnummer"]}"><Menge>1</Menge><Cent>{cents}</Cent></Preis>')
        if rng.random() < 0.5:  # volume tiers
            for quantity, off in ((10, 5), (50, 10)):
                out.append(f'  <Preis artikel="{row["Artikelnummer"]}"><Menge>{quantity}</Menge>'
                           f"<Cent>{cents * (100 - off) // 100}</Cent></Preis>")
        if rng.random() < 0.15:  # a customer's own price
            number = rng.choice(CUSTOMERS)[0]
            out.append(f'  <Preis artikel="{row["Artikelnummer"]}" kunde="{number}"><Menge>1</Menge>'
                       f"<Cent>{cents * 85 // 100}</Cent></Preis>")
    out.append("</Preisliste>")
    (HERE / "prices.xml").write_text("\n".join(out) + "\n", encoding="utf-8")


def write_stock(rng: random.Random, rows: list[dict]) -> None:
    with (HERE / "stock.jsonl").open("w", encoding="utf-8") as f:
        for row in rows:
            for lager in ("01", "02"):
                f.write(json.dumps({"artnr": row["Artikelnummer"], "lager": lager,
                                    "bestand": rng.choice([0, 2, 5, 12, 40, 120])}) + "\n")


def write_customers() -> None:
    customers = []
    for number, name, country, city, group in CUSTOMERS:
        address = {"name": name, "strasse": f"Hauptstraße {int(number) % 97}", "plz": "10115", "ort": city,
                   "land": country}
        customers.append({
            "kdnr": number, "name": name, "email": f"einkauf@{number}.example.com", "gruppe": group,
            "kreditlimit": 5000 if group == "HAENDLER" else 1000, "gesperrt": "N" if number != "10005" else "J",
            "rechnungsadresse": address,
            "lieferadressen": [address, {**address, "strasse": "Lagerweg 2", "name": f"{name} (Lager)"}],
        })
    (HERE / "customers.json").write_text(json.dumps(customers, indent=1, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    HERE.mkdir(exist_ok=True)
    rng = random.Random(2026)
    rows = products(rng)
    write_products(rows)
    write_groups()
    write_prices(rng, rows)
    write_stock(rng, rows)
    write_customers()
    print(f"wrote {len(rows)} products, {len(GROUPS)} groups, prices, stock and {len(CUSTOMERS)} customers to {HERE}")


if __name__ == "__main__":
    main()
