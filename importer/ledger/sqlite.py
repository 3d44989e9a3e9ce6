"""The ledger: a durable record of each row's intent and outcome, so nothing is sent twice.

Before a request leaves, the row's intent (``sending``) is committed; after the answer, its
outcome. A run that dies in between leaves ``sending`` behind, which the next run resolves:
re-sent where the vendor detects duplicates (its 409 then proves the earlier run created it),
otherwise reported ``outcome_unknown`` and never re-sent blindly.

Rows are keyed by vendor, account (base URL and credential fingerprint, never the secret) and
the row's dedupe key; a row without one is keyed by its content and its occurrence in the
sheet. ``Ledger`` is the interface; ``SqliteLedger`` keeps it in one SQLite file (WAL,
synchronous=FULL, committed per outcome) under the state directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol

from importer.errors import ConfigError


class RunLocked(ConfigError):
    """Raised when another run of the same vendor holds the state directory."""


class LedgerState(StrEnum):
    """What the ledger knows of a row."""

    SENDING = "sending"
    CREATED = "created"
    CONFLICTED = "conflicted"
    REJECTED = "rejected"
    RETRYABLE = "retryable"
    OUTCOME_UNKNOWN = "outcome_unknown"


@dataclass(frozen=True, slots=True)
class Entry:
    """The ledger's last word on one row key."""

    row_key: str
    content_hash: str
    state: LedgerState
    run_id: str
    source_row: int
    http_status: int | None
    vendor_id: str | None
    message: str


class Ledger(Protocol):
    """Durable per-row state shared by every run of one vendor account."""

    def entries(self, row_keys: Sequence[str]) -> dict[str, Entry]:
        """Return the entries of those keys that the ledger holds."""
        ...

    def write(self, entries: Iterable[Entry]) -> None:
        """Record entries durably (committed before this returns)."""
        ...

    def close(self) -> None:
        """Release the ledger (and its run lock)."""
        ...


SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    vendor TEXT NOT NULL,
    account TEXT NOT NULL,
    row_key TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    run_id TEXT NOT NULL,
    source_row INTEGER NOT NULL,
    http_status INTEGER,
    vendor_id TEXT,
    message TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (vendor, account, row_key)
) WITHOUT ROWID;
"""
LOOKUP_BATCH = 500


class SqliteLedger:
    """The ledger in a SQLite file, with a lock file that allows one run per vendor."""

    def __init__(self, state_dir: Path, *, vendor: str, account: str) -> None:
        """Open (creating) the ledger under ``state_dir`` and take the vendor's run lock.

        Raises:
            RunLocked: when another run of ``vendor`` uses this state directory.
            ConfigError: when the state directory cannot be created or opened.
        """
        self._vendor = vendor
        self._account = account
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            self._lock = _take_lock(state_dir / f"{vendor}.lock", vendor, state_dir)
            self._db = sqlite3.connect(state_dir / "ledger.sqlite", timeout=30)
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(f"cannot use state directory {state_dir}: {error}") from None
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def entries(self, row_keys: Sequence[str]) -> dict[str, Entry]:
        """Return the entries of those keys that the ledger holds."""
        found: dict[str, Entry] = {}
        for start in range(0, len(row_keys), LOOKUP_BATCH):
            batch = list(row_keys[start : start + LOOKUP_BATCH])
            marks = ",".join("?" * len(batch))
            cursor = self._db.execute(
                "SELECT row_key, content_hash, state, run_id, source_row, http_status, vendor_id,"
                " message FROM rows WHERE vendor=? AND account=?"
                f" AND row_key IN ({marks})",
                [self._vendor, self._account, *batch],
            )
            for row in cursor:
                found[row[0]] = Entry(row[0], row[1], LedgerState(row[2]), *row[3:])
        return found

    def write(self, entries: Iterable[Entry]) -> None:
        """Record entries durably (committed before this returns)."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO rows VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        self._vendor,
                        self._account,
                        entry.row_key,
                        entry.content_hash,
                        entry.state.value,
                        entry.run_id,
                        entry.source_row,
                        entry.http_status,
                        entry.vendor_id,
                        entry.message,
                        now,
                    )
                    for entry in entries
                ],
            )

    def close(self) -> None:
        """Close the database and release the run lock."""
        self._db.close()
        self._lock.close()


def _take_lock(path: Path, vendor: str, state_dir: Path) -> IO[str]:
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RunLocked(
            f"another run of {vendor} is using state directory {state_dir}; wait for it to "
            "finish (or give this run another --state)"
        ) from None
    return handle


def content_hash(body: Mapping[str, Any]) -> str:
    """Return a short, stable hash of a request body."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]
