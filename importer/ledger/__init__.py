"""The ledger: the durable record of every row's fate, shared by every run of an account.

Where it lives is the ``--state`` a command is given: a folder (the embedded SQLite ledger,
the default) or a ``postgresql://`` URL (one PostgreSQL database shared by workers on any
machine). Every command opens it through the functions here, never a backend directly. The
PostgreSQL backend (and its driver) is imported only when a URL is given.
"""

from __future__ import annotations

from pathlib import Path

from importer.ledger import sqlite
from importer.ledger.interface import Ledger, Run, RunHistory
from importer.ledger.interface import is_database_url as _is_database_url
from importer.redact import safe_url

StateLocation = Path | str
"""A ledger's place: a folder, or a ``postgresql://user@host/db`` URL (``postgres://`` too)."""


def is_database_url(state: StateLocation | None) -> bool:
    """Return whether ``state`` names a PostgreSQL database rather than a folder."""
    return _is_database_url(state)


def state_shown(state: StateLocation) -> str:
    """Return how ``state`` may be shown or recorded: a URL without its password or query."""
    return safe_url(str(state)) if is_database_url(state) else str(state)


def open_ledger(
    state: StateLocation, *, vendor: str, account: str, lock: bool | str = True
) -> Ledger:
    """Open (creating and migrating) the ledger of one vendor account at ``state``.

    Args:
        state: A folder (SQLite) or a PostgreSQL URL.
        vendor: The vendor id.
        account: The account (``lifecycle.account_of`` or a name the user gave).
        lock: ``True`` takes the run lock alone (a run, a person's settlement), ``False`` none
            (reading a report back); ``"shared"`` (PostgreSQL only) together with the other
            workers of a planned import.

    Raises:
        RunLocked: when another run holds the lock.
        LedgerTooNew: when a newer importer wrote the ledger.
        ConfigError: when the folder or the database cannot be used.
    """
    if is_database_url(state):
        from importer.ledger import postgres  # noqa: PLC0415 (only for a URL)

        return postgres.PostgresLedger(str(state), vendor=vendor, account=account, lock=lock)
    return sqlite.SqliteLedger(Path(state), vendor=vendor, account=account, lock=bool(lock))


def open_run(state: StateLocation, run_id: str, *, lock: bool) -> tuple[Ledger, Run]:
    """Open the ledger of the account that ran ``run_id``, and that run's history.

    Raises:
        UnknownRun: when the ledger holds no such run (or there is no ledger).
        ConfigError: when the ledger cannot be read.
    """
    if is_database_url(state):
        from importer.ledger import postgres  # noqa: PLC0415 (only for a URL)

        return postgres.open_run(str(state), run_id, lock=lock)
    return sqlite.open_run(Path(state), run_id, lock=lock)


def open_history(state: StateLocation) -> RunHistory | None:
    """Open the ledger at ``state`` to list its runs, taking no lock; None when there is none.

    Raises:
        LedgerTooNew: when a newer importer wrote the ledger.
        ConfigError: when the ledger cannot be read.
    """
    if is_database_url(state):
        from importer.ledger import postgres  # noqa: PLC0415 (only for a URL)

        return postgres.open_history(str(state))
    return sqlite.open_history(Path(state))


def still_running(state: StateLocation, run: Run) -> bool:
    """Return whether a run the ledger calls ``running`` may still be running (else cut short).

    SQLite: a live process holds the vendor's lock on the folder. PostgreSQL: a live session
    holds the account's run lock, or rows of the run wait in the work queue for workers.
    """
    if is_database_url(state):
        from importer.ledger import postgres  # noqa: PLC0415 (only for a URL)

        return postgres.still_running(str(state), run)
    return sqlite.is_locked(Path(state), run.vendor)
