"""The views of ``erpbridge_oscar`` (see the package docstring): oscar's Python API over HTTP."""

from collections import deque
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max, Q
from django.utils.dateparse import parse_datetime
from oscar.core.loading import get_class, get_model
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.views import APIView

Order = get_model("order", "Order")
ShippingEventType = get_model("order", "ShippingEventType")
PaymentEventType = get_model("order", "PaymentEventType")
EventHandler = get_class("order.processing", "EventHandler")
InvalidShippingEvent = get_class("order.exceptions", "InvalidShippingEvent")

#: The most orders one poll answers; the caller asks again from the last ``changed_at``.
MAX_LIMIT = 500
SHIPMENT_NOTE = "erpbridge shipment "
PAYMENT_TYPES = {"invoice": "invoiced", "credit_memo": "refunded"}


def _address(a):
    if a is None:
        return None
    return {"first_name": a.first_name, "last_name": a.last_name, "line1": a.line1, "line2": a.line2,
            "line3": a.line3, "line4": a.line4, "state": a.state, "postcode": a.postcode,
            "country": a.country_id, "phone_number": str(getattr(a, "phone_number", "") or "")}


def _order(o, changed_at=None):
    return {
        "number": o.number, "status": o.status, "currency": o.currency, "email": o.email,
        "date_placed": o.date_placed.isoformat(), "changed_at": (changed_at or o.date_placed).isoformat(),
        "user": o.user.username if o.user_id else None,
        "total_incl_tax": str(o.total_incl_tax), "total_excl_tax": str(o.total_excl_tax),
        "shipping_incl_tax": str(o.shipping_incl_tax), "shipping_code": o.shipping_code,
        "shipping_method": o.shipping_method,
        "discount_incl_tax": str(o.total_discount_incl_tax),
        "voucher_codes": [v.voucher_code for v in o.discounts.all() if v.voucher_code],
        "shipping_address": _address(o.shipping_address), "billing_address": _address(o.billing_address),
        "payment": [{"source": s.source_type.code, "amount_allocated": str(s.amount_allocated),
                     "amount_debited": str(s.amount_debited)} for s in o.sources.all()],
        "lines": [{"sku": line.partner_sku, "upc": line.upc, "title": line.title, "quantity": line.quantity,
                   "unit_price_incl_tax": str(line.unit_price_incl_tax),
                   "line_price_incl_tax": str(line.line_price_before_discounts_incl_tax),
                   "tax_rate": _rate(line)} for line in o.lines.all()],
        "shipments": [_shipment(e) for e in o.shipping_events.order_by("id")],
        "payments": [{"type": e.event_type.code, "reference": e.reference, "amount": str(e.amount)}
                     for e in o.payment_events.order_by("id")],
    }


def _rate(line):
    excl, incl = line.line_price_before_discounts_excl_tax, line.line_price_before_discounts_incl_tax
    return str(round((incl - excl) * 100 / excl, 2)) if excl else "0"


def _shipment(event):
    first, _, rest = event.notes.partition("\n")
    return {"id": first[len(SHIPMENT_NOTE):] if first.startswith(SHIPMENT_NOTE) else None,
            "event_id": event.id, "type": event.event_type.code, "notes": rest,
            "lines": [{"sku": q.line.partner_sku, "quantity": q.quantity} for q in event.line_quantities.all()]}


def _error(status, field, reason, **more):
    return Response({"field": field, "detail": reason, **more}, status=status)


class _Admin(APIView):
    permission_classes = [permissions.IsAdminUser]

    @staticmethod
    def order(number):
        return Order.objects.filter(number=number).first()


class OrdersChanged(_Admin):
    def get(self, request):
        since = request.query_params.get("since")
        try:
            limit = min(int(request.query_params.get("limit", MAX_LIMIT)), MAX_LIMIT)
        except ValueError:
            return _error(400, "limit", "not a whole number")
        qs = Order.objects.annotate(status_changed=Max("status_changes__date_created"))
        if since:
            after = parse_datetime(since)
            if after is None or after.tzinfo is None:
                return _error(400, "since", "not an ISO 8601 date and time with a time zone")
            qs = qs.filter(Q(date_placed__gt=after) | Q(status_changes__date_created__gt=after)).distinct()
        qs = qs.select_related("shipping_address", "billing_address", "user").prefetch_related(
            "lines", "sources__source_type", "discounts", "shipping_events__line_quantities__line",
            "shipping_events__event_type", "payment_events__event_type")
        changed = sorted(((max(filter(None, (o.date_placed, o.status_changed))), o) for o in qs),
                         key=lambda pair: (pair[0], pair[1].number))
        return Response([_order(o, at) for at, o in changed[:limit]])


class OrderDetail(_Admin):
    def get(self, request, number):
        o = self.order(number)
        return Response(_order(o)) if o else _error(404, "number", f"no order {number}")


def _path(order, target):
    """The statuses from the order's to ``target`` through the pipeline (None: unreachable)."""
    pipeline = getattr(order, "pipeline", {})
    seen, queue = {order.status}, deque([(order.status, [])])
    while queue:
        status, path = queue.popleft()
        for following in pipeline.get(status, ()):
            if following == target:
                return path + [following]
            if following not in seen:
                seen.add(following)
                queue.append((following, path + [following]))
    return None


class OrderStatus(_Admin):
    @transaction.atomic
    def post(self, request, number):
        o = self.order(number)
        if o is None:
            return _error(404, "number", f"no order {number}")
        target = request.data.get("status")
        if o.status == target:
            return Response({**_order(o), "changed": False})
        path = _path(o, target)
        if path is None:
            return _error(409, "status", f"order {number} cannot go from {o.status!r} to {target!r}",
                          allowed=list(o.available_statuses()))
        for status in path:
            o.set_status(status)
        return Response({**_order(o), "changed": True})


class OrderShipments(_Admin):
    @transaction.atomic
    def post(self, request, number):
        o = Order.objects.select_for_update().filter(number=number).first()
        if o is None:
            return _error(404, "number", f"no order {number}")
        key = str(request.data.get("id") or "")
        if not key:
            return _error(400, "id", "the shipment's id is required (it makes a redelivery find its event)")
        done = o.shipping_events.filter(Q(notes=SHIPMENT_NOTE + key) | Q(notes__startswith=SHIPMENT_NOTE + key + "\n"))
        if done.exists():
            return Response({**_shipment(done.first()), "created": False})
        event_type, _ = ShippingEventType.objects.get_or_create(code="shipped", defaults={"name": "Shipped"})
        by_sku = {line.partner_sku: line for line in o.lines.all()}
        lines, quantities = [], []
        for i, wanted in enumerate(request.data.get("lines") or []):
            line = by_sku.get(wanted.get("sku"))
            if line is None:
                return _error(400, f"lines[{i}].sku", f"order {number} has no line of SKU {wanted.get('sku')!r}")
            try:
                quantity = Decimal(str(wanted.get("quantity")))
            except InvalidOperation:
                return _error(400, f"lines[{i}].quantity", "not a number")
            if quantity != quantity.to_integral_value() or quantity <= 0:
                return _error(400, f"lines[{i}].quantity", "oscar ships whole, positive quantities")
            shipped = line.shipping_event_quantity(event_type)
            if shipped + quantity > line.quantity:
                return _error(409, f"lines[{i}].quantity", f"order {number}: SKU {line.partner_sku}: {shipped} of "
                              f"{line.quantity} shipped, {quantity} more are too many")
            lines.append(line)
            quantities.append(int(quantity))
        if not lines:
            return _error(400, "lines", "a shipment needs at least one line")
        tracking = ", ".join(request.data.get("tracking_numbers") or [])
        carrier = request.data.get("carrier") or ""
        notes = f"{SHIPMENT_NOTE}{key}\ntracking: {tracking}" + (f"\ncarrier: {carrier}" if carrier else "")
        handler = EventHandler(request.user)
        try:
            handler.handle_shipping_event(o, event_type, lines, quantities, reference=notes)
        except InvalidShippingEvent as exc:
            transaction.set_rollback(True)
            return _error(409, "lines", f"order {number}: {exc}")
        handler.consume_stock_allocations(o, lines, quantities)
        if all(line.has_shipping_event_occurred(event_type) for line in o.lines.all()):
            for status in _path(o, "shipped") or []:
                o.set_status(status)
        return Response({**_shipment(o.shipping_events.latest("id")), "created": True}, status=201)


class OrderPayments(_Admin):
    @transaction.atomic
    def post(self, request, number):
        o = Order.objects.select_for_update().filter(number=number).first()
        if o is None:
            return _error(404, "number", f"no order {number}")
        code = PAYMENT_TYPES.get(request.data.get("type"))
        if code is None:
            return _error(400, "type", f"one of {', '.join(PAYMENT_TYPES)}")
        reference = str(request.data.get("id") or "")
        if not reference:
            return _error(400, "id", "the document's id is required (it makes a redelivery find its event)")
        try:
            amount = Decimal(str(request.data.get("amount")))
        except InvalidOperation:
            return _error(400, "amount", "not a number")
        event_type, _ = PaymentEventType.objects.get_or_create(code=code, defaults={"name": code.capitalize()})
        existing = o.payment_events.filter(event_type=event_type, reference=reference).first()
        if existing is not None:
            return Response({"id": existing.id, "reference": reference, "amount": str(existing.amount),
                             "created": False})
        event = EventHandler(request.user).create_payment_event(o, event_type, amount, reference=reference)
        return Response({"id": event.id, "reference": reference, "amount": str(event.amount), "created": True},
                        status=201)
