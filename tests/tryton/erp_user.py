"""What people do inside Tryton while erpbridge runs: keep the catalog, ship, post invoices, receive
returns. Tests call these over plain JSON-RPC (:class:`server.Rpc`), independently of the
connector under test, so they check the connector against Tryton itself."""

from __future__ import annotations

from decimal import Decimal

from server import Rpc


class ErpUser:
    def __init__(self, rpc: Rpc):
        self.rpc = rpc
        m = rpc.model
        self.unit, = m("product.uom", "search", [["name", "=", "Unit"]], 0, 1, None)
        self.goods, = m("product.category", "search", [["name", "=", "Goods accounting"]], 0, 1, None)
        self.warehouses = {w["code"]: w for w in m("stock.location", "search_read", [["type", "=", "warehouse"]], 0, None,
                                                   None, ["code", "storage_location"])}
        self.supplier_location, = m("stock.location", "search", [["type", "=", "supplier"]], 0, 1, None)

    def category(self, code: str, name: str, parent: int | None = None) -> int:
        return self.rpc.model("product.category", "create", [{"code": code, "name": name, "parent": parent}])[0]

    def product(self, code: str, name: str, price: str, *, category: int | None = None, description: str | None = None,
                salable: bool = True, type: str = "goods") -> int:
        template, = self.rpc.model("product.template", "create", [{
            "name": name, "code": code, "type": type, "default_uom": self.unit, "sale_uom": self.unit,
            "salable": salable, "list_price": Decimal(price), "account_category": self.goods,
            "categories": [["add", [category]]] if category else [],
            "products": [["create", [{"description": description}]]]}])
        product, = self.rpc.model("product.product", "search", [["template", "=", template]], 0, 1, None)
        return product

    def receive(self, product: int, quantity: int, warehouse: str = "WH") -> None:
        """Goods arrive from a supplier into a warehouse's storage."""
        move, = self.rpc.model("stock.move", "create", [{
            "product": product, "quantity": float(quantity), "unit": self.unit,
            "from_location": self.supplier_location, "to_location": self.warehouses[warehouse]["storage_location"],
            "unit_price": Decimal("1.00"), "currency": self.currency()}])
        self.rpc.model("stock.move", "do", [move])

    def currency(self) -> int:
        company, = self.rpc.model("company.company", "read", [self.rpc.context["company"]], ["currency"])
        return company["currency"]

    def sale(self, reference: str) -> dict:
        sale, = self.rpc.model("sale.sale", "search_read", [["reference", "=", reference], ["origin", "=", None]], 0, None,
                               None, ["number", "state", "shipment_state", "invoice_state", "shipments", "invoices",
                                      "shipment_returns", "lines"])
        return sale

    def count_sales(self, reference: str) -> int:
        return self.rpc.model("sale.sale", "search_count", [["reference", "=", reference]], 0, None)

    def ship(self, reference: str, tracking: str, quantities: dict[int, float] | None = None) -> int:
        """Ship the sale's open shipment: all of it, or ``quantities`` per product id (a part)."""
        sale = self.sale(reference)
        shipments = self.rpc.model("stock.shipment.out", "read", sale["shipments"], ["state", "inventory_moves"])
        shipment = next(s for s in shipments if s["state"] in ("waiting", "assigned", "draft"))
        if quantities:
            moves = self.rpc.model("stock.move", "read", shipment["inventory_moves"], ["product", "quantity"])
            for move in moves:
                if move["product"] in quantities:
                    self.rpc.model("stock.move", "write", [move["id"]], {"quantity": float(quantities[move["product"]])})
        self.rpc.model("stock.shipment.out", "write", [shipment["id"]], {"reference": tracking})
        for step in ("assign_try", "pick", "pack", "do"):
            self.rpc.model("stock.shipment.out", step, [shipment["id"]])
        return shipment["id"]

    def phone_sale(self, party_code: str, product: int, quantity: int, price: str) -> int:
        """An order taken by phone: entered in Tryton (no shop reference), shipped and invoiced."""
        m = self.rpc.model
        party, = m("party.party", "search_read", [["code", "=", party_code]], 0, 1, None, ["addresses"])
        taxes = m("product.category", "read", [self.goods], ["customer_taxes_used"])[0]["customer_taxes_used"]
        sale, = m("sale.sale", "create", [{
            "party": party["id"], "invoice_address": party["addresses"][0], "shipment_address": party["addresses"][0],
            "warehouse": self.warehouses["WH"]["id"], "lines": [["create", [{
                "product": product, "quantity": float(quantity), "unit": self.unit, "unit_price": Decimal(price),
                "taxes": [["add", taxes]]}]]]}])
        m("sale.sale", "quote", [sale])
        m("sale.sale", "confirm", [sale])
        shipment, = m("sale.sale", "read", [sale], ["shipments"])[0]["shipments"]
        for step in ("assign_try", "pick", "pack", "do"):
            m("stock.shipment.out", step, [shipment])
        for invoice in m("sale.sale", "read", [sale], ["invoices"])[0]["invoices"]:
            m("account.invoice", "post", [invoice])
        return sale

    def post_invoices(self, reference: str) -> list[int]:
        sale = self.sale(reference)
        invoices = self.rpc.model("account.invoice", "read", sale["invoices"], ["state"])
        drafts = [i["id"] for i in invoices if i["state"] == "draft"]
        for invoice in drafts:
            self.rpc.model("account.invoice", "write", [invoice], {"invoice_date": None})
            self.rpc.model("account.invoice", "post", [invoice])
        return drafts

    def receive_return(self, return_id: str) -> None:
        """The returned parcel arrives; the credit note Tryton then drafts is posted."""
        sale, = self.rpc.model("sale.sale", "search_read", [["reference", "=", return_id], ["origin", "!=", None]], 0, None,
                               None, ["shipment_returns", "invoices"])
        for shipment in sale["shipment_returns"]:
            self.rpc.model("stock.shipment.out.return", "receive", [shipment])
            self.rpc.model("stock.shipment.out.return", "do", [shipment])
        sale, = self.rpc.model("sale.sale", "read", [sale["id"]], ["invoices"])
        for invoice in self.rpc.model("account.invoice", "read", sale["invoices"], ["state"]):
            if invoice["state"] == "draft":
                self.rpc.model("account.invoice", "post", [invoice["id"]])
