"""An Oracle NetSuite account on 127.0.0.1: the test double of the netsuite connector.

NetSuite cannot run here, so this double follows the published contract of SuiteTalk REST web
services (Oracle's NetSuite help: "REST Web Services", sections cited by number; the facts are
collected in the project's research notes), with the data in SQLite tables named and shaped as
SuiteQL's (``item``, ``pricing``, ``inventoryitemlocations``, ``customer``, ``transaction``,
``transactionline``), so SuiteQL queries run on them as they are:

* ``/services/rest/record/v1/<type>/<id>`` and ``.../eid:<external id>`` (section_156335203191):
  ``GET`` a record (404 ``NONEXISTENT_ID`` if none), ``PUT .../eid:<id>`` upserts (creates or
  replaces the record with that external id: never two; section_156334828635), ``PATCH`` updates,
  each answering ``204 No Content`` with the record's URL in ``Location``; references are
  ``{"id": ...}`` objects, sublists ``{"items": [...]}``; an unknown reference is 400
  ``INVALID_KEY_OR_REF`` ("Invalid item reference key 99.").
* ``POST /record/v1/salesOrder/<id>/!transform/<type>`` (section_157901123882): a new record made
  from the order (``itemFulfillment``, ``invoice``, ``returnAuthorization``) with the body's
  values, ``204`` and ``Location``.
* ``POST /services/rest/query/v1/suiteql?limit=&offset=`` with ``Prefer: transient`` and
  ``{"q": ...}`` (section_157909186990): ``limit`` at most 1000 (else 400), answered as
  ``{"links", "count", "hasMore", "items", "offset", "totalResults"}``; values are strings, a
  null column is left out of its item. ``TO_TIMESTAMP`` and ``TO_CHAR`` work as in SuiteQL for
  the ``'YYYY-MM-DD HH24:MI:SS'`` format.
* errors are ``{"type", "title", "status", "o:errorDetails": [{"detail", "o:errorCode"}]}``.
* authentication: token-based (OAuth 1.0a, ``HMAC-SHA256``, ``realm`` = the account id;
  section_1534941295), checked by signing the request again with oauthlib; or OAuth 2 client
  credentials at ``/services/rest/auth/oauth2/v1/token`` and a bearer token. Refused: 401
  ``INVALID_LOGIN``.
* governance: requests beyond the account's concurrency limit (``limit``) are refused with
  ``429`` ``CONCURRENCY_LIMIT_EXCEEDED`` (REST web services answer 429; the exact error code is
  not in the excerpts read, so this one is the double's).

The people working in NetSuite are :class:`NetSuiteDouble`'s methods; switches stop it, lose the
next answer of a write, hold the answers of writes, or add a latency per call.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import secrets
import socket
import sqlite3
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oauthlib import oauth1
from oauthlib.oauth1.rfc5849 import utils

ACCOUNT = "1234567_SB1"
TBA = {"consumer_key": "ns-consumer-key", "consumer_secret": "ns-consumer-secret", "token": "ns-token",
       "token_secret": "ns-token-secret"}
CLIENT = {"client_id": "ns-client-id", "client_secret": "ns-client-secret"}
VAT = 0.19
SCHEMA = """
CREATE TABLE item (id INTEGER PRIMARY KEY, itemid TEXT, displayname TEXT, itemtype TEXT, externalid TEXT,
                   isinactive TEXT DEFAULT 'F', lastmodifieddate TEXT);
CREATE TABLE pricing (item INTEGER, pricelevel INTEGER, quantity REAL, unitprice REAL, currency INTEGER);
CREATE TABLE location (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE inventoryitemlocations (item INTEGER, location INTEGER, quantityonhand REAL, quantityavailable REAL);
CREATE TABLE customer (id INTEGER PRIMARY KEY, entityid TEXT, externalid TEXT UNIQUE, companyname TEXT, email TEXT,
                       isinactive TEXT DEFAULT 'F', lastmodifieddate TEXT);
CREATE TABLE "transaction" (id INTEGER PRIMARY KEY, tranid TEXT, type TEXT, externalid TEXT, entity INTEGER,
                            status TEXT, createdfrom INTEGER, trandate TEXT, lastmodifieddate TEXT, foreigntotal REAL,
                            taxtotal REAL, shippingcost REAL, trackingnumberlist TEXT, otherrefnum TEXT, memo TEXT,
                            UNIQUE (type, externalid));
CREATE TABLE transactionline (id INTEGER PRIMARY KEY, "transaction" INTEGER, linesequencenumber INTEGER,
                              item INTEGER, quantity REAL, rate REAL, netamount REAL, mainline TEXT DEFAULT 'F',
                              isclosed TEXT DEFAULT 'F', quantityshiprecv REAL DEFAULT 0);
"""
TYPES = {"salesOrder": "SalesOrd", "itemFulfillment": "ItemShip", "invoice": "CustInvc", "creditMemo": "CustCred",
         "returnAuthorization": "RtnAuth"}
PREFIX = {"SalesOrd": "SO", "ItemShip": "IF", "CustInvc": "INV", "CustCred": "CM", "RtnAuth": "RMA"}
STATUS = {"A": "Pending Approval", "B": "Pending Fulfillment", "D": "Partially Fulfilled", "E": "Pending Billing/"
          "Partially Fulfilled", "F": "Pending Billing", "G": "Billed", "H": "Closed"}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


class Refused(Exception):
    def __init__(self, status: int, code: str, detail: str, path: str | None = None):
        super().__init__(detail)
        self.status, self.code, self.detail, self.path = status, code, detail, path

    def body(self) -> dict:
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
        return {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
                "title": titles.get(self.status, "Error"),
                "status": self.status, "o:errorDetails": [{"detail": self.detail, "o:errorCode": self.code,
                                                            **({"o:errorPath": self.path} if self.path else {})}]}


def _to_timestamp(value: str, fmt: str) -> str:
    return value


def _to_char(value: Any, fmt: str) -> str | None:
    if value is None:
        return None
    return str(value)[:10] if fmt.upper() == "YYYY-MM-DD" else str(value)


class NetSuiteDouble:
    def __init__(self, limit: int = 5):
        self.path = os.path.join(tempfile.mkdtemp(prefix="netsuite-double-"), "netsuite.sqlite")
        self.limit = limit
        self.in_flight = self.max_in_flight = self.refused_429 = 0
        self.latency = self.hold_answers = 0.0
        self.lose_next = threading.Event()
        self.lock = threading.Lock()
        self.db_lock = threading.Lock()
        self.tokens: set[str] = set()
        self.connections: set[socket.socket] = set()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0
        with self.db() as conn:
            conn.executescript(SCHEMA)
            conn.executemany("INSERT INTO location (id, name) VALUES (?, ?)", [(1, "Main"), (2, "South")])
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        return {"NETSUITE_URL": self.url, "NETSUITE_ACCOUNT": ACCOUNT,
                **{f"NETSUITE_{k.upper()}": v for k, v in {**TBA, **CLIENT}.items()}}

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            connections, self.connections = list(self.connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.create_function("TO_TIMESTAMP", 2, _to_timestamp)
        conn.create_function("TO_CHAR", 2, _to_char)
        return conn

    # -- authentication -------------------------------------------------------------------------

    def authenticate(self, method: str, url: str, headers: dict) -> None:
        value = headers.get("authorization", "")
        if value.lower().startswith("bearer ") and value[7:] in self.tokens:
            return
        if value.startswith("OAuth "):
            params = dict(utils.parse_authorization_header(value))
            if params.get("realm") == ACCOUNT and params.get("oauth_signature_method") == "HMAC-SHA256" \
                    and params.get("oauth_consumer_key") == TBA["consumer_key"] \
                    and params.get("oauth_token") == TBA["token"]:
                client = oauth1.Client(TBA["consumer_key"], client_secret=TBA["consumer_secret"],
                                       resource_owner_key=TBA["token"], resource_owner_secret=TBA["token_secret"],
                                       signature_method="HMAC-SHA256", realm=ACCOUNT, nonce=params["oauth_nonce"],
                                       timestamp=params["oauth_timestamp"])
                expected = dict(utils.parse_authorization_header(client.sign(url, method)[1]["Authorization"]))
                if secrets.compare_digest(expected["oauth_signature"], params.get("oauth_signature", "")):
                    return
        raise Refused(401, "INVALID_LOGIN", "Invalid login attempt. For more details, see the Login Audit Trail in "
                                            "the NetSuite UI at Setup > Users/Roles > User Management > View Login "
                                            "Audit Trail.")

    def token(self, headers: dict, form: dict) -> dict:
        expected = "Basic " + base64.b64encode(f"{CLIENT['client_id']}:{CLIENT['client_secret']}".encode()).decode()
        if form.get("grant_type") != "client_credentials" or headers.get("authorization") != expected:
            raise Refused(401, "INVALID_LOGIN", "invalid_client")
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    # -- the API --------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any, dict, bool]:
        """(status, body, headers, whether it wrote)."""
        if path == "/services/rest/query/v1/suiteql" and method == "POST":
            return 200, self.suiteql(body or {}, query), {}, False
        match = re.fullmatch(r"/services/rest/record/v1/(\w+)/([^/]+)(?:/!transform/(\w+))?", path)
        if not match:
            raise Refused(404, "NONEXISTENT_ID", f"Record type or path {path} does not exist.")
        kind, key, target = match.groups()
        if kind not in ("customer", *TYPES):
            raise Refused(404, "NONEXISTENT_ID", f"Record type {kind} does not exist.")
        with self.db_lock, self.db() as conn:
            if target and method == "POST":
                new = self.transform(conn, kind, self._id(conn, kind, key), target, body or {})
                return 204, None, {"Location": f"{self.url}/services/rest/record/v1/{target}/{new}"}, True
            if method == "PUT" and key.startswith("eid:"):
                rid = self.upsert(conn, kind, key[4:], body or {})
                return 204, None, {"Location": f"{self.url}/services/rest/record/v1/{kind}/{rid}"}, True
            rid = self._id(conn, kind, key)
            if method == "GET":
                return 200, self.record(conn, kind, rid), {}, False
            if method == "PATCH":
                self.patch(conn, kind, rid, body or {})
                return 204, None, {"Location": f"{self.url}/services/rest/record/v1/{kind}/{rid}"}, True
        raise Refused(405, "INVALID_REQUEST", f"{method} is not allowed here.")

    def suiteql(self, body: dict, query: dict) -> dict:
        limit, offset = int(query.get("limit", 1000)), int(query.get("offset", 0))
        if not 1 <= limit <= 1000:
            raise Refused(400, "INVALID_PARAMETER", "Invalid value for the 'limit' parameter: it must be between "
                                                    "1 and 1000.")
        q = body.get("q")
        if not isinstance(q, str) or not q.lower().lstrip().startswith("select"):
            raise Refused(400, "INVALID_PARAMETER", "Invalid search query. Provide a valid SuiteQL query.")
        try:
            with self.db() as conn:
                # SuiteQL's table "transaction" is a keyword in SQLite: quoted, the query runs as it is
                rows = conn.execute(re.sub(r'(?<!["\w])transaction(?!["\w])', '"transaction"', q)).fetchall()
        except sqlite3.Error as exc:
            raise Refused(400, "INVALID_PARAMETER", f"Invalid search query. Search error: {exc}") from None
        page = rows[offset:offset + limit]
        items = [{"links": [], **{k.lower(): str(r[k]) for k in r.keys() if r[k] is not None}} for r in page]
        return {"links": [], "count": len(items), "hasMore": offset + limit < len(rows), "items": items,
                "offset": offset, "totalResults": len(rows)}

    def _id(self, conn, kind: str, key: str) -> int:
        table, type_ = ("customer", None) if kind == "customer" else ("transaction", TYPES[kind])
        if key.startswith("eid:"):
            row = conn.execute(f'SELECT id FROM "{table}" WHERE externalid = ?' + (" AND type = ?" if type_ else ""),
                               (key[4:], *([type_] if type_ else []))).fetchone()
        else:
            row = conn.execute(f'SELECT id FROM "{table}" WHERE id = ?' + (" AND type = ?" if type_ else ""),
                               (int(key) if key.isdigit() else -1, *([type_] if type_ else []))).fetchone()
        if row is None:
            raise Refused(404, "NONEXISTENT_ID",
                          "The record instance does not exist. Provide a valid record instance ID.")
        return row["id"]

    def _ref(self, conn, table: str, ref: Any, path: str, where: str = "") -> int:
        rid = ref.get("id") if isinstance(ref, dict) else None
        if rid is None or conn.execute(f'SELECT 1 FROM "{table}" WHERE id = ? {where}', (int(rid),)).fetchone() is None:
            name = path.split(".")[-1]
            raise Refused(400, "INVALID_KEY_OR_REF", f"Invalid {name} reference key {rid}.", path)
        return int(rid)

    def record(self, conn, kind: str, rid: int) -> dict:
        if kind == "customer":
            row = conn.execute("SELECT * FROM customer WHERE id = ?", (rid,)).fetchone()
            return {"links": [], "id": str(rid), "entityId": row["entityid"], "externalId": row["externalid"],
                    "companyName": row["companyname"], "email": row["email"], "isInactive": row["isinactive"] == "T"}
        row = conn.execute('SELECT * FROM "transaction" WHERE id = ?', (rid,)).fetchone()
        lines = conn.execute("SELECT * FROM transactionline WHERE \"transaction\" = ? AND mainline = 'F' "
                             "ORDER BY linesequencenumber", (rid,)).fetchall()
        return {"links": [], "id": str(rid), "tranId": row["tranid"], "externalId": row["externalid"],
                "status": {"id": row["status"], "refName": STATUS.get(row["status"], row["status"])},
                "entity": {"id": str(row["entity"])}, "total": row["foreigntotal"], "otherRefNum": row["otherrefnum"],
                "item": {"items": [{"line": l["linesequencenumber"], "item": {"id": str(l["item"])},
                                    "quantity": abs(l["quantity"]), "rate": l["rate"], "isClosed": l["isclosed"] == "T",
                                    "quantityFulfilled": l["quantityshiprecv"]} for l in lines]}}

    def _next(self, conn, type_: str) -> tuple[int, str]:
        rid = (conn.execute('SELECT MAX(id) FROM "transaction"').fetchone()[0] or 100) + 1
        count = conn.execute('SELECT COUNT(*) FROM "transaction" WHERE type = ?', (type_,)).fetchone()[0] + 1
        return rid, f"{PREFIX[type_]}{1000 + count}"

    def upsert(self, conn, kind: str, external_id: str, body: dict) -> int:
        stamp = now()
        if kind == "customer":
            name = body.get("companyName") or " ".join(filter(None, (body.get("firstName"), body.get("lastName"))))
            if not name:
                raise Refused(400, "USER_ERROR", "Please enter value(s) for: Company Name", "companyName")
            row = conn.execute("SELECT id FROM customer WHERE externalid = ?", (external_id,)).fetchone()
            if row:
                conn.execute("UPDATE customer SET companyname = ?, email = ?, lastmodifieddate = ? WHERE id = ?",
                             (name, body.get("email"), stamp, row["id"]))
                return row["id"]
            rid = (conn.execute("SELECT MAX(id) FROM customer").fetchone()[0] or 500) + 1
            conn.execute("INSERT INTO customer (id, entityid, externalid, companyname, email, lastmodifieddate) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (rid, f"CUST{rid}", external_id, name, body.get("email"), stamp))
            return rid
        if kind != "salesOrder":
            raise Refused(400, "INVALID_REQUEST", f"The double upserts customer and salesOrder records, not {kind}.")
        entity = self._ref(conn, "customer", body.get("entity"), "entity")
        items = (body.get("item") or {}).get("items") or []
        if not items:
            raise Refused(400, "USER_ERROR", "You must enter at least one line item for this transaction.", "item")
        lines = [(self._ref(conn, "item", line.get("item"), f"item.items[{n}].item"), float(line["quantity"]),
                  float(line["rate"])) for n, line in enumerate(items)]
        row = conn.execute("SELECT id, tranid FROM \"transaction\" WHERE type = 'SalesOrd' AND externalid = ?",
                           (external_id,)).fetchone()
        if row:  # PUT replaces the record's values: the same order again
            rid = row["id"]
            conn.execute("DELETE FROM transactionline WHERE \"transaction\" = ?", (rid,))
            conn.execute("DELETE FROM \"transaction\" WHERE id = ?", (rid,))
            tranid = row["tranid"]
        else:
            rid, tranid = self._next(conn, "SalesOrd")
        untaxed = sum(q * r for _, q, r in lines) + float(body.get("shippingCost") or 0)
        conn.execute('INSERT INTO "transaction" (id, tranid, type, externalid, entity, status, trandate, '
                     "lastmodifieddate, foreigntotal, taxtotal, shippingcost, otherrefnum, memo) "
                     "VALUES (?, ?, 'SalesOrd', ?, ?, 'B', ?, ?, ?, ?, ?, ?, ?)",
                     (rid, tranid, external_id, entity, stamp[:10], stamp, round(untaxed * (1 + VAT), 2),
                      round(untaxed * VAT, 2), float(body.get("shippingCost") or 0), body.get("otherRefNum"),
                      body.get("memo")))
        self._lines(conn, rid, lines, sign=-1)
        return rid

    def _lines(self, conn, rid: int, lines: list[tuple[int, float, float]], sign: int) -> None:
        """Transaction lines; quantities on sales transactions are negative, as SuiteQL shows them."""
        for n, (item, quantity, rate) in enumerate(lines, start=1):
            conn.execute('INSERT INTO transactionline ("transaction", linesequencenumber, item, quantity, rate, '
                         "netamount) VALUES (?, ?, ?, ?, ?, ?)", (rid, n, item, sign * quantity, rate,
                                                                  round(sign * quantity * rate, 2)))

    def patch(self, conn, kind: str, rid: int, body: dict) -> None:
        """Closing every line of an order (``isClosed``) closes it, unless something was fulfilled."""
        if kind != "salesOrder":
            raise Refused(400, "INVALID_REQUEST", f"The double patches salesOrder records, not {kind}.")
        for line in (body.get("item") or {}).get("items") or []:
            if line.get("isClosed"):
                done = conn.execute("SELECT quantityshiprecv FROM transactionline WHERE \"transaction\" = ? AND "
                                    "linesequencenumber = ?", (rid, line["line"])).fetchone()
                if done is None or done[0]:
                    raise Refused(400, "USER_ERROR", "You cannot close a line that has been fulfilled.")
                conn.execute("UPDATE transactionline SET isclosed = 'T' WHERE \"transaction\" = ? AND "
                             "linesequencenumber = ?", (rid, line["line"]))
        if not conn.execute("SELECT 1 FROM transactionline WHERE \"transaction\" = ? AND isclosed = 'F'",
                            (rid,)).fetchone():
            conn.execute("UPDATE \"transaction\" SET status = 'H', lastmodifieddate = ? WHERE id = ?", (now(), rid))

    def transform(self, conn, kind: str, rid: int, target: str, body: dict) -> int:
        if kind != "salesOrder" or target not in ("itemFulfillment", "invoice", "returnAuthorization"):
            raise Refused(400, "INVALID_REQUEST", f"Transforming {kind} into {target} is not supported.")
        order = conn.execute('SELECT * FROM "transaction" WHERE id = ?', (rid,)).fetchone()
        if order["status"] == "H":
            raise Refused(400, "USER_ERROR", "This transaction is closed.")
        type_ = TYPES[target]
        new, tranid = self._next(conn, type_)
        lines = {l["linesequencenumber"]: l for l in conn.execute(
            "SELECT * FROM transactionline WHERE \"transaction\" = ?", (rid,))}
        chosen = [(lines[int(i["orderLine"])], float(i["quantity"])) for i in (body.get("item") or {}).get("items", [])]
        if target == "itemFulfillment":
            open_ = [(l, abs(l["quantity"]) - l["quantityshiprecv"]) for l in lines.values()]
            chosen = chosen or [(l, q) for l, q in open_ if q > 0]
            for line, quantity in chosen:
                conn.execute("UPDATE transactionline SET quantityshiprecv = quantityshiprecv + ? WHERE id = ?",
                             (quantity, line["id"]))
            left = conn.execute("SELECT SUM(ABS(quantity) - quantityshiprecv) FROM transactionline WHERE "
                                "\"transaction\" = ?", (rid,)).fetchone()[0]
            conn.execute("UPDATE \"transaction\" SET status = ?, lastmodifieddate = ? WHERE id = ?",
                         ("F" if not left else "D", now(), rid))
        shipping = float(body.get("shippingCost") or 0) if target == "invoice" else 0.0
        untaxed = sum(q * l["rate"] for l, q in chosen) + shipping
        stamp = now()
        conn.execute('INSERT INTO "transaction" (id, tranid, type, externalid, entity, status, createdfrom, trandate, '
                     "lastmodifieddate, foreigntotal, taxtotal, shippingcost, trackingnumberlist) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (new, tranid, type_, body.get("externalId"), order["entity"], "C" if target != "invoice" else "A",
                      rid, stamp[:10], stamp, round(untaxed * (1 + VAT), 2), round(untaxed * VAT, 2), shipping,
                      body.get("trackingNumbers")))
        self._lines(conn, new, [(l["item"], q, l["rate"]) for l, q in chosen],
                    sign=-1 if target in ("invoice", "itemFulfillment") else 1)
        return new

    # -- the people in NetSuite -------------------------------------------------------------------

    def add_product(self, sku: str, name: str, price: str, *, stock: dict | None = None, stamp: str | None = None,
                    volume: dict | None = None) -> int:
        with self.db_lock, self.db() as conn:
            rid = (conn.execute("SELECT MAX(id) FROM item").fetchone()[0] or 0) + 1
            conn.execute("INSERT INTO item (id, itemid, displayname, itemtype, lastmodifieddate) "
                         "VALUES (?, ?, ?, 'InvtPart', ?)", (rid, sku, name, stamp or now()))
            conn.execute("INSERT INTO pricing (item, pricelevel, quantity, unitprice, currency) VALUES (?, 1, 0, ?, 1)",
                         (rid, float(price)))
            for quantity, tier in (volume or {}).items():
                conn.execute("INSERT INTO pricing (item, pricelevel, quantity, unitprice, currency) "
                             "VALUES (?, 1, ?, ?, 1)", (rid, quantity, float(tier)))
            for location, quantity in (stock or {}).items():
                conn.execute("INSERT INTO inventoryitemlocations VALUES (?, ?, ?, ?)",
                             (rid, location, quantity, quantity))
            return rid

    def set_stock(self, sku: str, location: int, quantity: float) -> None:
        with self.db_lock, self.db() as conn:
            item = conn.execute("SELECT id FROM item WHERE itemid = ?", (sku,)).fetchone()["id"]
            conn.execute("DELETE FROM inventoryitemlocations WHERE item = ? AND location = ?", (item, location))
            conn.execute("INSERT INTO inventoryitemlocations VALUES (?, ?, ?, ?)", (item, location, quantity, quantity))

    def add_customer(self, external_id: str, name: str, stamp: str | None = None) -> int:
        with self.db_lock, self.db() as conn:
            rid = self.upsert(conn, "customer", external_id, {"companyName": name})
            if stamp:
                conn.execute("UPDATE customer SET lastmodifieddate = ? WHERE id = ?", (stamp, rid))
            return rid

    def order(self, number: str) -> dict | None:
        with self.db() as conn:
            row = conn.execute("SELECT * FROM \"transaction\" WHERE type = 'SalesOrd' AND externalid = ?",
                               (number,)).fetchone()
            return dict(row) if row else None

    def count(self, what: str, key: str) -> int:
        query = {"orders": "SELECT COUNT(*) FROM \"transaction\" WHERE type = 'SalesOrd' AND externalid = ?",
                 "closed": "SELECT COUNT(*) FROM \"transaction\" WHERE type = 'SalesOrd' AND externalid = ? AND "
                           "status = 'H'",
                 "returns": "SELECT COUNT(*) FROM \"transaction\" WHERE type = 'RtnAuth' AND externalid = ?",
                 "customers": "SELECT COUNT(*) FROM customer WHERE externalid = ?"}[what]
        with self.db() as conn:
            return conn.execute(query, (key,)).fetchone()[0]

    def ship(self, number: str, tracking: str, quantities: dict[str, float] | None = None) -> None:
        """Fulfil the order (all that is open, or ``quantities`` by SKU) and invoice what was
        fulfilled, the shipping cost with the first invoice (NetSuite's default)."""
        with self.db_lock, self.db() as conn:
            order = conn.execute("SELECT * FROM \"transaction\" WHERE type = 'SalesOrd' AND externalid = ?",
                                 (number,)).fetchone()
            lines = conn.execute("SELECT l.linesequencenumber, l.quantityshiprecv, ABS(l.quantity) AS q, i.itemid "
                                 "FROM transactionline l JOIN item i ON i.id = l.item WHERE l.\"transaction\" = ?",
                                 (order["id"],)).fetchall()
            items = [{"orderLine": l["linesequencenumber"],
                      "quantity": quantities.get(l["itemid"], 0) if quantities else l["q"] - l["quantityshiprecv"]}
                     for l in lines]
            items = [i for i in items if i["quantity"]]
            self.transform(conn, "salesOrder", order["id"], "itemFulfillment",
                           {"item": {"items": items}, "trackingNumbers": tracking})
            first = not conn.execute("SELECT 1 FROM \"transaction\" WHERE type = 'CustInvc' AND createdfrom = ?",
                                     (order["id"],)).fetchone()
            self.transform(conn, "salesOrder", order["id"], "invoice",
                           {"item": {"items": items}, "shippingCost": order["shippingcost"] if first else 0})

    def receive_return(self, rma: str) -> None:
        """Receive the return authorization and refund it with a credit memo."""
        with self.db_lock, self.db() as conn:
            ra = conn.execute("SELECT * FROM \"transaction\" WHERE type = 'RtnAuth' AND externalid = ?",
                              (rma,)).fetchone()
            lines = conn.execute("SELECT item, quantity, rate FROM transactionline WHERE \"transaction\" = ?",
                                 (ra["id"],)).fetchall()
            new, tranid = self._next(conn, "CustCred")
            untaxed = sum(abs(l["quantity"]) * l["rate"] for l in lines)
            stamp = now()
            conn.execute('INSERT INTO "transaction" (id, tranid, type, entity, status, createdfrom, trandate, '
                         "lastmodifieddate, foreigntotal, taxtotal) VALUES (?, ?, 'CustCred', ?, 'B', ?, ?, ?, ?, ?)",
                         (new, tranid, ra["entity"], ra["id"], stamp[:10], stamp, round(untaxed * (1 + VAT), 2),
                          round(untaxed * VAT, 2)))
            self._lines(conn, new, [(l["item"], abs(l["quantity"]), l["rate"]) for l in lines], sign=1)
            conn.execute("UPDATE \"transaction\" SET status = 'G', lastmodifieddate = ? WHERE id = ?",
                         (stamp, ra["id"]))


class _Tracked(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ns: NetSuiteDouble

    def setup(self) -> None:
        super().setup()
        with self.ns.lock:
            self.ns.connections.add(self.connection)

    def finish(self) -> None:
        with self.ns.lock:
            self.ns.connections.discard(self.connection)
        super().finish()

    def log_message(self, *args) -> None:
        pass


def _handler(the_double: NetSuiteDouble):
    ns = the_double

    class Handler(_Tracked):
        ns = the_double

        def _serve(self) -> None:
            """A request counts against the limit from its arrival until its answer is ready."""
            with ns.lock:
                ns.in_flight += 1
                ns.max_in_flight = max(ns.max_in_flight, ns.in_flight)
                over = ns.in_flight > ns.limit
                ns.refused_429 += over
            try:
                status, answer, extra, wrote = self._answer(over)
            finally:
                with ns.lock:
                    ns.in_flight -= 1
            if wrote and ns.hold_answers:
                time.sleep(ns.hold_answers)
            if wrote and ns.lose_next.is_set():
                ns.lose_next.clear()
                self.close_connection = True
                return
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            if data:
                self.send_header("Content-Type", "application/vnd.oracle.resource+json; type=singular"
                                 if status < 400 else "application/vnd.oracle.resource+json; type=error")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self, over: bool) -> tuple[int, Any, dict, bool]:
            if ns.latency:
                time.sleep(ns.latency)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                if over:
                    raise Refused(429, "CONCURRENCY_LIMIT_EXCEEDED", "Request blocked: the account's concurrency "
                                                                     "limit for web services was exceeded.")
                if parts.path == "/services/rest/auth/oauth2/v1/token":
                    return 200, ns.token(headers, {k: v[-1] for k, v in parse_qs(raw.decode()).items()}), {}, False
                ns.authenticate(self.command, f"{ns.url}{self.path}", headers)
                return ns.answer(self.command, parts.path, query, json.loads(raw) if raw else None)
            except Refused as refused:
                return refused.status, refused.body(), {}, False
            except ValueError:
                return 400, Refused(400, "INVALID_CONTENT", "The request body is not valid JSON.").body(), {}, False

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
