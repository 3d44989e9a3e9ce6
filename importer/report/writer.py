"""Write the reconciliation report, so that what ``--out`` holds is never a lie.

``rows.csv`` is streamed while the run goes, one line per input row, a chunk at a time, so a run
of a million rows never holds its report in memory; beside it, ``to_fix.csv`` gets the failed
rows and, when some rows' outcome is unknown, ``unknown.csv`` gets them for a person to fill in
and pass to ``importer settle``. The rows the workbooks and the page show are taken from the same
fields as they are written: report.xlsx's and to_fix.xlsx's sheet XML is spooled aside
(``xlsx.ReportSheets``), and report.html's table keeps its first rows (``html.TableRows``).
``finish`` then assembles those and writes ``summary.json``; nothing is read back.

Every file is written aside, in a hidden folder of the run, and moved into place only when
complete. While a run writes, ``INCOMPLETE.txt`` says so; a run killed before it finished
leaves that note and the last complete report beside it. A lock file keeps two runs from
writing into one folder at once.

Every cell is defused against CSV injection (``cells.neutralize``) and every CSV field is
quoted, so no value can close its cell and start a live one; callers keep their data. The
report holds emails and vendor messages: each file is created readable by its owner only, and a
folder the writer creates is its owner's only, whatever the umask.

A sheet wider than Excel can open gets no report.xlsx, and summary.json says why.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from importer.errors import ConfigError, ReportError
from importer.lifecycle import Reason, RowOutcome, Status
from importer.locks import try_lock
from importer.outcomes import as_chunk_outcomes
from importer.report import xlsx
from importer.report.cells import csv_text, neutralize
from importer.report.columns import (
    REPORT_COLUMNS,
    TO_FIX_COLUMNS,
    UNKNOWN_COLUMNS,
    report_columns,
)
from importer.report.html import TableRows, write_html
from importer.report.rowscsv import (
    OWN,
    TEXT,
    GroupFields,
    chunk_lines,
    csv_lines,
)
from importer.report.totals import Totals
from importer.report.xlsx import ReportSheets, TableSheet, write_table_xlsx, write_xlsx

INCOMPLETE = "INCOMPLETE.txt"
LOCK = ".importer.lock"
FILES = (
    "rows.csv",
    "unknown.csv",
    "to_fix.csv",
    "to_fix.xlsx",
    "report.xlsx",
    "report.html",
    "summary.json",
)
"""The report's files, in the order they are moved into place (the summary last)."""


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where a finished run's report was written."""

    summary_json: Path
    rows_csv: Path
    report_xlsx: Path | None
    """None when the report is wider than Excel can open (``notes`` says so)."""
    unknown_csv: Path | None = None
    """The rows a person should check at the vendor (only when there are some)."""
    notes: tuple[str, ...] = ()
    """What a person should know about the report, such as why report.xlsx is missing."""
    report_html: Path | None = None
    to_fix_csv: Path | None = None
    """The failed rows, with the sheet's header, to fix and import again (only when some)."""
    to_fix_xlsx: Path | None = None
    """The same rows as a workbook (not when the sheet is wider than Excel opens)."""
    """The page a person opens in a browser: totals, reasons with fix hints, failed rows."""


PENDING_ROWS = 2_048
"""Rows written one by one that are gathered before they go to the sheets as columns."""


class ReportWriter:
    """Stream the per-row report aside as chunks finish, and move it into place when done."""

    def __init__(self, out_dir: Path, columns: Sequence[str], *, run_id: str) -> None:
        """Lock ``out_dir``, say a run is writing there, and start ``rows.csv`` aside.

        Args:
            out_dir: The folder for the report files; created with its parents if missing.
            columns: The original sheet columns, in order, as every chunk will carry them.
            run_id: The run whose report this is.

        Raises:
            ConfigError: when the folder cannot be written, or another run is writing there.
        """
        self._out_dir = out_dir
        self._run_id = run_id
        self._columns = list(columns)
        self._totals = Totals()
        self._unknown: tuple[IO[str], Any] | None = None
        self._to_fix: tuple[IO[str], Any] | None = None
        self._pending: list[list[str]] = []
        self._sheets: ReportSheets | None = None
        self._to_fix_sheet: TableSheet | None = None
        try:
            _make_private_dirs(out_dir)
            self._lock: IO[str] | None = _lock(out_dir)
            for stale in out_dir.glob(".run-*"):  # left by a run that was killed
                shutil.rmtree(stale, ignore_errors=True)
            self._work = out_dir / f".run-{run_id}"
            self._work.mkdir(mode=0o700)
            self._work.chmod(0o700)  # mkdir's mode is cut by the umask
            self._previous = _previous_report(out_dir)
            _write_note(out_dir, _started_note(run_id, self._previous))
            self._file: IO[str] | None = _private_text(self._work / "rows.csv")
        except OSError as error:
            raise ConfigError(
                f"cannot write the report into {out_dir}: {error.strerror}; give --out a folder "
                "you can write to"
            ) from None
        self._csv = csv.writer(self._file, quoting=csv.QUOTE_ALL)
        header = [*report_columns(self._columns), *(neutralize(c) for c in self._columns)]
        self._csv.writerow(header)
        self._table = TableRows(header)
        if self._too_wide_note() is None:
            self._sheets = ReportSheets(header, self._work)
            self._to_fix_sheet = TableSheet(self._to_fix_header(), "to fix", self._work)

    @property
    def totals(self) -> Totals:
        """Return the counts of the rows written so far."""
        return self._totals

    def write(self, frame: pd.DataFrame, outcomes: Mapping[int, RowOutcome]) -> None:
        """Append one line per row of ``frame``, in frame order, with that row's outcome.

        Args:
            frame: A chunk indexed by ``source_row`` whose columns are the writer's ``columns``.
            outcomes: The outcome of each row, keyed by source row.

        Raises:
            ValueError: If a row has no outcome or the frame's columns differ from ``columns``.
            RuntimeError: If the writer was already finished or aborted.
            ReportError: If a file cannot be written (a full disk).
        """
        with self._disk_errors():
            self._write(frame, outcomes)

    def _write(self, frame: pd.DataFrame, outcomes: Mapping[int, RowOutcome]) -> None:
        if list(frame.columns) != self._columns:
            raise ValueError(f"chunk columns {list(frame.columns)} differ from {self._columns}")
        if self._file is None:
            raise RuntimeError("the report is already closed")
        chunk = as_chunk_outcomes(outcomes)
        groups = chunk.groups(frame.index)
        lines = chunk_lines(frame, groups)
        if lines is None:  # a cell that is not text: the csv module, row by row
            rows = groups.source_row.tolist()
            for row, values in zip(rows, frame.itertuples(index=False, name=None), strict=True):
                self._write_row(chunk[row], values)
            return
        self._flush_pending()
        assert isinstance(self._file, io.TextIOWrapper)
        self._file.flush()
        self._file.buffer.write(lines.data)
        counted = lines.groups
        self._totals.add_groups(counted.status, counted.reason, counted.message, counted.rows)
        to_fix, unknown = (flags[groups.group] for flags in _spare_groups(counted))
        self._gather(lines.fields, self._write_spare_lines(lines.fields, to_fix, unknown))

    def _write_spare_lines(
        self, fields: list[pa.Array], to_fix: npt.NDArray[np.bool_], unknown: npt.NDArray[np.bool_]
    ) -> list[pa.Array]:
        """Add a chunk's rows in doubt to unknown.csv, its failed rows to to_fix.csv.

        Returns:
            The to_fix.csv rows, as its columns (none: an empty list).
        """
        failed = _to_fix_fields(_rows_at(fields, to_fix)) if to_fix.any() else []
        if failed:
            self._to_fix_writer()
            assert self._to_fix is not None
            _append_lines(self._to_fix[0], failed)
        if unknown.any():
            self._unknown_writer()
            assert self._unknown is not None
            _append_lines(self._unknown[0], self._unknown_fields(_rows_at(fields, unknown)))
        return failed

    def write_row(self, outcome: RowOutcome, values: Sequence[object]) -> None:
        """Append one row's line: its outcome, then its cells as the sheet had them.

        Raises:
            RuntimeError: If the writer was already finished or aborted.
            ReportError: If a file cannot be written (a full disk).
        """
        with self._disk_errors():
            self._write_row(outcome, values)

    def _write_row(self, outcome: RowOutcome, values: Sequence[object]) -> None:
        if self._file is None:
            raise RuntimeError("the report is already closed")
        texts = [csv_text(value) for value in values]
        fields = [*_outcome_fields(outcome), *texts]
        self._csv.writerow(fields)
        self._totals.add((outcome,))
        self._write_spares(outcome, texts)
        self._pending.append([str(field) for field in fields])
        if len(self._pending) >= PENDING_ROWS:
            self._flush_pending()

    def _write_spares(self, outcome: RowOutcome, texts: Sequence[str]) -> None:
        """Add a row in doubt to unknown.csv, a failed row to to_fix.csv."""
        if outcome.reason is Reason.OUTCOME_UNKNOWN:
            self._unknown_writer().writerow(
                ["", "", self._run_id, outcome.source_row, neutralize(outcome.message), *texts]
            )
        elif outcome.status is Status.FAILED:
            self._to_fix_writer().writerow(
                [*texts, outcome.source_row, outcome.reason.value, neutralize(outcome.message)]
            )

    def _flush_pending(self) -> None:
        """Hand the rows written one by one on to the sheets and the page, as columns."""
        if self._pending:
            columns = zip(*self._pending, strict=True)
            self._gather([pa.array(column, TEXT) for column in columns])
            self._pending = []

    def _gather(self, fields: list[pa.Array], failed: list[pa.Array] | None = None) -> None:
        """Give a batch of rows.csv's fields, as written, to the page and the workbooks.

        ``failed`` holds the batch's to_fix.csv rows (none: ``[]``) when the caller has picked
        them already.
        """
        self._table.add(fields)
        if self._sheets is not None:
            self._sheets.add(fields)
        if self._to_fix_sheet is None:
            return
        if failed is None:
            known = pc.not_equal(fields[2], Reason.OUTCOME_UNKNOWN.value)
            to_fix = pc.and_(pc.equal(fields[1], Status.FAILED.value), known)
            if pc.any(to_fix).as_py():
                failed = _to_fix_fields([field.filter(to_fix) for field in fields])
        if failed:
            self._to_fix_sheet.add(failed)

    def finish(self, meta: Mapping[str, Any]) -> ReportFiles:
        """Complete the report aside, then move each file into place and drop the note.

        Args:
            meta: Facts about the run (run id, vendor, source file, durations...) for the summary.

        Returns:
            The paths of the report files.

        Raises:
            ReportError: If a file cannot be written (a full disk): the folder keeps its note
                and the last complete report, and the ledger can rebuild this one.
            RuntimeError: If the writer was already finished or aborted.
        """
        with self._disk_errors():
            return self._finish(meta)

    @contextlib.contextmanager
    def _disk_errors(self) -> Iterator[None]:
        """Turn a file that cannot be written (a full disk) into ReportError."""
        try:
            yield
        except OSError as error:
            raise ReportError(
                f"cannot write the report into {self._out_dir}: {error.strerror or error}; "
                f"every outcome is in the ledger: free the space, then run importer report "
                f"--run {self._run_id} --out FOLDER [--state STATE_DIR] to rebuild it"
            ) from None

    def _finish(self, meta: Mapping[str, Any]) -> ReportFiles:
        if self._file is None:
            raise RuntimeError("the report is already closed")
        self._flush_pending()
        self._close_files()
        started = time.monotonic()
        too_wide = self._too_wide_note()
        if self._sheets is not None:
            with _private_file(self._work / "report.xlsx") as book:
                write_xlsx(book, self._sheets, meta, self._totals)
        if self._to_fix_sheet is not None and (self._work / "to_fix.csv").exists():
            with _private_file(self._work / "to_fix.xlsx") as book:
                write_table_xlsx(book, self._to_fix_sheet)
        durations = dict(meta.get("durations_seconds", {}))
        durations["report_xlsx"] = round(time.monotonic() - started, 3)
        shown = [] if too_wide else xlsx.shown_notes(self._totals)
        notes = (*meta.get("notes", ()), *([too_wide] if too_wide else []), *shown)
        summary = {
            **meta,
            "durations_seconds": durations,
            "report_xlsx": None if too_wide else "report.xlsx",
            "report_html": "report.html",
            "notes": list(notes),
        }
        started = time.monotonic()
        with _private_file(self._work / "report.html") as page:
            write_html(page, self._table, summary, self._totals)
        durations["report_html"] = round(time.monotonic() - started, 3)
        _write_summary_json(self._work / "summary.json", summary, self._totals)
        # Several files cannot move in one step: until the last has moved, the note says so.
        _write_note(self._out_dir, _moving_note(self._run_id, self._previous))
        for name in FILES:
            done = self._work / name
            if done.exists():
                done.replace(self._out_dir / name)
            else:  # an older run's file would be taken for this run's
                (self._out_dir / name).unlink(missing_ok=True)
        (self._out_dir / INCOMPLETE).unlink(missing_ok=True)
        self._cleanup()
        unknown = self._out_dir / "unknown.csv"
        to_fix = self._out_dir / "to_fix.csv"
        return ReportFiles(
            summary_json=self._out_dir / "summary.json",
            rows_csv=self._out_dir / "rows.csv",
            report_xlsx=None if too_wide else self._out_dir / "report.xlsx",
            unknown_csv=unknown if unknown.exists() else None,
            to_fix_csv=to_fix if to_fix.exists() else None,
            to_fix_xlsx=to_fix.with_suffix(".xlsx")
            if to_fix.with_suffix(".xlsx").exists()
            else None,
            notes=tuple(str(note) for note in notes),
            report_html=self._out_dir / "report.html",
        )

    def abort(self) -> None:
        """Drop the unfinished files, leaving the note that the run was cut short."""
        self._close_files()
        self._cleanup()

    def _too_wide_note(self) -> str | None:
        """Say why report.xlsx is not written when its sheets would be wider than Excel opens."""
        width = len(REPORT_COLUMNS) + len(self._columns)
        limit = xlsx.EXCEL_MAX_COLUMNS  # read at run time so tests can lower it
        if width <= limit:
            return None
        return (
            f"report.xlsx was not written: the sheet has {len(self._columns):,} columns, and with "
            f"the report's own {len(REPORT_COLUMNS)} that is {width:,}, more than the {limit:,} "
            "Excel opens; rows.csv has every row"
        )

    def _unknown_writer(self) -> Any:
        if self._unknown is None:
            handle = _private_text(self._work / "unknown.csv")
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
            names = report_columns(self._columns, UNKNOWN_COLUMNS)
            writer.writerow([*names, *(neutralize(c) for c in self._columns)])
            self._unknown = (handle, writer)
        return self._unknown[1]

    def _to_fix_writer(self) -> Any:
        """Start to_fix.csv: the sheet's own header, then the report's columns after it."""
        if self._to_fix is None:
            handle = _private_text(self._work / "to_fix.csv")
            writer = csv.writer(handle, quoting=csv.QUOTE_ALL)
            writer.writerow(self._to_fix_header())
            self._to_fix = (handle, writer)
        return self._to_fix[1]

    def _to_fix_header(self) -> list[str]:
        names = report_columns(self._columns, TO_FIX_COLUMNS)
        return [*(neutralize(c) for c in self._columns), *names]

    def _unknown_fields(self, fields: list[pa.Array]) -> list[pa.Array]:
        """Return unknown.csv's columns of rows given as rows.csv's fields."""
        count = len(fields[0])
        empty, run_id = (
            pa.repeat(pa.scalar("", TEXT), count),
            pa.repeat(pa.scalar(self._run_id, TEXT), count),
        )
        return [empty, empty, run_id, fields[0], fields[3], *fields[OWN:]]

    def _close_files(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        for spare in (self._unknown, self._to_fix):
            if spare is not None:
                spare[0].close()
        self._unknown = self._to_fix = None

    def _close_sheets(self) -> None:
        for sheets in (self._sheets, self._to_fix_sheet):
            if sheets is not None:
                sheets.close()
        self._sheets = self._to_fix_sheet = None

    def _cleanup(self) -> None:
        self._close_sheets()
        shutil.rmtree(self._work, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each readable by its owner only.

    A folder that already exists keeps its mode: it is the user's.
    """
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # made meanwhile by someone else: theirs, as it is
            continue
        folder.chmod(0o700)  # mkdir's mode is cut by the umask


def _private_file(path: Path) -> IO[bytes]:
    """Create (or empty) ``path`` for writing bytes, readable by its owner only."""
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # the file may have existed with another mode
        return os.fdopen(descriptor, "wb")
    except BaseException:
        os.close(descriptor)
        raise


def _private_text(path: Path) -> IO[str]:
    """Create (or empty) ``path`` for CSV text in UTF-8 with a BOM, owner-only."""
    return io.TextIOWrapper(_private_file(path), encoding="utf-8-sig", newline="")


def _lock(out_dir: Path) -> IO[str]:
    path = out_dir / LOCK
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    with contextlib.suppress(PermissionError):  # a lock file someone else made stays theirs
        path.chmod(0o600)
    handle = try_lock(path)
    if handle is None:
        raise ConfigError(
            f"another run is writing its report into {out_dir}; wait for it, or give --out "
            "another folder"
        )
    return handle


def _previous_report(out_dir: Path) -> str | None:
    """Return the run whose complete report ``out_dir`` holds, if it holds one."""
    try:
        note = (out_dir / INCOMPLETE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        note = ""
    if _MOVING in note:  # an earlier run was stopped while moving its files in: a mix
        return None
    return _summary_run(out_dir / "summary.json")  # a run cut short before moving left them


def _started_note(run_id: str, previous: str | None) -> str:
    beside = (
        f"The other files here are the complete report of run {previous}."
        if previous
        else "No complete report of an earlier run is known to be here."
    )
    return (
        f"Run {run_id} started writing its report here at {_now()}.\n"
        "If no importer is running, that run was cut short before its report was complete.\n"
        f"{beside}\n"
        "Rebuild the cut-short run's report from the ledger with:\n"
        f"  importer report --run {run_id} --out FOLDER [--state STATE_DIR]\n"
    )


_MOVING = "finished and began moving its complete report"


def _moving_note(run_id: str, previous: str | None) -> str:
    earlier = f"run {previous}'s" if previous else "an earlier run's"
    return (
        f"Run {run_id} {_MOVING} here at {_now()}.\n"
        "If no importer is running, that run was stopped during the move: each report file\n"
        f"here ({', '.join(FILES)})\n"
        f"may be run {run_id}'s or {earlier}\n"
        "(summary.json, report.xlsx and report.html name their run). Rebuild a whole report\n"
        "from the ledger:\n"
        f"  importer report --run {run_id} --out FOLDER [--state STATE_DIR]\n"
    )


def _write_note(out_dir: Path, text: str) -> None:
    """Replace ``INCOMPLETE.txt`` in one step, so it is never half written."""
    temporary = out_dir / f".{INCOMPLETE}.{os.getpid()}"
    with _private_file(temporary) as file:
        file.write(text.encode("utf-8"))
    temporary.replace(out_dir / INCOMPLETE)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _summary_run(path: Path) -> str | None:
    try:
        run_id = json.loads(path.read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return str(run_id) if run_id else None


def _spare_groups(groups: GroupFields) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Return which outcome groups go to to_fix.csv (failed), which to unknown.csv."""
    unknown = pc.equal(groups.reason, Reason.OUTCOME_UNKNOWN.value).to_numpy(zero_copy_only=False)
    failed = pc.equal(groups.status, Status.FAILED.value).to_numpy(zero_copy_only=False)
    return failed & ~unknown, unknown


def _rows_at(fields: list[pa.Array], chosen: npt.NDArray[np.bool_]) -> list[pa.Array]:
    """Return the chosen rows of a batch of columns."""
    rows = pa.array(np.flatnonzero(chosen))
    return [field.take(rows) for field in fields]


def _to_fix_fields(fields: list[pa.Array]) -> list[pa.Array]:
    """Return to_fix.csv's columns of rows given as rows.csv's fields."""
    return [*fields[OWN:], fields[0], fields[2], fields[3]]


def _append_lines(handle: IO[str], fields: list[pa.Array]) -> None:
    """Append rows given as columns of text to a report CSV file, after what it holds."""
    assert isinstance(handle, io.TextIOWrapper)
    handle.flush()
    handle.buffer.write(csv_lines(fields))


def _outcome_fields(outcome: RowOutcome) -> list[str | int]:
    """Return the report columns of one outcome, defused for a spreadsheet."""
    return [
        outcome.source_row,
        outcome.status.value,
        outcome.reason.value,
        neutralize(outcome.message),
        "" if outcome.http_status is None else outcome.http_status,
        neutralize(outcome.vendor_id or ""),
        outcome.attempts,
    ]


def _write_summary_json(path: Path, meta: Mapping[str, Any], totals: Totals) -> None:
    """Write the run's facts and totals as JSON for scripts."""
    summary = {**meta, "totals": totals.as_dict(), "reasons": dict(totals.by_reason)}
    text = json.dumps(summary, indent=2, ensure_ascii=False, default=str)
    with _private_file(path) as file:
        file.write((text + "\n").encode("utf-8"))
