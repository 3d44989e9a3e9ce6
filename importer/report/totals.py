"""Counts per report status and per reason; ``rows`` is their sum by construction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from importer.lifecycle import RowOutcome


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
        """Count each outcome once, under the status its state is reported as."""
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

    @classmethod
    def from_dict(cls, counts: dict[str, int], by_reason: dict[str, int]) -> Totals:
        """Rebuild totals saved with ``as_dict`` and their reasons."""
        names = ("created", "conflicted", "failed", "duplicate", "skipped")
        return cls(**{name: int(counts.get(name, 0)) for name in names}, by_reason=by_reason)
