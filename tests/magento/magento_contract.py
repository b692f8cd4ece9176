"""Adobe's published admin REST schema (contract/admin-schema-2.4.9.json), as the Magento double
and the tests check every request and answer against it.

* a request: its route and method must be in the schema; path and query parameters of the
  declared types (``searchCriteria`` is declared with index 0 and in camelCase only: other
  indexes and the snake_case Magento also takes are read as that declaration); the JSON body
  against the body parameter's schema with the nested ``required`` lists left out (the
  generated schema marks nearly every field required, real Magento takes partial bodies), the
  body's own top-level ``required`` kept;
* an answer: against the schema of its status, strictly (``required`` kept). The schema's known
  gaps: ``POST /V1/inventory/source-items`` declares no 200 (its answer is not checked).
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path

import jsonschema_rs

SCHEMA = Path(__file__).parent / "contract" / "admin-schema-2.4.9.json"
_TYPES = {"integer": int, "number": (int, float), "string": str, "boolean": bool}


def _without_required(node):
    if isinstance(node, dict):
        return {k: _without_required(v) for k, v in node.items() if not (k == "required" and isinstance(v, list))}
    if isinstance(node, list):
        return [_without_required(v) for v in node]
    return node


def _query_name(name: str) -> str:
    """The declared name of a searchCriteria parameter."""
    name = re.sub(r"\[\d+\]", "[0]", name)
    for snake, camel in (("filter_groups", "filterGroups"), ("condition_type", "conditionType"),
                         ("sort_orders", "sortOrders"), ("page_size", "pageSize"), ("current_page", "currentPage")):
        name = name.replace(f"[{snake}]", f"[{camel}]")
    return name


class Contract:
    def __init__(self):
        document = json.loads(SCHEMA.read_text())
        self.paths = document["paths"]
        self.strict = document["definitions"]
        self.lenient = _without_required(copy.deepcopy(document["definitions"]))
        # literal segments first: /V1/orders/items before /V1/orders/{id}
        self.routes = sorted(((re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", p) + "$"), p)
                              for p in self.paths), key=lambda r: (r[1].count("{"), r[1]))
        self._validators: dict = {}

    def operation(self, method: str, path: str) -> tuple[str, dict, dict] | None:
        """(the route, its operation, the path parameters) of a request path (after /rest/<code>)."""
        for pattern, route in self.routes:
            match = pattern.match(path)
            if match and method.lower() in self.paths[route]:
                return route, self.paths[route][method.lower()], match.groupdict()
        return None

    def _validator(self, schema: dict, strict: bool):
        key = (json.dumps(schema, sort_keys=True), strict)
        if key not in self._validators:
            self._validators[key] = jsonschema_rs.Draft4Validator(
                {**schema, "definitions": self.strict if strict else self.lenient})
        return self._validators[key]

    @staticmethod
    def _errors(validator, instance, where: str) -> list[str]:
        return [f"{where} {'/'.join(map(str, e.instance_path)) or '(root)'}: {e.message}"
                for e in validator.iter_errors(instance)]

    def check_request(self, method: str, path: str, query: dict[str, list[str]], body) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {path}: no such route and method in the schema"]
        route, operation, path_params = found
        declared = {p["name"]: p for p in operation.get("parameters", [])}
        errors = []
        for name, value in path_params.items():
            kind = declared.get(name, {}).get("type", "string")
            if kind == "integer" and not re.fullmatch(r"-?\d+", value):
                errors.append(f"{method} {route}: path parameter {name}={value!r} is not an integer")
        for name, values in query.items():
            parameter = declared.get(_query_name(name))
            if parameter is None or parameter.get("in") != "query":
                errors.append(f"{method} {route}: query parameter {name!r} is not declared")
            elif parameter.get("type") == "integer" and not all(re.fullmatch(r"-?\d+", v) for v in values):
                errors.append(f"{method} {route}: query parameter {name}={values!r} is not an integer")
        bodies = [p for p in declared.values() if p.get("in") == "body"]
        if bodies:
            schema = bodies[0]["schema"]
            if body is None:
                errors.append(f"{method} {route}: the body is missing")
            else:
                lenient = _without_required(schema)
                if "required" in schema:
                    lenient["required"] = schema["required"]
                errors += self._errors(self._validator(lenient, False), body, f"{method} {route} request body")
        elif body is not None:
            errors.append(f"{method} {route}: takes no body")
        return errors

    def check_response(self, method: str, path: str, status: int, body) -> list[str]:
        found = self.operation(method, path)
        if found is None:
            return []
        route, operation, _ = found
        responses = operation.get("responses", {})
        declared = responses.get(str(status)) or (responses.get("default") if status >= 400 else None)
        if declared is None:
            if status < 400 and list(responses) in (["default"], ["400", "401", "default"], ["401", "default"]):
                return []  # no success answer declared (source-items): nothing to check it against
            return [f"{method} {route}: answered {status}, which the schema does not declare"]
        if "schema" not in declared:
            return []
        return self._errors(self._validator(declared["schema"], True), body, f"{method} {route} {status} answer")


@cache
def contract() -> Contract:
    return Contract()
