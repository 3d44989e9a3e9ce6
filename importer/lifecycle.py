"""The reconciliation vocabulary: row statuses, reason codes and per-row outcomes.

Every data row of an input ends in exactly one ``Status``; the reason code says why, from a
closed list, and the message says it in words for a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

SOURCE_ROW = "source_row"
"""Name of the index of every chunk: the row number a spreadsheet app shows (header = 1)."""


class Status(StrEnum):
    """Where a row ended up."""

    CREATED = "created"
    CONFLICTED = "conflicted"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"


class Reason(StrEnum):
    """Why a row has its status (closed list; the README documents each code)."""

    CREATED = "created"
    ALREADY_EXISTS = "already_exists"
    CREATED_BY_EARLIER_ATTEMPT = "created_by_earlier_attempt"
    CREATED_BY_EARLIER_RUN = "created_by_earlier_run"
    VALIDATION = "validation"
    MALFORMED_ROW = "malformed_row"
    VENDOR_REJECTED = "vendor_rejected"
    RETRIES_EXHAUSTED = "retries_exhausted"
    OUTCOME_UNKNOWN = "outcome_unknown"
    DUPLICATE_IN_FILE = "duplicate_in_file"
    ALREADY_SYNCED = "already_synced"
    CHANGED_SINCE_SYNC = "changed_since_sync"
    ABORTED = "aborted"
    DEFERRED = "deferred"
    DRY_RUN = "dry_run"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """The final word on one input row."""

    source_row: int
    status: Status
    reason: Reason
    message: str = ""
    http_status: int | None = None
    vendor_id: str | None = None
    attempts: int = 0


@dataclass(slots=True)
class Totals:
    """Counts per status; ``rows`` is their sum by construction."""

    created: int = 0
    conflicted: int = 0
    failed: int = 0
    duplicate: int = 0
    skipped: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Return the number of rows counted."""
        return self.created + self.conflicted + self.failed + self.duplicate + self.skipped

    def add(self, outcomes: Iterable[RowOutcome]) -> None:
        """Count each outcome once."""
        for outcome in outcomes:
            name = outcome.status.value
            setattr(self, name, getattr(self, name) + 1)
            self.by_reason[outcome.reason.value] = self.by_reason.get(outcome.reason.value, 0) + 1

    def as_dict(self) -> dict[str, int]:
        """Return the totals under the key names that scripts rely on."""
        return {
            "rows": self.rows,
            "created": self.created,
            "conflicted": self.conflicted,
            "failed": self.failed,
            "duplicate": self.duplicate,
            "skipped": self.skipped,
        }
