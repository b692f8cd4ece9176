"""The test connectors: what erpbridge's connector contract asks of an ERP and of a shop
platform, against an in-memory :class:`~erpbridge_testconnectors.peers.Peer`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

from erpbridge.connectors.base import DeliveryResult, GeneralError, MessageError

from erpbridge_testconnectors.peers import Peer, peer


class _Connector:
    def __init__(self, name: str, cfg):
        self.name, self.cfg = name, cfg
        self.peer: Peer = peer(name)

    def fetch(self, kind: str, since: dt.datetime | None = None) -> Iterator[Any]:
        if self.peer.down:
            raise GeneralError(f"{self.name} is down")
        with self.peer.lock:
            items = [item for at, item in self.peer.served[kind] if since is None or at > since]
        yield from items

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        if self.peer.down:
            raise GeneralError(f"{self.name}: connection refused")
        number = str(payload.get("number") or payload.get("id") or idempotency_key)
        if number in self.peer.reject:
            raise MessageError(f"{self.name} refuses {number}: unknown product")
        with self.peer.lock:
            self.peer.deliveries.append((operation, idempotency_key, payload))
            held = self.peer.held[operation]
            if number not in held:  # looked up before it is created: idempotent
                self.peer.created[(operation, number)] += 1
                held[number] = payload
            external_id = f"{getattr(self.cfg, 'prefix', 'TS')}-{list(held).index(number) + 1}"
        if self.peer.lose_answer.is_set():
            self.peer.lose_answer.clear()
            raise GeneralError(f"{self.name}: the connection broke before the answer")
        return DeliveryResult(external_id=external_id, response={"id": external_id})


def create_erp(app, name: str, cfg) -> _Connector:
    return _Connector(name, cfg)


def create_shop(app, name: str, cfg) -> _Connector:
    return _Connector(name, cfg)
