"""Who holds a lease, and whether that worker is still alive.

A worker's leases expire ``lease_seconds`` after its last heartbeat, which is the only thing a
worker on another host can go by. A worker on the *same* host can do better: a killed worker's
process is gone, and its messages (and its probe) can be taken at once instead of a lease later.
That is what made recovery slow with workers killed all along (issue 17): each kill held the
messages of a claim for the rest of a lease, and the last kill before the backlog ended held the
end back by as much.

An owner id is ``host:pid:scope:nonce``. ``scope`` names the process namespace the pid belongs to
(a hash of the boot id and the pid namespace), so a container that shares the host name, or the
same host after a reboot, never judges another's pid. A pid that exists, or cannot be checked,
counts as alive: the worst a wrong answer can do is wait for the lease, as before; a zombie (killed,
not yet reaped by its parent) counts as dead.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from functools import cache


def new_owner() -> str:
    """A fresh owner id for a worker in this process."""
    return f"{socket.gethostname()}:{os.getpid()}:{_scope()}:{uuid.uuid4().hex[:8]}"


def is_dead(owner: str) -> bool:
    """True only when ``owner`` is a worker of this host's process namespace whose process is gone."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or parts[2] != _scope() or not parts[1].isdigit():
        return False  # another host, container or boot, or an older id: its lease decides
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] in (b"Z", b"X")
    except (OSError, IndexError):
        return False


@cache
def _scope() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as boot:
            identity = f"{boot.read().strip()}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # not Linux: no per-boot id, so this process never judges another's pid
        return uuid.uuid4().hex[:8]
    return hashlib.blake2s(identity.encode(), digest_size=4).hexdigest()
