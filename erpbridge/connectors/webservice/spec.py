"""The webservice connector's registry entry (``connector: webservice``).

Its capabilities are the union of what a custom ERP can be configured for; each system has
those its ``messages:`` configure (:func:`configured`), and the hub wires exactly those: its
flows fetch only configured kinds, the outbox delivers to it only when it takes a message, the
API refuses a customer, cancellation or return its ERP does not take, and the config refuses to
load when the ERP that receives the orders has no ``send_order``.
"""

from __future__ import annotations

from erpbridge.connectors.base import ERP_OPERATIONS
from erpbridge.connectors.registry import FETCH_KINDS, Capabilities, ConnectorSpec
from erpbridge.connectors.webservice.config import Message, WebserviceSystem
from erpbridge.connectors.webservice.plan import REALTIME

UNION = Capabilities(deliver=frozenset(ERP_OPERATIONS), fetch=frozenset(FETCH_KINDS), realtime=frozenset(REALTIME))


def configured(system: WebserviceSystem) -> Capabilities:
    """What this system does: the messages its config names."""
    names = set(system.messages)
    return Capabilities(deliver=UNION.deliver & names, fetch=UNION.fetch & names, realtime=UNION.realtime & names)


SPEC = ConnectorSpec(
    name="webservice", config=WebserviceSystem, factory="erpbridge.connectors.webservice.connector:create",
    capabilities=UNION, configured=configured, roles=("erp",), message_settings=frozenset(Message.model_fields),
    # The rhythm of the Tryton connector's (seed 004); a system has the flows of the kinds it configures.
    default_flows={"catalog": {"schedule": "0 2 * * *", "mode": "full"}, "prices": {"schedule": "5 * * * *"},
                   "stock": {"schedule": "*/5 * * * *"}, "customers": {"schedule": "15 * * * *"},
                   "feedback": {"schedule": "2-59/5 * * * *"}},
    description="a custom ERP configured per message: REST (JSON or XML) or SOAP from a WSDL, mapped in YAML",
)
