"""The ledger's interface: what every backend keeps, and the promises it makes.

A ledger holds, per vendor account, the last word on every row identity (``Known``), and per
run its history and every input row's outcome (``RunRow``), so any run's report can be rebuilt
from it. Its promises:

- **Intent before send**: ``claim`` commits a row as ``sending`` before its first request
  leaves, and is atomic: it succeeds only if the row is still as the claimer last saw it, so
  several workers can share one import without sending a row twice.
- **Outcome before it counts**: ``settle`` commits the row's outcome and what the account now
  knows of it in one transaction.
- **Group commit**: ``commit`` claims and settles a batch of rows in one transaction, with the
  same promises for each row (a caller sends a row only after the commit holding its claim
  returned).
- Every move follows ``importer.lifecycle``; a backend refuses a move the lifecycle refuses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from importer.errors import ConfigError
from importer.lifecycle import Known, RowOutcome, State

URL_SCHEMES = ("postgresql://", "postgres://")

LEASE_SECONDS = 30.0
"""How long a worker holds the rows it took before another may take them over (renewed)."""


def is_database_url(state: object) -> bool:
    """Return whether ``state`` names a PostgreSQL database rather than a folder."""
    return isinstance(state, str) and state.strip().lower().startswith(URL_SCHEMES)


class RunLocked(ConfigError):
    """Raised when another run of the same vendor holds the state directory."""


class LedgerTooNew(ConfigError):
    """Raised when the ledger was written by a newer importer than this one."""


class UnknownRun(ConfigError):
    """Raised when a run id names no run in the ledger."""


ENDINGS = ("running", "finished", "aborted")
"""How a run ended; a run left ``running`` that holds no lock was cut short."""

CUT_SHORT = "cut short"
"""The ending history gives a run left ``running`` that no live run holds any more."""

TOTALS = ("created", "conflicted", "failed", "duplicate", "skipped", "unknown")
"""The counts history gives every run; ``unknown`` counts the failed rows left in doubt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One run's history: who, what, when and how it ended (never a secret)."""

    run_id: str
    vendor: str
    account: str
    started_at: str
    source_file: str
    columns: tuple[str, ...]
    arguments: Mapping[str, Any] = field(default_factory=dict)
    finished_at: str | None = None
    ending: str = "running"
    totals: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunRow:
    """One input row of one run: its outcome, its identity (if valid) and its cells."""

    outcome: RowOutcome
    row_key: str | None
    cells: tuple[str | None, ...]


@dataclass(frozen=True, slots=True)
class Claim:
    """A worker's bid to send a row: it wins only if the row is still in ``expected``."""

    row_key: str
    content_hash: str
    source_row: int
    expected: State | None
    """The identity's state when the claimer looked (None: the ledger did not know it)."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """A row's outcome in this run, and what the account's ledger keeps of its identity."""

    row_key: str
    content_hash: str
    kept: State | None
    """What the identity becomes (None: this run never claimed it, so it stays as it was)."""
    outcome: RowOutcome


class RunHistory(Protocol):
    """Every run a ledger recorded, read without the run lock: a run never waits for it."""

    def history(self, *, vendor: str | None = None, limit: int | None = None) -> list[Run]:
        """Return the runs of every account (only ``vendor``'s, if given), newest first.

        Each run's ``totals`` hold every name in ``TOTALS`` (counted from its rows when it did
        not end), and a run the ledger still calls ``running`` that no live run holds ends
        ``CUT_SHORT``.
        """
        ...

    def close(self) -> None:
        """Release the ledger."""
        ...


class Ledger(RunHistory, Protocol):
    """Durable row states of one vendor account, shared by every run (and worker) of it."""

    vendor: str
    account: str

    def begin_run(self, run: Run) -> None:
        """Record that a run started."""
        ...

    def end_run(self, run_id: str, *, ending: str, totals: Mapping[str, Any]) -> None:
        """Record how a run ended and its totals."""
        ...

    def runs(self, limit: int | None = None) -> list[Run]:
        """Return the account's runs, newest first."""
        ...

    def run(self, run_id: str) -> Run:
        """Return one run of any account in this ledger.

        Raises:
            UnknownRun: when there is no such run.
        """
        ...

    def known(self, row_keys: Sequence[str]) -> dict[str, Known]:
        """Return what the ledger knows of those row identities."""
        ...

    def plan(self, run_id: str, rows: Sequence[RunRow]) -> None:
        """Record rows of a run as it reads them, each with its state so far."""
        ...

    def claim(self, run_id: str, claims: Sequence[Claim]) -> list[bool]:
        """Commit the intent to send each row; return, per claim, whether it was won."""
        ...

    def settle(self, run_id: str, settlements: Sequence[Settlement]) -> None:
        """Commit row outcomes and what the account keeps of each identity."""
        ...

    def commit(
        self, run_id: str, claims: Sequence[Claim], settlements: Sequence[Settlement]
    ) -> list[bool]:
        """Claim rows and settle others in one transaction; return, per claim, whether it was won.

        Raises:
            InvalidMove: when a move is not the lifecycle's; nothing of the batch is committed.
        """
        ...

    def keep(self, entries: Sequence[Known]) -> None:
        """Replace what the ledger knows of identities (a person's word, a doubt resolved).

        Raises:
            InvalidMove: when an entry's new state is not a lifecycle move from its old one.
        """
        ...

    def run_rows(self, run_id: str) -> Iterator[RunRow]:
        """Yield every recorded row of a run, in sheet order."""
        ...

    def close(self) -> None:
        """Release the ledger (and its run lock)."""
        ...
