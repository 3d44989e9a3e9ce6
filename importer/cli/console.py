"""What the command line shows and how it exits: progress, one-line errors, exit codes."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import NoReturn

import click

from importer.lifecycle import RowOutcome, Status

EXIT_OK, EXIT_ROWS_FAILED, EXIT_ABORTED = 0, 1, 2
BAR_WIDTH = 24


class ConsoleObserver:
    """Show progress: a live line on a terminal, a plain log line now and then otherwise."""

    def __init__(self, *, live: bool, every_seconds: float = 5.0) -> None:
        """Render live (``\\r``-updated) when ``live``, else log every ``every_seconds``."""
        self._live = live
        self._every = every_seconds
        self._counts = dict.fromkeys((status.value for status in Status), 0)
        self._started = time.monotonic()
        self._last = 0.0
        self._total: int | None = None

    def note(self, message: str) -> None:
        """Print a note on its own line."""
        self._clear()
        click.echo(f"importer: {message}", err=True)

    def started(self, total_rows: int | None) -> None:
        """Remember the estimate, to draw a bar against it."""
        self._total = total_rows or None

    def rows_done(self, outcomes: Iterable[RowOutcome]) -> None:
        """Count the outcomes and redraw the progress line when it is time."""
        for outcome in outcomes:
            self._counts[outcome.status.value] += 1
        now = time.monotonic()
        if now - self._last >= (0.1 if self._live else self._every):
            self._last = now
            self._render()

    def finish(self) -> None:
        """End the live line."""
        self._clear()

    def _render(self) -> None:
        done = sum(self._counts.values())
        if not done:
            return
        rate = done / max(time.monotonic() - self._started, 1e-6)
        counts = ", ".join(f"{name} {count}" for name, count in self._counts.items() if count)
        line = f"{done:,} rows done ({rate:,.0f}/s): {counts}"
        if self._total:
            share = min(1.0, done / self._total)
            filled = round(share * BAR_WIDTH)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            line = f"[{bar}] {share:4.0%} {line}"
        if self._live:
            click.echo(f"\r\x1b[2K{line}", nl=False, err=True)
        else:
            click.echo(f"importer: progress {line}", err=True)

    def _clear(self) -> None:
        if self._live:
            click.echo("\r\x1b[2K", nl=False, err=True)


def fail(message: str) -> NoReturn:
    """Print a one-line error and exit with code 2."""
    click.echo(f"importer: error: {message}", err=True)
    sys.exit(EXIT_ABORTED)
