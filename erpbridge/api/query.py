"""Query parameters validated as one pydantic model inside the endpoint, and documented in the
OpenAPI document from the same model.

FastAPI resolves each declared query parameter on every request; for the price lookup (the
shop's hottest call) that costs more than the store's answer. ``parse_query`` validates the
whole query in one ``model_validate``; ``documented`` puts the model's fields into the
operation's ``parameters`` so clients and schemathesis see the same contract.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from erpbridge.api.problems import Problem, field_errors

M = TypeVar("M", bound=BaseModel)


def parse_query(request: Request, model: type[M]) -> M:
    """The request's query as ``model``; a 422 naming each invalid parameter otherwise."""
    try:
        return model.model_validate(request.query_params)
    except ValidationError as exc:
        errors = field_errors(list(exc.errors()), where="query")
        raise Problem(422, f"the request has {len(errors)} invalid field(s)", errors=errors) from None


def documented(model: type[BaseModel]) -> dict:
    """``openapi_extra`` declaring the model's fields as optional query parameters."""
    schema = model.model_json_schema(mode="validation")
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        # An optional parameter is simply left out; a query string cannot carry null.
        options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
        parameters.append({"name": name, "in": "query", "required": name in schema.get("required", ()),
                           "schema": prop, **({"description": description} if description else {})})
    return {"parameters": parameters}
