"""The ``onec`` connector: the site end of 1C's standard exchange, at ``/connectors/<system>``.

1C calls (``GET``, ``POST`` for ``file``) with ``type`` (``catalog`` or ``sale``), ``mode`` and
``filename``; every answer is plain text, its first line ``success``, ``progress`` or
``failure`` (then the reason: file, element and why):

* ``checkauth`` (HTTP Basic): ``success\\n<cookie name>\\n<cookie value>``; every later call
  carries that cookie (without it: ``failure``).
* ``init``: ``zip=yes|no\\nfile_limit=<bytes>``; the session starts from no files.
* ``file`` (the body: a file, a zip, or one chunk of either): appended to the file of that name.
* ``catalog&import``: ``import*.xml`` (groups, products) or ``offers*.xml`` / ``prices*.xml`` /
  ``rests*.xml`` (list price, stock per warehouse) through erpbridge's ingest (deltas, new
  products disabled, the exchange log); ``progress`` while it still runs (1C repeats the call),
  then ``success`` (a second line counts rejected records, each named in the exchange log) or
  ``failure``. ``deactivate`` and ``complete`` (the end of a full exchange in newer 1C modules)
  are answered ``success`` and change nothing: a product a full file leaves out stays as it is.
* ``sale&query``: the orders 1C has not confirmed yet, as CommerceML ``Документ`` elements;
  ``sale&success``: those are exported; ``sale&file``: 1C's order files back (statuses, its
  order number, paid, shipped, cancelled) into the store as order status updates.

Orders reach this connector through the outbox like those of any ERP (``deliver``), and wait in
the store for 1C to ask; see :mod:`.exchange` for what is kept where.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
import time
from pathlib import Path

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from erpbridge.connectors.base import DeliveryResult, MessageError, payload_record
from erpbridge.connectors.onec.commerceml import Catalog, CmlError, Offers, Statuses, orders_document
from erpbridge.connectors.onec.exchange import COOKIE, Exchange, Refusal, safe_name
from erpbridge.connectors.onec.spec import OneCSystem
from erpbridge.exchange import ExchangeLog
from erpbridge.ingest import ImportReport, ingest_fetched
from erpbridge.outbox.binder import bind
from erpbridge.records import Order
from erpbridge.store.db import write_transaction
from erpbridge.store.tables import bindings

logger = logging.getLogger(__name__)

CATALOG_FILES = ("import", "goods")
OFFER_FILES = ("offers", "prices", "rests")


class OneCConnector:
    def __init__(self, app, name: str, config: OneCSystem):
        self.app, self.name, self.config = app, name, config
        self.exchange = Exchange(app, name, config)
        #: 1C's chunks must pass the API's body limit
        self.file_limit = min(config.file_limit, app.config.api.max_body_bytes)

    # -- the outbox's side ----------------------------------------------------------------------

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        """Orders and whole-order cancellations wait in the store for 1C's next ``sale&query``."""
        try:
            if operation == "send_order":
                order = payload_record(operation, "orders", payload)
                self.exchange.queue_order(order.number, order.model_dump(mode="json"))
            elif operation == "cancel_order":
                cancellation = payload_record(operation, "cancellations", payload)
                if cancellation.lines:
                    raise MessageError(f"onec {self.name}: cancellation {cancellation.id} of order "
                                       f"{cancellation.order} names lines; 1C's exchange cancels whole orders only")
                self.exchange.queue_order(cancellation.order, None, cancelled=True)
            else:
                raise MessageError(f"onec {self.name}: no operation {operation!r} (send_order, cancel_order)")
        except Refusal as exc:
            raise MessageError(f"onec {self.name}: {exc}") from None
        return DeliveryResult()

    # -- the endpoint ---------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter(tags=[f"onec {self.name}"])
        for path in ("", "/"):  # the site address as 1C's node has it, with or without the slash
            router.add_api_route(path, self.call, methods=["GET", "POST"], summary="1C's exchange (CommerceML 2)")
        return router

    def _text(self, *lines: str) -> Response:
        encoding = self.config.order_encoding
        body = "\n".join(lines).encode(encoding, errors="replace")
        return Response(body, media_type=f"text/plain; charset={encoding}")

    async def call(self, request: Request) -> Response:
        params = request.query_params
        kind, mode, filename = params.get("type"), params.get("mode"), params.get("filename")
        what = f"onec {self.name}: {kind}&{mode}"
        try:
            if kind not in ("catalog", "sale"):
                raise Refusal(f"type must be catalog or sale, got {kind!r}")
            if mode == "checkauth":
                return self._text("success", COOKIE, await asyncio.to_thread(self._checkauth, request))
            session = await asyncio.to_thread(self.exchange.session, request.cookies.get(COOKIE))
            if session is None:
                raise Refusal(f"not authorised: call mode=checkauth first and send its cookie {COOKIE}")
            if mode == "init":
                await asyncio.to_thread(self.exchange.start, session, kind)
                return self._text(f"zip={'yes' if self.config.zip else 'no'}", f"file_limit={self.file_limit}")
            if mode == "file":
                body = await request.body()
                if kind == "sale":
                    return self._text(*await asyncio.to_thread(self._sale_file, session, filename, body))
                await asyncio.to_thread(self.exchange.append, session, "catalog", filename, body)
                return self._text("success")
            if kind == "catalog" and mode == "import":
                return self._text(*await self._import(session, filename))
            if kind == "catalog" and mode in ("deactivate", "complete"):
                # newer 1C modules end a full exchange with these; erpbridge deletes and disables
                # nothing that a file left out (the merchant decides in the control center)
                return self._text("success")
            if kind == "sale" and mode == "query":
                content = await asyncio.to_thread(self._query, session)
                return Response(content, media_type=f"text/xml; charset={self.config.order_encoding}")
            if kind == "sale" and mode == "success":
                await asyncio.to_thread(self._success, session)
                return self._text("success")
            raise Refusal(f"no mode {mode!r} for type={kind} (checkauth, init, file, "
                          f"{'import, deactivate, complete' if kind == 'catalog' else 'query, success'})")
        except Refusal as exc:
            logger.info("%s refused: %s", what, exc)
            return self._text("failure", str(exc))
        except Exception:
            logger.exception("%s failed", what)
            return self._text("failure", f"{kind}&{mode} failed inside erpbridge (see its log); call again")

    def _checkauth(self, request: Request) -> str:
        scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
        user = password = None
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise Refusal("the Basic credentials are not base64 'user:password'") from None
        if user is None or not self.exchange.check_credentials(user, password):
            ExchangeLog.for_app(self.app).record(self.name, "exchange", "onec.checkauth", "in", outcome="message_error",
                                                 error="wrong or missing credentials", request={"user": user})
            raise Refusal("wrong user or password (HTTP Basic)")
        return self.exchange.open_session()

    # -- catalog --------------------------------------------------------------------------------

    async def _import(self, session: str, filename: str | None) -> tuple[str, ...]:
        safe_name(filename)
        deadline = time.monotonic() + self.config.import_slice
        while True:
            state, detail = await asyncio.to_thread(self.exchange.import_state, session, filename,
                                                    lambda beat: self._import_file(session, filename, beat))
            if state == "done":
                return ("success", detail) if detail else ("success",)
            if state == "failed":
                raise Refusal(detail or f"{filename}: the import failed")
            if time.monotonic() >= deadline:
                return ("progress", f"{filename}: importing")
            await asyncio.sleep(min(0.1, self.config.import_slice))

    def _import_file(self, session: str, filename: str, beat) -> str | None:
        """Runs in the import's thread: the file through ingest; the answer's second line."""
        self.exchange.unpack(session, "catalog")
        path = self.exchange.folder(session, "catalog") / safe_name(filename)
        if not path.is_file():
            raise Refusal(f"{filename}: not uploaded in this exchange (mode=file first)")
        stem = Path(filename).name.lower()
        if stem.startswith(CATALOG_FILES):
            report = self._ingest(path, "products", Catalog(self.config, filename).items, beat)
        elif stem.startswith(OFFER_FILES):
            report = self._ingest(path, "prices", Offers(self.config, filename, self._skus()).items, beat)
        else:
            raise Refusal(f"{filename}: not a file erpbridge imports (import*.xml, offers*.xml, prices*.xml, "
                          "rests*.xml)")
        if report.rejected:
            return f"{report.rejected} of {report.read} records rejected; first: {report.rejections[0]}"
        return None

    def _ingest(self, path: Path, kind: str, items, beat, flow: str = "catalog") -> ImportReport:
        broken: list[CmlError] = []

        def read():
            try:
                for item in items(path):
                    beat()
                    yield item
            except CmlError as exc:  # what came before the break still goes in
                broken.append(exc)
        report = ingest_fetched(self.app, self.name, kind, read(), flow=flow)
        if broken:
            raise Refusal(str(broken[0]))
        return report

    def _skus(self):
        with self.app.engine.connect() as conn:
            known = dict(conn.execute(select(bindings.c.external_id, bindings.c.key).where(
                bindings.c.kind == "products", bindings.c.system == self.name)).all())
        return known.get

    # -- sale -----------------------------------------------------------------------------------

    def _query(self, session: str) -> bytes:
        self._statuses(session)  # an order file whose last chunk was a full one (refusals: in the exchange log)
        started = time.perf_counter()
        taken = self.exchange.take_query(session)
        orders = [(Order.model_validate(payload), cancelled) for _number, payload, cancelled in taken]
        skus = {line.sku for order, _ in orders for line in order.lines}
        with self.app.engine.connect() as conn:
            ids = dict(conn.execute(select(bindings.c.key, bindings.c.external_id).where(
                bindings.c.kind == "products", bindings.c.system == self.name, bindings.c.key.in_(skus))).all())
        content = orders_document(orders, ids, self.config.order_encoding, dt.datetime.now())
        ExchangeLog.for_app(self.app).record(self.name, "orders", "onec.sale.query", "out",
                                             duration_ms=(time.perf_counter() - started) * 1000,
                                             request={"session": session[:8]},
                                             response={"orders": [number for number, _, _ in taken]})
        return content

    def _success(self, session: str) -> None:
        numbers = self.exchange.confirm(session)
        ExchangeLog.for_app(self.app).record(self.name, "orders", "onec.sale.success", "in",
                                             request={"session": session[:8]}, response={"exported": numbers})

    def _sale_file(self, session: str, filename: str | None, body: bytes) -> tuple[str, ...]:
        """1C's order files: a chunk of exactly ``file_limit`` bytes has more to follow, so the
        file is read once a shorter chunk completes it (or, if its size was a multiple of the
        limit, at the session's next query)."""
        self.exchange.append(session, "sale", filename, body)
        if len(body) >= self.file_limit:
            return ("success",)
        rejected, refused = self._statuses(session)
        if refused:
            raise Refusal("\n".join(refused))
        return ("success", *rejected)

    def _statuses(self, session: str) -> tuple[list[str], list[str]]:
        """Read the session's order files into the store as status updates, each once (then
        removed, also one that cannot be read: 1C sends its changes again); (a line per file
        with rejected documents, a line per file refused)."""
        rejected, refused = [], []
        try:
            self.exchange.unpack(session, "sale")
        except Refusal as exc:
            refused.append(str(exc))
        folder = self.exchange.folder(session, "sale")
        for file in sorted(folder.rglob("*.xml")):
            shown = file.relative_to(folder).as_posix()
            statuses = Statuses(self.config, shown)
            try:
                report = self._ingest(file, "order_statuses", statuses.items, lambda: None, flow="order_statuses")
            except Refusal as exc:
                refused.append(str(exc))
                ExchangeLog.for_app(self.app).record(self.name, "order_statuses", "onec.sale.file", "in",
                                                     outcome="message_error", error=str(exc), request={"file": shown})
            else:
                with write_transaction(self.app.engine) as conn:
                    bind(conn, [("orders", number, self.name, erp_id)
                                for number, erp_id in statuses.erp_numbers.items()])
                if report.rejected:
                    rejected.append(f"{shown}: {report.rejected} of {report.read} rejected; first: "
                                    f"{report.rejections[0]}")
            finally:
                file.unlink()
        for archive in folder.glob("*.zip*"):
            archive.unlink()
        return rejected, refused


def create(app, name: str, config: OneCSystem) -> OneCConnector:
    return OneCConnector(app, name, config)
