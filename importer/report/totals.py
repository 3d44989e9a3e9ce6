"""Counts per report status and per reason; ``rows`` is their sum by construction."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from importer.lifecycle import RowOutcome, Status

_CLAUSE_END = re.compile(r" \(|; ")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
PROBLEM_CHARS = 80


@dataclass(slots=True)
class Totals:
    """Counts per status; ``rows`` is their sum by construction."""

    created: int = 0
    conflicted: int = 0
    failed: int = 0
    duplicate: int = 0
    skipped: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    """Failed rows per problem (``failure_problem``): what the top failure reasons are."""

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
            if outcome.status is Status.FAILED:
                problem = failure_problem(outcome)
                self.failures[problem] = self.failures.get(problem, 0) + 1

    def add_count(self, status: Status, reason: str, count: int) -> None:
        """Count ``count`` rows of one status and reason at once (not failed: see ``add``)."""
        if status is Status.FAILED:
            raise ValueError("failed rows are counted one by one, each with its problem")
        setattr(self, status.value, getattr(self, status.value) + count)
        self.by_reason[reason] = self.by_reason.get(reason, 0) + count

    def top_failures(self, count: int | None = 5) -> list[tuple[str, int]]:
        """Return the ``count`` most frequent problems of failed rows (None: all), with counts."""
        ranked = sorted(self.failures.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:count]

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
        totals = cls(by_reason=by_reason)
        for name in ("created", "conflicted", "failed", "duplicate", "skipped"):
            setattr(totals, name, int(counts.get(name, 0)))
        return totals


def failure_problem(outcome: RowOutcome) -> str:
    """Return a failed row's problem, shared by the rows failed the same way.

    The reason code and the message's first clause without the row's own values: the rows
    whose email is broken in different ways are all ``validation: email is not a valid email
    address``.
    """
    text = _CLAUSE_END.split(outcome.message, maxsplit=1)[0]
    text = _QUOTED.sub("…", text).strip().rstrip(":")
    if len(text) > PROBLEM_CHARS:
        text = text[: PROBLEM_CHARS - 1].rstrip() + "…"
    return f"{outcome.reason.value}: {text}" if text else outcome.reason.value
