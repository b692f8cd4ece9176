"""Files and folders that erpbridge creates and that hold customers' personal data: the store
and its WAL, outbox files for the ERP, import reports, document copies.

They are created readable by erpbridge's own user only (files ``0600``, folders ``0700``),
whatever the process's umask: on a shared host, another account must not read the customers'
names, addresses and orders. A folder that exists already is left as its owner made it (an
inbox shared with the ERP's own account is shared on purpose). Where another account must read
them (an ERP that picks up the outbox as its own user), the files system's ``file_mode`` gives
the group read access, and the folders erpbridge makes for them follow (:func:`folder_mode`).
"""

from __future__ import annotations

import logging
import os
import stat
import uuid
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700

log = logging.getLogger(__name__)


def folder_mode(file_mode: int) -> int:
    """The mode of a folder for files of ``file_mode``: whoever may read them may enter it
    (``0600`` -> ``0700``, ``0640`` -> ``0750``)."""
    return file_mode | 0o700 | (file_mode & 0o044) >> 2


def private_file(path: Path, *, companions: tuple[str, ...] = (), mode: int = FILE_MODE) -> None:
    """Make sure ``path`` exists with ``mode`` before another program opens it and, if it creates
    it, gives it a mode of its own (SQLite makes its store by the umask, and its ``-wal`` and
    ``-shm`` files with the store's mode). A file that exists with more open permissions, and any
    of its ``companions`` (``path`` + suffix) that do, are made ``mode`` and logged (once: then
    they are private). Missing folders are made as :func:`private_dir` makes them."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        pass
    else:
        os.fchmod(fd, mode)  # os.open's mode is masked by the umask
        os.close(fd)
    for file in (path, *(path.with_name(path.name + suffix) for suffix in companions)):
        try:
            found = stat.S_IMODE(file.stat().st_mode)
            if found & ~mode:
                os.chmod(file, mode)
                log.warning("%s was readable by others (mode %04o); it holds personal data: made %04o", file, found,
                            mode)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("%s is readable by others and cannot be made %04o: %s", file, mode, exc.strerror)


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
