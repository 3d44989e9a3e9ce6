"""What the command line shows and how it exits: events, progress, one-line errors, exit codes.

Every line a command prints goes through a ``Console``, which redacts known secrets (by value,
in their common encodings) and URLs' user, password and query from it, and writes it in one of
three forms:

- on a terminal: notes and errors on their own lines above one live progress line, then a
  table of totals, the columns no field used and the top failure reasons;
- without a terminal (``--log-format text``, the default): one line per event on stderr
  (``importer: started: ...``, notes, ``importer: progress ...`` every few seconds, errors as
  ``importer: error: ...``) and the results on stdout;
- ``--log-format json``: every line on stdout is one JSON object with ``time``, ``level``,
  ``event`` and ``message``, plus the event's fields (click's own usage errors excepted).

Exit codes, the one list (``importer --help``, ``importer sync --help`` and the README repeat
it): see ``EXIT_CODES``.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NoReturn

import click

from importer.contracts.contract import load_all
from importer.lifecycle import RowOutcome, Status
from importer.redact import Redactor, url_secrets

EXIT_OK, EXIT_ROWS_FAILED, EXIT_ABORTED, EXIT_OVER_THRESHOLD = 0, 1, 2, 3
EXIT_CODES: Mapping[int, str] = {
    EXIT_OK: "no row failed",
    EXIT_ROWS_FAILED: "some rows failed",
    EXIT_ABORTED: "could not start or was aborted",
    EXIT_OVER_THRESHOLD: "more rows failed than the failure threshold allows",
}
"""What each exit code means, in short (``importer --help`` and the README say it in full):
2 also covers usage errors, unreadable files, mappings, credentials, an unreachable or refusing
vendor, a busy state folder and Ctrl-C/SIGTERM; sync exits with its jobs' worst, in the order
2, 3, 1, 0."""
SEVERITY = (EXIT_OK, EXIT_ROWS_FAILED, EXIT_OVER_THRESHOLD, EXIT_ABORTED)
"""Exit codes from least to most severe: a job that could not run outranks a threshold."""

BAR_WIDTH = 24
RATE_WINDOW_SECONDS = 10.0
"""The rate shown (and the time left) is measured over this recent window."""


class LogFormat(StrEnum):
    """How lines are written when no one watches a terminal."""

    TEXT = "text"
    JSON = "json"


def worst(codes: Iterable[int]) -> int:
    """Return the most severe of exit codes (2, then 3, then 1, then 0)."""
    return max(codes, key=SEVERITY.index, default=EXIT_OK)


def credential_values(env: Mapping[str, str]) -> list[str]:
    """Return the values ``env`` holds for any vendor's credential variables."""
    names = {name for contract in load_all() for name in contract.credential_vars}
    return [env[name].strip() for name in names if env.get(name, "").strip()]


def log_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--log-format`` and ``--verbose`` to a command."""
    command = click.option(
        "--verbose",
        "-v",
        is_flag=True,
        help="Also log each row that failed or conflicted, and progress every second.",
    )(command)
    return click.option(
        "--log-format",
        type=click.Choice([form.value for form in LogFormat]),
        default=LogFormat.TEXT.value,
        show_default=True,
        help="text: a live progress line on a terminal, else one line per event; json: one "
        "JSON object per line on stdout (time, level, event, message and fields), for logs "
        "and schedulers.",
    )(command)


@dataclass(slots=True)
class _Screen:
    """The live line on a terminal, cleared before any other line and drawn again after."""

    shown: str = ""

    def clear(self) -> None:
        if self.shown:
            click.echo("\r\x1b[2K", nl=False, err=True)

    def draw(self) -> None:
        if self.shown:
            width = max(shutil.get_terminal_size((100, 20)).columns - 1, 20)
            click.echo(f"\r\x1b[2K{self.shown[:width]}", nl=False, err=True)


@dataclass(frozen=True, slots=True)
class Console:
    """Where a command's lines go, and in which form; every line is redacted first."""

    log_format: LogFormat = LogFormat.TEXT
    verbose: bool = False
    live: bool = False
    """A terminal is watching (stderr is a tty, text format): draw a live progress line."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Values redacted from every line, in their common encodings."""
    context: Mapping[str, str] = field(default_factory=dict)
    """Fields every event carries, such as the job's name in a sync."""
    screen: _Screen = field(default_factory=_Screen)
    redact: Redactor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Prepare the redactor of the secrets."""
        object.__setattr__(self, "redact", Redactor(self.secrets))

    @classmethod
    def open(cls, log_format: str, *, verbose: bool, secrets: Iterable[str] = ()) -> Console:
        """Return the console of a command; live when stderr is a terminal and text is asked."""
        form = LogFormat(log_format)
        live = form is LogFormat.TEXT and sys.stderr.isatty()
        return cls(form, verbose, live, tuple(secrets))

    def redacting(self, secrets: Iterable[str], *, urls: Iterable[str | None] = ()) -> Console:
        """Return this console, redacting ``secrets`` and what ``urls`` carry as well."""
        more = [*secrets, *(secret for url in urls if url for secret in url_secrets(url))]
        return replace(self, secrets=(*self.secrets, *more))

    def bound(self, **context: str) -> Console:
        """Return this console, adding ``context`` to every event (e.g. ``job=NAME``)."""
        return replace(self, context={**self.context, **context})

    @property
    def json(self) -> bool:
        """Return whether lines are JSON objects."""
        return self.log_format is LogFormat.JSON

    def emit(self, event: str, message: str, *, level: str = "info", **fields: Any) -> None:
        """Write one event: a JSON object, or (text) the message on stderr as ``importer: ...``."""
        if self.json:
            record = {
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "level": level,
                "event": event,
                "message": message,
                **self.context,
                **fields,
            }
            click.echo(json.dumps(self._redacted(record), ensure_ascii=False, default=str))
            return
        prefix = "importer: error: " if event == "error" else "importer: "
        job = f"{self.context['job']}: " if "job" in self.context else ""
        self.line(f"{prefix}{job}{message}", err=True)

    def line(self, text: str, *, err: bool = False) -> None:
        """Write one plain line (text format only), above the live line if there is one."""
        if self.json:
            return
        self.screen.clear()
        click.echo(self.redact(text), err=err)
        self.screen.draw()

    def note(self, message: str) -> None:
        """Write a note a person should read."""
        level = "warning" if message.lower().startswith("warning") else "info"
        self.emit("note", message, level=level)

    def error(self, message: str) -> None:
        """Write a one-line error."""
        self.emit("error", message, level="error")

    def fail(self, message: str) -> NoReturn:
        """Write a one-line error and exit with code 2."""
        self.error(message)
        sys.exit(EXIT_ABORTED)

    def _redacted(self, value: Any) -> Any:
        """Return ``value`` with every string in it redacted (before it is serialized)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact(str(key)): self._redacted(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redacted(item) for item in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self.redact(str(value))


class ConsoleObserver:
    """Show a run's progress: a live line on a terminal, an event every few seconds otherwise."""

    def __init__(
        self,
        *,
        live: bool | None = None,
        every_seconds: float | None = None,
        console: Console | None = None,
        started: Mapping[str, Any] | None = None,
    ) -> None:
        """Report through ``console`` (by default a text console, live if ``live``).

        Args:
            live: Without ``console``: draw a live line (a terminal watches).
            every_seconds: How often a progress event is written without a terminal (default
                5 seconds, 1 with --verbose).
            console: Where lines go.
            started: The run's facts (vendor, file, account...) for the ``started`` event.
        """
        self._console = console or Console(live=bool(live))
        default_every = 1.0 if self._console.verbose else 5.0
        self._every = every_seconds if every_seconds is not None else default_every
        self._facts = dict(started or {})
        self._counts = dict.fromkeys((status.value for status in Status), 0)
        self._read = 0
        self._total: int | None = None
        self._started = time.monotonic()
        self._last = 0.0
        self._recent: deque[tuple[float, int]] = deque()

    def note(self, message: str) -> None:
        """Write a note above the live line."""
        self._console.note(message)

    def started(self, total_rows: int | None) -> None:
        """Write the ``started`` event; remember the estimate to measure progress against."""
        self._total = total_rows or None
        self._started = self._last = time.monotonic()
        facts = {**self._facts, "estimated_rows": self._total}
        self._console.emit("started", _started_words(facts), **facts)

    def rows_read(self, count: int) -> None:
        """Count rows read from the sheet."""
        self._read += count
        self._tick()

    def rows_done(self, outcomes: Iterable[RowOutcome]) -> None:
        """Count the outcomes (logging failed ones with --verbose) and show progress in time."""
        for outcome in outcomes:
            self._counts[outcome.status.value] += 1
            if self._console.verbose and outcome.status in (Status.FAILED, Status.CONFLICTED):
                self._row(outcome)
        self._tick()

    def rows_alike(self, status: Status, count: int) -> None:
        """Count a block of rows that finished alike (a dry run's valid rows)."""
        self._counts[status.value] += count
        self._tick()

    def finish(self) -> None:
        """End the live line."""
        self._console.screen.clear()
        self._console.screen.shown = ""

    def _row(self, outcome: RowOutcome) -> None:
        self._console.emit(
            "row",
            f"row {outcome.source_row} {outcome.status.value} ({outcome.reason.value}): "
            f"{outcome.message}",
            level="warning",
            row=outcome.source_row,
            status=outcome.status.value,
            reason=outcome.reason.value,
            http_status=outcome.http_status,
            detail=outcome.message,
        )

    def _tick(self) -> None:
        now = time.monotonic()
        if now - self._last < (0.1 if self._console.live else self._every):
            return
        self._last = now
        done = sum(self._counts.values())
        self._recent.append((now, done))
        while self._recent and now - self._recent[0][0] > RATE_WINDOW_SECONDS:
            self._recent.popleft()
        if not done and not self._read:
            return
        self._show(self._measure(now, done))

    def _show(self, progress: _Progress) -> None:
        if self._console.live:
            self._console.screen.shown = progress.words(bar=True)
            self._console.screen.draw()
        else:
            self._console.emit("progress", f"progress {progress.words()}", **progress.fields())

    def _measure(self, now: float, done: int) -> _Progress:
        """Return the progress now, its rate measured over the recent window."""
        first_time, first_done = self._recent[0] if self._recent else (self._started, 0)
        if now - first_time < 1.0:
            first_time, first_done = self._started, 0
        return _Progress(
            elapsed=now - self._started,
            read=self._read,
            done=done,
            total=self._total,
            rate=(done - first_done) / max(now - first_time, 1e-6),
            counts=dict(self._counts),
        )


@dataclass(frozen=True, slots=True)
class _Progress:
    """One measurement of a run's progress."""

    elapsed: float
    read: int
    done: int
    total: int | None
    rate: float
    counts: Mapping[str, int]

    @property
    def seconds_left(self) -> float | None:
        """Return the time left at the recent rate, when the total is known."""
        if not self.total or self.rate <= 0 or self.done >= self.total:
            return None
        return (self.total - self.done) / self.rate

    def words(self, *, bar: bool = False) -> str:
        """Return the progress as a line: rows read, rows done, rate, time left, counts."""
        of = f" of ~{self.total:,}" if self.total else ""
        left = f", ~{_duration(self.seconds_left)} left" if self.seconds_left is not None else ""
        counts = ", ".join(f"{name} {count:,}" for name, count in self.counts.items() if count)
        line = (
            f"{_duration(self.elapsed)} read {self.read:,}{of} · done {self.done:,} "
            f"({self.rate:,.0f}/s{left})" + (f" · {counts}" if counts else "")
        )
        if bar and self.total:
            share = min(1.0, self.done / self.total)
            filled = round(share * BAR_WIDTH)
            line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:4.0%} {line}"
        return line

    def fields(self) -> dict[str, Any]:
        """Return the progress as JSON fields."""
        left = self.seconds_left
        return {
            "elapsed_seconds": round(self.elapsed, 1),
            "rows_read": self.read,
            "rows_done": self.done,
            "estimated_rows": self.total,
            "rows_per_second": round(self.rate, 1),
            "seconds_left": round(left, 1) if left is not None else None,
            "counts": dict(self.counts),
        }


def _duration(seconds: float | None) -> str:
    """Return ``seconds`` as ``1h02m``, ``3m05s`` or ``42s``."""
    whole = round(seconds or 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _started_words(facts: Mapping[str, Any]) -> str:
    """Return the ``started`` event as a sentence."""
    words = f"started: {facts.get('vendor')} from {facts.get('file')}"
    if facts.get("dry_run"):
        return f"{words} (dry run: nothing is sent)"
    where = facts.get("base_url") or "the vendor"
    account = f", account {facts['account']}" if facts.get("account") else ""
    return f"{words} to {where}{account}, report in {facts.get('out')}"


def fail(message: str) -> NoReturn:
    """Print a one-line error and exit with code 2 (commands without a Console use it)."""
    click.echo(f"importer: error: {message}", err=True)
    sys.exit(EXIT_ABORTED)
