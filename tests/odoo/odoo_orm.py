"""The Odoo double's ORM: the models erpbridge uses, on SQLite, one transaction per call.

It follows Odoo 17-19 where erpbridge can tell (sources in ``odoo/odoo``):

* ``odoo/service/model.py``: a call runs in one cursor, committed only when the method returns;
  ``retrying()`` reruns it up to ``MAX_TRIES`` times on ``LOCK_NOT_AVAILABLE``,
  ``SERIALIZATION_FAILURE`` and ``DEADLOCK_DETECTED``, pausing ``uniform(0, 2 ** try)`` seconds
  (here times ``retry_pause``, so tests stay fast), and raises the last error when tries run out;
  a missing mandatory field (``NOT NULL`` violation) becomes the ``ValidationError`` "The
  operation cannot be completed: - Create/update: a mandatory field is not set...".
* ``odoo/models.py``: ``read``/``search_read`` answer a many2one as ``[id, display_name]`` or
  ``false``, x2many as id lists, datetimes as ``"YYYY-MM-DD HH:MM:SS"`` UTC; ``create`` takes a
  list of values and sets ``create_date`` and ``write_date``; ``write`` sets ``write_date``;
  one2many values are command lists (``[0, 0, values]`` creates, ``[6, 0, ids]`` sets);
  ``search`` and ``search_read`` leave archived records out (``active``) unless the domain names
  ``active``; domains are prefix lists with ``&``, ``|``, ``!`` and the leaf operators erpbridge
  uses, over dotted paths of many2one fields.
* ``addons/sale/models/sale_order.py``: ``name`` from the sequence (``S00001``), ``action_confirm``
  only from ``draft``/``sent`` (``UserError`` otherwise) creating the delivery (``stock.picking``
  ``WH/OUT/00001``, ``origin`` = the order's name, with ``sale_stock``); ``action_cancel`` cancels
  the pickings not done; ``delivery_status`` (pending, partial, full).
* ``stock_delivery``'s ``stock.picking.carrier_tracking_ref``; ``account.move`` with
  ``move_type`` ``out_invoice``/``out_refund``, ``invoice_origin`` = the order's name.

Only the public methods a model has may be called (Odoo's ``get_public_method``: no ``_`` names).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import threading
import time
from typing import Any, Callable

MAX_TRIES = 5  # odoo/service/model.py MAX_TRIES_ON_CONCURRENCY_FAILURE
MANDATORY = ("The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
             "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
             "Model: {model} ({model})\nField: {field} ({field})\n")


class OdooException(Exception):
    """An exception as Odoo serializes it: ``name`` is its dotted class name."""

    name = "odoo.exceptions.UserError"
    http_status = 422  # odoo/exceptions.py: UserError.http_status

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UserError(OdooException):
    pass


class ValidationError(OdooException):
    name = "odoo.exceptions.ValidationError"


class MissingError(OdooException):
    name = "odoo.exceptions.MissingError"
    http_status = 404


class AccessDenied(OdooException):
    name = "odoo.exceptions.AccessDenied"
    http_status = 401


class SerializationFailure(OdooException):
    """psycopg2's, as Odoo names it when its retries ran out."""

    name = "psycopg2.errors.SerializationFailure"
    http_status = 500


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


#: model -> field -> kind: "m2o:<comodel>", "o2m:<comodel>:<inverse>", "m2m:<comodel>", or a plain kind.
MODELS: dict[str, dict[str, str]] = {
    "res.country": {"code": "char", "name": "char"},
    "res.currency": {"name": "char"},
    "res.partner": {"name": "char!", "ref": "char", "email": "char", "phone": "char", "is_company": "bool",
                    "parent_id": "m2o:res.partner", "type": "char", "street": "char", "street2": "char", "zip": "char",
                    "city": "char", "country_id": "m2o:res.country", "vat": "char", "active": "bool", "comment": "char",
                    "child_ids": "o2m:res.partner:parent_id", "property_product_pricelist": "m2o:product.pricelist",
                    "credit_limit": "float"},
    "product.category": {"name": "char!", "parent_id": "m2o:product.category"},
    "product.template": {"name": "char!", "default_code": "char", "list_price": "float",
                         "categ_id": "m2o:product.category",
                         "description_sale": "char", "sale_ok": "bool", "active": "bool", "type": "char",
                         "weight": "float", "product_variant_ids": "o2m:product.product:product_tmpl_id"},
    "product.product": {"product_tmpl_id": "m2o:product.template!", "default_code": "char", "barcode": "char",
                        "active": "bool"},
    "product.pricelist": {"name": "char!", "currency_id": "m2o:res.currency",
                          "item_ids": "o2m:product.pricelist.item:pricelist_id"},
    "product.pricelist.item": {"pricelist_id": "m2o:product.pricelist!", "applied_on": "char",
                               "product_tmpl_id": "m2o:product.template", "product_id": "m2o:product.product",
                               "min_quantity": "float", "compute_price": "char", "fixed_price": "float",
                               "date_start": "char", "date_end": "char"},
    "stock.warehouse": {"name": "char!", "code": "char!", "lot_stock_id": "m2o:stock.location"},
    "stock.location": {"name": "char!", "usage": "char", "warehouse_id": "m2o:stock.warehouse"},
    "stock.quant": {"product_id": "m2o:product.product!", "location_id": "m2o:stock.location!",
                    "warehouse_id": "m2o:stock.warehouse", "quantity": "float", "reserved_quantity": "float"},
    "sale.order": {"name": "char", "partner_id": "m2o:res.partner!", "partner_invoice_id": "m2o:res.partner",
                   "partner_shipping_id": "m2o:res.partner", "client_order_ref": "char", "state": "char",
                   "date_order": "char", "note": "char", "currency_id": "m2o:res.currency",
                   "warehouse_id": "m2o:stock.warehouse", "order_line": "o2m:sale.order.line:order_id",
                   "picking_ids": "o2m:stock.picking:sale_id", "delivery_status": "char", "amount_untaxed": "float",
                   "amount_total": "float"},
    "sale.order.line": {"order_id": "m2o:sale.order!", "product_id": "m2o:product.product!", "name": "char",
                        "product_uom_qty": "float", "price_unit": "float", "discount": "float",
                        "qty_delivered": "float", "price_subtotal": "float"},
    "stock.picking": {"name": "char", "origin": "char", "sale_id": "m2o:sale.order", "partner_id": "m2o:res.partner",
                      "picking_type_code": "char", "state": "char", "date_done": "char",
                      "carrier_tracking_ref": "char", "backorder_id": "m2o:stock.picking",
                      "move_ids": "o2m:stock.move:picking_id"},
    "stock.move": {"picking_id": "m2o:stock.picking", "product_id": "m2o:product.product!", "name": "char",
                   "product_uom_qty": "float", "quantity": "float", "sale_line_id": "m2o:sale.order.line",
                   "state": "char"},
    "account.move": {"name": "char", "move_type": "char!", "state": "char", "partner_id": "m2o:res.partner",
                     "invoice_origin": "char", "invoice_date": "char", "currency_id": "m2o:res.currency",
                     "amount_untaxed": "float", "amount_tax": "float", "amount_total": "float",
                     "reversed_entry_id": "m2o:account.move",
                     "invoice_line_ids": "o2m:account.move.line:move_id"},
    "account.move.line": {"move_id": "m2o:account.move!", "product_id": "m2o:product.product", "name": "char",
                          "quantity": "float", "price_unit": "float", "price_subtotal": "float",
                          "display_type": "char"},
    "ir.attachment": {"name": "char!", "res_model": "char", "res_id": "int", "mimetype": "char", "datas": "binary"},
}
DEFAULTS = {"res.partner": {"active": True, "type": "contact"}, "product.template": {"sale_ok": True, "active": True,
            "type": "consu"}, "product.product": {"active": True}, "sale.order": {"state": "draft"},
            "product.pricelist.item": {"applied_on": "0_product_variant", "compute_price": "fixed", "min_quantity": 0}}
SEQUENCES = {"sale.order": "S{:05d}", "stock.picking": "WH/OUT/{:05d}"}
#: Fields shown through a many2one, as Odoo computes them on the comodel.
RELATED = {"product.product": ("name", "list_price", "sale_ok", "categ_id", "description_sale", "weight", "type")}


class Env:
    """One call's transaction: records are JSON rows of one SQLite table."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- storage ------------------------------------------------------------------------------

    def _row(self, model: str, rid: int) -> dict | None:
        row = self.conn.execute("SELECT data FROM records WHERE model=? AND id=?", (model, rid)).fetchone()
        return json.loads(row[0]) if row else None

    def _rows(self, model: str) -> list[dict]:
        rows = self.conn.execute("SELECT data FROM records WHERE model=? ORDER BY id", (model,))
        return [json.loads(r[0]) for r in rows]

    def _put(self, model: str, values: dict) -> None:
        self.conn.execute("INSERT OR REPLACE INTO records(model, id, data) VALUES (?, ?, ?)",
                          (model, values["id"], json.dumps(values)))

    def _next(self, name: str) -> int:
        self.conn.execute("INSERT OR IGNORE INTO sequences(name, value) VALUES (?, 0)", (name,))
        self.conn.execute("UPDATE sequences SET value = value + 1 WHERE name=?", (name,))
        return self.conn.execute("SELECT value FROM sequences WHERE name=?", (name,)).fetchone()[0]

    # -- fields -----------------------------------------------------------------------------

    def value(self, model: str, row: dict, field: str) -> Any:
        """A field's stored value (x2many computed from the inverse, related ones through the template)."""
        kind = MODELS[model].get(field)
        if kind is None and field in RELATED.get(model, ()):
            template = self._row("product.template", row["product_tmpl_id"]) or {}
            return self.value("product.template", template, field)
        if kind is None and field in ("id", "create_date", "write_date", "display_name"):
            return row.get(field) if field != "display_name" else self.display_name(model, row)
        if kind is None:
            raise ValueError(f"Invalid field {field!r} on model {model!r}")
        if kind.startswith("o2m:"):
            _, comodel, inverse = kind.split(":")
            return [r["id"] for r in self._rows(comodel) if r.get(inverse) == row["id"]]
        return row.get(field, False if kind in ("bool",) or kind.startswith("m2o") else row.get(field))

    def display_name(self, model: str, row: dict) -> str:
        if model == "product.product":
            name = self.value(model, row, "name")
            return f"[{row['default_code']}] {name}" if row.get("default_code") else name
        return row.get("name") or f"{model},{row['id']}"

    def read(self, model: str, ids: list[int], fields: list[str] | None = None) -> list[dict]:
        fields = fields or [f for f in MODELS[model]]
        result = []
        for rid in ids:
            row = self._row(model, rid)
            if row is None:
                raise MissingError(f"Record does not exist or has been deleted.\n(Record: {model}({rid},), User: 2)")
            out = {"id": rid}
            for field in fields:
                value = self.value(model, row, field)
                kind = MODELS[model].get(field) or MODELS["product.template"].get(field, "") \
                    if field in RELATED.get(model, ()) else MODELS[model].get(field, "")
                if kind.startswith("m2o:") and value:
                    comodel = kind.split(":")[1].rstrip("!")
                    value = [value, self.display_name(comodel, self._row(comodel, value))]
                elif value is None:
                    value = False
                out[field] = value
            result.append(out)
        return result

    # -- domains ----------------------------------------------------------------------------

    def _path(self, model: str, row: dict, path: str) -> Any:
        head, _, rest = path.partition(".")
        value = self.value(model, row, head)
        if not rest:
            return value
        comodel = MODELS[model][head].split(":")[1].rstrip("!")
        target = self._row(comodel, value) if value else None
        return self._path(comodel, target, rest) if target else False

    def _leaf(self, model: str, row: dict, leaf: list) -> bool:
        path, operator, wanted = leaf
        value = self._path(model, row, path)
        if isinstance(value, list) and operator in ("=", "in"):  # x2many: any of its ids
            return bool(set(value) & set(wanted if isinstance(wanted, list) else [wanted]))
        if operator == "=":
            return value == wanted or (wanted is False and value in (None, False, ""))
        if operator == "!=":
            return not (value == wanted or (wanted is False and value in (None, False, "")))
        if operator == "in":
            return value in wanted
        if operator == "not in":
            return value not in wanted
        if operator == "ilike":
            return bool(value) and str(wanted).lower() in str(value).lower()
        if operator in (">", ">=", "<", "<="):
            if value in (None, False):
                return False
            return {">": value > wanted, ">=": value >= wanted, "<": value < wanted, "<=": value <= wanted}[operator]
        raise ValueError(f"Invalid leaf {leaf!r}")

    def _matches(self, model: str, row: dict, domain: list) -> bool:
        stack: list[bool] = []
        for item in reversed(domain or []):
            if item == "&":
                stack.append(stack.pop() and stack.pop())
            elif item == "|":
                stack.append(stack.pop() | stack.pop())
            elif item == "!":
                stack.append(not stack.pop())
            else:
                stack.append(self._leaf(model, row, item))
        return all(stack)

    def search(self, model: str, domain: list | None = None, offset: int = 0, limit: int | None = None,
               order: str | None = None) -> list[int]:
        domain = list(domain or [])
        if "active" in MODELS[model] and not any(isinstance(l, list) and l[0] == "active" for l in domain):
            domain.append(["active", "=", True])
        rows = [r for r in self._rows(model) if self._matches(model, r, domain)]
        for part in reversed([p.strip() for p in (order or "id").split(",")]):
            field, _, direction = part.partition(" ")
            rows.sort(key=lambda r: (r.get(field) is None, r.get(field) or 0), reverse=direction.lower() == "desc")
        ids = [r["id"] for r in rows][offset:]
        return ids[:limit] if limit else ids

    # -- writes -----------------------------------------------------------------------------

    def create(self, model: str, values_list: list[dict] | dict) -> list[int]:
        ids = []
        for values in values_list if isinstance(values_list, list) else [values_list]:
            stamp = values.pop("__stamp", None) or now()
            row = {**DEFAULTS.get(model, {}), "id": self._next(model), "create_date": stamp, "write_date": stamp}
            if model in SEQUENCES and not values.get("name"):
                row["name"] = SEQUENCES[model].format(self._next(f"seq:{model}"))
            children = self._assign(model, row, values)
            for field, kind in MODELS[model].items():
                if kind.endswith("!") and not row.get(field):
                    raise ValidationError(MANDATORY.format(model=model, field=field))
            self._put(model, row)
            for comodel, inverse, child in children:
                self.create(comodel, [{**child, inverse: row["id"]}])
            ids.append(row["id"])
        return ids

    def _assign(self, model: str, row: dict, values: dict) -> list[tuple[str, str, dict]]:
        children = []
        for field, value in values.items():
            kind = MODELS[model].get(field)
            if kind is None:
                raise ValueError(f"Invalid field {field!r} on model {model!r}")
            if kind.startswith("o2m:"):
                _, comodel, inverse = kind.split(":")
                for command in value:
                    if command[0] != 0:
                        raise ValueError(f"the double supports only create commands on {model}.{field}")
                    children.append((comodel, inverse, dict(command[2])))
            elif kind.startswith("m2o:") and value:
                comodel = kind.split(":")[1].rstrip("!")
                if self._row(comodel, int(value)) is None:
                    raise MissingError("Record does not exist or has been deleted.\n"
                                       f"(Record: {comodel}({value},), User: 2)")
                row[field] = int(value)
            else:
                row[field] = value
        return children

    def write(self, model: str, ids: list[int], values: dict) -> bool:
        values = dict(values)
        stamp = values.pop("__stamp", None) or now()
        for rid in ids:
            row = self._row(model, rid)
            if row is None:
                raise MissingError(f"Record does not exist or has been deleted.\n(Record: {model}({rid},), User: 2)")
            children = self._assign(model, row, values)
            row["write_date"] = stamp
            self._put(model, row)
            for comodel, inverse, child in children:
                self.create(comodel, [{**child, inverse: rid}])
        return True

    def one(self, model: str, rid: int) -> dict:
        return self.read(model, [rid], list(MODELS[model]) + ["write_date"])[0] if rid else {}

    def row(self, model: str, rid: int) -> dict:
        return self._row(model, rid)


class Orm:
    """The database and the calls on it: ``call(model, method, ids, args, kwargs)``, one transaction each."""

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.conflicts = 0  # the next calls that meet a serialization failure (each try counts)
        self.retry_pause = 0.001  # Odoo's pause uniform(0, 2**try) seconds, scaled
        self.tries = 0  # calls tried, repeats included
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS records "
                         "(model TEXT, id INTEGER, data TEXT, PRIMARY KEY (model, id))")
            conn.execute("CREATE TABLE IF NOT EXISTS sequences (name TEXT PRIMARY KEY, value INTEGER)")

    def transaction(self, work: Callable[[Env], Any]) -> Any:
        """``work`` in one transaction, retried as ``retrying()`` does on a serialization failure."""
        for tryno in range(1, MAX_TRIES + 1):
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            try:
                conn.execute("BEGIN IMMEDIATE")
                self.tries += 1
                with self.lock:
                    conflict, self.conflicts = self.conflicts > 0, max(self.conflicts - 1, 0)
                result = work(Env(conn))
                if conflict:
                    raise SerializationFailure("could not serialize access due to concurrent update")
                conn.execute("COMMIT")
                return result
            except SerializationFailure:
                conn.execute("ROLLBACK")
                if tryno == MAX_TRIES:
                    raise
                time.sleep(random.uniform(0.0, 2 ** tryno) * self.retry_pause)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                conn.close()
        raise AssertionError("unreachable")

    def call(self, model: str, method: str, ids: list[int] | None, args: list, kwargs: dict) -> Any:
        if model not in MODELS:
            raise KeyError(model)
        function = _METHODS.get((model, method)) or _METHODS.get(("*", method))
        if function is None or method.startswith("_"):
            raise AttributeError(f"The method '{method}' does not exist on the model '{model}'")
        kwargs = {k: v for k, v in kwargs.items() if k != "context"}
        return self.transaction(lambda env: function(env, model, ids, *args, **kwargs))


# -- the public methods (api.model ones take ids=None) -------------------------------------------

def _search_read(env, model, ids, domain=None, fields=None, offset=0, limit=None, order=None):
    return env.read(model, env.search(model, domain, offset, limit, order), fields)


def _search(env, model, ids, domain=None, offset=0, limit=None, order=None):
    return env.search(model, domain, offset, limit, order)


def _search_count(env, model, ids, domain=None, limit=None):
    return len(env.search(model, domain, 0, limit))


def _read(env, model, ids, fields=None, load="_classic_read"):
    return env.read(model, ids, fields)


def _create(env, model, ids, vals_list):
    created = env.create(model, vals_list)
    if model == "sale.order":
        for sid in created:
            _amounts(env, sid)
    return created if isinstance(vals_list, list) else created[0]


def _write(env, model, ids, vals):
    return env.write(model, ids, vals)


def _amounts(env: Env, order_id: int) -> None:
    lines = env.read("sale.order.line", env.search("sale.order.line", [["order_id", "=", order_id]]),
                     ["product_uom_qty", "price_unit", "discount"])
    for line in lines:
        subtotal = round(line["product_uom_qty"] * line["price_unit"] * (1 - (line["discount"] or 0) / 100), 2)
        env.write("sale.order.line", [line["id"]], {"price_subtotal": subtotal})
    untaxed = round(sum(env.row("sale.order.line", l["id"])["price_subtotal"] for l in lines), 2)
    env.write("sale.order", [order_id], {"amount_untaxed": untaxed, "amount_total": round(untaxed * 1.19, 2)})


def _action_confirm(env, model, ids):
    """sale_order.py: only draft or sent orders; sale_stock creates the delivery."""
    for sid in ids:
        order = env.row("sale.order", sid)
        if order["state"] not in ("draft", "sent"):
            raise UserError("It is not allowed to confirm an order in the following states: "
                            + {"sale": "Sales Order", "cancel": "Cancelled"}.get(order["state"], order["state"]))
        env.write("sale.order", [sid], {"state": "sale", "delivery_status": "pending"})
        lines = env.read("sale.order.line", env.search("sale.order.line", [["order_id", "=", sid]]),
                         ["product_id", "product_uom_qty", "name"])
        storable = [l for l in lines if env.value("product.product", env.row("product.product", l["product_id"][0]),
                                                  "type") != "service"]
        if storable:
            env.create("stock.picking", [{
                "origin": order["name"], "sale_id": sid,
                "partner_id": order.get("partner_shipping_id") or order["partner_id"],
                "picking_type_code": "outgoing", "state": "assigned",
                "move_ids": [[0, 0, {"product_id": l["product_id"][0], "product_uom_qty": l["product_uom_qty"],
                                     "quantity": 0, "name": l["name"] or "", "sale_line_id": l["id"],
                                     "state": "assigned"}] for l in storable]}])
    return True


def _action_cancel(env, model, ids):
    """sale_order.py ``action_cancel`` (with ``disable_cancel_warning``): pickings not done are cancelled."""
    for sid in ids:
        for pid in env.search("stock.picking", [["sale_id", "=", sid], ["state", "!=", "done"]]):
            env.write("stock.picking", [pid], {"state": "cancel"})
        env.write("sale.order", [sid], {"state": "cancel"})
    return True


_METHODS: dict[tuple[str, str], Callable] = {
    ("*", "search_read"): _search_read, ("*", "search"): _search, ("*", "search_count"): _search_count,
    ("*", "read"): _read, ("*", "create"): _create, ("*", "write"): _write,
    ("sale.order", "action_confirm"): _action_confirm, ("sale.order", "action_cancel"): _action_cancel,
}
#: ``@api.model`` methods: JSON-2 refuses ``ids`` for them (json2.py: "cannot call X with ids").
API_MODEL = frozenset({"search_read", "search", "search_count", "create"})
