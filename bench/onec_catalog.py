"""1C's catalog exchange into erpbridge: time and CPU per product, against raw parse + bulk insert.

N products (each in a group, with an Артикул and a property) in ``import.xml`` and N offers
(a list price and stock in two warehouses) in ``offers.xml``. Two ways, in the same process:

  baseline   lxml's iterparse of both files (the same safe options) and the store's bulk write
             of records built directly from the elements: what parsing and storing must cost
  erpbridge  the 1C simulator over real HTTP against the served API: checkauth, init, one zip in
             ``file_limit`` chunks, ``import`` of both files (answered ``progress`` until done)
             through ingest (rules, deltas, bindings, the exchange log); the server runs in this
             process, so its CPU is counted

Then the same exchange again (nothing changed): what a nightly full exchange costs.

Run: .venv/bin/python bench/onec_catalog.py [--products 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import yaml
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "onec"))
sys.path.insert(0, str(ROOT / "tests" / "webservice"))

from erpbridge.bootstrap import bootstrap  # noqa: E402
from erpbridge.config import load_config  # noqa: E402
from erpbridge.records import Price, Product, StockLevel  # noqa: E402
from erpbridge.store.records import prepare  # noqa: E402

from hub import Hub  # noqa: E402
from onec_simulator import OneC  # noqa: E402

NS = 'xmlns="urn:1C.ru:commerceml_2"'
W1, W2 = "e5f6a7b8-0001-11e6-80c8-0cc47a0a1c1f", "e5f6a7b8-0002-11e6-80c8-0cc47a0a1c1f"


def files(n: int) -> dict[str, bytes]:
    goods = "".join(
        f"<Товар><Ид>00000000-0000-0000-0000-{i:012d}</Ид><Артикул>P-{i}</Артикул><Наименование>Товар номер {i}"
        f"</Наименование><БазоваяЕдиница Код=\"796\">шт</БазоваяЕдиница><Группы><Ид>g-{i % 50}</Ид></Группы>"
        f"<Описание>Описание товара {i}</Описание><ЗначенияСвойств><ЗначенияСвойства><Ид>p</Ид><Значение>{i % 7}"
        "</Значение></ЗначенияСвойства></ЗначенияСвойств></Товар>" for i in range(n))
    groups = "".join(f"<Группа><Ид>g-{g}</Ид><Наименование>Группа {g}</Наименование></Группа>" for g in range(50))
    catalog = (f'<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация {NS} ВерсияСхемы="2.08"><Классификатор>'
               f"<Ид>k</Ид><Группы>{groups}</Группы><Свойства><Свойство><Ид>p</Ид><Наименование>Сорт</Наименование>"
               f"</Свойство></Свойства></Классификатор><Каталог><Ид>c</Ид><Товары>{goods}</Товары></Каталог>"
               "</КоммерческаяИнформация>")
    offers = "".join(
        f"<Предложение><Ид>00000000-0000-0000-0000-{i:012d}</Ид><Цены><Цена><ИдТипаЦены>t</ИдТипаЦены>"
        f"<ЦенаЗаЕдиницу>{100 + i % 900}.50</ЦенаЗаЕдиницу><Валюта>руб</Валюта></Цена></Цены><Остатки>"
        f"<Остаток><Склад><Ид>{W1}</Ид><Количество>{i % 13}</Количество></Склад></Остаток>"
        f"<Остаток><Склад><Ид>{W2}</Ид><Количество>{i % 5}</Количество></Склад></Остаток></Остатки></Предложение>"
        for i in range(n))
    package = (f'<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация {NS} ВерсияСхемы="2.08">'
               "<ПакетПредложений><ТипыЦен><ТипЦены><Ид>t</Ид><Наименование>Розничная</Наименование><Валюта>руб"
               f"</Валюта></ТипЦены></ТипыЦен><Предложения>{offers}</Предложения></ПакетПредложений>"
               "</КоммерческаяИнформация>")
    return {"import.xml": catalog.encode(), "offers.xml": package.encode()}


def app_in(folder: Path):
    os.environ["ONEC_PASSWORD"] = "bench-secret"
    raw = yaml.safe_load((ROOT / "examples/onec/erpbridge.yaml").read_text())
    raw["store"] = {"url": f"sqlite:///{folder / 'store.db'}"}
    raw["systems"]["erp"]["exchange_dir"] = str(folder / "exchange")
    path = folder / "onec.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return bootstrap(load_config(path))


def baseline(folder: Path, content: dict[str, bytes]) -> None:
    app = app_in(folder)
    safe = dict(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
    rows = {"products": [], "prices": [], "stock": []}
    for name, tags in (("import.xml", "{*}Товар"), ("offers.xml", "{*}Предложение")):
        path = folder / name
        path.write_bytes(content[name])
        for _, element in etree.iterparse(str(path), events=("end",), tag=tags, **safe):
            text = {etree.QName(c).localname: c for c in element.iter()}
            if name == "import.xml":
                rows["products"].append(prepare(Product(sku=text["Артикул"].text, name=text["Наименование"].text)))
            else:
                sku = "P-" + str(int(element.find("{*}Ид").text.rsplit("-", 1)[1]))
                rows["prices"].append(prepare(Price(sku=sku, amount=Decimal(text["ЦенаЗаЕдиницу"].text),
                                                    currency="RUB")))
                rows["stock"].append(prepare(StockLevel(sku=sku, warehouse="MAIN",
                                                        quantity=Decimal(text["Количество"].text))))
            element.clear()
    for kind, batch in rows.items():
        for start in range(0, len(batch), 1000):
            app.records.write(kind, batch[start:start + 1000])
    app.close()


def exchange(hub: Hub, content: dict[str, bytes]) -> int:
    onec = OneC(f"{hub.api.url}/connectors/erp", "1c-exchange", "bench-secret")
    try:
        answers = onec.send_catalog(content)
        assert all(a == ["success"] for a in answers.values()), answers
        return onec.progress_answers
    finally:
        onec.close()


def measured(run) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=20_000)
    n = parser.parse_args().products
    content = files(n)
    print(f"{n} products: import.xml {len(content['import.xml']) / 1e6:.1f} MB, "
          f"offers.xml {len(content['offers.xml']) / 1e6:.1f} MB; load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as base, tempfile.TemporaryDirectory() as ours:
        b_wall, b_cpu, _ = measured(lambda: baseline(Path(base), content))
        app = app_in(Path(ours))
        hub = Hub(app, worker=False)
        try:
            e_wall, e_cpu, progress = measured(lambda: exchange(hub, content))
            assert len(app.records.find("products")) == n
            r_wall, r_cpu, _ = measured(lambda: exchange(hub, content))
        finally:
            hub.close()
            app.close()
    per = 1e6 / n
    print(f"baseline   wall {b_wall:6.2f} s  CPU {b_cpu * per:7.1f} us/product")
    print(f"erpbridge  wall {e_wall:6.2f} s  CPU {e_cpu * per:7.1f} us/product  ({progress} progress answers)  "
          f"ratio CPU {e_cpu / b_cpu:.2f}x, wall {e_wall / b_wall:.2f}x")
    print(f"unchanged  wall {r_wall:6.2f} s  CPU {r_cpu * per:7.1f} us/product  ratio CPU {r_cpu / b_cpu:.2f}x")


if __name__ == "__main__":
    main()
