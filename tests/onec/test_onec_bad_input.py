"""Bad input from (or posing as) 1C, over real HTTP: each refused with ``failure`` and a reason
naming the file, the element and why, nothing written outside the session's folder, and the
good records of a file with a bad one stored; both stores."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy import insert

from erpbridge.connectors.onec.tables import onec_imports

from onec_hub import FILES, Hub, onec_app, simulator
from onec_simulator import ExchangeFailed, zipped

HEAD = '<?xml version="1.0" encoding="UTF-8"?>'


@pytest.fixture
def hub(tmp_path, db_url, monkeypatch):
    app = onec_app(tmp_path, db_url, monkeypatch, file_limit=1024, max_file_bytes=64 * 1024)
    hub = Hub(app, worker=False)
    hub.folder = tmp_path
    yield hub
    hub.close()
    app.close()


@pytest.fixture
def onec(hub):
    onec = simulator(hub)
    yield onec
    onec.close()


def products(hub) -> dict:
    return {p.key: p for p in hub.app.records.find("products")}


def catalog_file(goods: str) -> bytes:
    return (f'{HEAD}<КоммерческаяИнформация ВерсияСхемы="2.08"><Каталог><Ид>c</Ид><Товары>{goods}</Товары>'
            "</Каталог></КоммерческаяИнформация>").encode()


def good(i: int) -> str:
    return f"<Товар><Ид>id-{i}</Ид><Артикул>G-{i}</Артикул><Наименование>Товар {i}</Наименование></Товар>"


def test_a_wrong_password_or_no_cookie_is_refused(hub, onec):
    with pytest.raises(ExchangeFailed) as refused:
        onec.checkauth(password="wrong")
    assert refused.value.reason == "wrong user or password (HTTP Basic)"
    for mode in ("init", "import", "query"):
        kind = "sale" if mode == "query" else "catalog"
        answer = onec.call(kind, mode, check=False, filename="import.xml")
        assert answer[0] == "failure" and "not authorised" in answer[1], answer
    onec.http.cookies.set("erpbridge_1c", "forged")
    assert onec.call("catalog", "init", check=False)[0] == "failure"


def test_a_truncated_zip_is_refused_by_name_and_nothing_is_stored(hub, onec):
    onec.checkauth()
    onec.init()
    archive = zipped({"import.xml": catalog_file(good(1) + good(2))})
    onec.upload("v8_exchange.zip", archive[: len(archive) // 2])
    with pytest.raises(ExchangeFailed) as refused:
        onec.import_file("import.xml")
    assert refused.value.reason.startswith("v8_exchange.zip: not a complete zip archive"), refused.value.reason
    assert products(hub) == {}


@pytest.mark.parametrize("entry", ["../evil.xml", "/etc/evil.xml", "C:/evil.xml", "a/../../evil.xml"])
def test_a_zip_entry_outside_the_exchange_is_refused_and_written_nowhere(hub, onec, entry):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("import.xml", catalog_file(good(1)))
        archive.writestr(zipfile.ZipInfo(entry), b"<x/>")
    onec.checkauth()
    onec.init()
    onec.upload("v8_exchange.zip", buffer.getvalue())
    with pytest.raises(ExchangeFailed) as refused:
        onec.import_file("import.xml")
    assert refused.value.reason.startswith(f"v8_exchange.zip: entry {entry!r}: not a plain relative file name")
    assert not list(hub.folder.parent.glob("**/evil.xml")) and not list(hub.folder.glob("**/evil.xml"))


def test_a_zip_bomb_stops_at_max_file_bytes(hub, onec):
    onec.checkauth()
    onec.init()
    onec.upload("v8_exchange.zip", zipped({"import.xml": b"<a>" + b" " * (10 * 1024 * 1024) + b"</a>"}))
    with pytest.raises(ExchangeFailed) as refused:
        onec.import_file("import.xml")
    assert "'import.xml' unpacks to more than max_file_bytes (65536 bytes)" in refused.value.reason


@pytest.mark.parametrize("name", ["../import.xml", "/tmp/import.xml", "a\\..\\..\\import.xml", ""])
def test_an_upload_with_a_path_outside_the_exchange_is_refused(hub, onec, name):
    onec.checkauth()
    onec.init()
    answer = onec.call("catalog", "file", filename=name, content=b"<x/>", check=False)
    assert answer[0] == "failure" and ("not a plain relative file name" in answer[1] or "missing" in answer[1]), answer


def test_a_file_beyond_max_file_bytes_is_refused(hub, onec):
    onec.checkauth()
    onec.init()
    with pytest.raises(ExchangeFailed) as refused:
        onec.upload("import.xml", b"x" * (70 * 1024))
    assert refused.value.reason.startswith("import.xml: larger than max_file_bytes")


def test_broken_xml_names_file_and_line_and_what_came_before_goes_in(hub, onec):
    onec.checkauth()
    onec.init()
    content = catalog_file("".join(good(i) for i in range(5)) + "\n<Товар><Ид>id-x</Ид><Наименование>oops</Товар>")
    onec.upload("import.xml", content)
    with pytest.raises(ExchangeFailed) as refused:
        onec.import_file("import.xml")
    assert refused.value.reason.startswith("import.xml line 2: not well-formed XML:"), refused.value.reason
    assert "Наименование" in refused.value.reason
    assert sorted(products(hub)) == [f"G-{i}" for i in range(5)]


def test_a_bad_product_is_rejected_by_name_and_the_rest_go_in(hub, onec):
    onec.checkauth()
    onec.init()
    bad = "\n<Товар><Ид>id-bad</Ид><Артикул>B-1</Артикул></Товар>"
    onec.upload("import.xml", catalog_file(good(1) + bad + good(2)))
    answer = onec.import_file("import.xml")
    assert answer[0] == "success" and answer[1].startswith("1 of 3 records rejected; first: "), answer
    assert "import.xml line 2, Товар id-bad" in answer[1] and "name" in answer[1], answer
    assert sorted(products(hub)) == ["G-1", "G-2"]


def test_offers_for_unknown_products_and_variants_are_rejected_by_name(hub, onec):
    offers = (f'{HEAD}<КоммерческаяИнформация><ПакетПредложений><ТипыЦен><ТипЦены><Ид>t</Ид><Наименование>Розничная'
              "</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен><Предложения>"
              "<Предложение><Ид>id-1</Ид><Цены><Цена><ИдТипаЦены>t</ИдТипаЦены><ЦенаЗаЕдиницу>10</ЦенаЗаЕдиницу>"
              "</Цена></Цены></Предложение>"
              "<Предложение><Ид>id-1#red</Ид><Цены><Цена><ИдТипаЦены>t</ИдТипаЦены><ЦенаЗаЕдиницу>11</ЦенаЗаЕдиницу>"
              "</Цена></Цены></Предложение>"
              "<Предложение><Ид>nobody</Ид><Цены><Цена><ИдТипаЦены>t</ИдТипаЦены><ЦенаЗаЕдиницу>abc</ЦенаЗаЕдиницу>"
              "</Цена></Цены></Предложение></Предложения></ПакетПредложений></КоммерческаяИнформация>").encode()
    answers = onec.send_catalog({"import.xml": catalog_file(good(1)), "offers.xml": offers})
    assert answers["offers.xml"][0] == "success" and answers["offers.xml"][1].startswith("2 of 3 records rejected")
    assert "Предложение id-1#red Цена" in answers["offers.xml"][1] and "характеристика" in answers["offers.xml"][1]
    assert [(p.sku, str(p.amount)) for p in hub.app.records.find("prices")] == [("G-1", "10")]


def test_entities_are_not_expanded_and_no_file_is_read(hub, onec):
    secret = hub.folder / "secret.txt"
    secret.write_text("TOP-SECRET")
    content = (f'{HEAD}<!DOCTYPE x [<!ENTITY leak SYSTEM "file://{secret}"><!ENTITY a "aaaaaaaaaa">'
               '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
               '<КоммерческаяИнформация><Каталог><Товары>'
               "<Товар><Ид>id-1</Ид><Артикул>E-1</Артикул><Наименование>&leak;</Наименование></Товар>"
               "<Товар><Ид>id-2</Ид><Артикул>E-2</Артикул><Наименование>x&b;</Наименование></Товар>"
               "</Товары></Каталог></КоммерческаяИнформация>").encode()
    onec.checkauth()
    onec.init()
    onec.upload("import.xml", content)
    answer = onec.import_file("import.xml")
    held = products(hub)
    assert "E-1" not in held and "1 of 2 records rejected" in answer[1], answer  # &leak; stayed a reference
    assert held["E-2"].name == "x" and "TOP-SECRET" not in str(held)


def test_an_import_whose_process_died_is_started_again_by_the_next_call(hub, onec):
    onec.checkauth()
    onec.init()
    onec.upload("import.xml", catalog_file(good(1)))
    session = onec.http.cookies["erpbridge_1c"]
    import hashlib

    with hub.app.engine.begin() as conn:  # a process started it, then died: its heartbeat stopped
        conn.execute(insert(onec_imports).values(
            session=hashlib.sha256(session.encode()).hexdigest(), filename="import.xml", system="erp",
            state="running", heartbeat=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)))
    assert onec.import_file("import.xml") == ["success"]
    assert sorted(products(hub)) == ["G-1"]


def test_a_file_not_uploaded_or_not_known_is_refused(hub, onec):
    onec.checkauth()
    onec.init()
    with pytest.raises(ExchangeFailed, match="import.xml: not uploaded in this exchange"):
        onec.import_file("import.xml")
    onec.upload("pictures.xml", (FILES / "import.xml").read_bytes())
    with pytest.raises(ExchangeFailed, match="pictures.xml: not a file erpbridge imports"):
        onec.import_file("pictures.xml")
    answer = onec.call("catalog", "query", check=False)
    assert answer[0] == "failure" and "no mode 'query' for type=catalog" in answer[1]
