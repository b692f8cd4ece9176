"""Catalog reads (scope ``read:catalog``): products, the group tree, prices and stock.

All of them answer from the store and never wait on the ERP, except a customer's price in a
configured real-time context (:mod:`erpbridge.api.realtime`). They are ``async`` and query the
store directly: each is one indexed read well under a millisecond, cheaper than a hop to the
thread pool. The single-resource reads go through :mod:`erpbridge.api.store_reads` (the driver,
without SQLAlchemy's per-query work).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import bindparam, or_, select
from starlette.responses import Response
from starlette.routing import Route

from erpbridge.api.auth import check_key, require
from erpbridge.api.problems import Problem
from erpbridge.api.query import documented, parse_query
from erpbridge.api.responses import decode_cursor, encode_cursor, etag_response, json_response, store_response
from erpbridge.api.schemas import GroupTree, PriceAnswer, ProductOut, ProductPage, StockAnswer
from erpbridge.api.store_reads import StoreReads
from erpbridge.connectors.base import PriceQuery
from erpbridge.records.base import canonical_decimal
from erpbridge.store.tables import prices, product_groups, products, stock

router = APIRouter(prefix="/api/v1", tags=["catalog"], dependencies=[Depends(require("read:catalog"))])

Sku = Annotated[str, Query(min_length=1, max_length=128)]

# Single-resource reads, built once (building a statement costs about as much as running it).
_PRODUCT = select(products.c.data, products.c.enabled).where(products.c.key == bindparam("sku"))
_STOCK = select(stock.c.warehouse, stock.c.quantity).where(stock.c.sku == bindparam("sku")).order_by(stock.c.warehouse)


@router.get("/products", response_model=ProductPage, summary="List products (enabled only unless asked)")
async def list_products(
    request: Request,
    group: Annotated[str | None, Query(max_length=128, description="only products of this group")] = None,
    changed_since: Annotated[dt.datetime | None, Query(description="only products changed at or after this time")] = None,
    include_disabled: bool = False,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
):
    hub = request.app.state.hub
    limit = limit or hub.config.api.page_size
    after = decode_cursor(cursor)
    t = products
    stmt = select(t.c.key, t.c.data, t.c.enabled).order_by(t.c.key).limit(limit + 1)
    if not include_disabled:
        stmt = stmt.where(t.c.enabled.is_(True))
    if group is not None:
        stmt = stmt.where(t.c.group == group)
    if changed_since is not None:
        if changed_since.tzinfo is None:
            changed_since = changed_since.replace(tzinfo=dt.timezone.utc)
        stmt = stmt.where(t.c.updated_at >= changed_since)
    if after is not None:
        stmt = stmt.where(t.c.key > after)
    with hub.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    items = [{**orjson.loads(r.data), "enabled": bool(r.enabled)} for r in rows[:limit]]
    next_cursor = encode_cursor(rows[limit - 1].key) if len(rows) > limit else None
    return json_response({"items": items, "next_cursor": next_cursor})


@router.get("/products/{sku:path}", response_model=ProductOut, summary="One product by SKU (ETag)")
async def get_product(request: Request, sku: str, include_disabled: bool = False):
    row = request.app.state.reads.first(_PRODUCT, {"sku": sku})
    if row is None or not (row[1] or include_disabled):
        raise Problem(404, f"no {'' if include_disabled else 'enabled '}product with SKU {sku!r}")
    data, enabled = row
    return etag_response(request, {**orjson.loads(data), "enabled": bool(enabled)})


@router.get("/product-groups", response_model=GroupTree, summary="The product group tree (ETag)")
async def group_tree(request: Request):
    hub = request.app.state.hub
    with hub.engine.connect() as conn:
        rows = [orjson.loads(d) for d in conn.execute(select(product_groups.c.data)).scalars()]
    nodes = {g["code"]: {**g, "children": []} for g in rows}
    roots = []
    for node in nodes.values():
        parent = nodes.get(node["parent"]) if node["parent"] else None
        # A group whose parent is unknown (or itself) is shown at the top rather than lost.
        (parent["children"] if parent is not None and parent is not node else roots).append(node)
    order = lambda n: (n["position"], n["code"])  # noqa: E731
    for node in nodes.values():
        node["children"].sort(key=order)
    roots.sort(key=order)
    return etag_response(request, {"groups": roots})


def _kind(customer: str | None, min_quantity: Decimal) -> str:
    return "customer" if customer else ("volume" if min_quantity > 1 else "list")


_PRICE_COLUMNS = (prices.c.customer, prices.c.min_quantity, prices.c.amount, prices.c.valid_from, prices.c.valid_to)
# Built once, like _PRODUCT above.
_LIST_TIERS = select(*_PRICE_COLUMNS).where(prices.c.sku == bindparam("sku"), prices.c.currency == bindparam("currency"),
                                            prices.c.customer.is_(None))
_CUSTOMER_TIERS = select(*_PRICE_COLUMNS).where(
    prices.c.sku == bindparam("sku"), prices.c.currency == bindparam("currency"),
    or_(prices.c.customer.is_(None), prices.c.customer == bindparam("customer")))


def price_from_store(reads: StoreReads, sku: str, customer: str | None, currency: str, quantity: Decimal,
                     on: dt.date) -> dict | None:
    """The store's price for a quantity: the customer's own tiers win over list and volume tiers;
    within them the tier with the highest minimum quantity not above ``quantity``, valid on ``on``."""
    stmt = _CUSTOMER_TIERS if customer else _LIST_TIERS
    rows = reads.all(stmt, {"sku": sku, "currency": currency, "customer": customer})
    tiers = sorted(
        ({"kind": _kind(owner, min_quantity), "min_quantity": canonical_decimal(min_quantity),
          "amount": canonical_decimal(amount), "valid_from": valid_from, "valid_to": valid_to}
         for owner, min_quantity, amount, valid_from, valid_to in rows
         if (valid_from is None or valid_from <= on) and (valid_to is None or on <= valid_to)),
        key=lambda tier: (tier["kind"] == "customer", tier["min_quantity"]))
    # The customer's own tiers sort last, so the last fitting tier is the customer's when there is one.
    fitting = [tier for tier in tiers if tier["min_quantity"] <= quantity]
    if not fitting:
        return None
    best = fitting[-1]
    return {"kind": best["kind"], "unit_price": best["amount"], "tiers": tiers}


class PriceParams(BaseModel):
    """The price lookup's query (see :mod:`erpbridge.api.query`); other parameters are ignored,
    as on every read."""

    quantity: Decimal = Field(Decimal(1), gt=0, le=Decimal("1e12"), max_digits=18, decimal_places=6)
    customer: str | None = Field(None, min_length=1, max_length=128)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    on: dt.date | None = Field(None, description="the date the price must be valid on (default: today)")
    context: str = Field("product_page", pattern=r"^[a-z_]{1,32}$",
                         description="where the shop shows the price: product_page, basket, checkout, listing")


@router.get("/prices/{sku:path}", response_model=PriceAnswer,
            summary="The price of a SKU for a quantity (list, volume and customer tiers)",
            openapi_extra=documented(PriceParams))
async def get_price(request: Request, sku: str):
    return await price_answer(request, sku)


async def serve_price(request: Request) -> Response:
    """``GET /prices/{sku}`` as a plain Starlette route, which :func:`erpbridge.api.app.create_api`
    puts ahead of every other route. The shop calls it for every product it shows, and FastAPI's
    routing and dependency resolution cost more than the lookup itself. It does what
    ``get_price`` and the router's key check do, in the same order (key, then query); ``get_price``
    stays the operation of the OpenAPI document."""
    check_key(request, "read:catalog")
    return await price_answer(request, request.path_params["sku"])


def price_route() -> Route:
    route = Route(f"{router.prefix}/prices/{{sku:path}}", serve_price, methods=["GET"], include_in_schema=False)
    route.methods = {"GET"}  # Starlette adds HEAD; the documented operation is GET only
    return route


async def price_answer(request: Request, sku: str) -> Response:
    hub = request.app.state.hub
    params = parse_query(request, PriceParams)
    customer, on, context = params.customer, params.on, params.context
    currency = params.currency or hub.config.catalog.default_currency
    quantity = canonical_decimal(params.quantity)
    realtime = request.app.state.realtime
    fallback = None
    if realtime.wants_price(customer, context):
        answer = await realtime.price(PriceQuery(sku=sku, customer=customer, quantity=quantity, context=context))
        if answer.from_erp and answer.value is not None:
            p = answer.value
            unit = canonical_decimal(p.amount)
            body = {"sku": sku, "currency": p.currency, "quantity": quantity, "customer": customer,
                    "kind": "customer", "unit_price": unit, "total": canonical_decimal(unit * quantity),
                    "tiers": [], "source": "erp", "fallback": None}
            return json_response(body, headers={"X-Erpbridge-Source": "erp"})
        fallback = answer.fallback or "erp_no_price"
    found = price_from_store(request.app.state.reads, sku, customer, currency, quantity, on or dt.date.today())
    if found is None:
        raise Problem(404, f"no price for SKU {sku!r} in {currency} for quantity {quantity}")
    body = {"sku": sku, "currency": currency, "quantity": quantity, "customer": customer, **found,
            "total": canonical_decimal(found["unit_price"] * quantity), "source": "store", "fallback": fallback}
    return store_response(request, body, fallback)


@router.get("/stock/{sku:path}", response_model=StockAnswer, summary="Stock per warehouse and the salable total (ETag)")
async def get_stock(request: Request, sku: str):
    reads = request.app.state.reads
    rows = reads.all(_STOCK, {"sku": sku})
    if not rows and reads.first(_PRODUCT, {"sku": sku}) is None:
        raise Problem(404, f"no product with SKU {sku!r}")
    total = sum((quantity for _, quantity in rows), Decimal(0))
    # Never oversell: a negative warehouse (backorders) counts against the others, and the total
    # offered is never below zero.
    body = {"sku": sku, "warehouses": [{"warehouse": w, "quantity": canonical_decimal(q)} for w, q in rows],
            "salable": canonical_decimal(max(total, Decimal(0)))}
    return etag_response(request, body)
