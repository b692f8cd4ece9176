"""What erpbridge reads as input, and what it never reads: its own files.

Input is any file named from outside: an inbox file, the FILE of ``erpbridge import``, the file a
documents feedback file names. erpbridge never opens one of its own files as input: the store's
files (the SQLite database and its ``-wal``, ``-shm`` and ``-journal``), and nothing under its own
folders (the inbox's ``processing/``, ``done/`` and ``failed/``, the documents folder; for a path
the ERP gives, the store's folder too).

Why it matters beyond keeping the store out of import reports: SQLite locks its files with POSIX
record locks (``fcntl``), which belong to a process and an inode, and closing *any* descriptor of
the file drops all of that process's locks on it. A server that read its own store file as input
(through an inbox symlink, a hardlink, a document path) and closed it again has silently lost its
SQLite locks; the next CLI command (``erpbridge status``) then believes its connection is the
last one, checkpoints and deletes the WAL while the server goes on writing into the deleted
file: orders answered 201 that no other process sees, gone after a restart.

So input is checked by identity (device and inode), never by name, and before it is opened:
``lstat`` first (a link, a FIFO, a device or a store file is refused without being opened), then
``open`` with ``O_NOFOLLOW`` and ``O_NONBLOCK`` (a link or a FIFO swapped in meanwhile is neither
followed nor waited on), then ``fstat`` of what was opened. A descriptor that turns out to be a
store file is kept open for the rest of the process and never closed, since closing it is what
drops the locks.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from erpbridge.connectors.files.spec import FilesSystem
from erpbridge.documents import documents_folder

#: (st_dev, st_ino): a file's identity, whatever its names.
Identity = tuple[int, int]

#: The files SQLite keeps beside a database.
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")

_NOT_REGULAR = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket",
                stat.S_IFCHR: "a device", stat.S_IFBLK: "a device", stat.S_IFDIR: "a folder"}

#: Descriptors of store files opened by accident (a file swapped in between ``lstat`` and
#: ``open``): closing them would drop this process's SQLite locks, so they stay open.
_kept: list[int] = []


class RefusedInput(Exception):
    """The input was not read; the message says which file and why."""


def identity(st: os.stat_result) -> Identity:
    return st.st_dev, st.st_ino


@dataclass(frozen=True)
class OwnFiles:
    """erpbridge's own files and folders, as the config places them (picklable: import worker
    processes check what they open too)."""

    #: The SQLite database (None on PostgreSQL): its real path, where SQLite keeps its sidecars.
    store: Path | None = None
    #: Folders whose content is never input, whoever names it.
    folders: tuple[Path, ...] = ()

    @classmethod
    def of(cls, config, engine) -> "OwnFiles":
        """From the config (the inbox's folders, the documents folder) and the store's engine."""
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        store = Path(os.path.realpath(database)) if database and database != ":memory:" else None
        folders = [documents_folder(config)]
        for system in config.systems.values():
            if isinstance(system, FilesSystem):
                inbox = config.resolve(system.inbox)
                folders += [inbox / "processing", inbox / "done", inbox / "failed"]
        return cls(store, tuple(folders))

    def store_files(self) -> dict[Identity, str]:
        """The store's files as they are now (a WAL is deleted and made again: looked up each time)."""
        if self.store is None:
            return {}
        found = {}
        for name in (self.store.name, *(self.store.name + s for s in SQLITE_SIDECARS)):
            try:
                found[identity(os.stat(self.store.with_name(name)))] = name
            except OSError:
                continue
        return found

    def folder_identities(self, *, store_folder: bool) -> dict[Identity, Path]:
        folders = (*self.folders, self.store.parent) if store_folder and self.store else self.folders
        found = {}
        for folder in folders:
            try:
                found[identity(os.stat(folder))] = folder
            except OSError:
                continue
        return found

    def refusal(self, st: os.stat_result) -> str | None:
        """Why a file with this ``lstat`` is not read as input, or None."""
        kind = stat.S_IFMT(st.st_mode)
        if kind != stat.S_IFREG:
            return f"{_NOT_REGULAR.get(kind, 'not a regular file')}: erpbridge reads regular files only"
        name = self.store_files().get(identity(st))
        if name is not None:
            return (f"the store's own file {name} (the same file, by device and inode): erpbridge never reads its "
                    "own files")
        return None

    def folder_refusal(self, path: Path) -> str | None:
        """Why a file at ``path`` (absolute) is not read: it lies under one of erpbridge's
        folders (each parent compared by identity, nothing opened), or None. (The store's folder
        is not one of them here: an operator's own exports may lie beside the store.)"""
        own = self.folder_identities(store_folder=False)
        for parent in path.parents:
            try:
                folder = own.get(identity(os.lstat(parent)))
            except OSError:
                continue
            if folder is not None:
                return f"it lies in erpbridge's own folder {folder}, which is never read as input"
        return None


@dataclass(frozen=True)
class InputFile:
    """A file checked to be input (a regular file, not one of erpbridge's own) without opening
    it; :meth:`open` opens that very file or refuses. Picklable, for import worker processes."""

    path: Path
    identity: Identity
    size: int
    own: OwnFiles = field(repr=False)

    def open(self, buffering: int = 1 << 20) -> BinaryIO:
        return os.fdopen(_open_checked(self.path, self.own, self.identity, None), "rb", buffering=buffering)


def check_input(path: Path, own: OwnFiles, *, claimed: bool = False) -> InputFile:
    """``path`` as input, checked without opening it; :class:`RefusedInput` (saying why, not
    which: the caller names the file) if it is not.

    ``claimed``: a file erpbridge moved into its own folder itself (an inbox claim in
    ``processing/``), whose folder is therefore not held against it."""
    st = os.lstat(path)
    reason = own.refusal(st) or (None if claimed else own.folder_refusal(Path(os.path.abspath(path))))
    if reason is not None:
        raise RefusedInput(f"refused: {reason}")
    return InputFile(path, identity(st), st.st_size, own)


def read_inside(folder: Path, relative: str, own: OwnFiles, limit: int) -> bytes:
    """The content of the file at ``relative`` inside ``folder`` (at most ``limit`` bytes), as
    a path from input may name it: relative, no ``..``, no links on the way (each folder is
    opened with ``O_NOFOLLOW`` from the one before), not under erpbridge's own folders or the
    store's, and a regular file that is not one of the store's."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts or "\x00" in relative:
        raise RefusedInput(f"{shown_name(relative)}: refused: expected a path relative to the inbox, without '..'")
    own_folders = own.folder_identities(store_folder=True)
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
            except OSError as exc:
                raise RefusedInput(f"{shown_name(relative)}: refused: {part!r} is not a folder inside the inbox "
                                   f"({exc.strerror})") from None
            os.close(directory)
            directory = inner
            mine = own_folders.get(identity(os.fstat(directory)))
            if mine is not None:
                raise RefusedInput(f"{shown_name(relative)}: refused: it lies in erpbridge's own folder {mine}")
        st = os.stat(parts[-1], dir_fd=directory, follow_symlinks=False)
        reason = own.refusal(st)
        if reason is not None:
            raise RefusedInput(f"{shown_name(relative)}: refused: {reason}")
        try:
            fd = _open_checked(parts[-1], own, identity(st), directory)
        except RefusedInput as exc:
            raise RefusedInput(f"{shown_name(relative)}: {exc}") from None
        with os.fdopen(fd, "rb") as stream:
            data = stream.read(limit + 1)
    finally:
        os.close(directory)
    if len(data) > limit:
        raise RefusedInput(f"{shown_name(relative)}: refused: larger than {limit:,} bytes")
    return data


def _open_checked(path: Path | str, own: OwnFiles, expected: Identity, dir_fd: int | None) -> int:
    """Open what was checked as ``expected``, or refuse: links are not followed, FIFOs not waited
    on, and a store file found open is kept open (see the module's docstring)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    st = os.fstat(fd)
    reason = own.refusal(st)
    if reason is None and identity(st) == expected:
        os.set_blocking(fd, True)
        return fd
    if identity(st) in own.store_files():
        _kept.append(fd)
    else:
        os.close(fd)
    raise RefusedInput(f"refused: {reason or 'it was replaced by another file'}")


def shown_name(name: str) -> str:
    """A file name as erpbridge prints it (log lines, reports, CLI output, the store): control
    and other invisible characters, and bytes that are not UTF-8, escaped as ``\\n``,
    ``\\x1b``, ``\\xe9``..., so that a name cannot forge a line of the log or hide its ends."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else _escaped(c) for c in name)


def _escaped(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code in _SHORT:
        return _SHORT[code]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


_SHORT = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
