"""Templates for the structures a field spec cannot express (Jinja2, sandboxed).

Where a system wants a body built (a value made of two fields, a fixed wrapper, a list written
in its own way) or a URL with the record in it (``/orders/{{ erp_order }}/cancel``), a template
does it. Templates run in Jinja2's immutable sandbox (no attribute of Python internals, no
changing what they are given) with undefined names as errors, and every ``{{ value }}`` is
written safely for where it goes, so a customer's name can never break out of its place:

* ``json``: each ``{{ value }}`` is a JSON value (``"Jane \\"JD\\" Doe"``, ``19.9``, ``null``;
  numbers as numbers, times as ISO 8601 strings): write ``{"name": {{ record.name }}}``, no quotes;
* ``xml``: each ``{{ value }}`` is escaped XML text (``&amp;``, ``&lt;``, quotes);
* ``url``: each ``{{ value }}`` is one percent-encoded path segment or query value (a SKU's ``/``
  too).

Templates are compiled when the config loads, so a syntax error names its key at start-up.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

Kind = Literal["json", "xml", "url"]


class TemplateError(ValueError):
    """A template that does not compile, or that could not be rendered (its reason)."""


def json_value(value: Any) -> Any:
    """``json.dumps(default=...)`` for the values records hold: decimals as numbers, times as ISO 8601."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    raise TypeError(f"cannot write a {type(value).__name__} as JSON")


def text_value(value: Any) -> str:
    """A value as the text of an XML element or a URL part."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _finalize(kind: Kind):
    from jinja2 import Undefined

    write = {"json": lambda value: json.dumps(value, default=json_value, ensure_ascii=False),
             "url": lambda value: quote(text_value(value), safe="")}.get(kind, text_value)

    def finalize(value: Any) -> str:
        if isinstance(value, Undefined):
            str(value)  # StrictUndefined: raises the error that names the missing name
        return write(value)

    return finalize


def _environment(kind: Kind):
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # xml: autoescaping escapes &, <, >, " and ' (what XML text and attributes need), after finalize.
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=kind == "xml", finalize=_finalize(kind),
                                         keep_trailing_newline=True)


class Template:
    """One compiled template; :meth:`render` it with the names it uses."""

    def __init__(self, source: str, kind: Kind):
        from jinja2 import TemplateSyntaxError

        self.source, self.kind = source, kind
        try:
            self._template = _environment(kind).from_string(source)
        except TemplateSyntaxError as exc:
            raise TemplateError(f"template line {exc.lineno}: {exc.message}") from None

    def render(self, **names: Any) -> str:
        from jinja2 import TemplateError as JinjaError

        try:
            return self._template.render(**names)
        except JinjaError as exc:  # an undefined name, a sandbox refusal
            raise TemplateError(f"the template cannot be rendered: {exc}") from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise TemplateError(f"the template cannot be rendered: {type(exc).__name__}: {exc}") from None

    def render_data(self, **names: Any) -> Any:
        """A ``json`` template's result, parsed (so a template that writes broken JSON says where)."""
        text = self.render(**names)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise TemplateError(f"the template does not write JSON: {exc}") from None


def is_template(text: str | None) -> bool:
    return bool(text) and ("{{" in text or "{%" in text)
