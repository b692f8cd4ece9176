"""The exchange log: what erpbridge exchanged with each system, redacted (see :mod:`.log`)."""

from erpbridge.exchange.config import ExchangeLogConfig
from erpbridge.exchange.log import Exchange, ExchangeLog
from erpbridge.exchange.redact import Redactor

__all__ = ["ExchangeLog", "Exchange", "ExchangeLogConfig", "Redactor"]
