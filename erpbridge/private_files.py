"""Files and folders that erpbridge creates and that hold customers' personal data: the store
and its WAL, outbox files for the ERP, import reports, document copies.

They are created readable by erpbridge's own user only (files ``0600``, folders ``0700``),
whatever the process's umask: on a shared host, another account must not read the customers'
names, addresses and orders. A folder that exists already is left as its owner made it (an
inbox shared with the ERP's own account is shared on purpose).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path, mode: int = DIR_MODE) -> Path:
    """Create ``path`` and its missing parents with ``mode``; an existing folder is left alone."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:  # made by another process meanwhile
            continue
        os.chmod(folder, mode)  # mkdir's mode is masked by the umask
    return path


def write_private(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write ``path`` whole or not at all, with ``mode``: under a temporary name in the same
    folder (starting with ``.`` and ending in ``.tmp``, which import jobs ignore), flushed to
    disk, renamed into place (atomic within one filesystem), and the rename itself synced."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(stream.fileno(), mode)  # os.open's mode is masked by the umask
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename survives a power cut
    finally:
        os.close(directory)
