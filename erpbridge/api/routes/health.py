"""``/healthz`` (the process answers) and ``/readyz`` (the store answers; the ERP's state and
the inbox's last pass are reported but never make erpbridge unready: the shop is served from
the store either way)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from sqlalchemy import text

from erpbridge.api.problems import problem_response
from erpbridge.api.responses import json_response
from erpbridge.api.schemas import Health, Readiness
from erpbridge.connectors.files.inbox_passes import inbox_states

router = APIRouter(tags=["health"])

_OK = b'{"status":"ok"}'


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz():
    return json_response(_OK)


@router.get("/readyz", response_model=Readiness, responses={503: {"description": "the store is not reachable"}},
            summary="The store is reachable; the ERP's state is reported, never fatal")
async def readyz(request: Request):
    hub = request.app.state.hub
    try:
        await asyncio.to_thread(_ping, hub.engine)
    except Exception:
        return problem_response(503, "the store is not reachable")
    semaphore = request.app.state.semaphore
    erp: dict = {"system": hub.config.erp_for(), "offline": None}
    try:
        state = await asyncio.to_thread(semaphore.state)
        erp.update(offline=await asyncio.to_thread(semaphore.is_offline), offline_until=state["offline_until"],
                   reason=state["reason"])
    except Exception:
        erp["offline"] = None  # the ERP's state is unknown; not a reason to be unready
    inboxes = await asyncio.to_thread(inbox_states, hub)
    failing = next((state for state in inboxes if state["failing"]), None)
    return json_response({"status": "ready", "store": "ok", "erp": erp,
                          "inbox": failing or (inboxes[0] if inboxes else None), "inboxes": inboxes})


def _ping(engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
