"""Ingest: the one path by which a record from any source enters the store.

Whatever brings it (a file dropped into an inbox, a pull flow asking an ERP, a shop's orders),
a record takes the same steps: mapped (declaratively, :mod:`erpbridge.mapping`, or by its
connector's mapper), validated (the canonical record's own rules), checked against the
business rules (:mod:`.rules`: known warehouses, the default currency; new products arrive
disabled), compared with what the store holds by hash (an unchanged record costs nothing), and
written in batches; the report (:mod:`.report`) counts what was new, changed, unchanged and
rejected and names each rejected record (where it came from, where in it, which field, why),
and the exchange log records each ingest. A bad record is rejected by itself; the rest go in.

* file exports: :class:`erpbridge.connectors.files.importer.Importer` (streamed, on every
  core for big files, unchanged raw records skipped by their source hash; :mod:`.steps`);
* what a connector fetched: :func:`ingest_fetched`, with :class:`Raw` for records still to
  be built.
"""

from erpbridge.ingest.fetched import Raw, built, ingest_fetched, log_ingest
from erpbridge.ingest.report import ImportReport, Rejection
from erpbridge.ingest.rules import KnownWarehouses

__all__ = ["Raw", "built", "ingest_fetched", "log_ingest", "ImportReport", "Rejection", "KnownWarehouses"]
