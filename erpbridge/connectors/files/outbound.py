"""The file connector's outbound side: each outbox message becomes one file in the ERP's outbox
folder, for the ERP to pick up (orders, customers, cancellations, returns).

A file appears whole or not at all (:func:`~erpbridge.private_files.write_private`: written
aside, flushed, renamed into place), readable by erpbridge's user only unless the system's
``file_mode`` lets the ERP's group read it too. Its name comes from the message's idempotency key
(by default ``<channel>:<operation>:<business key>:<sequence>``), so delivering the same message
again after a crash rewrites the same file rather than adding a second order.

JSON: ``{"operation", "idempotency_key", "payload"}``. XML: the payload under a root element
named after the operation, with the idempotency key as an attribute; lists become a wrapper
element with one child per item (``<lines><line>...</line></lines>``).

A folder that cannot be written (missing share, full disk, no permission) is a general error:
the semaphore takes the system offline and the messages wait.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Mapping

import orjson
from lxml import etree

from erpbridge.connectors.base import DeliveryResult, GeneralError
from erpbridge.private_files import FILE_MODE, folder_mode, private_dir, write_private
from erpbridge.systems import MessageSettings

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(idempotency_key: str, extension: str) -> str:
    """A portable file name for a message; keys that needed changing get a short hash, so two
    different keys never share a file."""
    readable = idempotency_key.replace(":", "-")
    safe = _UNSAFE.sub("_", readable).strip("._") or "message"
    if safe != readable:
        safe += "-" + hashlib.blake2b(idempotency_key.encode(), digest_size=4).hexdigest()
    return f"{safe[:180]}.{extension}"


def to_xml(operation: str, payload: dict, idempotency_key: str) -> bytes:
    root = etree.Element(operation, idempotency_key=idempotency_key)
    _fill(root, payload)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _singular(name: str) -> str:
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith(("sses", "xes")):
        return name[:-2]
    if name.endswith("s"):
        return name[:-1]
    return "item"


def _fill(element, value) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if item is not None:
                _fill(etree.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(etree.SubElement(element, _singular(element.tag)), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


class FileOutbox:
    """Delivers messages as files into ``folder``, with ``mode`` (the system's ``file_mode``);
    ``messages`` (per-message settings) may give an operation a folder of its own (``endpoint``,
    relative to ``folder``) and the name written for it (``operation``)."""

    def __init__(self, folder: Path, fmt: str = "json", mode: int = FILE_MODE,
                 messages: Mapping[str, MessageSettings] | None = None):
        self.folder = folder
        self.format = fmt
        self.mode = mode
        self.messages = dict(messages or {})

    def deliver(self, operation: str, payload: dict, idempotency_key: str) -> DeliveryResult:
        settings = self.messages.get(operation) or MessageSettings()
        name = settings.operation or operation
        if self.format == "xml":
            data = to_xml(name, payload, idempotency_key)
        else:
            data = orjson.dumps({"operation": name, "idempotency_key": idempotency_key, "payload": payload},
                                option=orjson.OPT_INDENT_2)
        folder = self.folder / settings.endpoint if settings.endpoint else self.folder
        path = folder / file_name(idempotency_key, self.format)
        try:
            private_dir(folder, folder_mode(self.mode))
            write_private(path, data, self.mode)
        except OSError as exc:
            raise GeneralError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return DeliveryResult(response={"file": str(path.relative_to(self.folder)), "bytes": len(data)})
