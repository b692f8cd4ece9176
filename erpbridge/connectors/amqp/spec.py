"""The amqp connector's config and registry entry (``connector: amqp``).

A system of this connector is an event bus in the shop's seat: it is sent what the hub stores
(catalog, prices, stock, the orders and their feedback) as events, and it may bring orders (a
marketplace) and stock (a WMS) in from queues. It has the shop role, so its orders go to its ``erp:``;
``receives: {orders: all}`` (the default here) sends it every order, not only its own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from erpbridge.config_values import Secret
from erpbridge.connectors.registry import FEEDBACK_OPERATIONS, PUSH_OPERATIONS, Capabilities, ConnectorSpec
from erpbridge.systems import Section, Selection, SystemBase

#: What the bus is sent: every kind a push flow can send, and every kind of feedback.
EVENT_KINDS = (*PUSH_OPERATIONS, *FEEDBACK_OPERATIONS)
#: What may arrive through a queue: orders (placed like an order from the API, sent to the bus's
#: ERP) and stock (a WMS's quantities per warehouse, stored like the ERP's and pushed to the shops).
INTAKE_KINDS = ("orders", "stock")
#: Kinds whose last message must win: read by one consumer at a time, in the queue's order.
IN_ORDER_KINDS = ("stock",)


class IntakeQueue(Section):
    """A queue erpbridge takes records from, with manual acks after the store's commit."""

    queue: str = Field(description="the queue's name (declared durable unless declare is false)")
    dead_letter_queue: str | None = Field(
        default=None, description="where a message that cannot be taken goes, with the reason (default: <queue>.dead)")
    prefetch: int = Field(default=200, ge=1, le=10_000, description="messages held unacked at most (one batch)")
    single_active_consumer: bool | None = Field(
        default=None, description="declare the queue x-single-active-consumer, so that of several hubs one "
                                  "consumes at a time, in order (default: for stock, whose last quantity wins)")

    @property
    def dead_letters(self) -> str:
        return self.dead_letter_queue or f"{self.queue}.dead"

    def arguments(self, kind: str) -> dict:
        """The queue's declare arguments. A stock queue read by several hubs at once would let a
        redelivered old quantity land after a newer one; one active consumer keeps the order."""
        single = self.single_active_consumer if self.single_active_consumer is not None else kind in IN_ORDER_KINDS
        return {"x-single-active-consumer": True} if single else {}


class AmqpSystem(SystemBase):
    connector: Literal["amqp"]
    host: str = Field(default="127.0.0.1", description="the broker's host")
    port: int = Field(default=5672, ge=1, le=65535)
    virtual_host: str = "/"
    username: str = "guest"
    password: Secret | None = Field(default=None, description="the user's password (${ENV} or a file)")
    exchange: str = Field(default="erpbridge", description="the topic exchange events are published to")
    declare: bool = Field(default=True, description="declare the exchange and queues (durable) on connecting")
    routing_key: str = Field(default="{kind}", description="each event's routing key; {kind} is the record kind")
    mandatory: bool = Field(default=True, description="an event no queue is bound for is a message error, not lost")
    timeout: float = Field(default=10.0, gt=0, description="seconds to connect, and to wait for the broker's confirms")
    intake: dict[Literal[INTAKE_KINDS], IntakeQueue] = Field(default_factory=dict,  # type: ignore[valid-type]
                                                         description="record kind -> the queue it arrives on")
    receives: Selection = Field(default_factory=lambda: Selection(orders="all"),
                                description="what the bus is sent (default: every order's events)")

    @model_validator(mode="after")
    def _routing_key_names_known_fields(self):
        try:
            self.routing_key.format(kind="products")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"routing_key may name only {{kind}}: {self.routing_key!r} ({exc})") from None
        return self


SPEC = ConnectorSpec(
    name="amqp", config=AmqpSystem, factory="erpbridge.connectors.amqp.connector:create",
    capabilities=Capabilities(push=frozenset(PUSH_OPERATIONS), feedback=frozenset(FEEDBACK_OPERATIONS),
                              deliver_batch=True, watch=True),
    roles=("shop",),
    default_flows={"events": {"schedule": "* * * * *", "kinds": list(EVENT_KINDS)}},
    description="RabbitMQ (AMQP 0-9-1): the hub's changes published as events with confirms; orders and stock "
                "taken from queues",
)
