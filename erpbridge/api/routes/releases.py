"""Releasing products to the shops (scope ``write:catalog``): what `erpbridge products enable` does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from erpbridge.api.auth import require
from erpbridge.api.keys import ApiKey
from erpbridge.api.responses import json_response
from erpbridge.api.schemas import ReleaseAnswer, ReleaseRequest
from erpbridge.services.products import set_enabled

router = APIRouter(prefix="/api/v1/products", tags=["catalog"])
Writer = Annotated[ApiKey, Depends(require("write:catalog"))]


def _release(request: Request, body: ReleaseRequest, key: ApiKey, enabled: bool):
    result = set_enabled(request.app.state.hub, enabled=enabled, skus=body.skus, groups=body.groups,
                         all_new=body.all_new, actor=f"API key {key.name}")
    return json_response(result.as_dict())


@router.post("/enable", response_model=ReleaseAnswer,
             summary="Enable products for the shops: by SKU, by group (with subgroups) or every new one")
def enable(request: Request, body: ReleaseRequest, key: Writer):
    return _release(request, body, key, True)


@router.post("/disable", response_model=ReleaseAnswer, summary="Disable products: the shops stop selling them")
def disable(request: Request, body: ReleaseRequest, key: Writer):
    return _release(request, body, key, False)
