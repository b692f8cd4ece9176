"""The ``onec`` connector's config and registry entry."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from erpbridge.config_values import Secret
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.records.feedback import OrderStatus
from erpbridge.systems import SystemBase

#: What 1C's "Номер по 1С", "Проведен"... requisites are called in the typical configurations
#: (УТ, КА, ERP, УНФ); a configuration that names them otherwise sets ``requisites``.
REQUISITES = {"erp_number": "Номер по 1С", "posted": "Проведен", "cancelled": "Отменен",
              "paid": "Дата оплаты по 1С", "shipped": "Дата отгрузки по 1С", "status": "Статус заказа"}


class OneCSystem(SystemBase):
    """1C:Enterprise exchanging with erpbridge as its site (CommerceML 2): in 1C's "Обмен с
    сайтом" node, the site's address is ``http(s)://<erpbridge>/connectors/<system>`` with
    this user and password."""

    connector: Literal["onec"]
    username: str = Field(min_length=1, description="the user 1C's exchange node sends (HTTP Basic)")
    password: Secret = Field(description="its password (from the environment or a file)")
    exchange_dir: Path = Field(Path("onec-exchange"), description="where uploaded files wait for their import "
                                                                  "(relative to the config file)")
    zip: bool = Field(True, description="tell 1C to send zip archives (init's zip=yes)")
    file_limit: int = Field(524_288, ge=1024, le=100 * 1024 * 1024,
                            description="the chunk size 1C splits bigger files into (init's file_limit), bytes; "
                                        "never more than api.max_body_bytes")
    max_file_bytes: int = Field(512 * 1024 * 1024, ge=1024,
                                description="an uploaded file (or one file unpacked from a zip) may not exceed this")
    max_zip_entries: int = Field(10_000, ge=1, description="a zip with more files is refused")
    import_slice: float = Field(5.0, gt=0, le=60, description="seconds an import call works before answering "
                                                              "progress (1C repeats the call)")
    sku: Literal["article", "id"] = Field("article", description="a product's SKU: its Артикул (the Ид where it "
                                                                   "has none) or always its Ид")
    price_type: str | None = Field(None, description="the ТипЦены (Наименование or Ид) that is the list price "
                                                     "(default: the first in offers.xml)")
    currencies: dict[str, str] = Field(default_factory=lambda: {"руб": "RUB", "руб.": "RUB", "RUR": "RUB",
                                                                "643": "RUB"},
                                       description="1C currency names -> ISO 4217 codes")
    warehouses: dict[str, str] = Field(default_factory=dict, description="1C Склад Ид -> erpbridge warehouse code")
    default_warehouse: str | None = Field(None, description="the warehouse of an offer's Количество when it names "
                                                            "no Склад")
    units: dict[str, str] = Field(default_factory=lambda: {"796": "piece", "166": "kg", "112": "liter",
                                                           "006": "meter"},
                                  description="ОКЕИ unit codes -> erpbridge units (others keep their code)")
    order_encoding: Literal["utf-8", "windows-1251"] = Field("utf-8", description="the encoding of the orders "
                                                                                  "sale&query answers")
    query_limit: int = Field(500, ge=1, le=10_000, description="orders per sale&query answer")
    requisites: dict[str, str] = Field(default_factory=lambda: dict(REQUISITES),
                                       description="the names of 1C's order requisites in status files")
    statuses: dict[str, OrderStatus] = Field(
        default_factory=lambda: {"[N] Принят": "received", "[P] Оплачен": "processing", "[F] Выполнен": "completed",
                                 "[D] Отгружен": "shipped", "Отменен": "cancelled"},
        description="1C's order status values -> erpbridge statuses")


SPEC = ConnectorSpec(
    name="onec", config=OneCSystem, factory="erpbridge.connectors.onec.connector:create",
    capabilities=Capabilities(deliver=frozenset({"send_order", "cancel_order"}), inbound=True), roles=("erp",),
    description="1C:Enterprise by CommerceML 2: erpbridge is the site 1C's exchange calls (catalog, prices, "
                "stock in; orders out on sale&query; statuses back)")
