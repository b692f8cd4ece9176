"""1C's order exchange against the served process: orders placed through erpbridge's API reach
1C on ``sale&query`` as CommerceML documents, count as exported only after ``sale&success``
(a query whose success was lost is answered again), a cancellation is sent again as cancelled,
and 1C's order files come back as statuses; both stores, both encodings of the answer."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from erpbridge.services.products import set_enabled

from onec_hub import FILES, Hub, api_order, eventually, onec_app, simulator
from onec_simulator import zipped

DRILL = "a1b2c3d4-0001-11e6-80c8-0cc47a0a1c1f"
NS = "{*}"


@pytest.fixture(params=["utf-8", "windows-1251"])
def hub(tmp_path, db_url, monkeypatch, request):
    app = onec_app(tmp_path, db_url, monkeypatch, order_encoding=request.param, file_limit=4096)
    hub = Hub(app)
    onec = simulator(hub)
    try:
        onec.send_catalog({"import.xml": (FILES / "import.xml").read_bytes(),
                           "offers.xml": (FILES / "offers.xml").read_bytes()})
    finally:
        onec.close()
    set_enabled(app, enabled=True, all_new=True, actor="merchant")
    hub.encoding = request.param
    yield hub
    hub.close()
    app.close()


def place(hub: Hub, number: str, lines=(("DR-750", 2, "3159.00"),)) -> None:
    response = hub.http.post("/api/v1/orders", json=api_order(number, list(lines)))
    assert response.status_code == 201, response.text
    hub.delivered(number, "send_order")


def documents(content: bytes) -> dict[str, etree._Element]:
    root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    assert etree.QName(root).localname == "КоммерческаяИнформация"
    return {d.findtext(NS + "Номер"): d for d in root.iterfind(NS + "Документ")}


def requisites(element) -> dict[str, str]:
    return {r.findtext(NS + "Наименование"): r.findtext(NS + "Значение")
            for r in element.iterfind(f"{NS}ЗначенияРеквизитов/{NS}ЗначениеРеквизита")}


def sale_session(hub: Hub):
    onec = simulator(hub)
    onec.checkauth("sale")
    onec.init("sale")
    return onec


def test_an_order_is_queried_as_a_commerceml_document_and_exported_only_after_success(hub):
    place(hub, "O-1")
    onec = sale_session(hub)
    try:
        content = onec.query()
        assert content.startswith(f'<?xml version=\'1.0\' encoding=\'{hub.encoding}\'?>'.encode())
        order = documents(content)["O-1"]
        assert order.findtext(NS + "ХозОперация") == "Заказ товара" and order.findtext(NS + "Роль") == "Продавец"
        assert Decimal(order.findtext(NS + "Сумма")) == Decimal("6618.00") and order.findtext(NS + "Валюта") == "RUB"
        party = order.find(f"{NS}Контрагенты/{NS}Контрагент")
        assert party.findtext(NS + "Наименование") == "Иван Петров" and party.findtext(NS + "Роль") == "Покупатель"
        goods = {g.findtext(NS + "Ид"): g for g in order.iterfind(f"{NS}Товары/{NS}Товар")}
        assert set(goods) == {DRILL, "ORDER_DELIVERY"}  # the product by its Ид in 1C, freight as a service
        assert goods[DRILL].findtext(NS + "Артикул") == "DR-750"
        assert Decimal(goods[DRILL].findtext(NS + "Количество")) == 2
        assert requisites(goods["ORDER_DELIVERY"])["ТипНоменклатуры"] == "Услуга"
        assert requisites(order)["Отменен"] == "false"
        assert "O-1" in documents(onec.query())  # no success yet: still not exported
    finally:
        onec.close()
    # 1C lost the answer (or crashed before its success): a new exchange gets the order again
    onec = sale_session(hub)
    try:
        assert list(documents(onec.query())) == ["O-1"]
        onec.success()
        assert documents(onec.query()) == {}
        place(hub, "O-2")
        assert list(documents(onec.query())) == ["O-2"]
    finally:
        onec.close()


def test_a_success_marks_only_what_its_query_sent(hub):
    place(hub, "O-1")
    onec = sale_session(hub)
    try:
        assert list(documents(onec.query())) == ["O-1"]
        place(hub, "O-2")  # arrives between the query and its success
        onec.success()
        assert list(documents(onec.query())) == ["O-2"]
    finally:
        onec.close()


def test_a_cancellation_after_export_sends_the_order_again_as_cancelled(hub):
    place(hub, "O-1")
    onec = sale_session(hub)
    try:
        documents(onec.query())
        onec.success()
        response = hub.http.post("/api/v1/orders/O-1/cancellations", json={"reason": "customer"})
        assert response.status_code == 201, response.text
        hub.delivered("O-1", "cancel_order")
        again = documents(onec.query())
        assert list(again) == ["O-1"] and requisites(again["O-1"])["Отменен"] == "true"
        onec.success()
        assert documents(onec.query()) == {}
    finally:
        onec.close()


STATUS_FILE = """<?xml version="1.0" encoding="{encoding}"?>
<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2026-12-03T09:00:00">
  <Документ>
    <Ид>O-1</Ид><Номер>O-1</Номер><Дата>2026-12-03</Дата><ХозОперация>Заказ товара</ХозОперация>
    <ЗначенияРеквизитов>
      <ЗначениеРеквизита><Наименование>Номер по 1С</Наименование><Значение>ЗК-000123</Значение></ЗначениеРеквизита>
      <ЗначениеРеквизита><Наименование>Проведен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
      <ЗначениеРеквизита><Наименование>Дата отгрузки по 1С</Наименование>
        <Значение>2026-12-03</Значение></ЗначениеРеквизита>
    </ЗначенияРеквизитов>
  </Документ>
  <Документ>
    <Ид>O-2</Ид><Номер>O-2</Номер>
    <ЗначенияРеквизитов>
      <ЗначениеРеквизита><Наименование>Отменен</Наименование><Значение>true</Значение></ЗначениеРеквизита>
    </ЗначенияРеквизитов>
  </Документ>
  <Документ><Ид></Ид></Документ>
</КоммерческаяИнформация>
"""


def test_order_files_from_1c_come_back_as_statuses_and_a_bad_document_is_named(hub):
    place(hub, "O-1")
    place(hub, "O-2", [("DR-750", 1, "3159.00")])
    onec = sale_session(hub)
    try:
        answer = onec.call("sale", "file", filename="orders-5d1e.xml",
                           content=STATUS_FILE.format(encoding=hub.encoding).encode(hub.encoding))
    finally:
        onec.close()
    assert answer[0] == "success"
    assert "1 of 3 rejected" in answer[1] and "orders-5d1e.xml line 18, Документ (no Номер)" in answer[1]
    assert "Номер and Ид are missing" in answer[1], answer
    first = eventually(lambda: (v := hub.order("O-1"))["status"] == "shipped" and v, what="O-1 shipped")
    assert first["erp_id"] == "ЗК-000123"
    assert hub.order("O-2")["status"] == "cancelled"


def test_a_zipped_order_file_in_full_chunks_is_read_at_the_next_query_and_a_broken_one_is_refused(hub):
    place(hub, "O-1")
    place(hub, "O-2", [("DR-750", 1, "3159.00")])
    onec = sale_session(hub)
    try:
        broken = onec.call("sale", "file", filename="orders-broken.xml", check=False,
                           content='<?xml version="1.0"?><КоммерческаяИнформация><Документ>'.encode())
        assert broken[0] == "failure" and broken[1].startswith("orders-broken.xml line 1: not well-formed XML"), broken
        status = STATUS_FILE.format(encoding=hub.encoding).encode(hub.encoding)
        archive = zipped({"orders-5d1e.xml": status})
        archive = zipped({"orders-5d1e.xml": status}, comment=b"-" * (-len(archive) % onec.file_limit))
        assert len(archive) % onec.file_limit == 0  # every chunk a full one: no shorter last chunk ends the file
        assert onec.upload("orders.zip", archive, kind="sale") >= 1
        assert hub.order("O-1")["status"] is None  # not complete yet, as far as erpbridge can tell
        onec.query()
    finally:
        onec.close()
    assert hub.order("O-1")["status"] == "shipped" and hub.order("O-2")["status"] == "cancelled"


def test_1cs_order_number_binds_the_order_so_reconciliation_sees_it_arrived(hub):
    from sqlalchemy import select

    from erpbridge.store.tables import bindings

    place(hub, "O-1")
    place(hub, "O-2", [("DR-750", 1, "3159.00")])
    onec = sale_session(hub)
    try:
        onec.call("sale", "file", filename="orders-5d1e.xml",
                  content=STATUS_FILE.format(encoding=hub.encoding).encode(hub.encoding))
    finally:
        onec.close()
    with hub.app.engine.connect() as conn:
        bound = dict(conn.execute(select(bindings.c.key, bindings.c.external_id).where(
            bindings.c.kind == "orders", bindings.c.system == "erp")).all())
    assert bound == {"O-1": "ЗК-000123"}  # O-2 came back without 1C's number
