"""The files connector's registry entry and its config (``connector: files``)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import Field, model_validator

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
