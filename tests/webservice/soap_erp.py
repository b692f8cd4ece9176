"""A SOAP web-connector ERP on 127.0.0.1: the test peer of the webservice connector's SOAP example
(``examples/webservice-soap/``).

It is the Ibexa-style "Web.Connector" of seed 000: one SOAP 1.1 service (document/literal,
generated and served by spyne, which also validates every request against the schema of its
own WSDL) whose operations are named as such connectors name them (``CreateSalesOrder``...), with
HTTP Basic auth. Its data and its people are the REST ERP's (:class:`rest_erp.RestErp`: the same
products, orders, part shipments, invoices and returns), only the API differs: business
refusals are SOAP faults with ``Client.*`` codes, creating an order twice under one
``ExternalOrderId`` is refused, a cancelled order cancelled again answers the fault
``Client.AlreadyCancelled``, lists take ``ChangedSince`` and products page by ``Offset``/``Limit``
with a ``Total``. spyne runs on Python 3.11 only (arskom/spyne#700), which is what CI runs.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import threading
import time
from decimal import Decimal
from http.server import ThreadingHTTPServer

from spyne import Application, Array, ComplexModel, DateTime, Decimal as XDecimal, Fault, Integer, ServiceBase, \
    Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from rest_erp import RestErp, Tracked

TNS = "urn:erpbridge:webconnector:v1"
logging.getLogger("spyne").setLevel(logging.CRITICAL)  # a fault it raises on purpose is no error to print
USER, PASSWORD = "shop", "soap-test-password"


class Address(ComplexModel):
    __namespace__ = TNS
    Name, Street, Zip, City, Country = Unicode, Unicode, Unicode, Unicode, Unicode


class NewCustomer(ComplexModel):
    __namespace__ = TNS
    Reference = Unicode
    Name = Unicode(min_occurs=1, min_len=1)
    Email = Unicode
    Address = Address


class OrderLine(ComplexModel):
    __namespace__ = TNS
    Sku = Unicode(min_occurs=1)
    Quantity = XDecimal(min_occurs=1)
    UnitPrice = XDecimal(min_occurs=1)


class SalesOrder(ComplexModel):
    __namespace__ = TNS
    ExternalOrderId = Unicode(min_occurs=1)
    CustomerNo = Unicode
    Currency = Unicode
    BillTo = Address
    ShipTo = Address
    ShipVia = Unicode
    ShippingAmount = XDecimal
    PaymentTerms = Unicode
    GrandTotal = XDecimal
    Lines = Array(OrderLine)


class ReturnLine(ComplexModel):
    __namespace__ = TNS
    Sku, Quantity = Unicode(min_occurs=1), XDecimal(min_occurs=1)


class ReturnRequest(ComplexModel):
    __namespace__ = TNS
    RmaNo, OrderNo = Unicode(min_occurs=1), Unicode(min_occurs=1)
    Lines = Array(ReturnLine)


class Result(ComplexModel):
    """What a creating or finding operation answers: the ERP's number (empty: none found)."""

    __namespace__ = TNS
    Number, Status = Unicode, Unicode


class Product(ComplexModel):
    __namespace__ = TNS
    Sku, Name, Group, Unit, Currency = Unicode, Unicode, Unicode, Unicode, Unicode
    Price = XDecimal
    ChangedAt = DateTime


class ProductPage(ComplexModel):
    __namespace__ = TNS
    Products = Array(Product)
    Total = Integer


class Group(ComplexModel):
    __namespace__ = TNS
    Code, Name, Parent = Unicode, Unicode, Unicode


class PriceRow(ComplexModel):
    __namespace__ = TNS
    Sku, CustomerNo, Currency = Unicode, Unicode, Unicode
    Price, MinQuantity = XDecimal, XDecimal


class StockRow(ComplexModel):
    __namespace__ = TNS
    Sku, Warehouse = Unicode, Unicode
    Quantity = XDecimal


class CustomerRow(ComplexModel):
    __namespace__ = TNS
    CustomerNo, Name, Email, State = Unicode, Unicode, Unicode, Unicode
    Address = Address


class StatusRow(ComplexModel):
    __namespace__ = TNS
    ExternalOrderId, OrderNo, Status = Unicode, Unicode, Unicode
    ChangedAt = DateTime


class Item(ComplexModel):
    __namespace__ = TNS
    Sku = Unicode
    Quantity, Amount = XDecimal, XDecimal


class ShipmentRow(ComplexModel):
    __namespace__ = TNS
    ShipmentNo, ExternalOrderId, Carrier = Unicode, Unicode, Unicode
    ShippedAt = DateTime
    TrackingNumbers = Array(Unicode)
    Items = Array(Item)


class InvoiceRow(ComplexModel):
    __namespace__ = TNS
    InvoiceNo, ExternalOrderId, CustomerNo, ShipmentNo, Currency = Unicode, Unicode, Unicode, Unicode, Unicode
    InvoiceDate = Unicode
    Freight, Tax, Total = XDecimal, XDecimal, XDecimal
    Items = Array(Item)


class Document(ComplexModel):
    __namespace__ = TNS
    Content, MediaType = Unicode, Unicode


def _since(stamp: str, since: dt.datetime | None) -> bool:
    return since is None or dt.datetime.fromisoformat(stamp) > (since if since.tzinfo else
                                                                 since.replace(tzinfo=dt.timezone.utc))


def _address(a) -> dict | None:
    return None if a is None else {"name": a.Name, "street": a.Street, "zip": a.Zip, "city": a.City,
                                   "country": a.Country}


def _service(erp: "SoapErp"):
    def refused(answer: dict, code: str = "Client.Refused"):
        raise Fault(faultcode=code, faultstring=answer.get("message", "refused"))

    class WebConnector(ServiceBase):
        @rpc(NewCustomer, _returns=Result, _operation_name="CreateCustomer")
        def create_customer(ctx, customer):
            with erp.lock:
                return Result(Number=erp._customer({"reference": customer.Reference, "name": customer.Name,
                                                    "email": customer.Email, "address": _address(customer.Address)}),
                              Status="CREATED")

        @rpc(Unicode, _returns=Result, _operation_name="FindCustomer")
        def find_customer(ctx, reference):
            with erp.lock:
                found = next((c for c in erp.customers.values() if reference and c["reference"] == reference), None)
            return Result(Number=found["customer_id"] if found else None)

        @rpc(SalesOrder, _returns=Result, _operation_name="CreateSalesOrder")
        def create_sales_order(ctx, order):
            lines = [{"sku": l.Sku, "qty": l.Quantity, "price": l.UnitPrice, "total": l.Quantity * l.UnitPrice}
                     for l in order.Lines or []]
            with erp.lock:
                status, answer = erp._create_order({
                    "order_no": order.ExternalOrderId, "customer_id": order.CustomerNo, "currency": order.Currency,
                    "bill_to": _address(order.BillTo), "ship_to": _address(order.ShipTo), "items": lines,
                    "shipping": {"method": order.ShipVia, "amount": str(order.ShippingAmount or 0)}})
            if status == 409:
                refused(answer, "Client.Duplicate")
            if answer["status"] != "success":
                refused(answer, "Client.Validation")
            return Result(Number=answer["order_id"], Status="CREATED")

        @rpc(Unicode, _returns=Result, _operation_name="FindSalesOrder")
        def find_sales_order(ctx, external):
            with erp.lock:
                found = erp.order(external)
            return Result(Number=found["order_id"] if found else None, Status=found["status"] if found else None)

        @rpc(Unicode, Unicode, _returns=Result, _operation_name="CancelSalesOrder")
        def cancel_sales_order(ctx, number, reason):
            with erp.lock:
                order = erp.orders.get(number)
                if order is not None and order["status"] == "CANCELLED":
                    refused({"message": f"order {number} is already cancelled"}, "Client.AlreadyCancelled")
                _, answer = erp._cancel({"order_id": number})
            if not answer["success"]:
                refused(answer)
            return Result(Number=number, Status="CANCELLED")

        @rpc(ReturnRequest, _returns=Result, _operation_name="CreateReturn")
        def create_return(ctx, ret):
            with erp.lock:
                status, answer = erp._create_return({"rma_no": ret.RmaNo, "order_id": ret.OrderNo, "items": [
                    {"sku": l.Sku, "qty": l.Quantity} for l in ret.Lines or []]})
            if answer["status"] != "success":
                refused(answer, "Client.Duplicate" if status == 409 else "Client.Validation")
            return Result(Number=answer["return_id"], Status="OPEN")

        @rpc(Unicode, _returns=Result, _operation_name="FindReturn")
        def find_return(ctx, rma):
            with erp.lock:
                found = next((r for r in erp.returns.values() if r["rma_no"] == rma), None)
            return Result(Number=found["return_id"] if found else None)

        @rpc(DateTime, Integer, Integer, _returns=ProductPage, _operation_name="GetProducts")
        def get_products(ctx, since, offset, limit):
            with erp.lock:
                rows = [p for p in erp.products.values() if _since(p["updated_at"], since)]
            page = rows[offset or 0:(offset or 0) + (limit or 100)]
            return ProductPage(Total=len(rows), Products=[
                Product(Sku=p["sku"], Name=p["title"], Group=p["category"], Unit=p["uom"], Currency=p["currency"],
                        Price=Decimal(p["price"]), ChangedAt=dt.datetime.fromisoformat(p["updated_at"])) for p in page])

        @rpc(DateTime, _returns=Array(Group), _operation_name="GetProductGroups")
        def get_groups(ctx, since):
            with erp.lock:
                return [Group(Code=g["code"], Name=g["name"], Parent=g["parent"]) for g in erp.categories.values()
                        if _since(g["updated_at"], since)]

        @rpc(DateTime, _returns=Array(PriceRow), _operation_name="GetPrices")
        def get_prices(ctx, since):
            with erp.lock:
                return [PriceRow(Sku=p["sku"], CustomerNo=p["customer_id"], Currency=p["currency"],
                                 Price=Decimal(p["price"]), MinQuantity=p["min_qty"])
                        for p in erp.prices.values() if _since(p["updated_at"], since)]

        @rpc(DateTime, _returns=Array(StockRow), _operation_name="GetStock")
        def get_stock(ctx, since):
            with erp.lock:
                return [StockRow(Sku=s["sku"], Warehouse=s["warehouse"], Quantity=s["qty"])
                        for s in erp.inventory.values() if _since(s["updated_at"], since)]

        @rpc(DateTime, _returns=Array(CustomerRow), _operation_name="GetCustomers")
        def get_customers(ctx, since):
            with erp.lock:
                return [CustomerRow(CustomerNo=c["customer_id"], Name=c["name"], Email=c["email"], State=c["state"])
                        for c in erp.customers.values() if _since(c["updated_at"], since)]

        @rpc(DateTime, _returns=Array(StatusRow), _operation_name="GetOrderStatus")
        def get_statuses(ctx, since):
            with erp.lock:
                return [StatusRow(ExternalOrderId=o["order_no"], OrderNo=o["order_id"], Status=o["status"],
                                  ChangedAt=dt.datetime.fromisoformat(o["updated_at"]))
                        for o in erp.orders.values() if _since(o["updated_at"], since)]

        @rpc(DateTime, _returns=Array(ShipmentRow), _operation_name="GetShipments")
        def get_shipments(ctx, since):
            with erp.lock:
                return [ShipmentRow(ShipmentNo=s["shipment_id"], ExternalOrderId=s["order_no"], Carrier=s["carrier"],
                                    ShippedAt=dt.datetime.fromisoformat(s["shipped_at"]), TrackingNumbers=s["tracking"],
                                    Items=[Item(Sku=i["sku"], Quantity=i["qty"]) for i in s["items"]])
                        for s in erp.shipments.values() if _since(s["updated_at"], since)]

        @rpc(DateTime, _returns=Array(InvoiceRow), _operation_name="GetInvoices")
        def get_invoices(ctx, since):
            return _invoices(erp.invoices, since, "invoice_no")

        @rpc(DateTime, _returns=Array(InvoiceRow), _operation_name="GetCreditMemos")
        def get_credit_memos(ctx, since):
            return _invoices(erp.credit_memos, since, "memo_no")

        @rpc(Unicode, Unicode, _returns=Document, _operation_name="GetDocument")
        def get_document(ctx, kind, number):
            with erp.lock:
                known = number in erp.invoices or number in erp.credit_memos
            if not known:
                return Document()
            pdf = b"%PDF-1.4\n% " + number.encode() + b"\n%%EOF\n"
            return Document(Content=base64.b64encode(pdf).decode(), MediaType="application/pdf")

    def _invoices(table: dict, since, key: str):
        with erp.lock:
            return [InvoiceRow(InvoiceNo=r[key], ExternalOrderId=r["order_no"], CustomerNo=r["customer_id"],
                               ShipmentNo=r.get("shipment_id"), Currency=r["currency"], InvoiceDate=r["date"],
                               Freight=Decimal(r.get("freight", "0")), Tax=Decimal(r.get("tax", "0")),
                               Total=Decimal(r["total"]),
                               Items=[Item(Sku=i["sku"], Quantity=i["qty"], Amount=Decimal(i["amount"]))
                                      for i in r["items"]])
                    for r in table.values() if _since(r["updated_at"], since)]

    return WebConnector


class SoapErp(RestErp):
    """The REST ERP's data and people behind a SOAP web connector at ``/WebConnector.svc``."""

    def __init__(self):
        application = Application([_service(self)], tns=TNS, name="WebConnector",
                                  in_protocol=Soap11(validator="lxml"), out_protocol=Soap11())
        self.wsgi = WsgiApplication(application)
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/WebConnector.svc"

    @property
    def environment(self) -> dict[str, str]:
        return {"ERP_USER": USER, "ERP_PASSWORD": PASSWORD, "ERP_WSDL": f"{self.url}?wsdl"}

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _wsgi_handler(self))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


def _wsgi_handler(the_erp: SoapErp):
    erp = the_erp
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(Tracked):
        erp = the_erp

        def _serve(self) -> None:
            if erp.latency:
                time.sleep(erp.latency)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Authorization") != expected:
                return self._send("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="erp"')], b"")
            path, _, query = self.path.partition("?")
            environ = {"REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                       "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(erp.port), "SERVER_PROTOCOL": "HTTP/1.1",
                       "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
                       "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
                       "wsgi.run_once": False, "HTTP_HOST": f"127.0.0.1:{erp.port}",
                       **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in self.headers.items()}}
            answer: dict = {}

            def start_response(status, headers, exc_info=None):
                answer.update(status=status, headers=headers)

            content = b"".join(erp.wsgi(environ, start_response))
            creating = self.command == "POST" and any(op in body for op in (b"CreateCustomer", b"CreateSalesOrder",
                                                                            b"CreateReturn", b"CancelSalesOrder"))
            if creating and erp.hold_answers:
                time.sleep(erp.hold_answers)
            if creating and erp.lose_next.is_set():
                erp.lose_next.clear()
                self.close_connection = True  # processed, never answered
                return
            self._send(answer["status"], answer["headers"], content)

        def _send(self, status: str, headers: list, content: bytes) -> None:
            self.send_response(int(status.split()[0]))
            for name, value in headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _serve

    return Handler
