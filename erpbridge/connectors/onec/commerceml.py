"""CommerceML 2 documents: the catalog and offers 1C uploads, its order status files, the orders
erpbridge answers to ``sale&query``.

Reading is streamed (``lxml.etree.iterparse``; each product or offer is cleared once read, so
memory stays flat whatever the file's size) and safe for untrusted input: no entity expansion,
no DTD, no network, no huge-tree mode. Files come with the ``urn:1C.ru:commerceml_2``
namespace (newer 1C modules) or without it (older ones), in UTF-8 or windows-1251 (the XML
prolog says which): elements are matched by their local name, so both read alike.

Each product, price, stock level or status update is yielded as a :class:`~erpbridge.ingest.Raw`
holding plain values and its location (file, line, element, Ид), built into a record by this
module's mapper functions inside ingest: a bad product is rejected by itself, named, and the
rest of the file goes in. A file that is not well-formed XML stops where it breaks
(:class:`CmlError` names the file, the line and the reason); what was read before went in.

The facts this follows (the element names, Ид of offers as ``<product>#<characteristic>``,
``Остатки/Остаток/Склад`` from schema 2.08, ``Склад ИдСклада КоличествоНаСкладе`` before) are
in the CommerceML 2 schema and the sample files CS-Cart publishes (see
``../shared/research/erp-peers.md`` section 4).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Callable, Iterable, Iterator

from lxml import etree

from erpbridge.connectors.onec.spec import OneCSystem
from erpbridge.ingest import Raw
from erpbridge.records import Order, OrderStatusUpdate, Price, Product, ProductGroup, StockLevel

NAMESPACE = "urn:1C.ru:commerceml_2"
_SAFE = dict(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False, dtd_validation=False)


class CmlError(Exception):
    """A file that cannot be read on: the message names file, line, element and reason."""


def local(tag) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(element, name: str):
    for child in element:
        if local(child.tag) == name:
            return child
    return None


def _children(element, name: str) -> list:
    return [child for child in element if local(child.tag) == name] if element is not None else []


def _text(element, *path: str) -> str | None:
    for name in path:
        if element is None:
            return None
        element = _child(element, name)
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _requisites(element) -> dict[str, str]:
    """``ЗначенияРеквизитов/ЗначениеРеквизита{Наименование, Значение}`` as a dict."""
    values = {}
    for requisite in _children(_child(element, "ЗначенияРеквизитов"), "ЗначениеРеквизита"):
        name = _text(requisite, "Наименование")
        if name:
            values[name] = _text(requisite, "Значение") or ""
    return values


def number(value: str | None, what: str) -> Decimal:
    """A 1C number: a decimal point or comma, spaces (also non-breaking) as thousands separators."""
    if value is None:
        raise ValueError(f"{what} is missing")
    try:
        return Decimal(value.replace("\u00a0", "").replace(" ", "").replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a number") from None


def _elements(path, tags: tuple[str, ...], filename: str) -> Iterator[etree._Element]:
    """The elements named ``tags`` (any namespace or none) as each ends; a parse error becomes
    a :class:`CmlError` naming the file and line."""
    context = etree.iterparse(str(path), events=("end",), tag=tuple("{*}" + t for t in tags), **_SAFE)
    try:
        yield from context
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else "?"
        raise CmlError(f"{filename} line {line}: not well-formed XML: {exc.msg}") from None


def _release(element) -> None:
    """Free what was read: the element's content and the siblings before it."""
    element.clear(keep_tail=True)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


# -- import.xml: groups and products --------------------------------------------------------------


class Catalog:
    """The mapper of one system's import.xml."""

    def __init__(self, config: OneCSystem, filename: str):
        self.config, self.filename = config, filename
        self.properties: dict[str, tuple[str, dict[str, str]]] = {}

    def items(self, path) -> Iterator[Raw]:
        for _event, element in _elements(path, ("Свойство", "Группа", "Товар"), self.filename):
            name = local(element.tag)
            parent = element.getparent()
            above = local(parent.getparent().tag) if parent is not None and parent.getparent() is not None else ""
            if name == "Свойство" and above == "Классификатор":
                self._property(element)
            elif name == "Группа" and above in ("Классификатор", "Группа"):
                yield self._group(element, parent.getparent() if above == "Группа" else None)
            elif name == "Товар" and above == "Каталог":
                yield self._product(element)
                _release(element)

    def _where(self, element, what: str) -> str:
        return f"{self.filename} line {element.sourceline}, {what} {_text(element, 'Ид') or '(no Ид)'}"

    def _property(self, element) -> None:
        values = {}
        for entry in _children(_child(element, "ВариантыЗначений"), "Справочник"):
            if _text(entry, "ИдЗначения"):
                values[_text(entry, "ИдЗначения")] = _text(entry, "Значение") or ""
        if _text(element, "Ид"):
            self.properties[_text(element, "Ид")] = (_text(element, "Наименование") or _text(element, "Ид"), values)

    def _group(self, element, parent) -> Raw:
        data = {"id": _text(element, "Ид"), "name": _text(element, "Наименование"),
                "parent": _text(parent, "Ид") if parent is not None else None}
        return Raw(data, self._where(element, "Группа"), build=_build_group, external_id=data["id"])

    def _product(self, element) -> Raw:
        unit = _child(element, "БазоваяЕдиница")
        attributes = {}
        for value in _children(_child(element, "ЗначенияСвойств"), "ЗначенияСвойства"):
            name, choices = self.properties.get(_text(value, "Ид") or "", (_text(value, "Ид"), {}))
            text = _text(value, "Значение")
            if name and text:
                attributes[name] = choices.get(text, text)
        groups = [g.text.strip() for g in _children(_child(element, "Группы"), "Ид") if g.text and g.text.strip()]
        data = {"id": _text(element, "Ид"), "article": _text(element, "Артикул"),
                "name": _text(element, "Наименование"),
                "ean": _text(element, "Штрихкод"), "groups": groups,
                "description": _text(element, "Описание"),
                "unit": (unit.get("Код") or (unit.text or "").strip() or None) if unit is not None else None,
                "attributes": attributes, "deleted": (element.get("Статус") or _text(element, "Статус")) == "Удален"}
        return Raw(data, self._where(element, "Товар"), build=self.build_product, external_id=data["id"])

    def sku(self, data: dict) -> str:
        if not data["id"]:
            raise ValueError("Ид is missing")
        return data["article"] if self.config.sku == "article" and data["article"] else data["id"]

    def build_product(self, data: dict) -> Product:
        if data["deleted"]:
            raise ValueError("marked Удален (deleted) in 1C: erpbridge does not delete products; disable it in the "
                             "control center")
        unit = self.config.units.get(data["unit"], data["unit"]) if data["unit"] else "piece"
        return Product(sku=self.sku(data), name=data["name"], ean=data["ean"],
                       group=data["groups"][0] if data["groups"] else None, description=data["description"],
                       unit=unit, attributes=data["attributes"])


def _build_group(data: dict) -> ProductGroup:
    if not data["id"]:
        raise ValueError("Ид is missing")
    return ProductGroup(code=data["id"], name=data["name"], parent=data["parent"])


# -- offers.xml: prices and stock ----------------------------------------------------------------


class Offers:
    """The mapper of one system's offers.xml (also prices.xml and rests.xml, its halves).
    ``skus`` maps a product's Ид (its binding in this system) to its SKU."""

    def __init__(self, config: OneCSystem, filename: str, skus: Callable[[str], str | None]):
        self.config, self.filename, self.skus = config, filename, skus
        self.price_types: dict[str, tuple[str, str | None]] = {}
        self.list_type: str | None = None

    def items(self, path) -> Iterator[Raw]:
        for _event, element in _elements(path, ("ТипЦены", "Предложение"), self.filename):
            name = local(element.tag)
            parent = element.getparent()
            if name == "ТипЦены" and parent is not None and local(parent.tag) == "ТипыЦен":
                self._price_type(element)
            elif name == "Предложение" and parent is not None and local(parent.tag) == "Предложения":
                yield from self._offer(element)
                _release(element)

    def _price_type(self, element) -> None:
        type_id, name = _text(element, "Ид"), _text(element, "Наименование")
        if not type_id:
            return
        self.price_types[type_id] = (name or type_id, _text(element, "Валюта"))
        wanted = self.config.price_type
        if self.list_type is None and (wanted is None or wanted in (type_id, name)):
            self.list_type = type_id

    def _offer(self, element) -> Iterator[Raw]:
        offer_id = _text(element, "Ид")
        where = f"{self.filename} line {element.sourceline}, Предложение {offer_id or '(no Ид)'}"
        for price in _children(_child(element, "Цены"), "Цена"):
            if _text(price, "ИдТипаЦены") == self.list_type or (self.list_type is None and not self.price_types):
                data = {"id": offer_id, "amount": _text(price, "ЦенаЗаЕдиницу"),
                        "currency": _text(price, "Валюта") or self.price_types.get(self.list_type, ("", None))[1]}
                yield Raw(data, where + " Цена", build=self.build_price)
        stocks = [(_text(s, "Склад", "Ид"), _text(s, "Склад", "Количество"))
                  for s in _children(_child(element, "Остатки"), "Остаток") if _child(s, "Склад") is not None]
        stocks += [(s.get("ИдСклада"), s.get("КоличествоНаСкладе")) for s in _children(element, "Склад")
                   if s.get("ИдСклада")]
        if not stocks and _text(element, "Количество") is not None:
            stocks = [(None, _text(element, "Количество"))]
        for warehouse, quantity in stocks:
            data = {"id": offer_id, "warehouse": warehouse, "quantity": quantity}
            yield Raw(data, f"{where} Склад {warehouse or '(none)'}", build=self.build_stock)

    def _sku(self, offer_id: str | None) -> str:
        if not offer_id:
            raise ValueError("Ид is missing")
        sku = self.skus(offer_id)
        if sku is None:
            if "#" in offer_id and self.skus(offer_id.partition("#")[0]) is not None:
                raise ValueError(f"{offer_id} is a характеристика (variant) of a product: erpbridge takes products "
                                 "without characteristics from 1C")
            raise ValueError(f"no product with Ид {offer_id} came from 1C (import.xml comes first)")
        return sku

    def build_price(self, data: dict) -> Price:
        currency = data["currency"] or ""
        return Price(sku=self._sku(data["id"]), amount=number(data["amount"], "ЦенаЗаЕдиницу"),
                     currency=self.config.currencies.get(currency, currency))

    def build_stock(self, data: dict) -> StockLevel:
        warehouse = data["warehouse"]
        if warehouse is None:
            if self.config.default_warehouse is None:
                raise ValueError("Количество names no Склад and default_warehouse is not configured")
            code = self.config.default_warehouse
        else:
            code = self.config.warehouses.get(warehouse, warehouse)
        return StockLevel(sku=self._sku(data["id"]), warehouse=code, quantity=number(data["quantity"], "Количество"))


# -- order status files from 1C ------------------------------------------------------------------


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "истина", "да", "1")


class Statuses:
    """The mapper of 1C's order files (``orders-*.xml``): each Документ's state as a status update.
    ``erp_numbers`` collects the order number -> 1C's number of every update built, for the
    orders' bindings in 1C (what reconciliation checks)."""

    def __init__(self, config: OneCSystem, filename: str):
        self.config, self.filename = config, filename
        self.erp_numbers: dict[str, str] = {}

    def items(self, path) -> Iterator[Raw]:
        for _event, element in _elements(path, ("Документ",), self.filename):
            data = {"number": _text(element, "Номер") or _text(element, "Ид"), "requisites": _requisites(element)}
            where = f"{self.filename} line {element.sourceline}, Документ {data['number'] or '(no Номер)'}"
            yield Raw(data, where, build=self.build)
            _release(element)

    def build(self, data: dict) -> OrderStatusUpdate:
        if not data["number"]:
            raise ValueError("Номер and Ид are missing")
        names, values = self.config.requisites, data["requisites"]
        status = self.config.statuses.get(values.get(names["status"], ""))
        if _true(values.get(names["cancelled"])):
            status = "cancelled"
        elif status is None:
            if values.get(names["shipped"]):
                status = "shipped"
            elif _true(values.get(names["posted"])) or values.get(names["paid"]):
                status = "processing"
            else:
                status = "received"
        update = OrderStatusUpdate(order=data["number"], status=status,
                                   erp_id=values.get(names["erp_number"]) or None,
                                   changed_at=dt.datetime.now(dt.timezone.utc))
        if update.erp_id:
            self.erp_numbers[update.order] = update.erp_id
        return update


# -- sale&query: orders as CommerceML documents ---------------------------------------------------


def _add(parent, name: str, text=None, **attributes):
    element = etree.SubElement(parent, name, {k: str(v) for k, v in attributes.items()})
    if text is not None:
        element.text = str(text)
    return element


def _requisite_list(parent, values: Iterable[tuple[str, object]]) -> None:
    holder = _add(parent, "ЗначенияРеквизитов")
    for name, value in values:
        requisite = _add(holder, "ЗначениеРеквизита")
        _add(requisite, "Наименование", name)
        _add(requisite, "Значение", value)


def _address(address) -> str:
    return ", ".join(p for p in (address.street, address.street2, f"{address.postcode} {address.city}", address.country)
                     if p)


def orders_document(orders: Iterable[tuple[Order, bool]], product_ids: dict[str, str], encoding: str,
                    now: dt.datetime) -> bytes:
    """One КоммерческаяИнформация with a Документ (ХозОперация "Заказ товара") per order;
    ``product_ids``: SKU -> the product's Ид in 1C (lines of other products carry their SKU)."""
    root = etree.Element("КоммерческаяИнформация", ВерсияСхемы="2.08",
                         ДатаФормирования=now.strftime("%Y-%m-%dT%H:%M:%S"))
    for order, cancelled in orders:
        document = _add(root, "Документ")
        placed = order.placed_at
        _add(document, "Ид", order.number)
        _add(document, "Номер", order.number)
        _add(document, "Дата", placed.strftime("%Y-%m-%d"))
        _add(document, "ХозОперация", "Заказ товара")
        _add(document, "Роль", "Продавец")
        _add(document, "Валюта", order.currency)
        _add(document, "Курс", 1)
        _add(document, "Сумма", order.grand_total)
        party = _add(_add(document, "Контрагенты"), "Контрагент")
        billing = order.billing_address
        _add(party, "Ид", order.customer or order.email or f"{order.number}#customer")
        _add(party, "Наименование", billing.company or billing.name)
        _add(party, "Роль", "Покупатель")
        _add(party, "ПолноеНаименование", billing.company or billing.name)
        registered = _add(party, "АдресРегистрации")
        _add(registered, "Представление", _address(billing))
        for kind, value in (("Почтовый индекс", billing.postcode), ("Страна", billing.country),
                            ("Город", billing.city), ("Улица", billing.street)):
            field = _add(registered, "АдресноеПоле")
            _add(field, "Тип", kind)
            _add(field, "Значение", value)
        contacts = [(t, v) for t, v in (("Почта", order.email or billing.email), ("Телефон", billing.phone)) if v]
        if contacts:
            holder = _add(party, "Контакты")
            for kind, value in contacts:
                contact = _add(holder, "Контакт")
                _add(contact, "Тип", kind)
                _add(contact, "Значение", value)
        _add(document, "Время", placed.strftime("%H:%M:%S"))
        _add(document, "Комментарий", f"Доставка: {_address(order.shipping_address)}")
        goods = _add(document, "Товары")
        for line in order.lines:
            item = _add(goods, "Товар")
            _add(item, "Ид", product_ids.get(line.sku, line.sku))
            _add(item, "Артикул", line.sku)
            _add(item, "Наименование", line.name or line.sku)
            _add(item, "БазоваяЕдиница", "шт", Код="796", НаименованиеПолное="Штука")
            _add(item, "ЦенаЗаЕдиницу", line.unit_price)
            _add(item, "Количество", line.quantity)
            _add(item, "Сумма", line.total)
            if line.discount:
                discount = _add(_add(item, "Скидки"), "Скидка")
                _add(discount, "Сумма", line.discount)
                _add(discount, "УчтеноВСумме", "true")
            _requisite_list(item, (("ВидНоменклатуры", "Товар"), ("ТипНоменклатуры", "Товар")))
        if order.shipping_amount:
            item = _add(goods, "Товар")
            _add(item, "Ид", "ORDER_DELIVERY")
            _add(item, "Наименование", "Доставка заказа")
            _add(item, "БазоваяЕдиница", "шт", Код="796", НаименованиеПолное="Штука")
            _add(item, "ЦенаЗаЕдиницу", order.shipping_amount)
            _add(item, "Количество", 1)
            _add(item, "Сумма", order.shipping_amount)
            _requisite_list(item, (("ВидНоменклатуры", "Услуга"), ("ТипНоменклатуры", "Услуга")))
        _requisite_list(document, (("Метод оплаты", order.payment_method), ("Способ доставки", order.shipping_method),
                                   ("Заказ оплачен", "false"), ("Отменен", "true" if cancelled else "false"),
                                   ("Купон", order.coupon_code or ""), ("Скидка", order.discount_amount)))
    return etree.tostring(root, xml_declaration=True, encoding=encoding, pretty_print=True)
