"""The file-exchange connector: the embedded default, and a real integration mode of many ERPs.

The ERP drops its exports (products, groups, prices, stock, customers) and its feedback into
an inbox folder; erpbridge imports them as deltas (:mod:`.inbox`, :mod:`.importer`). Outbound
work is written as files into an outbox folder for the ERP to pick up (:mod:`.outbound`).
:mod:`.spec` registers it; :mod:`.connector` builds it.
"""
