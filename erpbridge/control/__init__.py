"""The control center: what operators see and do (pages under ``/control`` of the API process),
its users and the audit of their actions. See :mod:`erpbridge.control.app`."""
