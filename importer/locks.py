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
