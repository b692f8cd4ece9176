"""1C's catalog exchange against the served process, driven by the 1C simulator over real HTTP:
checkauth, init, a zip uploaded in chunks, import.xml and offers.xml imported (in both encodings,
with and without the CommerceML namespace) into the store through ingest, ``progress`` while a
large file is still importing; both stores."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from erpbridge.store.tables import bindings

from onec_hub import FILES, Hub, onec_app, simulator

DRILL, SCREWS = "a1b2c3d4-0001-11e6-80c8-0cc47a0a1c1f", "a1b2c3d4-0002-11e6-80c8-0cc47a0a1c1f"
TOOLS, DRILLS = "bd72d8fa-55bc-11d9-848a-00112f43529a", "bd72d8fb-55bc-11d9-848a-00112f43529a"


@pytest.fixture
def hub(tmp_path, db_url, monkeypatch, request):
    app = onec_app(tmp_path, db_url, monkeypatch, **{"file_limit": 1024, **getattr(request, "param", {})})
    hub = Hub(app, worker=False)
    yield hub
    hub.close()
    app.close()


def catalog(app) -> dict:
    """What the store holds, as the shop reads it."""
    rows = {kind: {record.key: record for record in app.records.find(kind)} for kind in
            ("product_groups", "products", "prices", "stock")}
    with app.engine.connect() as conn:
        rows["bindings"] = dict(conn.execute(select(bindings.c.external_id, bindings.c.key).where(
            bindings.c.system == "erp", bindings.c.kind == "products")).all())
    return rows


@pytest.mark.parametrize("form", ["utf-8 with namespace", "windows-1251 without namespace"])
def test_a_zipped_catalog_in_chunks_is_imported_with_groups_products_prices_and_stock(hub, form):
    suffix = "" if form.startswith("utf-8") else "-1251"
    files = {"import.xml": (FILES / f"import{suffix}.xml").read_bytes(),
             "offers.xml": (FILES / f"offers{suffix}.xml").read_bytes()}
    onec = simulator(hub)
    try:
        answers = onec.send_catalog(files)
        assert [onec.call("catalog", mode)[0] for mode in ("deactivate", "complete")] == ["success"] * 2
    finally:
        onec.close()
    assert onec.zip and onec.file_limit == 1024
    assert answers == {"import.xml": ["success"], "offers.xml": ["success"]}
    held = catalog(hub.app)
    groups = held["product_groups"]
    assert groups[DRILLS].name == "Дрели" and groups[DRILLS].parent == TOOLS and groups[TOOLS].parent is None
    drill, screws = held["products"]["DR-750"], held["products"][SCREWS]  # no Артикул: the Ид is the SKU
    assert (drill.name, drill.ean, drill.group) == ("Дрель ударная 750 Вт", "4601234567893", DRILLS)
    assert drill.unit == "piece"
    assert drill.attributes == {"Мощность": "750 Вт"} and screws.unit == "778"
    assert held["bindings"] == {DRILL: "DR-750", SCREWS: SCREWS}
    prices = {(p.sku, p.currency): p.amount for p in held["prices"].values()}
    assert prices == {("DR-750", "RUB"): Decimal("3159.00"), (SCREWS, "RUB"): Decimal("129.50")}  # Розничная
    stock = {(s.sku, s.warehouse): s.quantity for s in held["stock"].values()}
    assert stock == {("DR-750", "MAIN"): 7, ("DR-750", "SOUTH"): 3, (SCREWS, "MAIN"): 250}


def test_new_products_arrive_disabled_and_a_repeated_exchange_changes_nothing(hub):
    files = {"import.xml": (FILES / "import.xml").read_bytes(), "offers.xml": (FILES / "offers.xml").read_bytes()}
    for _ in range(2):
        onec = simulator(hub)
        try:
            assert onec.send_catalog(files) == {"import.xml": ["success"], "offers.xml": ["success"]}
        finally:
            onec.close()
    from erpbridge.services.products import awaiting_release

    assert {p["sku"] for p in awaiting_release(hub.app)} == {"DR-750", SCREWS}
    from erpbridge.exchange.tables import exchange_log

    with hub.app.engine.connect() as conn:
        ingests = conn.execute(select(exchange_log.c.point, exchange_log.c.response).where(
            exchange_log.c.system == "erp", exchange_log.c.point.like("ingest.%")).order_by(exchange_log.c.id)).all()
    assert [point for point, _ in ingests] == ["ingest.products", "ingest.prices"] * 2
    import orjson

    last = [orjson.loads(response) if isinstance(response, (str, bytes)) else response for _, response in ingests[2:]]
    assert all(r["new"] == 0 and r["changed"] == 0 and r["unchanged"] > 0 for r in last), last


def _large_import(products: int) -> bytes:
    goods = "".join(f"<Товар><Ид>00000000-0000-0000-0000-{i:012d}</Ид><Артикул>L-{i}</Артикул>"
                    f"<Наименование>Товар {i}</Наименование><БазоваяЕдиница Код=\"796\">шт</БазоваяЕдиница></Товар>"
                    for i in range(products))
    return ('<?xml version="1.0" encoding="UTF-8"?><КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" '
            'ВерсияСхемы="2.08"><Каталог><Ид>c</Ид><Товары>' + goods + "</Товары></Каталог></КоммерческаяИнформация>"
            ).encode()


@pytest.mark.parametrize("hub", [{"import_slice": 0.05, "file_limit": 262144}], indirect=True)
def test_a_large_file_is_answered_progress_until_it_is_imported(hub):
    onec = simulator(hub)
    try:
        answers = onec.send_catalog({"import.xml": _large_import(20_000)})
    finally:
        onec.close()
    assert answers == {"import.xml": ["success"]}
    assert onec.progress_answers >= 1
    assert len(catalog(hub.app)["products"]) == 20_000


def test_two_api_processes_answer_one_exchange_alike(tmp_path, db_url, monkeypatch):
    """Behind a balancer, 1C's calls reach either process: the session, the running import and
    its answer are in the store (the uploads in the one exchange_dir they share)."""
    apps = [onec_app(tmp_path, db_url, monkeypatch, import_slice=0.05, file_limit=262144) for _ in range(2)]
    hubs = [Hub(app, worker=False) for app in apps]
    first, second = simulator(hubs[0]), simulator(hubs[1])
    try:
        first.checkauth()
        first.init()
        second.http.cookies = first.http.cookies
        second.file_limit = first.file_limit
        second.upload("import.xml", _large_import(20_000))
        assert first.call("catalog", "import", filename="import.xml") == ["progress", "import.xml: importing"]
        assert second.import_file("import.xml") == ["success"]
        assert first.import_file("import.xml") == ["success"]  # the same import, done: not run again
        assert len(catalog(apps[0])["products"]) == 20_000
        from erpbridge.exchange.tables import exchange_log

        with apps[1].engine.connect() as conn:
            runs = conn.execute(select(exchange_log.c.id).where(exchange_log.c.point == "ingest.products")).all()
        assert len(runs) == 1
    finally:
        first.close(), second.close()
        for hub, app in zip(hubs, apps):
            hub.close()
            app.close()
