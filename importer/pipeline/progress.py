"""The small observer through which a run reports progress to whoever shows it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from importer.lifecycle import RowOutcome, Status


class Observer(Protocol):
    """Receives progress; the CLI renders it, tests and library callers may ignore it."""

    def note(self, message: str) -> None:
        """Receive a one-line message worth showing a person."""

    def started(self, total_rows: int | None) -> None:
        """Learn about how many rows the run will report (None: unknown)."""

    def rows_read(self, count: int) -> None:
        """Learn that ``count`` more rows were read from the sheet (before they are checked)."""

    def rows_done(self, outcomes: Iterable[RowOutcome]) -> None:
        """Receive outcomes as rows finish (in any order)."""

    def rows_alike(self, status: Status, count: int) -> None:
        """Learn that ``count`` more rows finished with ``status`` and one shared reason.

        A dry run's valid rows come this way, a block at a time, not an outcome each.
        """


class NullObserver:
    """Ignore all progress."""

    def note(self, message: str) -> None:
        """Ignore the message."""

    def started(self, total_rows: int | None) -> None:
        """Ignore the estimate."""

    def rows_read(self, count: int) -> None:
        """Ignore the count."""

    def rows_done(self, outcomes: Iterable[RowOutcome]) -> None:
        """Ignore the outcomes."""

    def rows_alike(self, status: Status, count: int) -> None:
        """Ignore the count."""
