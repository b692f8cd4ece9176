"""Reading an ERP's answers: paths into them, XML as data, and which outcome an answer is.

An answer is data whatever its format: JSON as parsed, XML as the file mapping reads it (an
element is a dict of its children, attributes as ``@name``, repeated children as a list; the
root element is the first key, namespaces are dropped), a SOAP result as zeep serialises it.
Paths are dotted; a number indexes a list, and a single XML element counts as a list of one.

Which outcome (:func:`outcome`): the config's ``errors`` (``done``, ``message``, ``general``, in
that order), else the defaults: a SOAP fault whose code says the sender's fault (``Client``,
``Sender``) is a message error and any other fault a general one; HTTP statuses as the kit
classifies them (:func:`erpbridge.connectors.kit.errors.classify`).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any, Literal

from lxml import etree

from erpbridge.connectors.files.readers import element_to_dict
from erpbridge.mapping.templates import text_value

if TYPE_CHECKING:
    from erpbridge.connectors.webservice.config import Condition, Errors

Outcome = Literal["done", "message", "general"]
#: Fault codes that blame the request (SOAP 1.1 ``Client``, SOAP 1.2 ``Sender``).
SENDER_FAULTS = ("*Client*", "*Sender*")
_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False,
                          remove_comments=True, remove_pis=True)


class NotData(ValueError):
    """An answer that cannot be read as its format says (a proxy's HTML page...)."""


def at(data: Any, path: str | None) -> Any:
    """The value at a dotted path (None where it breaks off); no path: the answer itself."""
    if not path:
        return data
    for part in path.split("."):
        if isinstance(data, dict) and not (part.isdigit() and part not in data):
            data = data.get(part)
        elif isinstance(data, (list, dict)) and part.lstrip("-").isdigit():
            rows = data if isinstance(data, list) else [data]  # one XML element where a list may be
            index = int(part)
            data = rows[index] if -len(rows) <= index < len(rows) else None
        else:
            return None
        if data is None:
            return None
    return data


def items_at(data: Any, path: str | None) -> list:
    """The records at a path: a list, one XML element (a list of one), or nothing."""
    value = at(data, path)
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def xml_data(content: bytes) -> dict:
    """An XML answer as data: ``{root: {...}}``, parsed with entities, DTDs and the network off."""
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise NotData(f"not well-formed XML: {exc.msg}") from None
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = etree.QName(element).localname
        for name in [n for n in element.attrib if n.startswith("{")]:
            element.attrib[etree.QName(name).localname] = element.attrib.pop(name)
    return {root.tag: element_to_dict(root)}


def xml_body(data: Any, root: str | None) -> bytes:
    """A written structure as an XML document (the inverse of :func:`xml_data`): keys are elements,
    ``@name`` attributes, ``#text`` an element's text, lists repeated elements. ``root`` names
    the document element, else the structure's one key is it."""
    if root is None:
        if not (isinstance(data, dict) and len(data) == 1):
            raise ValueError("an XML body needs one root element: set request.root, or write one key")
        (root, data), = data.items()
    element = etree.Element(root)
    _fill(element, data)
    return etree.tostring(element, xml_declaration=True, encoding="utf-8")


def _fill(element, data: Any) -> None:
    if not isinstance(data, dict):
        element.text = text_value(data)
        return
    for key, value in data.items():
        if key.startswith("@"):
            element.set(key[1:], text_value(value))
        elif key == "#text":
            element.text = text_value(value)
        else:
            for item in value if isinstance(value, list) else [value]:
                _fill(etree.SubElement(element, key), item)


def _same(value: Any, expected: Any) -> bool:
    """Config values meet answer values as text too: YAML ``false`` is XML's ``false``."""
    if value == expected and type(value) is type(expected):
        return True
    return value is not None and text_value(value).strip().lower() == text_value(expected).strip().lower()


def matches(condition: "Condition", *, status: int | None, fault: str | None, data: Any) -> bool:
    if status is not None and any(status == s or (isinstance(s, str) and str(status)[0] == s[0])
                                  for s in condition.status):
        return True
    if fault is not None and any(fnmatch.fnmatchcase(fault, pattern) for pattern in condition.faults):
        return True
    for path, expected in condition.fields.items():
        value = at(data, path)
        if any(_same(value, e) for e in (expected if isinstance(expected, list) else [expected])):
            return True
    return any(at(data, path) not in (None, "", [], {}) for path in condition.present)


def outcome(errors: "Errors", *, status: int | None = None, fault: str | None = None, data: Any = None) -> Outcome | None:
    """The outcome the config gives an answer (None: none of its conditions met)."""
    for name in ("done", "message", "general"):
        if matches(getattr(errors, name), status=status, fault=fault, data=data):
            return name  # type: ignore[return-value]
    return None


def fault_outcome(code: str) -> Outcome:
    """A SOAP fault the config says nothing about."""
    return "message" if any(fnmatch.fnmatchcase(code, pattern) for pattern in SENDER_FAULTS) else "general"


def words(errors: "Errors", data: Any) -> str | None:
    """The ERP's own words in an error answer, where the config says they are."""
    said = at(data, errors.text) if errors.text else None
    return text_value(said) if said not in (None, "") else None
