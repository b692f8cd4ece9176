"""In-memory connectors for erpbridge's tests, registered from outside erpbridge.

``testerp`` is an ERP and ``testshop`` a shop platform; each system of them talks to a
:class:`~erpbridge_testconnectors.peers.Peer` in this process (``peers.peer(name)``), which a
test fills, breaks and inspects like the real system behind a connector.
"""
