"""The file-exchange connector: the embedded default, and a real integration mode of many ERPs.

The ERP drops its exports (products, groups, prices, stock, customers) and its feedback into
an inbox folder; erpbridge imports them as deltas. Outbound work is written as files into an
outbox folder for the ERP to pick up.
"""

from erpbridge.connectors.files.outbound import create_outbound

#: The worker's convention: ``erpbridge.connectors.<connector>.create(app, name, cfg)``.
create = create_outbound

#: None: ``erpbridge run`` watches the inbox and imports each file once it has settled, which is
#: all a scheduled catalog or stock flow could do, only later. A flow configured under ``flows:``
#: (any name, e.g. for ``erpbridge flows run inbox`` or a process started without the watcher)
#: imports whatever the inbox holds, of every kind.
DEFAULT_FLOWS: dict[str, dict] = {}
