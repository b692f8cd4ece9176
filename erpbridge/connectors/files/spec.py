"""The files connector's registry entry and its config (``connector: files``)."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from erpbridge.connectors.base import ERP_OPERATIONS
from erpbridge.connectors.registry import Capabilities, ConnectorSpec
from erpbridge.systems import SystemBase


class FilesSystem(SystemBase):
    """An ERP that exchanges files: it drops exports into ``inbox``, reads our files from ``outbox``.

    Per message (``messages.<operation>``), ``endpoint`` is a folder of its own for that
    message's files (relative to ``outbox``) and ``operation`` the name written into them."""

    connector: Literal["files"]
    inbox: Path = Path("erp/inbox")
    outbox: Path = Path("erp/outbox")
    format: Literal["json", "xml"] = "json"
    poll_interval: float = Field(default=2.0, gt=0, description="seconds between looks into the inbox")
    settle_time: float = Field(default=1.0, ge=0, description="a file must be unchanged this long before import")
    file_mode: str = Field(default="0600", description="octal mode of the files written to the outbox; \"0640\" "
                                                       "lets the ERP's account read them through the group")

    @field_validator("file_mode", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError('expected an octal mode in quotes, like "0640" (YAML reads an unquoted 0640 as 416)')
        mode = int(value, 8)
        if mode & 0o600 != 0o600 or mode & 0o022:
            raise ValueError("expected a mode that lets erpbridge's own user read and write and nobody else write, "
                             'like "0600" or "0640"')
        return f"{mode:04o}"

    @property
    def mode(self) -> int:
        return int(self.file_mode, 8)

    @model_validator(mode="after")
    def _endpoints_inside_the_outbox(self) -> "FilesSystem":
        for operation, settings in self.messages.items():
            folder = PurePosixPath(settings.endpoint or ".")
            if folder.is_absolute() or ".." in folder.parts:
                raise ValueError(f"messages.{operation}.endpoint: a folder inside the outbox (relative, without ..), "
                                 f"got {settings.endpoint!r}")
        return self


SPEC = ConnectorSpec(
    name="files", config=FilesSystem, factory="erpbridge.connectors.files.connector:create",
    capabilities=Capabilities(deliver=frozenset(ERP_OPERATIONS), watch=True),
    roles=("erp",), message_settings=frozenset({"endpoint", "operation"}),
    # No default flows: `erpbridge run` watches the inbox and imports each file once it has settled,
    # which is all a scheduled catalog or stock flow could do, only later. A flow configured under
    # `flows:` (e.g. for `erpbridge flows run inbox`) imports whatever the inbox holds, of every kind.
    description="an ERP that exchanges files: exports and feedback into an inbox folder, orders out as JSON or XML",
)
