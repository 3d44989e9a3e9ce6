"""Advisory file locks (``flock``) that end with the process holding them, even on kill -9."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO


def try_lock(path: Path) -> IO[str] | None:
    """Take the exclusive lock on ``path`` (created if missing); None if another holds it.

    The lock is held while the returned handle stays open.
    """
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def is_held(path: Path) -> bool:
    """Return whether some process holds the lock on ``path`` right now."""
    if not path.exists():
        return False
    handle = try_lock(path)
    if handle is None:
        return True
    handle.close()
    return False


PROC_LOCKS = Path("/proc/locks")
"""Where Linux lists every file lock held; read, never locked."""


def held_without_taking(path: Path) -> bool | None:
    """Return whether some process holds the lock on ``path``, without ever taking it.

    Looking must not make a run that starts at that instant find its lock taken, so this reads
    Linux's lock table instead of trying the lock. Locks are matched by inode number (a file
    system such as overlayfs may list another device number than ``stat`` gives).

    Returns:
        True or False; None where the lock table cannot be read (not Linux): unknown.
    """
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        table = PROC_LOCKS.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 fe:00:2154689 0 EOF"; a waiter's line has "->"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False
