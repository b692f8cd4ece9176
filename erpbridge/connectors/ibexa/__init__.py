"""Ibexa Commerce's Web.Connector, served by erpbridge (seed 000): the shop calls erpbridge as its ERP.

Ibexa Commerce (silver.eShop) talks to one SOAP service in front of its ERP, the Web.Connector,
with one operation per message and the same signature for all of them:
``(user, password, erp_parameters, data)``, ``data`` being the message's UBL XML as a string;
the answer is the reply's XML plus ``status {code, erp_status}``. This connector is that
service (``webconnector.wsdl``, one operation per standard message), answered from the store
and the outbox, so the shop keeps working while the ERP behind erpbridge is slow or down.

Modules: :mod:`.soap` (envelope in, answer or fault out, the WSDL), :mod:`.ubl` (UBL elements
to records and back), :mod:`.messages` (one handler per operation), :mod:`.connector` (the
router), :mod:`.spec` (the config and the registry entry).
"""
