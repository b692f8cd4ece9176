"""The connector for :mod:`.erp_server`: idempotent by the shop's order number (it looks the
order up before creating it), with the two kinds of failure of the connector contract.

``kill_at`` (``before`` / ``after``) makes it SIGKILL its own process just before the HTTP call,
or after the ERP answered and before the worker can record it: the crash points of issue 3.
"""

from __future__ import annotations

import http.client
import json
import os
import signal

from erpbridge.connectors.base import DeliveryResult, GeneralError, MessageError


class ErpConnector:
    def __init__(self, port: int, *, timeout: float = 5.0, kill_at: str | None = None, worker: str = ""):
        self.port, self.timeout, self.kill_at, self.worker = port, timeout, kill_at, worker

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=json.dumps(body or {}),
                         headers={"Content-Type": "application/json", "X-Worker": self.worker})
            response = conn.getresponse()
            status, data = response.status, json.loads(response.read() or b"{}")
            retry_after = response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            raise GeneralError(f"ERP unreachable: {type(exc).__name__}: {exc}") from exc
        finally:
            conn.close()
        if status >= 500 or status == 429:
            raise GeneralError(f"ERP answered {status}", retry_after=float(retry_after) if retry_after else None)
        if status >= 400 and status != 404:
            raise MessageError(data.get("error", f"ERP answered {status}"))
        return status, data

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        if self.kill_at == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        if operation == "send_order":
            status, found = self._call("GET", f"/orders/{payload['number']}")
            result = found if status == 200 else self._call("POST", "/orders", payload)[1]
        elif operation == "cancel_order":
            result = self._call("POST", "/cancellations", payload)[1]
        else:
            raise MessageError(f"operation {operation!r} is not supported by the test ERP")
        if self.kill_at == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return DeliveryResult(external_id=result["id"], response=result)

    def get_customer(self, number: str) -> dict:
        """A real-time lookup (what the shop API asks at login)."""
        return self._call("GET", f"/customers/{number}")[1]
